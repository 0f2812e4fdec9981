/*
** arena.h -- the sandbox's memory: one private mapping per sandbox, handed
** out through size-classed free lists, so that the same operations give
** the same allocations at the same addresses on every node. Internal to
** the sandbox (sandbox.c is its only user).
**
** Also where LuaJIT's hash seeds come from: see "where LuaJIT's hashes come
** from" in arena.c, which interposes syscall(3).
*/
#ifndef LN_ARENA_H
#define LN_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LN__ARENA_SMALL_STEP  16
#define LN__ARENA_SMALL_MAX   1024
#define LN__ARENA_NSMALL      (LN__ARENA_SMALL_MAX / LN__ARENA_SMALL_STEP)   /* 16..1024 */
#define LN__ARENA_NLARGE      40                                             /* 2^11..2^50 */

typedef struct ln__freeblk { struct ln__freeblk *next; } ln__freeblk;

typedef struct {
    uint8_t *base;
    int slot;                  /* arena slot, -1 when mapped elsewhere */
    size_t size, top;          /* mapping size; bytes handed out from it once */
    size_t in_use;             /* bytes handed out and not taken back */
    ln__freeblk *small[LN__ARENA_NSMALL + 1];
    ln__freeblk *large[LN__ARENA_NLARGE];
    uint32_t *seq;             /* per 16-byte granule: the number of the block that starts there */
    uint32_t nseq;             /* blocks handed out so far */
} ln__arena;

/* Maps size bytes at the lowest free fixed slot (a fresh zeroed mapping, or
** the cached one a freed sandbox left). LN_ENOMEM when nothing can be
** mapped. */
int  ln__arena_open(ln__arena *a, size_t size);
void ln__arena_close(ln__arena *a);

/* The number of the block at p (a block start): blocks are numbered in the
** order they were handed out, so the number does not depend on where the
** block lands. 0 for a pointer outside the arena. The count wraps after
** 2^32 blocks (a sandbox lives one block of the chain), the same way on
** every node. */
uint32_t ln__arena_seq(const ln__arena *a, const void *p);

/* Puts every free list in address order: where new objects land then
** depends on which blocks are free, not on the order they were freed in. */
void ln__arena_sort(ln__arena *a);

/* While seed is set (32 bytes, not NULL), this thread's getrandom requests
** are answered from it: LuaJIT seeds its string hash in lua_newstate. */
void ln__arena_seed(const uint8_t *seed);

/* ---- the allocation path, inline: it runs for every allocation ---------- */

#define LN__ARENA_INLINE static inline __attribute__((always_inline))

LN__ARENA_INLINE size_t ln__arena_class(size_t n, int *large, int *idx)
{
    if (n <= LN__ARENA_SMALL_MAX) {
        size_t c = (n + LN__ARENA_SMALL_STEP - 1) / LN__ARENA_SMALL_STEP;
        if (c == 0) c = 1;
        *large = 0, *idx = (int)c;
        return c * LN__ARENA_SMALL_STEP;
    }
    int b = 11;
    while (((size_t)1 << b) < n) b++;
    *large = 1, *idx = b - 11;
    return (size_t)1 << b;
}

LN__ARENA_INLINE void *ln__arena_get(ln__arena *a, size_t n)
{
    int large, idx;
    size_t cs = ln__arena_class(n, &large, &idx);
    if (large && idx >= LN__ARENA_NLARGE) return NULL;
    ln__freeblk **list = large ? &a->large[idx] : &a->small[idx];
    if (*list) {
        ln__freeblk *f = *list;
        *list = f->next;
        return f;
    }
    if (cs > a->size - a->top) return NULL;
    void *p = a->base + a->top;
    a->top += cs;
    return p;
}

LN__ARENA_INLINE void ln__arena_put(ln__arena *a, void *p, size_t n)
{
    int large, idx;
    ln__arena_class(n, &large, &idx);
    ln__freeblk *f = p;
    ln__freeblk **list = large ? &a->large[idx] : &a->small[idx];
    f->next = *list;
    *list = f;
}

/* lua_Alloc's contract over the arena, without any policy: nsize 0 frees;
** a size within the same class stays in place; NULL when the arena is full
** (ptr then stays valid). Each block handed out gets the next number. */
LN__ARENA_INLINE void *ln__arena_realloc(ln__arena *a, void *ptr, size_t osize, size_t nsize)
{
    if (nsize == 0) {
        if (ptr) {
            ln__arena_put(a, ptr, osize);
            a->in_use -= osize;
        }
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (ptr) {
        int l1, i1, l2, i2;
        if (ln__arena_class(osize, &l1, &i1) == ln__arena_class(nsize, &l2, &i2)) {
            a->in_use += nsize - osize;
            return ptr;
        }
    }
    void *np = ln__arena_get(a, nsize);
    if (!np) return NULL;
    a->seq[((uint8_t *)np - a->base) / LN__ARENA_SMALL_STEP] = ++a->nseq;
    if (ptr) {
        memcpy(np, ptr, osize < nsize ? osize : nsize);
        ln__arena_put(a, ptr, osize);
    }
    a->in_use += nsize - old;
    return np;
}

#endif
