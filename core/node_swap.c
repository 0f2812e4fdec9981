/*
** node_swap.c -- plugin swaps on a running node (DESIGN, "Swapping a plugin
** on a live chain"): the consensus plugin in force at the next height is
** the one loaded, swapped without a restart; the chain params the node
** itself applies; a validator's readiness for a scheduled swap.
**
** A swap is decided by the state (registry.h, exec.h): the node only
** follows. It never swaps inside a plugin callback (the commit that makes
** a swap due runs in one): it swaps from the loop, or before the next
** callback, whichever comes first.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"
#include "err.h"
#include "govern.h"
#include "node_int.h"
#include "params.h"
#include "registry.h"
#include "sandbox.h"

static void swap_idle_closed(uv_handle_t *h)
{
    ln_node *n = h->data;
    free(h);
    n->open_handles--;
    ln__node_maybe_free(n);
}

static void after_commit(ln_node *n);

static void on_swap_idle(uv_idle_t *h)
{
    ln_node *n = h->data;
    after_commit(n);
    if (n->swap_idle == h) {
        n->swap_idle = NULL;
        uv_close((uv_handle_t *)h, swap_idle_closed);
    }
}

static void ptimers_closed(void *ud)
{
    ln_node *n = ud;
    n->open_handles--;
    ln__node_maybe_free(n);
}

/* Loads the consensus plugin of entry ref in place of the running one. */
static int swap_to(ln_node *n, ln_overlay *ov, const ln_plugin_ref *ref, uint64_t height)
{
    char *code = NULL;
    size_t cl = 0;
    int rc = ln_registry_code(ov, ref->hash, &code, &cl);
    if (rc < 0) {
        ln__node_log("consensus: the code of %s is not in the registry: %s", ref->name, ln_strerror(rc));
        return rc;
    }
    double t0 = ln__node_wall();
    char why[300];
    if (n->plugin) {
        if (ln_plugin_stop(n->plugin, why, sizeof why) < 0) ln__node_log("consensus: %s", why);
        ln_plugin_free(n->plugin);
        n->plugin = NULL;
    }
    /* The old plugin's timers go with it; the new one's init arms its own. */
    ln_pblock_free(n->pending);
    n->pending = NULL;
    ln_ptimers *old = n->timers;
    n->timers = NULL;
    if (old) {
        n->open_handles++;
        ln_ptimers_close(old, ptimers_closed, n);
    }
    if ((rc = ln_ptimers_new(n->loop, ln__node_on_timer, n, &n->timers)) < 0) {
        free(code);
        return rc;
    }
    ln_plugin_host host;
    ln__node_host(n, &host);
    char pname[64];
    snprintf(pname, sizeof pname, "%s.lua", ref->name);
    rc = ln_plugin_load(&host, pname, code, cl, ref->params, ref->plen, &n->plugin, why, sizeof why);
    free(code);
    n->plugin_from = ref->from;
    snprintf(n->consensus, sizeof n->consensus, "%s", ref->name);
    if (rc < 0) {
        /* Every validator said it loads: this node alone cannot. It stops
        ** making and verifying blocks rather than follow other rules. */
        ln__node_log("consensus: %s in force from height %llu does not load here: %s", ref->name,
                     (unsigned long long)height, why);
        n->plugin = NULL;
        return rc;
    }
    ln__node_forks_set(n);
    ln_ptimers_start(n->timers);
    if (ln_plugin_start(n->plugin, why, sizeof why) < 0) ln__node_log("consensus: %s", why);
    n->swap_ms = (ln__node_wall() - t0) * 1000;
    n->swaps++;
    ln__node_log("consensus: %s in force from height %llu (loaded in %.1f ms)", ref->name,
                 (unsigned long long)height, n->swap_ms);
    return 0;
}

