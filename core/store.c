/* store.c -- ln_store over the LevelDB C API; errptr never leaves this file. */
#include "store.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#define CACHE_BYTES        (32u << 20)
#define WRITE_BUFFER_BYTES (16u << 20)
#define BLOOM_BITS         10
#define LASTERR_MAX        256

struct ln_store {
    leveldb_t              *db;
    leveldb_options_t      *opt;
    leveldb_cache_t        *cache;      /* must outlive db */
    leveldb_filterpolicy_t *bloom;      /* must outlive db */
    leveldb_readoptions_t  *ro;
    leveldb_writeoptions_t *wo;         /* sync = 1; NULL in a view */
    const leveldb_snapshot_t *snap;     /* a view's; NULL in a store */
    char lasterr[LASTERR_MAX];
};

struct ln_batch {
    leveldb_writebatch_t *wb;
    size_t n;
};

struct ln_iter {
    ln_store *st;
    leveldb_iterator_t *it;
    int primed;                 /* positioned on the entry to return next */
    int done;                   /* left the prefix or the end: never advance */
    size_t plen;
    uint8_t prefix[];
};

/* Takes LevelDB's err (freeing it) into st->lasterr; returns LN_EIO. */
static int save_err(ln_store *st, char *err)
{
    snprintf(st->lasterr, sizeof st->lasterr, "%s", err);
    leveldb_free(err);
    return LN_EIO;
}

static void destroy(ln_store *st)
{
    if (st->snap) {                     /* a view: the db is its store's */
        leveldb_release_snapshot(st->db, st->snap);
        leveldb_readoptions_destroy(st->ro);
        free(st);
        return;
    }
    if (st->db)    leveldb_close(st->db);
    if (st->opt)   leveldb_options_destroy(st->opt);
    if (st->cache) leveldb_cache_destroy(st->cache);
    if (st->bloom) leveldb_filterpolicy_destroy(st->bloom);
    if (st->ro)    leveldb_readoptions_destroy(st->ro);
    if (st->wo)    leveldb_writeoptions_destroy(st->wo);
    free(st);
}

int ln_store_open_err(const char *dir, ln_store **out,
                      char *errbuf, size_t errlen)
{
    ln_store *st = calloc(1, sizeof *st);
    char *err = NULL;
    int rc;

    if (errbuf && errlen > 0)
        errbuf[0] = '\0';
    if (!st)
        return LN_ENOMEM;
    st->opt   = leveldb_options_create();
    st->cache = leveldb_cache_create_lru(CACHE_BYTES);
    st->bloom = leveldb_filterpolicy_create_bloom(BLOOM_BITS);
    st->ro    = leveldb_readoptions_create();
    st->wo    = leveldb_writeoptions_create();
    leveldb_options_set_create_if_missing(st->opt, 1);
    leveldb_options_set_cache(st->opt, st->cache);
    leveldb_options_set_filter_policy(st->opt, st->bloom);
    leveldb_options_set_write_buffer_size(st->opt, WRITE_BUFFER_BYTES);
    /* Tree nodes, hashes and signatures do not compress: skip snappy. */
    leveldb_options_set_compression(st->opt, leveldb_no_compression);
    leveldb_writeoptions_set_sync(st->wo, 1);

    st->db = leveldb_open(st->opt, dir, &err);
    if (err) {
        /* env_posix: "IO error: lock <dir>/LOCK: already held by process"
        ** (this process) or "...: Resource temporarily unavailable" (fcntl
        ** lock held by another process). */
        rc = strncmp(err, "IO error: lock ", 15) == 0 ? LN_ELOCKED : LN_EIO;
        if (errbuf && errlen > 0)
            snprintf(errbuf, errlen, "%s", err);
        leveldb_free(err);
        st->db = NULL;
        destroy(st);
        return rc;
    }
    *out = st;
    return 0;
}

int ln_store_open(const char *dir, ln_store **out)
{
    return ln_store_open_err(dir, out, NULL, 0);
}

void ln_store_close(ln_store *st)
{
    if (st)
        destroy(st);
}

int ln_store_view(ln_store *st, ln_store **out)
{
    ln_store *v = calloc(1, sizeof *v);
    if (!v)
        return LN_ENOMEM;
    v->db = st->db;
    v->ro = leveldb_readoptions_create();
    v->snap = leveldb_create_snapshot(st->db);
    leveldb_readoptions_set_snapshot(v->ro, v->snap);
    *out = v;
    return 0;
}

const char *ln_store_lasterr(const ln_store *st)
{
    return st->lasterr;
}

