/* registry.c -- the plugin registry in the state (see registry.h). */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"
#include "err.h"
#include "registry.h"

static const char *const slot_names[LN_NSLOTS] = { "consensus", "governance", "pricing" };

const char *ln_slot_name(ln_slot s)
{
    return (unsigned)s < LN_NSLOTS ? slot_names[s] : "?";
}

int ln_slot_of(const char *name)
{
    for (int i = 0; i < LN_NSLOTS; i++)
        if (strcmp(name, slot_names[i]) == 0) return i;
    return -1;
}

void ln_plugin_ref_free(ln_plugin_ref *r)
{
    if (!r) return;
    free(r->params);
    r->params = NULL;
    r->plen = 0;
}

static size_t history_key(ln_slot slot, uint8_t *buf)
{
    size_t n = strlen(slot_names[slot]);
    buf[0] = 'r';
    memcpy(buf + 1, slot_names[slot], n);
    return n + 1;
}

static void code_key(const uint8_t hash[LN_HASH_LEN], uint8_t buf[1 + LN_HASH_LEN])
{
    buf[0] = 'k';
    memcpy(buf + 1, hash, LN_HASH_LEN);
}

/* One history entry into r (params copied). LN_EIO when it is not one. */
static int entry_read(const msgpack_object *e, ln_plugin_ref *r)
{
    const msgpack_object *from = ln_codec_map_get(e, "from");
    const msgpack_object *hash = ln_codec_map_get(e, "hash");
    const msgpack_object *params = ln_codec_map_get(e, "params");
    memset(r, 0, sizeof *r);
    if (!from || from->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !hash ||
        hash->type != MSGPACK_OBJECT_BIN || hash->via.bin.size != LN_HASH_LEN ||
        ln_codec_str(ln_codec_map_get(e, "name"), r->name, sizeof r->name) < 0 ||
        !params || params->type != MSGPACK_OBJECT_MAP)
        return LN_EIO;
    r->from = from->via.u64;
    memcpy(r->hash, hash->via.bin.ptr, LN_HASH_LEN);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *params);
    if (!sb.data) return LN_ENOMEM;
    r->params = (uint8_t *)sb.data;
    r->plen = sb.size;
    return 0;
}

int ln_registry_at(ln_overlay *ov, ln_slot slot, uint64_t height, ln_plugin_ref *out)
{
    uint8_t key[16];
    const uint8_t *v;
    size_t vl, kl = history_key(slot, key);
    int rc = ln_overlay_get(ov, key, kl, &v, &vl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 2048);
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY) rc = LN_EIO;
    const msgpack_object *found = NULL;
    for (uint32_t i = 0; rc == 0 && i < o.via.array.size; i++) {
        const msgpack_object *from = ln_codec_map_get(&o.via.array.ptr[i], "from");
        if (!from || from->type != MSGPACK_OBJECT_POSITIVE_INTEGER) rc = LN_EIO;
        else if (from->via.u64 <= height) found = &o.via.array.ptr[i];
    }
    if (rc == 0) rc = found ? entry_read(found, out) : LN_ENOTFOUND;
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_registry_code(ln_overlay *ov, const uint8_t hash[LN_HASH_LEN], char **code, size_t *len)
{
    uint8_t key[1 + LN_HASH_LEN];
    const uint8_t *v;
    size_t vl;
    code_key(hash, key);
    int rc = ln_overlay_get(ov, key, sizeof key, &v, &vl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 64);
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc == 0 && o.type == MSGPACK_OBJECT_STR) {
        if (!(*code = malloc(o.via.str.size + 1))) {
            rc = LN_ENOMEM;
        } else {
            memcpy(*code, o.via.str.ptr, o.via.str.size);
            (*code)[o.via.str.size] = 0;
            *len = o.via.str.size;
        }
    } else {
        rc = LN_EIO;
    }
    msgpack_zone_destroy(&z);
    return rc;
}