int ln__node_plugin_due(ln_node *n)
{
    if (n->closing || ln__sandbox_running()) return 0;   /* not inside a callback */
    ln_header h;
    uint8_t hh[LN_HASH_LEN];
    if (ln_chain_head(n->chain, &h, hh) < 0) return 0;
    /* The registry changes only with the head: it is read once per head,
    ** not on every message and timer. */
    if (n->due_seen && memcmp(hh, n->due_head, LN_HASH_LEN) == 0) return 0;
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    ln_plugin_ref ref = { .params = NULL };
    int swapped = 0;
    if (ov && ln_registry_at(ov, LN_SLOT_CONSENSUS, h.height + 1, &ref) == 0) {
        if (ref.from != n->plugin_from) {
            swap_to(n, ov, &ref, h.height + 1);
            swapped = 1;
        }
        /* Settled for this head, unless the swap failed before it took the
        ** entry (then the next call tries again). */
        if (ref.from == n->plugin_from) {
            memcpy(n->due_head, hh, LN_HASH_LEN);
            n->due_seen = 1;
        }
    }
    ln_plugin_ref_free(&ref);
    ln_overlay_free(ov);
    return swapped;
}

/* ---- after a commit --------------------------------------------------- */

/* sys.ready(slot, hash) from this node's validator account, signed with its
** key: free for a validator (exec.h). */
static void ready_done(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    (void)id;
    (void)ud;
    if (status < 0) ln__node_log("swap: sys.ready refused: %s", why ? why : ln_strerror(status));
}