int ln_store_get(ln_store *st, const uint8_t *k, size_t kl,
                 uint8_t **val, size_t *vlen)
{
    char *err = NULL;
    size_t n = 0;
    char *v = leveldb_get(st->db, st->ro, (const char *)k, kl, &n, &err);

    if (err)
        return save_err(st, err);
    if (!v)
        return LN_ENOTFOUND;
    /* Copy so the buffer is plain malloc() memory, non-NULL even when empty
    ** (LevelDB's may need leveldb_free and is malloc(0) for ""). */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        leveldb_free(v);
        return LN_ENOMEM;
    }
    memcpy(copy, v, n);
    leveldb_free(v);
    *val = copy;
    *vlen = n;
    return 0;
}

int ln_store_put(ln_store *st, const uint8_t *k, size_t kl,
                 const uint8_t *v, size_t vl)
{
    char *err = NULL;
    if (!st->wo)
        return LN_EINVAL;
    leveldb_put(st->db, st->wo, (const char *)k, kl, (const char *)v, vl, &err);
    return err ? save_err(st, err) : 0;
}

int ln_store_delete(ln_store *st, const uint8_t *k, size_t kl)
{
    char *err = NULL;
    if (!st->wo)
        return LN_EINVAL;
    leveldb_delete(st->db, st->wo, (const char *)k, kl, &err);
    return err ? save_err(st, err) : 0;
}

/* ---- batches ----------------------------------------------------------- */

ln_batch *ln_batch_new(void)
{
    ln_batch *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->wb = leveldb_writebatch_create();
    b->n = 0;
    return b;
}

void ln_batch_free(ln_batch *b)
{
    if (!b)
        return;
    leveldb_writebatch_destroy(b->wb);
    free(b);
}

void ln_batch_put(ln_batch *b, const uint8_t *k, size_t kl,
                  const uint8_t *v, size_t vl)
{
    leveldb_writebatch_put(b->wb, (const char *)k, kl, (const char *)v, vl);
    b->n++;
}

void ln_batch_delete(ln_batch *b, const uint8_t *k, size_t kl)
{
    leveldb_writebatch_delete(b->wb, (const char *)k, kl);
    b->n++;
}

void ln_batch_clear(ln_batch *b)
{
    leveldb_writebatch_clear(b->wb);
    b->n = 0;
}

size_t ln_batch_count(const ln_batch *b)
{
    return b->n;
}

int ln_store_commit(ln_store *st, const ln_batch *b)
{
    char *err = NULL;
    if (b->n == 0)
        return 0;
    if (!st->wo)
        return LN_EINVAL;
    leveldb_write(st->db, st->wo, b->wb, &err);
    return err ? save_err(st, err) : 0;
}

/* ---- iteration --------------------------------------------------------- */

int ln_iter_new(ln_store *st, const uint8_t *prefix, size_t plen,
                ln_iter **out)
{
    ln_iter *it = malloc(sizeof *it + plen);
    if (!it)
        return LN_ENOMEM;
    it->st = st;
    it->plen = plen;
    if (plen)
        memcpy(it->prefix, prefix, plen);
    it->it = leveldb_create_iterator(st->db, st->ro);   /* snapshot: now */
    ln_iter_seek(it, prefix, plen);
    *out = it;
    return 0;
}

void ln_iter_seek(ln_iter *it, const uint8_t *k, size_t kl)
{
    /* Below the prefix (bytewise) means: start at the prefix itself. */
    size_t m = kl < it->plen ? kl : it->plen;
    int c = m ? memcmp(k, it->prefix, m) : 0;
    if (c < 0 || (c == 0 && kl < it->plen)) {
        k = it->prefix;
        kl = it->plen;
    }
    leveldb_iter_seek(it->it, (const char *)k, kl);
    it->primed = 1;
    it->done = 0;
}

int ln_iter_next(ln_iter *it, const uint8_t **k, size_t *kl,
                 const uint8_t **v, size_t *vl)
{
    const char *key;
    size_t klen;
    char *err = NULL;

    if (it->done)
        return 0;
    if (!it->primed)
        leveldb_iter_next(it->it);
    it->primed = 0;
    if (!leveldb_iter_valid(it->it)) {
        it->done = 1;
        leveldb_iter_get_error(it->it, &err);
        return err ? save_err(it->st, err) : 0;
    }
    key = leveldb_iter_key(it->it, &klen);
    if (klen < it->plen || memcmp(key, it->prefix, it->plen) != 0) {
        it->done = 1;
        return 0;
    }
    *k = (const uint8_t *)key;
    *kl = klen;
    *v = (const uint8_t *)leveldb_iter_value(it->it, vl);
    return 1;
}

void ln_iter_free(ln_iter *it)
{
    if (!it)
        return;
    leveldb_iter_destroy(it->it);
    free(it);
}
