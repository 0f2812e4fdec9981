/*
** node_evidence.c -- evidence of double signing that the consensus plugin
** caught (node.evidence, plugin.h): the node submits it as sys.evidence
** (valset.h) from its own validator account, signed with its key, free
** for a validator (exec.h), as CometBFT's nodes put evidence into blocks.
**
** Once per (validator, height) on this node, and not when the validator
** was punished already for that height. Every honest node that saw the
** double signing submits it: the first a block takes punishes, the others
** are refused there with EEXIST (free all the same). When a block takes
** one of this node's, one line says which it was.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"
#include "err.h"
#include "node_int.h"
#include "valset.h"

#define EV_BYTES_MAX  8192        /* of an evidence: two headers in hex and their sigs */
#define EV_EXPIRES    100         /* blocks a submission may wait for a block */

/* The evidence's validator and height: e.height for votes, the height of
** header a for "blk" (its bytes, or their hex). */
static int ev_read(const uint8_t *p, size_t len, char v[LN_NAME_MAX + 1], uint64_t *height,
                   char *why, size_t whylen)
{
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 1024)) return ln_errf(why, whylen, LN_ENOMEM, "out of memory");
    int rc = ln_codec_unpack(p, len, &z, &o);
    char type[4];
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP ||
        ln_codec_str(ln_codec_map_get(&o, "validator"), v, LN_NAME_MAX + 1) < 0 ||
        ln_codec_str(ln_codec_map_get(&o, "type"), type, sizeof type) < 0) {
        msgpack_zone_destroy(&z);
        return ln_errf(why, whylen, LN_EINVAL, "evidence must be {validator, type, ...}");
    }
    const msgpack_object *h = ln_codec_map_get(&o, "height");
    if (strcmp(type, "blk") == 0) {
        /* The height of header a, as sys.evidence will read it. */
        const msgpack_object *hd = ln_codec_map_get(ln_codec_map_get(&o, "a"), "header");
        uint8_t hb[LN_EVIDENCE_HEADER_MAX];
        size_t hl;
        rc = hd && (hd->type == MSGPACK_OBJECT_STR || hd->type == MSGPACK_OBJECT_BIN) ? 0 : LN_EINVAL;
        if (rc == 0)
            rc = hd->type == MSGPACK_OBJECT_STR ? ln_valset_header_bytes(hd->via.str.ptr, hd->via.str.size, hb, &hl)
                                                : ln_valset_header_bytes(hd->via.bin.ptr, hd->via.bin.size, hb, &hl);
        if (rc == 0) rc = ln_valset_header_height(hb, hl, height);
    } else {
        rc = h && h->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? 0 : LN_EINVAL;
        if (rc == 0) *height = h->via.u64;
    }
    msgpack_zone_destroy(&z);
    return rc < 0 ? ln_errf(why, whylen, LN_EINVAL, "evidence of %s has no height (nor a header with one)", v) : 0;
}

/* Refused at admission: logged, and no longer waited for. */
static void ev_done(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    ln_node *n = ud;
    if (status >= 0 || status == LN_ECLOSED) return;
    ln__node_log("evidence: sys.evidence refused: %s", why && why[0] ? why : ln_strerror(status));
    for (size_t i = 0; i < n->nev; i++)
        if (memcmp(n->ev[i].id, id, LN_HASH_LEN) == 0) n->ev[i].waiting = 0;
}

/* sys.evidence(e) from this node's account, signed; *id its id. */
static int ev_submit(ln_node *n, const uint8_t *e, size_t len, uint64_t expires, uint8_t id[LN_HASH_LEN])
{
    uint8_t *args = malloc(len + 1);
    if (!args) return LN_ENOMEM;
    args[0] = 0x91;                                     /* an array of one: e */
    memcpy(args + 1, e, len);
    int rc = ln__node_submit_sys(n, "evidence", args, len + 1, expires, ev_done, n, id);
    free(args);
    return rc;
}

