/*
** arena.c -- the sandbox's memory (see arena.h).
**
** Every allocation of a sandbox comes from one private mapping through
** size-classed free lists: small blocks in steps of 16 bytes up to 1 KiB,
** larger ones in powers of two. No other heap is involved, so the same
** sequence of operations allocates the same offsets on every node, and
** the mapping sits at a fixed address (a slot), so the same offsets are the
** same addresses. That matters because LuaJIT hashes table and function
** keys by their address.
*/
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "sandbox.h"

/* ---- block numbers, free list order ----------------------------------- */

#define SMALL_STEP   LN__ARENA_SMALL_STEP
#define NSMALL       LN__ARENA_NSMALL
#define NLARGE       LN__ARENA_NLARGE

typedef ln__freeblk freeblk;

uint32_t ln__arena_seq(const ln__arena *a, const void *p)
{
    const uint8_t *b = p;
    if (b < a->base || b >= a->base + a->top) return 0;
    return a->seq[(size_t)(b - a->base) / SMALL_STEP];
}

/* Merge sort of a free list by address. */
static freeblk *merge(freeblk *a, freeblk *b)
{
    freeblk head, *t = &head;
    while (a && b) {
        if ((uintptr_t)a < (uintptr_t)b) { t->next = a; a = a->next; }
        else { t->next = b; b = b->next; }
        t = t->next;
    }
    t->next = a ? a : b;
    return head.next;
}

static freeblk *sort_list(freeblk *l)
{
    freeblk *parts[64] = { 0 };
    while (l) {
        freeblk *next = l->next, *carry = l;
        l->next = NULL;
        int i = 0;
        for (; i < 63 && parts[i]; i++) {
            carry = merge(parts[i], carry);
            parts[i] = NULL;
        }
        parts[i] = merge(parts[i], carry);
        l = next;
    }
    freeblk *r = NULL;
    for (int i = 0; i < 64; i++) r = merge(parts[i], r);
    return r;
}

void ln__arena_sort(ln__arena *a)
{
    for (int i = 0; i <= NSMALL; i++) a->small[i] = sort_list(a->small[i]);
    for (int i = 0; i < NLARGE; i++) a->large[i] = sort_list(a->large[i]);
}

/* ---- where LuaJIT's hashes come from -------------------------------------
**
**     +-----------------------------------------------------------------+
**     |  THIS FILE REPLACES syscall(3) FOR THE WHOLE PROCESS.            |
**     +-----------------------------------------------------------------+
**
** What it does: while this thread creates a sandbox (ln__arena_seed set),
** a syscall(SYS_getrandom, buf, len, flags) is answered with bytes derived
** from the seed (BLAKE2b of seed || counter), and returns len. Every other
** call, and getrandom on any other thread or at any other time, goes on to
** the C library's syscall unchanged (found once with dlsym(RTLD_NEXT)).
**
** Why: LuaJIT hashes strings with a seed it draws in lua_newstate from
** getrandom(2), which it reaches through syscall(3) (lj_prng.c). Which keys
** collide decides when a table with deleted keys rehashes, hence what is
** allocated, hence gas and where objects land. So the seed must be the same
** on every node: a block passes its parent's hash. (Table and function keys
** hash by address: the arena slots below make those the same too.)
**
** What would break it, and how it shows: a LuaJIT that seeds another way
** (getentropy(3) or getrandom(3) of a newer libc called directly, reading
** /dev/urandom first, a build without LUAJIT_SECURITY_PRNG); a LuaJIT
** linked so that its syscall reference binds inside its own object
** (-Bsymbolic, a static libc); an executable that does not export this
** definition ahead of libc's. Then each state gets a random seed: the same
** code would charge different gas on different nodes, in different
** sandboxes of one node too. The test
** sandbox.sandbox_gas_of_string_key_churn_is_the_same_in_every_sandbox
** catches it. */

static __thread const uint8_t *pending_seed;

void ln__arena_seed(const uint8_t *seed) { pending_seed = seed; }