static int send_ready(ln_node *n, const ln_swap *s, uint64_t height)
{
    char hex[2 * LN_HASH_LEN + 1];
    ln_hex(s->hash, LN_HASH_LEN, hex);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    ln_pack_str(&pk, ln_slot_name(s->slot));
    ln_pack_str(&pk, hex);
    int rc = sb.data ? ln__node_submit_sys(n, "ready", (const uint8_t *)sb.data, sb.size,
                                           s->at > height ? s->at : height + 1, ready_done, NULL, NULL)
                     : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int readied(const ln_node *n, const ln_swap *s)
{
    for (uint32_t i = 0; i < s->nready; i++)
        if (strcmp(s->ready[i], n->self) == 0) return 1;
    for (size_t i = 0; i < n->nsent; i++)
        if (n->sent[i].slot == s->slot && n->sent[i].at == s->at &&
            memcmp(n->sent[i].hash, s->hash, LN_HASH_LEN) == 0)
            return 1;
    return 0;
}

/* The swaps pending after block height: postponements are logged, and a
** validator probes each new one and says it is ready. */
static void pending_swaps(ln_node *n, ln_overlay *ov, const ln_header *h)
{
    ln_swap *sw = NULL;
    size_t ns = 0;
    if (ln_registry_pending(ov, &sw, &ns) < 0) return;
    for (size_t i = 0; i < ns; i++) {
        const ln_swap *s = &sw[i];
        for (size_t j = 0; j < n->npend; j++)
            if (n->pend[j].slot == s->slot && !memcmp(n->pend[j].hash, s->hash, LN_HASH_LEN) &&
                n->pend[j].at != s->at)
                ln__node_log("swap: %s to %s postponed from height %llu to %llu: %u of %zu validators ready",
                             ln_slot_name(s->slot), s->name, (unsigned long long)n->pend[j].at,
                             (unsigned long long)s->at, s->nready, n->nval);
        if (!n->self[0] || !n->has_key || n->no_ready || readied(n, s)) continue;
        char code_why[300];
        char *code = NULL;
        size_t cl = 0;
        char name[LN_PLUGIN_NAME_MAX + 1];
        ln_blockinfo bi = { h->height + 1, h->time, { 0 } };
        int rc = ln_registry_code(ov, s->hash, &code, &cl);
        if (rc == 0) rc = ln_govern_probe(ov, &bi, s->slot, code, cl, s->params, s->plen, name,
                                          code_why, sizeof code_why);
        else snprintf(code_why, sizeof code_why, "its code is not in the registry");
        free(code);
        if (rc < 0) {
            ln__node_log("swap: %s to %s at %llu does not load here, not ready: %s",
                         ln_slot_name(s->slot), s->name, (unsigned long long)s->at, code_why);
        } else if ((rc = send_ready(n, s, h->height)) < 0) {
            ln__node_log("swap: sys.ready for %s: %s", s->name, ln_strerror(rc));
        } else {
            ln__node_log("swap: %s to %s at %llu loads here: ready sent", ln_slot_name(s->slot),
                         s->name, (unsigned long long)s->at);
        }
        if (n->nsent == sizeof n->sent / sizeof n->sent[0]) n->nsent = 0;
        n->sent[n->nsent].slot = s->slot;
        n->sent[n->nsent].at = s->at;
        memcpy(n->sent[n->nsent].hash, s->hash, LN_HASH_LEN);
        n->nsent++;
    }
    n->npend = 0;
    for (size_t i = 0; i < ns && n->npend < sizeof n->pend / sizeof n->pend[0]; i++, n->npend++) {
        n->pend[n->npend].slot = sw[i].slot;
        n->pend[n->npend].at = sw[i].at;
        memcpy(n->pend[n->npend].hash, sw[i].hash, LN_HASH_LEN);
    }
    ln_swaps_free(sw, ns);
}

/* From the loop after a commit: the params the node applies itself, the
** swaps pending, and the plugin in force at the next height. */
static void after_commit(ln_node *n)
{
    ln_header h;
    if (n->closing || ln_chain_head(n->chain, &h, NULL) < 0) return;
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    if (!ov) return;
    ln_params p;
    if (ln_params_load(ov, &p) == 0) {
        n->mempool_max = p.mempool_max;
        n->block_bytes = p.block_bytes_max < BLOCK_BYTES ? p.block_bytes_max : BLOCK_BYTES;
    }
    pending_swaps(n, ov, &h);
    ln_overlay_free(ov);
    ln__node_plugin_due(n);
}

void ln__node_swaps_committed(ln_node *n)
{
    if (n->closing || n->swap_idle) return;
    uv_idle_t *idle = malloc(sizeof *idle);
    if (!idle || uv_idle_init(n->loop, idle) < 0) {
        free(idle);
        return;                        /* the next callback swaps what is due */
    }
    idle->data = n;
    n->swap_idle = idle;
    n->open_handles++;
    uv_idle_start(idle, on_swap_idle);
}

void ln__node_swap_close(ln_node *n)
{
    if (!n->swap_idle) return;
    uv_close((uv_handle_t *)n->swap_idle, swap_idle_closed);
    n->swap_idle = NULL;
}

/* ---- what the registry says, for RPC ---------------------------------- */

static void pack_hex(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    char hex[2 * LN_HASH_LEN + 1];
    ln_hex(p, n, hex);
    ln_pack_str(pk, hex);
}

/* {code?, hash, name, params, since} of a registry entry. */
static void pack_ref(msgpack_packer *pk, msgpack_sbuffer *sb, const ln_plugin_ref *ref,
                     const char *code, size_t cl)
{
    msgpack_pack_map(pk, code ? 5 : 4);
    if (code) {
        ln_pack_str(pk, "code");
        ln_pack_strn(pk, code, cl);
    }
    ln_pack_str(pk, "hash");
    pack_hex(pk, ref->hash, LN_HASH_LEN);
    ln_pack_str(pk, "name");
    ln_pack_str(pk, ref->name);
    ln_pack_str(pk, "params");
    msgpack_sbuffer_write(sb, (const char *)ref->params, ref->plen);
    ln_pack_str(pk, "since");
    msgpack_pack_uint64(pk, ref->from);
}

static int finish(msgpack_sbuffer *sb, uint8_t **out, size_t *len)
{
    if (!sb->data) return LN_ENOMEM;
    *out = (uint8_t *)sb->data;
    *len = sb->size;
    return 0;
}

static void pack_pending(msgpack_packer *pk, const ln_swap *sw, size_t ns)
{
    ln_pack_str(pk, "pending");
    msgpack_pack_array(pk, ns);
    for (size_t i = 0; i < ns; i++) {
        msgpack_pack_map(pk, 5);
        ln_pack_str(pk, "at");
        msgpack_pack_uint64(pk, sw[i].at);
        ln_pack_str(pk, "hash");
        pack_hex(pk, sw[i].hash, LN_HASH_LEN);
        ln_pack_str(pk, "name");
        ln_pack_str(pk, sw[i].name);
        ln_pack_str(pk, "ready");
        msgpack_pack_array(pk, sw[i].nready);
        for (uint32_t j = 0; j < sw[i].nready; j++) ln_pack_str(pk, sw[i].ready[j]);
        ln_pack_str(pk, "slot");
        ln_pack_str(pk, ln_slot_name(sw[i].slot));
    }
}

int ln_node_plugins(ln_node *n, uint8_t **out, size_t *len)
{
    ln_header h;
    int rc = ln_chain_head(n->chain, &h, NULL);
    if (rc < 0) return rc;
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    if (!ov) return LN_ENOMEM;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ln_swap *sw = NULL;
    size_t ns = 0;
    rc = ln_registry_pending(ov, &sw, &ns);
    /* Keys in canonical order: consensus, governance, pending, pricing. */
    msgpack_pack_map(&pk, LN_NSLOTS + 1);
    for (int s = 0; s < LN_NSLOTS && rc == 0; s++) {
        if (s == LN_SLOT_PRICING) pack_pending(&pk, sw, ns);
        ln_plugin_ref ref;
        ln_pack_str(&pk, ln_slot_name((ln_slot)s));
        if ((rc = ln_registry_at(ov, (ln_slot)s, h.height, &ref)) == LN_ENOTFOUND) {
            msgpack_pack_nil(&pk);
            rc = 0;
        } else if (rc == 0) {
            pack_ref(&pk, &sb, &ref, NULL, 0);
            ln_plugin_ref_free(&ref);
        }
    }
    ln_overlay_free(ov);
    if (rc < 0) {
        ln_swaps_free(sw, ns);
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    ln_swaps_free(sw, ns);
    return finish(&sb, out, len);
}

int ln_node_plugin_get(ln_node *n, const char *slot, int64_t height, uint8_t **out, size_t *len)
{
    int s = ln_slot_of(slot);
    if (s < 0) return LN_EINVAL;
    ln_header h;
    int rc = ln_chain_head(n->chain, &h, NULL);
    if (rc < 0) return rc;
    if (height < 0) height = (int64_t)h.height;
    if ((uint64_t)height > h.height + 1) return LN_ENOTFOUND;
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    if (!ov) return LN_ENOMEM;
    ln_plugin_ref ref;
    char *code = NULL;
    size_t cl = 0;
    rc = ln_registry_at(ov, (ln_slot)s, (uint64_t)height, &ref);
    if (rc == 0) {
        rc = ln_registry_code(ov, ref.hash, &code, &cl);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pack_ref(&pk, &sb, &ref, code ? code : "", cl);
        ln_plugin_ref_free(&ref);
        free(code);
        if (rc == 0) rc = finish(&sb, out, len);
        else msgpack_sbuffer_destroy(&sb);
    }
    ln_overlay_free(ov);
    return rc;
}

int ln_node_plugin_probe(ln_node *n, const char *slot, const char *code, size_t len,
                         const uint8_t *params, size_t plen, char *why, size_t whylen)
{
    int s = ln_slot_of(slot);
    if (s < 0) return ln_errf(why, whylen, LN_EINVAL, "no plugin slot '%.32s'", slot);
    ln_header h;
    int rc = ln_chain_head(n->chain, &h, NULL);
    if (rc < 0) return ln_errf(why, whylen, rc, "%s", ln_strerror(rc));
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    if (!ov) return ln_errf(why, whylen, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
    ln_blockinfo bi = { h.height + 1, h.time, { 0 } };
    char name[LN_PLUGIN_NAME_MAX + 1];
    rc = ln_govern_probe(ov, &bi, (ln_slot)s, code, len, params, plen, name, why, whylen);
    ln_overlay_free(ov);
    return rc;
}
