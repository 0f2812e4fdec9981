/* p2p_frame.c -- typed P2P frames: msgpack maps by t, encoded and decoded. */
#include <string.h>

#include "p2p_frame.h"
#include "codec.h"
#include "err.h"

/* ---- decoding ------------------------------------------------------------ */

static const struct { const char *t; int type; } types[] = {
    { "p", LN_P2P_CONSENSUS }, { "tx", LN_P2P_TX }, { "txs", LN_P2P_TXS },
    { "blk", LN_P2P_BLK }, { "head", LN_P2P_HEAD }, { "get", LN_P2P_GET },
    { "addr", LN_P2P_ADDR },
};

static ln_p2p_bytes bin_of(const msgpack_object *o)
{
    ln_p2p_bytes b = { NULL, 0 };
    if (o && o->type == MSGPACK_OBJECT_BIN) {
        b.p = (const uint8_t *)o->via.bin.ptr;
        b.n = o->via.bin.size;
        if (!b.p) b.p = (const uint8_t *)"";   /* an empty bin is present */
    }
    return b;
}

/* An unsigned integer field: 1 and *v, or 0 when absent or of another type. */
static int uint_of(const msgpack_object *o, uint64_t *v)
{
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return 0;
    *v = o->via.u64;
    return 1;
}

static void *zalloc(ln_p2p_frame *f, size_t n)
{
    return msgpack_zone_malloc(f->u.zone, n ? n : 1);
}

/* The bin entries of an array, in order; 0 or LN_ENOMEM. */
static int bins_of(ln_p2p_frame *f, const msgpack_object *a)
{
    if (!a || a->type != MSGPACK_OBJECT_ARRAY) return 0;
    if (!(f->txs = zalloc(f, a->via.array.size * sizeof *f->txs))) return LN_ENOMEM;
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        ln_p2p_bytes b = bin_of(&a->via.array.ptr[i]);
        if (b.p) f->txs[f->ntxs++] = b;
    }
    return 0;
}

static int addrs_of(ln_p2p_frame *f, const msgpack_object *a, size_t max)
{
    if (!a || a->type != MSGPACK_OBJECT_ARRAY) return 0;
    size_t k = a->via.array.size < max ? a->via.array.size : max;
    if (!(f->addrs = zalloc(f, k * sizeof *f->addrs))) return LN_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        const msgpack_object *e = &a->via.array.ptr[i];
        ln_p2p_bytes key = bin_of(ln_codec_map_get(e, "k"));
        ln_p2p_addr *out = &f->addrs[f->naddrs];
        if (key.n != LN_PK_LEN || ln_codec_str(ln_codec_map_get(e, "a"), out->addr,
                                               sizeof out->addr) < 0)
            continue;
        out->key = key.p;
        f->naddrs++;
    }
    return 0;
}

int ln_p2p_frame_decode(const uint8_t *p, size_t n, size_t max_addrs, ln_p2p_frame *f)
{
    memset(f, 0, sizeof *f);
    msgpack_unpacked_init(&f->u);
    size_t off = 0;
    char t[LN_P2P_TYPE_MAX];
    const msgpack_object *o = &f->u.data;
    if (msgpack_unpack_next(&f->u, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS ||
        o->type != MSGPACK_OBJECT_MAP || ln_codec_str(ln_codec_map_get(o, "t"), t, sizeof t) < 0 ||
        !t[0]) {
        msgpack_unpacked_destroy(&f->u);
        return LN_EINVAL;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i].t) == 0) f->type = types[i].type;
    int rc = 0;
    switch (f->type) {
    case LN_P2P_CONSENSUS: {
        ln_p2p_bytes sig = bin_of(ln_codec_map_get(o, "sig"));
        f->m = bin_of(ln_codec_map_get(o, "m"));
        if (sig.n == LN_SIG_LEN) f->sig = sig.p;
        if (ln_codec_str(ln_codec_map_get(o, "from"), f->from, sizeof f->from) < 0) f->from[0] = 0;
        break;
    }
    case LN_P2P_TX: {
        ln_p2p_bytes b = bin_of(ln_codec_map_get(o, "b"));
        if (b.p && (f->txs = zalloc(f, sizeof *f->txs))) f->txs[f->ntxs++] = b;
        else if (b.p) rc = LN_ENOMEM;
        break;
    }
    case LN_P2P_TXS:
        rc = bins_of(f, ln_codec_map_get(o, "b"));
        break;
    case LN_P2P_BLK: {
        const msgpack_object *last = ln_codec_map_get(o, "last");
        f->b = bin_of(ln_codec_map_get(o, "b"));
        f->has_h = uint_of(ln_codec_map_get(o, "h"), &f->h);
        uint_of(ln_codec_map_get(o, "n"), &f->n);
        f->last = last && last->type == MSGPACK_OBJECT_BOOLEAN && last->via.boolean;
        break;
    }
    case LN_P2P_HEAD:
        f->has_h = uint_of(ln_codec_map_get(o, "h"), &f->h);
        break;
    case LN_P2P_GET:
        f->has_from = uint_of(ln_codec_map_get(o, "from"), &f->from_height);
        break;
    case LN_P2P_ADDR:
        rc = addrs_of(f, ln_codec_map_get(o, "a"), max_addrs);
        break;
    }
    if (rc < 0) msgpack_unpacked_destroy(&f->u);
    return rc;
}

