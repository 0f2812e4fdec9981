/*
** store.h -- LevelDB-backed block and state storage.
** int results: 0 or a negative LN_E* code (core/err.h). Keys and values are
** byte strings (pointer plus length, empty allowed). Inputs are borrowed for
** the call; returned buffers are the caller's, released with free(). No NULL
** pointers unless a comment says so; a data pointer may be NULL when its
** length is 0. Nothing here prints: on LN_EIO the LevelDB text is kept for
** ln_store_lasterr(). A store is used from one thread (the event loop):
** LevelDB would allow more, but the lasterr text is not synchronised.
*/
#ifndef LN_STORE_H
#define LN_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ln_store ln_store;   /* opaque: an open database */
typedef struct ln_batch ln_batch;   /* opaque: writes to commit together */
typedef struct ln_iter  ln_iter;    /* opaque: a prefix scan */

/* Opens (creating if missing) the database in dir. Sets *out only on success.
** LN_ELOCKED if another ln_store, in this process or another, has it open
** (LevelDB's "IO error: lock ..." text); LN_EIO otherwise (corruption,
** permissions, ...); LN_ENOMEM. */
int  ln_store_open(const char *dir, ln_store **out);

/* Same, and on failure copies LevelDB's text into errbuf (NUL-terminated,
** truncated to errlen) when errbuf != NULL and errlen > 0. */
int  ln_store_open_err(const char *dir, ln_store **out,
                       char *errbuf, size_t errlen);

/* Closes and frees (a view: releases its snapshot). Every ln_iter and view
** of st must be freed first. NULL is a no-op. */
void ln_store_close(ln_store *st);

/* A read-only view of st as it is now (a LevelDB snapshot): reads through
** it see none of the writes made after this call. It may be used from
** another thread than st's (one thread at a time) and must be closed, with
** ln_store_close, before st. Writes through it are LN_EINVAL. LN_ENOMEM. */
int  ln_store_view(ln_store *st, ln_store **out);

/* LevelDB's text for the last call on st that returned LN_EIO; "" if none.
** Owned by st: valid until the next failing call or ln_store_close. */
const char *ln_store_lasterr(const ln_store *st);

/* LN_ENOTFOUND if absent (*val untouched). Else 0, *val a malloc()ed copy of
** *vlen bytes (non-NULL even when *vlen is 0) that the caller free()s.
** LN_EIO, LN_ENOMEM. */
int  ln_store_get(ln_store *st, const uint8_t *k, size_t kl,
                  uint8_t **val, size_t *vlen);

/* Synced single writes: durable when they return 0. Deleting a missing key
** is not an error. LN_EIO. */
int  ln_store_put(ln_store *st, const uint8_t *k, size_t kl,
                  const uint8_t *v, size_t vl);
int  ln_store_delete(ln_store *st, const uint8_t *k, size_t kl);

/* ---- batches: applied in order, all or nothing, by ln_store_commit ----- */

ln_batch *ln_batch_new(void);                   /* NULL when out of memory */
void   ln_batch_free(ln_batch *b);              /* NULL is a no-op */
void   ln_batch_put(ln_batch *b, const uint8_t *k, size_t kl,
                    const uint8_t *v, size_t vl);
void   ln_batch_delete(ln_batch *b, const uint8_t *k, size_t kl);
void   ln_batch_clear(ln_batch *b);             /* empty again, reusable */
size_t ln_batch_count(const ln_batch *b);       /* puts + deletes queued */

/* One atomic, synced write of the whole batch; later operations on a key win.
** The batch stays the caller's and is left as it was. An empty batch is a
** no-op. LN_EIO. */
int  ln_store_commit(ln_store *st, const ln_batch *b);

/* ---- iteration --------------------------------------------------------- */

/* Scans the keys starting with prefix[0..plen) (plen 0: all keys), in
** ascending bytewise order, over a snapshot taken now: later writes are not
** seen. Sets *out only on success. LN_ENOMEM. */
int  ln_iter_new(ln_store *st, const uint8_t *prefix, size_t plen,
                 ln_iter **out);

/* Repositions so the next ln_iter_next gives the first key >= k[0..kl) that
** still has the prefix (resuming a paged scan). A k below the prefix starts
** at the prefix. */
void ln_iter_seek(ln_iter *it, const uint8_t *k, size_t kl);

/* 1 with the next entry (k, v borrowed until the next call on it), 0 when the
** scan is done, LN_EIO if LevelDB failed mid-scan (text in ln_store_lasterr). */
int  ln_iter_next(ln_iter *it, const uint8_t **k, size_t *kl,
                  const uint8_t **v, size_t *vl);

void ln_iter_free(ln_iter *it);                 /* NULL is a no-op */

#endif
