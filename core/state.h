/*
** state.h -- the authenticated state: a key-value map under a Merkle tree
** whose root commits to the whole map, and the overlay (a block's pending
** writes, with a journal) that transactions run on.
** int results: 0 or a negative LN_E* code (core/err.h). Inputs are borrowed
** for the call; returned buffers are the caller's, freed with free(). No NULL
** pointers unless a comment says so; a data pointer may be NULL when its
** length is 0. One thread at a time, like the store. Nothing here prints.
**
** ---- The tree -----------------------------------------------------------
** Keys are 0..LN_STATE_KEY_MAX bytes, values 0..LN_STATE_VALUE_MAX bytes.
** H is BLAKE2b-256 (ln_hash). Key k lives at the 256-bit path kh = H(k); bit
** i of a path (i = 0..255) is bit (7 - i%8) of byte i/8, most significant
** first. The tree is the binary Patricia trie of the paths of all keys:
**   empty tree            root = 32 zero bytes
**   leaf (k, v)           H(0x00 || kh || H(v))                65 bytes hashed
**   branch at depth d     H(0x01 || d || left || right)        66 bytes hashed
** d (one byte, 0..255) is the length of the longest common prefix of all
** paths below the branch; left is the subtree of the paths with bit d = 0,
** right of those with bit d = 1; both are non-empty (a subtree of one key is
** that key's leaf). A set of paths has exactly one such trie, so the root
** depends only on the set of (key, value) pairs, never on the order or the
** history of writes. Updating c keys hashes O(c * log n) nodes; the upper
** levels are shared by the changes of one commit.
**
** ---- Proofs -------------------------------------------------------------
** A proof for key k follows kh from the root: at a branch of depth d it goes
** to the side given by bit d of kh, until it reaches a leaf or the tree is
** empty. If k is present that leaf is k's; if not, it is another key's (the
** search only looks at the bits where branches split, so it reaches k's leaf
** whenever k is in the tree). Encoding, all lengths fixed:
**   tag       1 byte: 0 = the tree is empty, 1 = the leaf reached is k's,
**             2 = the leaf reached is another key's
**   other     tag 2 only: okh (32 bytes) and ovh (32 bytes), the path and
**             the value hash of that leaf
**   steps     m >= 0 steps of 33 bytes, from the root down: d (1 byte) and
**             the hash of the sibling, the side of the branch at depth d
**             that the search did not take (32 bytes)
** A verifier, given root, k and either v or "absent":
**   1. tag 0: the proof is exactly 1 byte, k is claimed absent, root is all
**      zero. Done.
**   2. tag 1: v is given, h = H(0x00 || kh || H(v)).
**      tag 2: k is claimed absent, okh != kh, h = H(0x00 || okh || ovh).
**      Any other tag fails.
**   3. What remains is a whole number of steps whose depths strictly
**      increase. For the steps from the last to the first:
**        h = bit d of kh == 0 ? H(0x01 || d || h || sibling)
**                             : H(0x01 || d || sibling || h)
**   4. Accept iff h == root.
**
** ---- Storage ------------------------------------------------------------
** With a store, a commit puts into the caller's batch (same LevelDB key
** space as the other modules; these prefixes are the state's):
**   "S" || key        the value (the latest map, flat, for O(1) reads)
**   "N" || hash       a tree node by its hash (33-byte keys):
**                       leaf   0x00 || kh || H(v)            (its preimage)
**                       branch 0x01 || d || left || right || prefix, prefix
**                       = the first ceil(d/8) bytes of the paths below it,
**                       bits from d on zeroed
**   "Nroot"           root (32 bytes) || number of keys (8 bytes, little
**                     endian); absent for a state that never committed
** Nodes are content-addressed; nodes no longer in the tree stay in the store
** (pruning is later work). Nodes are loaded on first use and then cached in
** memory; ln_state_trim bounds that cache.
*/
#ifndef LN_STATE_H
#define LN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define LN_STATE_KEY_MAX   256           /* bytes in a key */
#define LN_STATE_VALUE_MAX (1u << 20)    /* bytes in a value: 1 MiB */

typedef struct ln_state ln_state;       /* the committed tree and map, opaque */
typedef struct ln_overlay ln_overlay;   /* pending writes with a journal, opaque */

/* ---- committed state ------------------------------------------------- */

/* Opens the state kept in st (the root and count under "Nroot"; none: the
** empty state), or a fresh empty state in memory when st is NULL. st must
** outlive the state. Sets *out only on success. LN_ENOMEM; with a store
** LN_EIO (read failure, or an "Nroot" record of the wrong size). */
int    ln_state_open(ln_store *st, ln_state **out);
void   ln_state_close(ln_state *s);                /* NULL is a no-op */

void   ln_state_root(const ln_state *s, uint8_t root[32]);
size_t ln_state_count(const ln_state *s);          /* number of keys */

