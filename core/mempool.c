/*
** mempool.c -- waiting transactions: an id index and per-account queues
** sorted by nonce, accounts kept in order of arrival.
*/
#include <stdlib.h>
#include <string.h>

#include "mempool.h"
#include "err.h"

typedef struct entry {
    ln_mtx tx;
    struct entry *next_id;               /* id bucket chain */
    struct acct *acct;
} entry;

typedef struct acct {
    char name[LN_NAME_MAX + 1];
    entry **q;                           /* sorted by nonce */
    size_t n, cap;
    uint64_t next_nonce;                 /* the committed nonce, as last told */
    int ready;                           /* q[0] has next_nonce: a block can take it */
    struct acct *next_name;              /* name bucket chain */
    struct acct *prev, *next;            /* arrival order */
} acct;

struct ln_mempool {
    size_t max_txs, max_bytes, count, bytes;
    size_t ready;                        /* accounts whose first transaction is next */
    entry **ids;
    size_t nids;                         /* buckets, a power of two */
    acct **names;
    size_t nnames;
    acct *first, *last;
};

static uint64_t id_hash(const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);           /* ids are hashes already */
    return h;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

int ln_mempool_new(size_t max_txs, size_t max_bytes, ln_mempool **out)
{
    ln_mempool *mp = calloc(1, sizeof *mp);
    if (!mp) return LN_ENOMEM;
    mp->max_txs = max_txs;
    mp->max_bytes = max_bytes;
    mp->nids = 1;
    while (mp->nids < max_txs) mp->nids <<= 1;
    mp->nnames = mp->nids;
    mp->ids = calloc(mp->nids, sizeof *mp->ids);
    mp->names = calloc(mp->nnames, sizeof *mp->names);
    if (!mp->ids || !mp->names) {
        ln_mempool_free(mp);
        return LN_ENOMEM;
    }
    *out = mp;
    return 0;
}

static void free_entry(entry *e)
{
    free(e->tx.bytes);
    free(e);
}

void ln_mempool_free(ln_mempool *mp)
{
    if (!mp) return;
    for (acct *a = mp->first, *next; a; a = next) {
        next = a->next;
        for (size_t i = 0; i < a->n; i++) free_entry(a->q[i]);
        free(a->q);
        free(a);
    }
    free(mp->ids);
    free(mp->names);
    free(mp);
}

static entry **id_slot(const ln_mempool *mp, const uint8_t *id)
{
    entry **p = &mp->ids[id_hash(id) & (mp->nids - 1)];
    while (*p && memcmp((*p)->tx.id, id, LN_HASH_LEN) != 0) p = &(*p)->next_id;
    return p;
}

static acct **name_slot(const ln_mempool *mp, const char *name)
{
    acct **p = &mp->names[name_hash(name) & (mp->nnames - 1)];
    while (*p && strcmp((*p)->name, name) != 0) p = &(*p)->next_name;
    return p;
}

int ln_mempool_has(const ln_mempool *mp, const uint8_t id[LN_HASH_LEN])
{
    return *id_slot(mp, id) != NULL;
}

const ln_mtx *ln_mempool_get(const ln_mempool *mp, const uint8_t id[LN_HASH_LEN])
{
    entry *e = *id_slot(mp, id);
    return e ? &e->tx : NULL;
}

size_t ln_mempool_count(const ln_mempool *mp) { return mp->count; }
size_t ln_mempool_bytes(const ln_mempool *mp) { return mp->bytes; }

static void set_ready(ln_mempool *mp, acct *a)
{
    int r = a->n > 0 && a->q[0]->tx.nonce == a->next_nonce;
    if (r != a->ready) {
        if (r) mp->ready++; else mp->ready--;
        a->ready = r;
    }
}

static void forget_if_empty(ln_mempool *mp, acct *a)
{
    if (a->n) return;
    set_ready(mp, a);
    acct **s = name_slot(mp, a->name);
    if (*s == a) *s = a->next_name;
    if (a->prev) a->prev->next = a->next; else mp->first = a->next;
    if (a->next) a->next->prev = a->prev; else mp->last = a->prev;
    free(a->q);
    free(a);
}

/* Unlinks e from the id index and its account queue; frees it. */
static void drop(ln_mempool *mp, entry *e)
{
    entry **p = id_slot(mp, e->tx.id);
    if (*p == e) *p = e->next_id;
    acct *a = e->acct;
    for (size_t i = 0; i < a->n; i++)
        if (a->q[i] == e) {
            memmove(&a->q[i], &a->q[i + 1], (a->n - i - 1) * sizeof *a->q);
            a->n--;
            break;
        }
    mp->count--;
    mp->bytes -= e->tx.len;
    free_entry(e);
    set_ready(mp, a);
    forget_if_empty(mp, a);
}

