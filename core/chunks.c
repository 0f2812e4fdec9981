/*
** chunks.c -- the process's store of compiled contract chunks (see
** chunks.h): a hash table of 256 chains over a doubly linked list in order
** of use, under one mutex. A node holds a few hundred contracts at most;
** the lock is held for a lookup and one load of a chunk, microseconds.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "err.h"

typedef struct entry {
    uint8_t key[32];
    struct entry *chain;               /* next in the bucket */
    struct entry *newer, *older;       /* the use list */
    size_t n;
    uint8_t bc[];
} entry;

#define NBUCKET 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *bucket[NBUCKET];
static entry *newest, *oldest;
static size_t total;

static entry **slot_of(const uint8_t key[32])
{
    entry **e = &bucket[key[0]];
    while (*e && memcmp((*e)->key, key, 32) != 0) e = &(*e)->chain;
    return e;
}

static void unlink_use(entry *e)
{
    if (e->newer) e->newer->older = e->older; else newest = e->older;
    if (e->older) e->older->newer = e->newer; else oldest = e->newer;
    e->newer = e->older = NULL;
}

static void link_newest(entry *e)
{
    e->older = newest;
    e->newer = NULL;
    if (newest) newest->newer = e; else oldest = e;
    newest = e;
}

static void drop(entry *e)
{
    *slot_of(e->key) = e->chain;
    unlink_use(e);
    total -= e->n;
    free(e);
}

int ln__chunks_use(const uint8_t key[32],
                   int (*use)(const uint8_t *bc, size_t n, void *ud), void *ud)
{
    pthread_mutex_lock(&lock);
    entry *e = *slot_of(key);
    int rc = 1;
    if (e) {
        unlink_use(e);
        link_newest(e);
        rc = use(e->bc, e->n, ud);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int ln__chunks_put(const uint8_t key[32], const uint8_t *bc, size_t n)
{
    if (n > LN__CHUNKS_MAX) return 0;
    entry *e = malloc(sizeof *e + n);
    if (!e) return LN_ENOMEM;
    memcpy(e->key, key, 32);
    memcpy(e->bc, bc, n);
    e->n = n;
    e->chain = NULL;
    pthread_mutex_lock(&lock);
    entry **s = slot_of(key);
    if (*s) {
        free(e);                       /* another thread put it meanwhile */
    } else {
        *s = e;
        link_newest(e);
        total += n;
        while (total > LN__CHUNKS_MAX) drop(oldest);
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

void ln__chunks_clear(void)
{
    pthread_mutex_lock(&lock);
    while (oldest) drop(oldest);
    pthread_mutex_unlock(&lock);
}