/* The committed value of k: 0 and *v a malloc()ed copy of *vl bytes
** (non-NULL even when *vl is 0), or LN_ENOTFOUND. LN_ETOOBIG for a key over
** LN_STATE_KEY_MAX; with a store LN_EIO, LN_ENOMEM. */
int    ln_state_get(ln_state *s, const uint8_t *k, size_t kl,
                    uint8_t **v, size_t *vl);

/* Store-backed states only (a no-op in memory): when more than max_nodes
** tree nodes are cached, drops the lower levels of the cache (they reload
** from the store on use). Call it only when the batches of all earlier
** commits are in the store, e.g. right after a successful ln_store_commit. */
void   ln_state_trim(ln_state *s, size_t max_nodes);

/* ---- overlay ---------------------------------------------------------- */
/* An overlay holds writes over the committed state; reads see its newest
** write, else the committed value. Deletes are kept as tombstones until the
** commit. Savepoints nest: begin pushes one, release keeps the writes made
** since the top one (they become the parent's), revert undoes exactly those
** writes. Freeing an overlay discards its writes (query mode).
** Several overlays may be open on one state, but a commit through one makes
** the others stale: their calls then return LN_EINVAL (free them). */

ln_overlay *ln_overlay_new(ln_state *s);     /* NULL when out of memory */
void   ln_overlay_free(ln_overlay *o);       /* discards pending writes; NULL ok */

/* 0 with *v borrowed (*vl bytes; valid until the next write, revert, commit
** or free on this overlay), or LN_ENOTFOUND for a key absent or deleted.
** LN_ETOOBIG for a key over LN_STATE_KEY_MAX, LN_EINVAL if stale; with a
** store LN_EIO, LN_ENOMEM. */
int    ln_overlay_get(ln_overlay *o, const uint8_t *k, size_t kl,
                      const uint8_t **v, size_t *vl);

/* Copies k and v. LN_ETOOBIG for a key over LN_STATE_KEY_MAX or a value
** over LN_STATE_VALUE_MAX, LN_EINVAL if stale, LN_ENOMEM. On error nothing
** changed. Deleting an absent key is not an error. */
int    ln_overlay_set(ln_overlay *o, const uint8_t *k, size_t kl,
                      const uint8_t *v, size_t vl);
int    ln_overlay_delete(ln_overlay *o, const uint8_t *k, size_t kl);

int    ln_overlay_begin(ln_overlay *o);   /* the new depth (>= 1), or LN_ENOMEM */
void   ln_overlay_release(ln_overlay *o); /* keeps the top savepoint's writes; depth 0: no-op */
void   ln_overlay_revert(ln_overlay *o);  /* undoes the top savepoint's writes; depth 0: no-op */
size_t ln_overlay_depth(const ln_overlay *o);  /* open savepoints */

/* Calls fn for each pending write: the key and its new value (v NULL: a
** delete), in no particular order. fn must not write to the overlay. */
void   ln_overlay_each(ln_overlay *o, void (*fn)(void *ud, const uint8_t *k, size_t kl,
                                                 const uint8_t *v, size_t vl), void *ud);

/* Folds the overlay's writes into the tree: computes the new root, makes it
** the committed state and writes it to root. With a store, puts the changed
** nodes, values and "Nroot" into b, which the caller commits (b must be NULL
** for an in-memory state). The overlay is then empty and still usable.
** Cost: O(distinct keys written * log n) hashes.
** LN_EINVAL if b does not match the state, if savepoints are open or if the
** overlay is stale; LN_ENOMEM; with a store LN_EIO (a node failed to load).
** On error nothing changed: the state, the overlay and b are as before.
** After success the in-memory state is ahead of the store until b is
** committed: if ln_store_commit(b) fails, the in-memory state must not be
** trusted; close it (and its overlays) and open it again from the store. */
int    ln_overlay_commit(ln_overlay *o, ln_batch *b, uint8_t root[32]);

/* The root that ln_overlay_commit would give, without committing. Same
** cost. LN_EINVAL if stale; with a store LN_EIO, LN_ENOMEM. */
int    ln_overlay_root(ln_overlay *o, uint8_t root[32]);

/* ---- proofs (encoding above) ----------------------------------------- */

/* A proof for k against the committed root: that k holds its value, or that
** k is absent. *proof is malloc()ed, *plen bytes (at most 1+64+256*33).
** LN_ETOOBIG for a key over LN_STATE_KEY_MAX, LN_ENOMEM; with a store LN_EIO. */
int    ln_state_prove(ln_state *s, const uint8_t *k, size_t kl,
                      uint8_t **proof, size_t *plen);

/* Pure: 0 if proof shows that under root, k holds v[0..vl) (v != NULL; use
** any non-NULL pointer for an empty value), or that k is absent (v == NULL,
** vl ignored). Otherwise LN_EPROOF. */
int    ln_state_verify(const uint8_t root[32], const uint8_t *k, size_t kl,
                       const uint8_t *v, size_t vl,
                       const uint8_t *proof, size_t plen);

#endif