/* The code, as a msgpack str, under its hash. */
static int store_code(ln_overlay *ov, const uint8_t hash[LN_HASH_LEN], const char *code,
                      size_t len)
{
    uint8_t ckey[1 + LN_HASH_LEN];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ln_pack_strn(&pk, code, len);
    code_key(hash, ckey);
    int rc = sb.data ? ln_overlay_set(ov, ckey, sizeof ckey, (const uint8_t *)sb.data, sb.size)
                     : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Appends the history entry {from, hash, name, params} of slot. */
static int history_add(ln_overlay *ov, ln_slot slot, const char *name, const uint8_t hash[LN_HASH_LEN],
                       const uint8_t *params, size_t plen, uint64_t from);

static int name_ok(const char *name)
{
    size_t nl = strlen(name);
    return nl > 0 && nl <= LN_PLUGIN_NAME_MAX;
}

static int history_add(ln_overlay *ov, ln_slot slot, const char *name, const uint8_t hash[LN_HASH_LEN],
                       const uint8_t *params, size_t plen, uint64_t from)
{
    uint8_t hkey[16];
    size_t hkl = history_key(slot, hkey);
    const uint8_t *old = NULL;
    size_t oldlen = 0;
    int rc = ln_overlay_get(ov, hkey, hkl, &old, &oldlen);
    if (rc == LN_ENOTFOUND) rc = 0;             /* the slot's first plugin */
    if (rc < 0) return rc;

    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 2048);
    uint32_t n = 0;
    if (old) {
        rc = ln_codec_unpack(old, oldlen, &z, &o);
        if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY) rc = LN_EIO;
        else n = o.via.array.size;
        const msgpack_object *last = rc == 0 && n ? ln_codec_map_get(&o.via.array.ptr[n - 1], "from")
                                                  : NULL;
        if (rc == 0 && n && (!last || last->type != MSGPACK_OBJECT_POSITIVE_INTEGER)) rc = LN_EIO;
        else if (rc == 0 && n && from < last->via.u64) rc = LN_EINVAL;
        else if (rc == 0 && n && from == last->via.u64) n--;   /* one block's later change wins */
        else if (rc == 0 && n >= LN_REGISTRY_HISTORY) rc = LN_ETOOBIG;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (rc == 0) {
        msgpack_pack_array(&pk, n + 1);
        for (uint32_t i = 0; i < n; i++) msgpack_pack_object(&pk, o.via.array.ptr[i]);
        msgpack_pack_map(&pk, 4);
        ln_pack_str(&pk, "from");
        msgpack_pack_uint64(&pk, from);
        ln_pack_str(&pk, "hash");
        ln_pack_bin(&pk, hash, LN_HASH_LEN);
        ln_pack_str(&pk, "name");
        ln_pack_str(&pk, name);
        ln_pack_str(&pk, "params");
        if (params && plen) msgpack_sbuffer_write(&sb, (const char *)params, plen);
        else msgpack_pack_map(&pk, 0);
        rc = sb.data ? ln_codec_check((const uint8_t *)sb.data, sb.size) : LN_ENOMEM;
        if (rc < 0 && rc != LN_ENOMEM) rc = LN_EINVAL;     /* params not canonical */
    }
    msgpack_zone_destroy(&z);
    if (rc == 0) rc = ln_overlay_set(ov, hkey, hkl, (const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_registry_install(ln_overlay *ov, ln_slot slot, const char *name, const char *code,
                        size_t len, const uint8_t *params, size_t plen, uint64_t from)
{
    if ((unsigned)slot >= LN_NSLOTS || !name_ok(name)) return LN_EINVAL;
    if (len > LN_PLUGIN_CODE_MAX) return LN_ETOOBIG;
    uint8_t hash[LN_HASH_LEN];
    ln_hash(code, len, hash);
    int rc = history_add(ov, slot, name, hash, params, plen, from);
    return rc < 0 ? rc : store_code(ov, hash, code, len);
}

/* ---- pending swaps ------------------------------------------------------ */

static const uint8_t PENDING_KEY[] = "w";

void ln_swaps_free(ln_swap *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) free(s[i].params);
    free(s);
}

static int swap_read(const msgpack_object *e, ln_swap *w)
{
    ln_plugin_ref r;
    int rc;
    const msgpack_object *at = ln_codec_map_get(e, "at");
    const msgpack_object *ready = ln_codec_map_get(e, "ready");
    char slot[16];
    /* at, hash, name, params read as a history entry reads them */
    memset(w, 0, sizeof *w);
    if (!at || at->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !ready ||
        ready->type != MSGPACK_OBJECT_ARRAY || ready->via.array.size > 64 ||
        ln_codec_str(ln_codec_map_get(e, "slot"), slot, sizeof slot) < 0 ||
        ln_slot_of(slot) < 0)
        return LN_EIO;
    msgpack_object_kv kv[4];
    const char *const keys[4] = { "from", "hash", "name", "params" };
    const msgpack_object *vals[4] = { at, ln_codec_map_get(e, "hash"), ln_codec_map_get(e, "name"),
                                      ln_codec_map_get(e, "params") };
    for (int i = 0; i < 4; i++) {
        if (!vals[i]) return LN_EIO;
        kv[i].key.type = MSGPACK_OBJECT_STR;
        kv[i].key.via.str.ptr = keys[i];
        kv[i].key.via.str.size = (uint32_t)strlen(keys[i]);
        kv[i].val = *vals[i];
    }
    msgpack_object m = { .type = MSGPACK_OBJECT_MAP, .via.map = { 4, kv } };
    if ((rc = entry_read(&m, &r)) < 0) return rc;
    w->slot = (ln_slot)ln_slot_of(slot);
    memcpy(w->name, r.name, sizeof w->name);
    memcpy(w->hash, r.hash, LN_HASH_LEN);
    w->at = r.from;
    w->params = r.params;
    w->plen = r.plen;
    for (uint32_t i = 0; i < ready->via.array.size; i++)
        if (ln_codec_str(&ready->via.array.ptr[i], w->ready[i], sizeof w->ready[i]) < 0) {
            free(w->params);
            return LN_EIO;
        }
    w->nready = ready->via.array.size;
    return 0;
}

int ln_registry_pending(ln_overlay *ov, ln_swap **out, size_t *n)
{
    const uint8_t *v;
    size_t vl;
    *out = NULL;
    *n = 0;
    int rc = ln_overlay_get(ov, PENDING_KEY, 1, &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 2048);
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size > LN_NSLOTS) rc = LN_EIO;
    ln_swap *w = rc == 0 ? calloc(o.via.array.size + 1, sizeof *w) : NULL;
    if (rc == 0 && !w) rc = LN_ENOMEM;
    size_t k = 0;
    for (; rc == 0 && k < o.via.array.size; k++) rc = swap_read(&o.via.array.ptr[k], &w[k]);
    msgpack_zone_destroy(&z);
    if (rc < 0) {
        ln_swaps_free(w, k ? k - 1 : 0);
        return rc;
    }
    *out = w;
    *n = k;
    return 0;
}

static int swap_cmp(const void *a_, const void *b_)
{
    const ln_swap *a = a_, *b = b_;
    if (a->at != b->at) return a->at < b->at ? -1 : 1;
    return (int)a->slot - (int)b->slot;
}

static int name_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* Writes the n swaps back, sorted (none: the record goes). */
static int pending_write(ln_overlay *ov, ln_swap *w, size_t n)
{
    if (n == 0) {
        int rc = ln_overlay_delete(ov, PENDING_KEY, 1);
        return rc == LN_ENOTFOUND ? 0 : rc;
    }
    qsort(w, n, sizeof *w, swap_cmp);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        qsort(w[i].ready, w[i].nready, sizeof w[i].ready[0], name_cmp);
        msgpack_pack_map(&pk, 6);
        ln_pack_str(&pk, "at");
        msgpack_pack_uint64(&pk, w[i].at);
        ln_pack_str(&pk, "hash");
        ln_pack_bin(&pk, w[i].hash, LN_HASH_LEN);
        ln_pack_str(&pk, "name");
        ln_pack_str(&pk, w[i].name);
        ln_pack_str(&pk, "params");
        if (w[i].params && w[i].plen) msgpack_sbuffer_write(&sb, (const char *)w[i].params, w[i].plen);
        else msgpack_pack_map(&pk, 0);
        ln_pack_str(&pk, "ready");
        msgpack_pack_array(&pk, w[i].nready);
        for (uint32_t j = 0; j < w[i].nready; j++) ln_pack_str(&pk, w[i].ready[j]);
        ln_pack_str(&pk, "slot");
        ln_pack_str(&pk, ln_slot_name(w[i].slot));
    }
    int rc = sb.data ? ln_codec_check((const uint8_t *)sb.data, sb.size) : LN_ENOMEM;
    if (rc < 0 && rc != LN_ENOMEM) rc = LN_EINVAL;
    if (rc == 0) rc = ln_overlay_set(ov, PENDING_KEY, 1, (const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_registry_schedule(ln_overlay *ov, ln_slot slot, const char *name, const char *code,
                         size_t len, const uint8_t *params, size_t plen, uint64_t at)
{
    if ((unsigned)slot >= LN_NSLOTS || !name_ok(name)) return LN_EINVAL;
    if (len > LN_PLUGIN_CODE_MAX) return LN_ETOOBIG;
    ln_swap *w;
    size_t n;
    int rc = ln_registry_pending(ov, &w, &n);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n; i++)
        if (w[i].slot == slot) {
            ln_swaps_free(w, n);
            return LN_EEXIST;
        }
    ln_swap *nw = realloc(w, (n + 1) * sizeof *nw);
    uint8_t *pcopy = plen ? malloc(plen) : NULL;
    if (!nw || (plen && !pcopy)) {
        free(pcopy);
        ln_swaps_free(nw ? nw : w, n);
        return LN_ENOMEM;
    }
    w = nw;
    memset(&w[n], 0, sizeof w[n]);
    w[n].slot = slot;
    snprintf(w[n].name, sizeof w[n].name, "%s", name);
    ln_hash(code, len, w[n].hash);
    w[n].at = at;
    if (plen) memcpy(pcopy, params, plen);
    w[n].params = pcopy;
    w[n].plen = plen;
    rc = pending_write(ov, w, n + 1);
    if (rc == 0) rc = store_code(ov, w[n].hash, code, len);
    ln_swaps_free(w, n + 1);
    return rc;
}

int ln_registry_ready(ln_overlay *ov, ln_slot slot, const uint8_t hash[LN_HASH_LEN],
                      const char *validator)
{
    ln_swap *w;
    size_t n;
    int rc = ln_registry_pending(ov, &w, &n);
    if (rc < 0) return rc;
    rc = LN_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (w[i].slot != slot || memcmp(w[i].hash, hash, LN_HASH_LEN) != 0) continue;
        rc = 0;
        uint32_t j = 0;
        while (j < w[i].nready && strcmp(w[i].ready[j], validator) != 0) j++;
        if (j < w[i].nready) break;                        /* said so already */
        if (w[i].nready == 64) {
            rc = LN_EFULL;
            break;
        }
        snprintf(w[i].ready[w[i].nready++], sizeof w[i].ready[0], "%s", validator);
        rc = pending_write(ov, w, n);
        break;
    }
    ln_swaps_free(w, n);
    return rc;
}

int ln_registry_advance(ln_overlay *ov, uint64_t height, const char (*names)[LN_NAME_MAX + 1],
                        size_t nval, uint64_t delay, ln_swap_cb cb, void *ud)
{
    ln_swap *w;
    size_t n, kept = 0;
    int rc = ln_registry_pending(ov, &w, &n), changed = 0;
    if (rc < 0 || n == 0) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (w[i].at != height + 1) {
            w[kept++] = w[i];
            continue;
        }
        /* Only those who validate now count. */
        size_t ready = 0;
        for (uint32_t j = 0; j < w[i].nready; j++)
            for (size_t v = 0; v < nval; v++)
                if (strcmp(w[i].ready[j], names[v]) == 0) {
                    ready++;
                    break;
                }
        int go = nval > 0 && 3 * ready > 2 * nval;
        if (cb) cb(ud, &w[i], go);
        changed = 1;
        if (go) {
            rc = history_add(ov, w[i].slot, w[i].name, w[i].hash, w[i].params, w[i].plen, w[i].at);
            free(w[i].params);
        } else {
            w[i].at += delay ? delay : 1;
            w[kept++] = w[i];
        }
    }
    if (rc == 0 && changed) rc = pending_write(ov, w, kept);
    ln_swaps_free(w, rc == 0 && changed ? kept : kept);
    return rc;
}