int ln__node_evidence(void *ud, const uint8_t *e, size_t len, char *why, size_t whylen)
{
    ln_node *n = ud;
    if (!n->self[0] || !n->has_key)
        return ln_errf(why, whylen, LN_EAUTH, "this node is not a validator: it submits no evidence");
    if (len > EV_BYTES_MAX)
        return ln_errf(why, whylen, LN_ETOOBIG, "evidence of %zu bytes: over %d", len, EV_BYTES_MAX);
    char v[LN_NAME_MAX + 1];
    uint64_t height = 0;
    int rc = ev_read(e, len, v, &height, why, whylen);
    if (rc < 0) return rc;
    if (strcmp(v, n->self) == 0)
        return ln_errf(why, whylen, LN_EINVAL, "evidence against this node's own validator");
    for (size_t i = 0; i < n->nev; i++)
        if (n->ev[i].height == height && strcmp(n->ev[i].validator, v) == 0)
            return ln_errf(why, whylen, LN_EEXIST, "sent already");
    ln_header head;
    if ((rc = ln_chain_head(n->chain, &head, NULL)) < 0)
        return ln_errf(why, whylen, rc, "no head: %s", ln_strerror(rc));
    /* Punished for it already: a transaction would only be refused. */
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    uint64_t at = 0, until = 0;
    rc = ov ? ln_valset_jail(ov, v, &at, &until) : LN_ENOMEM;
    ln_overlay_free(ov);
    if (rc < 0) return ln_errf(why, whylen, rc, "jail of %s: %s", v, ln_strerror(rc));
    if (until && height <= at)
        return ln_errf(why, whylen, LN_EEXIST, "%s was punished at block %llu already", v,
                       (unsigned long long)at);
    uint64_t expires = head.height + EV_EXPIRES;
    uint8_t id[LN_HASH_LEN];
    if ((rc = ev_submit(n, e, len, expires, id)) < 0)
        return ln_errf(why, whylen, rc, "sys.evidence: %s", ln_strerror(rc));
    /* Remembered once on its way (not when submit failed: a later call
    ** may try again); the oldest goes when the ring is full. */
    size_t k = n->ev_next;
    memcpy(n->ev[k].id, id, LN_HASH_LEN);
    snprintf(n->ev[k].validator, sizeof n->ev[k].validator, "%s", v);
    n->ev[k].height = height;
    n->ev[k].expires = expires;
    n->ev[k].waiting = 1;
    n->ev_next = (k + 1) % LN_NODE_EVIDENCE_MAX;
    if (n->nev < LN_NODE_EVIDENCE_MAX) n->nev++;
    return 0;
}

void ln__node_evidence_committed(ln_node *n)
{
    ln_header head;
    int have_head = -1;
    for (size_t i = 0; i < n->nev; i++) {
        if (!n->ev[i].waiting) continue;
        if (have_head < 0) have_head = ln_chain_head(n->chain, &head, NULL) == 0;
        uint64_t h;
        uint8_t *r;
        size_t rl;
        int st = ln_node_tx_status(n, n->ev[i].id, &h, &r, &rl);
        if (st == LN_TX_PENDING) continue;
        if (st == LN_TX_UNKNOWN) {
            if (have_head && head.height > n->ev[i].expires) {
                ln__node_log("evidence: sys.evidence against %s at height %llu expired unused",
                             n->ev[i].validator, (unsigned long long)n->ev[i].height);
                n->ev[i].waiting = 0;
            }
            continue;
        }
        n->ev[i].waiting = 0;
        msgpack_zone z;
        msgpack_object o;
        char err[300] = "";
        int ok = 0;
        if (msgpack_zone_init(&z, 1024)) {
            if (ln_codec_unpack(r, rl, &z, &o) == 0) {
                const msgpack_object *okv = ln_codec_map_get(&o, "ok");
                const msgpack_object *ev = ln_codec_map_get(&o, "error");
                ok = okv && okv->type == MSGPACK_OBJECT_BOOLEAN && okv->via.boolean;
                if (ev && ev->type == MSGPACK_OBJECT_STR)
                    snprintf(err, sizeof err, "%.*s", (int)(ev->via.str.size < 299 ? ev->via.str.size : 299),
                             ev->via.str.ptr);
            }
            msgpack_zone_destroy(&z);
        }
        free(r);
        if (ok)
            ln__node_log("evidence: %s punished for height %llu by this node's sys.evidence in block %llu",
                         n->ev[i].validator, (unsigned long long)n->ev[i].height, (unsigned long long)h);
        else
            ln__node_log("evidence: this node's sys.evidence against %s at height %llu refused in "
                         "block %llu: %s", n->ev[i].validator, (unsigned long long)n->ev[i].height,
                         (unsigned long long)h, err);
    }
}