int ln_mempool_add(ln_mempool *mp, const ln_tx *tx, const uint8_t *bytes, size_t len,
                   uint64_t state_nonce)
{
    if (*id_slot(mp, tx->id)) return LN_EKNOWN;
    if (tx->nonce < state_nonce) return LN_ENONCE;
    acct **as = name_slot(mp, tx->account);
    acct *a = *as;
    size_t pos = 0;
    entry *old = NULL;
    if (a) {
        while (pos < a->n && a->q[pos]->tx.nonce < tx->nonce) pos++;
        if (pos < a->n && a->q[pos]->tx.nonce == tx->nonce) {
            if (tx->max_fee <= a->q[pos]->tx.max_fee) return LN_EUNDERPRICED;
            old = a->q[pos];
        }
    }
    if (old ? mp->bytes - old->tx.len + len > mp->max_bytes
            : mp->count >= mp->max_txs || mp->bytes + len > mp->max_bytes)
        return LN_EFULL;

    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->tx.bytes = malloc(len ? len : 1))) {
        free(e);
        return LN_ENOMEM;
    }
    memcpy(e->tx.bytes, bytes, len);
    e->tx.len = len;
    memcpy(e->tx.id, tx->id, LN_HASH_LEN);
    memcpy(e->tx.account, tx->account, sizeof e->tx.account);
    e->tx.nonce = tx->nonce;
    e->tx.max_fee = tx->max_fee;
    e->tx.expires = tx->expires;

    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a) {
            free_entry(e);
            return LN_ENOMEM;
        }
        memcpy(a->name, tx->account, sizeof a->name);
        *as = a;
        a->prev = mp->last;
        if (mp->last) mp->last->next = a; else mp->first = a;
        mp->last = a;
    }
    if (old) {
        entry **p = id_slot(mp, old->tx.id);
        if (*p == old) *p = old->next_id;
        mp->bytes -= old->tx.len;
        mp->count--;
        free_entry(old);
        a->q[pos] = e;
    } else {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 4;
            entry **q = realloc(a->q, cap * sizeof *q);
            if (!q) {
                free_entry(e);
                forget_if_empty(mp, a);
                return LN_ENOMEM;
            }
            a->q = q;
            a->cap = cap;
        }
        memmove(&a->q[pos + 1], &a->q[pos], (a->n - pos) * sizeof *a->q);
        a->q[pos] = e;
        a->n++;
    }
    e->acct = a;
    entry **slot = id_slot(mp, e->tx.id);
    *slot = e;
    mp->count++;
    mp->bytes += len;
    a->next_nonce = state_nonce;
    set_ready(mp, a);
    return 0;
}

size_t ln_mempool_select(ln_mempool *mp, ln_nonce_fn nonce_of, void *ud,
                         size_t max_txs, size_t max_bytes, const ln_mtx **out)
{
    size_t n = 0, bytes = 0;
    for (acct *a = mp->first; a && n < max_txs; a = a->next) {
        uint64_t want = nonce_of(a->name, ud);
        for (size_t i = 0; i < a->n && n < max_txs; i++) {
            const ln_mtx *t = &a->q[i]->tx;
            if (t->nonce < want) continue;
            if (t->nonce > want || bytes + t->len > max_bytes) break;
            out[n++] = t;
            bytes += t->len;
            want++;
        }
    }
    return n;
}

void ln_mempool_remove(ln_mempool *mp, const uint8_t (*ids)[LN_HASH_LEN], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        entry *e = *id_slot(mp, ids[i]);
        if (e) drop(mp, e);
    }
}

size_t ln_mempool_prune(ln_mempool *mp, uint64_t height, ln_nonce_fn nonce_of, void *ud)
{
    size_t dropped = 0;
    for (acct *a = mp->first, *next; a; a = next) {
        next = a->next;
        uint64_t want = nonce_of(a->name, ud);
        int gone = 0;
        /* Walk from the back: dropping the last entry may free the account. */
        for (size_t i = a->n; i-- > 0;) {
            entry *e = a->q[i];
            if (e->tx.nonce < want || e->tx.expires < height) {
                int last = a->n == 1;
                drop(mp, e);
                dropped++;
                if (last) {
                    gone = 1;
                    break;
                }
            }
        }
        if (!gone) {
            a->next_nonce = want;
            set_ready(mp, a);
        }
    }
    return dropped;
}

size_t ln_mempool_ready(const ln_mempool *mp) { return mp->ready; }

uint64_t ln_mempool_next_nonce(const ln_mempool *mp, const char *account,
                               uint64_t state_nonce)
{
    const acct *a = *name_slot(mp, account);
    uint64_t want = state_nonce;
    for (size_t i = 0; a && i < a->n; i++) {
        uint64_t nonce = a->q[i]->tx.nonce;
        if (nonce < want) continue;          /* committed, not pruned yet */
        if (nonce > want) break;             /* a gap: nothing after it counts */
        want++;
    }
    return want;
}

size_t ln_mempool_each(const ln_mempool *mp, void (*fn)(const ln_mtx *tx, void *ud), void *ud)
{
    size_t k = 0;
    for (const acct *a = mp->first; a; a = a->next)
        for (size_t i = 0; i < a->n; i++, k++) fn(&a->q[i]->tx, ud);
    return k;
}