void ln_p2p_frame_free(ln_p2p_frame *f)
{
    msgpack_unpacked_destroy(&f->u);
}

/* ---- encoding ------------------------------------------------------------ */

static void pack_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
}

static void pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

/* Every frame's map has its keys sorted, t last. */
static void begin(msgpack_sbuffer *sb, msgpack_packer *pk, size_t cap, size_t nkeys)
{
    ln_sbuffer_init(sb, cap);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(pk, nkeys);
}

static void end(msgpack_packer *pk, const char *t)
{
    pack_key(pk, "t");
    pack_key(pk, t);
}

void ln_p2p_frame_consensus(msgpack_sbuffer *sb, const char *from, const uint8_t *m, size_t len,
                            const uint8_t *sig)
{
    msgpack_packer pk;
    begin(sb, &pk, len + 128, sig ? 4 : 3);
    pack_key(&pk, "from"); pack_key(&pk, from);
    pack_key(&pk, "m"); pack_bin(&pk, m, len);
    if (sig) {
        pack_key(&pk, "sig"); pack_bin(&pk, sig, LN_SIG_LEN);
    }
    end(&pk, "p");
}

void ln_p2p_frame_txs(msgpack_sbuffer *sb, uint8_t *const *txs, const size_t *lens, size_t k,
                      size_t bytes)
{
    msgpack_packer pk;
    begin(sb, &pk, bytes + 16 + 5 * k, 2);
    pack_key(&pk, "b");
    msgpack_pack_array(&pk, k);
    for (size_t i = 0; i < k; i++) pack_bin(&pk, txs[i], lens[i]);
    end(&pk, "txs");
}

void ln_p2p_frame_blk(msgpack_sbuffer *sb, const uint8_t *blk, size_t len, uint64_t head,
                      uint64_t height, int last)
{
    msgpack_packer pk;
    begin(sb, &pk, len + 64, 5);
    pack_key(&pk, "b"); pack_bin(&pk, blk, len);
    pack_key(&pk, "h"); msgpack_pack_uint64(&pk, head);
    pack_key(&pk, "last");
    if (last) msgpack_pack_true(&pk); else msgpack_pack_false(&pk);
    pack_key(&pk, "n"); msgpack_pack_uint64(&pk, height);
    end(&pk, "blk");
}

void ln_p2p_frame_head(msgpack_sbuffer *sb, uint64_t height)
{
    msgpack_packer pk;
    begin(sb, &pk, 32, 2);
    pack_key(&pk, "h"); msgpack_pack_uint64(&pk, height);
    end(&pk, "head");
}

void ln_p2p_frame_get(msgpack_sbuffer *sb, uint64_t from)
{
    msgpack_packer pk;
    begin(sb, &pk, 32, 2);
    pack_key(&pk, "from"); msgpack_pack_uint64(&pk, from);
    end(&pk, "get");
}

void ln_p2p_frame_addr(msgpack_sbuffer *sb, const ln_p2p_addr *a, size_t k)
{
    msgpack_packer pk;
    begin(sb, &pk, 16 + k * (LN_P2P_ADDR_MAX + LN_PK_LEN + 8), 2);
    pack_key(&pk, "a");
    msgpack_pack_array(&pk, k);
    for (size_t i = 0; i < k; i++) {
        msgpack_pack_map(&pk, 2);
        pack_key(&pk, "a"); pack_key(&pk, a[i].addr);
        pack_key(&pk, "k"); pack_bin(&pk, a[i].key, LN_PK_LEN);
    }
    end(&pk, "addr");
}
