/* home.c -- a home's chain against a config, and --reset (see home.h). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain.h"
#include "codec.h"
#include "config.h"
#include "err.h"
#include "genesis.h"
#include "govern.h"
#include "home.h"

/* The config's genesis_time, when it sets one: 1 and *t. */
static int config_time(const char *config, uint64_t *t)
{
    uint8_t *enc;
    size_t el;
    char err[256];
    if (ln_config_eval(config, &enc, &el, err, sizeof err) < 0) return 0;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    int has = 0;
    if (ln_codec_unpack(enc, el, &z, &o) == 0) {
        const msgpack_object *gt = ln_codec_map_get(&o, "genesis_time");
        if (gt && gt->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            *t = gt->via.u64;
            has = 1;
        }
    }
    msgpack_zone_destroy(&z);
    free(enc);
    return has;
}

/* Block 0's chain id, time and hash (its proposer is nobody: ln_block_parse
** is for blocks from peers). */
static int genesis_block(ln_chain *c, ln_header *h, uint8_t hash[LN_HASH_LEN])
{
    uint8_t *blk;
    size_t bl;
    int rc = ln_chain_block(c, 0, &blk, &bl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    rc = ln_codec_unpack(blk, bl, &z, &o);
    const msgpack_object *hdr = rc == 0 ? ln_codec_map_get(&o, "header") : NULL;
    const msgpack_object *hs = rc == 0 ? ln_codec_map_get(&o, "hash") : NULL;
    const msgpack_object *tm = ln_codec_map_get(hdr, "time");
    memset(h, 0, sizeof *h);
    if (rc < 0 || !hs || hs->type != MSGPACK_OBJECT_BIN || hs->via.bin.size != LN_HASH_LEN ||
        !tm || tm->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        ln_codec_str(ln_codec_map_get(hdr, "chain_id"), h->chain_id, sizeof h->chain_id) < 0) {
        rc = LN_EIO;
    } else {
        h->time = tm->via.u64;
        memcpy(hash, hs->via.bin.ptr, LN_HASH_LEN);
    }
    msgpack_zone_destroy(&z);
    free(blk);
    return rc;
}

int ln_home_check(const char *home, const char *config, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    struct stat st;
    if (snprintf(dir, sizeof dir, "%s/data", home) >= (int)sizeof dir || stat(dir, &st) != 0)
        return 0;                              /* no chain yet */
    ln_chain *c;
    int rc = ln_chain_open(dir, &c, err, errlen);
    if (rc == LN_ELOCKED) return ln_errf(err, errlen, rc, "%s is in use by another lunet process", dir);
    if (rc < 0) return rc;
    ln_header have, want;
    uint8_t have_hash[LN_HASH_LEN], want_hash[LN_HASH_LEN];
    ln_genesis *g = malloc(sizeof *g), *mine = malloc(sizeof *mine);
    ln_state *s = NULL;
    ln_overlay *ov = NULL, *chain_ov = NULL;
    if (!g || !mine) {
        rc = LN_ENOMEM;
        goto done;
    }
    if ((rc = genesis_block(c, &have, have_hash)) < 0) {
        rc = rc == LN_ENOTFOUND ? 0 : ln_errf(err, errlen, rc, "%s: block 0 does not read", dir);
        goto done;
    }
    /* Built with the chain's fingerprint: another build is refused later,
    ** and for that reason, not as another genesis. */
    chain_ov = ln_overlay_new(ln_chain_state(c));
    if (!chain_ov || ln_genesis_load(chain_ov, g) < 0) {
        rc = ln_errf(err, errlen, LN_EIO, "%s: the genesis record does not read", dir);
        goto done;
    }
    ln_genesis_spec spec = { config, home, 0, g->fingerprint };
    uint64_t t;
    if ((rc = ln_state_open(NULL, &s)) < 0 || !(ov = ln_overlay_new(s))) {
        rc = rc < 0 ? rc : LN_ENOMEM;
        goto done;
    }
    if ((rc = ln_genesis_build(&spec, ov, mine, &t, err, errlen)) < 0) goto done;
    memset(&want, 0, sizeof want);
    snprintf(want.chain_id, sizeof want.chain_id, "%s", mine->chain_id);
    want.time = config_time(config, &t) ? t : have.time;
    if ((rc = ln_govern_genesis(ov, want.time, err, errlen)) < 0) goto done;
    if ((rc = ln_overlay_root(ov, want.state_root)) < 0) goto done;
    ln_header_hash(&want, want_hash);
    if (memcmp(want_hash, have_hash, LN_HASH_LEN) != 0) {
        char hh[2 * LN_HASH_LEN + 1], wh[2 * LN_HASH_LEN + 1];
        ln_hex(have_hash, LN_HASH_LEN, hh);
        ln_hex(want_hash, LN_HASH_LEN, wh);
        const char *what = strcmp(have.chain_id, want.chain_id) ? "chain id" :
                           have.time != want.time ? "genesis time" : "genesis";
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "%s holds chain '%s' (genesis %.16s), but %s makes chain '%s' (genesis "
                     "%.16s): the %s differs. --reset (lunet dev, lunet start) wipes %s's "
                     "chain and begins again from %s; or use another --home",
                     home, have.chain_id, hh, config, want.chain_id, wh, what, home, config);
    }
done:
    ln_overlay_free(ov);
    ln_overlay_free(chain_ov);
    ln_state_close(s);
    ln_chain_close(c);
    free(g);
    free(mine);
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int ln_home_reset(const char *home, char *err, size_t errlen)
{
    static const char *const parts[] = { "data", "plugin" };
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        char dir[PATH_MAX];
        struct stat st;
        if (snprintf(dir, sizeof dir, "%s/%s", home, parts[i]) >= (int)sizeof dir)
            return ln_errf(err, errlen, LN_EINVAL, "%s: path too long", home);
        if (lstat(dir, &st) != 0) continue;
        if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return ln_errf(err, errlen, LN_EIO, "cannot remove %s: %s", dir, strerror(errno));
    }
    return 0;
}