long syscall(long number, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, number);
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_getrandom && pending_seed) {
        uint8_t *buf = (uint8_t *)a[0];
        size_t len = (size_t)a[1];
        for (size_t off = 0, ctr = 0; off < len; off += LN_HASH_LEN, ctr++) {
            uint8_t block[LN_HASH_LEN];
            ln_hasher h;
            ln_hash_init(&h);
            ln_hash_update(&h, pending_seed, LN_HASH_LEN);
            ln_hash_update(&h, &ctr, sizeof ctr);
            ln_hash_final(&h, block);
            memcpy(buf + off, block, len - off < LN_HASH_LEN ? len - off : LN_HASH_LEN);
        }
        return (long)len;
    }
    static long (*real)(long, ...);     /* shared by threads: atomic */
    long (*fn)(long, ...) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!fn) {
        fn = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
        __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
    }
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    return fn(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- arena slots ---------------------------------------------------------
** ARENA_SLOTS fixed places in the address space, taken lowest first,
** so the same sequence of sandboxes lands at the same addresses in every
** process. Nodes create and free sandboxes in the same order (the consensus
** plugin's first, then one per block). Queries run on worker threads, at
** times no other node shares: they take slots from the top
** (ln_sandbox_thread_high_slots), out of the blocks' way. The bitmap is
** atomic; a slot's cache entry belongs to whoever holds its bit. */
#define ARENA_BASE  ((uintptr_t)0x500000000000ull)   /* above ASan's shadow */
#define ARENA_SLOTS 64
#define SLOT_SIZE   ((size_t)LN_SANDBOX_ARENA)

static uint64_t slots_used;          /* atomic: queries take slots on worker threads */
static __thread int high_slots;      /* this thread takes slots from the top */

void ln_sandbox_thread_high_slots(void)
{
    high_slots = 1;
}

int ln_sandbox_high_slots(int on)
{
    int was = high_slots;
    high_slots = on;
    return was;
}

/* The numbers of a slot's blocks (ln__arena_seq), 4 bytes per 16: a
** mapping of their own, kept with the slot. Never read before written. */
#define SEQ_SIZE(size)  ((size) / SMALL_STEP * sizeof(uint32_t))
static uint32_t *seq_cache[ARENA_SLOTS];

/* A slot's mapping outlives its sandbox: the next sandbox in that slot
** (a node runs one per block) finds its pages already faulted in, zeroed
** as a fresh mapping would be. Only the first ARENA_KEEP bytes stay
** resident; what a big block used beyond them goes back to the kernel. */
#define ARENA_KEEP  ((size_t)64 << 20)
static uint8_t *slot_cache[ARENA_SLOTS];   /* owned by whoever holds the slot's bit */

static uint8_t *arena_map(size_t size, int *slot)
{
    for (int k = 0; k < ARENA_SLOTS; k++) {
        int i = high_slots ? ARENA_SLOTS - 1 - k : k;
        uint64_t bit = (uint64_t)1 << i;
        if (__atomic_fetch_or(&slots_used, bit, __ATOMIC_ACQ_REL) & bit) continue;
        if (slot_cache[i] && size == SLOT_SIZE) {
            *slot = i;
            return slot_cache[i];
        }
        void *want = (void *)(ARENA_BASE + (uintptr_t)i * SLOT_SIZE);
        void *p = mmap(want, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == want) {
            *slot = i;
            return p;
        }
        if (p != MAP_FAILED) munmap(p, size);   /* a kernel that took it as a hint */
        __atomic_fetch_and(&slots_used, ~bit, __ATOMIC_ACQ_REL);
    }
    /* Every slot taken or occupied: still a working sandbox, but its table
    ** key order may differ from other nodes'. */
    *slot = -1;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* used: the bytes the sandbox touched (its top). */
static void arena_unmap(uint8_t *base, size_t size, int slot, size_t used)
{
    if (slot < 0 || size != SLOT_SIZE) {
        munmap(base, size);
    } else {
        size_t keep = used < ARENA_KEEP ? used : ARENA_KEEP;
        memset(base, 0, keep);
        if (used > keep) madvise(base + keep, used - keep, MADV_DONTNEED);
        slot_cache[slot] = base;
    }
    if (slot >= 0) __atomic_fetch_and(&slots_used, ~((uint64_t)1 << slot), __ATOMIC_ACQ_REL);
}

int ln__arena_open(ln__arena *a, size_t size)
{
    memset(a, 0, sizeof *a);
    a->size = size;
    a->base = arena_map(size, &a->slot);
    if (!a->base) return LN_ENOMEM;
    if (a->slot >= 0 && seq_cache[a->slot] && size == SLOT_SIZE) {
        a->seq = seq_cache[a->slot];
        return 0;
    }
    void *p = mmap(NULL, SEQ_SIZE(size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        ln__arena_close(a);
        return LN_ENOMEM;
    }
    a->seq = p;
    return 0;
}

void ln__arena_close(ln__arena *a)
{
    if (a->seq && a->slot >= 0 && a->size == SLOT_SIZE) {
        size_t keep = SEQ_SIZE(a->top < ARENA_KEEP ? a->top : ARENA_KEEP);
        if (SEQ_SIZE(a->top) > keep)
            madvise((uint8_t *)a->seq + keep, SEQ_SIZE(a->top) - keep, MADV_DONTNEED);
        seq_cache[a->slot] = a->seq;
    } else if (a->seq) {
        munmap(a->seq, SEQ_SIZE(a->size));
    }
    /* The slot's bit is cleared last: the seq cache is the slot's too. */
    if (a->base) arena_unmap(a->base, a->size, a->slot, a->top);
    a->base = NULL;
    a->seq = NULL;
}
