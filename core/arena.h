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

/* lua_Alloc's contract over the arena, without any policy: nsize 0 frees;
** a size within the same class stays in place; NULL when the arena is full
** (ptr then stays valid). */
void *ln__arena_realloc(ln__arena *a, void *ptr, size_t osize, size_t nsize);

/* The number of the block at p (a block start): blocks are numbered in the
** order they were handed out, so the number does not depend on where the
** block lands. 0 for a pointer outside the arena. */
uint32_t ln__arena_seq(const ln__arena *a, const void *p);

/* Puts every free list in address order: where new objects land then
** depends on which blocks are free, not on the order they were freed in. */
void ln__arena_sort(ln__arena *a);

/* While seed is set (32 bytes, not NULL), this thread's getrandom requests
** are answered from it: LuaJIT seeds its string hash in lua_newstate. */
void ln__arena_seed(const uint8_t *seed);

#endif
