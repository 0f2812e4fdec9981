/* mine.c -- the proof-of-work nonce search, off the loop (mine.h). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mine.h"

void ln_mine_hash(const uint8_t *bytes, size_t len, uint64_t nonce, uint8_t hash[LN_HASH_LEN])
{
    uint8_t nb[8];
    for (int i = 0; i < 8; i++) nb[i] = (uint8_t)(nonce >> (56 - 8 * i));
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, bytes, len);
    ln_hash_update(&h, nb, 8);
    ln_hash_final(&h, hash);
}

int ln_mine_search(const uint8_t *bytes, size_t len, const uint8_t target[LN_HASH_LEN],
                   uint64_t from, uint64_t tries, uint64_t *nonce, uint8_t hash[LN_HASH_LEN])
{
    /* The prefix's state once, then only the nonce per try. */
    ln_hasher base;
    ln_hash_init(&base);
    ln_hash_update(&base, bytes, len);
    for (uint64_t i = 0; i < tries && from + i >= from; i++) {
        uint64_t n = from + i;
        uint8_t nb[8];
        for (int k = 0; k < 8; k++) nb[k] = (uint8_t)(n >> (56 - 8 * k));
        ln_hasher h = base;
        ln_hash_update(&h, nb, 8);
        ln_hash_final(&h, hash);
        if (memcmp(hash, target, LN_HASH_LEN) < 0) {
            *nonce = n;
            return 1;
        }
    }
    return 0;
}

typedef struct job {
    uv_work_t req;                       /* first */
    ln_miner *m;
    uint64_t gen;
    uint8_t bytes[LN_MINE_MAX_BYTES];
    size_t len;
    uint8_t target[LN_HASH_LEN], hash[LN_HASH_LEN];
    uint64_t from, tries, nonce;
    int found;
} job;

struct ln_miner {
    uv_loop_t *loop;
    ln_mine_cb cb;
    void *ud;
    uint64_t gen;                        /* the job whose end is heard */
    size_t running;                      /* jobs on a worker */
    int closing;
    void (*closed)(void *ud);
    void *closed_ud;
};

int ln_miner_new(uv_loop_t *loop, ln_mine_cb cb, void *ud, ln_miner **out)
{
    ln_miner *m = calloc(1, sizeof *m);
    if (!m) return LN_ENOMEM;
    m->loop = loop;
    m->cb = cb;
    m->ud = ud;
    *out = m;
    return 0;
}

static void work(uv_work_t *req)
{
    job *j = (job *)req;
    j->found = ln_mine_search(j->bytes, j->len, j->target, j->from, j->tries, &j->nonce, j->hash);
}

static void finish(ln_miner *m)
{
    void (*closed)(void *) = m->closed;
    void *ud = m->closed_ud;
    free(m);
    if (closed) closed(ud);
}

static void after(uv_work_t *req, int status)
{
    job *j = (job *)req;
    ln_miner *m = j->m;
    m->running--;
    if (m->closing) {
        if (m->running == 0) finish(m);
    } else if (status == 0 && j->gen == m->gen) {
        uint64_t next = j->found ? j->nonce + 1 : j->from + j->tries;
        m->cb(j->found, j->nonce, j->hash, next < j->from ? UINT64_MAX : next, m->ud);
    }
    free(j);
}

int ln_miner_start(ln_miner *m, const uint8_t *bytes, size_t len,
                   const uint8_t target[LN_HASH_LEN], uint64_t from, uint64_t tries)
{
    if (m->closing) return LN_ECLOSED;
    if (len > LN_MINE_MAX_BYTES) return LN_ETOOBIG;
    job *j = calloc(1, sizeof *j);
    if (!j) return LN_ENOMEM;
    j->m = m;
    j->gen = ++m->gen;
    memcpy(j->bytes, bytes, len);
    j->len = len;
    memcpy(j->target, target, LN_HASH_LEN);
    j->from = from;
    j->tries = tries > LN_MINE_MAX_TRIES ? LN_MINE_MAX_TRIES : tries;
    if (uv_queue_work(m->loop, &j->req, work, after) < 0) {
        free(j);
        return LN_ENOMEM;
    }
    m->running++;
    return 0;
}

void ln_miner_close(ln_miner *m, void (*closed)(void *ud), void *ud)
{
    if (!m) return;
    m->closing = 1;
    m->closed = closed;
    m->closed_ud = ud;
    if (m->running == 0) finish(m);
}
