/*
** registry.h -- the plugin registry in the state (DESIGN, "Slots and the
** registry"): for each slot the history of the plugins that govern it, and
** every plugin's code by its hash. Only the registry is read after genesis,
** never the file a plugin came from.
**
** State keys (values canonical msgpack):
**   "r" SLOT        the slot's history, oldest first: an array of
**                   {from, hash: bin32, name, params: map}; `from` is the
**                   first height the plugin governs (0 for the genesis one),
**                   strictly increasing
**   "k" HASH(32)    a plugin's code (str); HASH is its BLAKE2b-256
**   "w"             swaps scheduled and not in force yet, by at then slot:
**                   an array of {at, hash: bin32, name, params: map,
**                   ready: [validator names, sorted], slot}; at most one
**                   per slot
** A swap goes into its slot's history (from = at) at the end of block
** at - 1 when more than 2/3 of the validators at that block are among
** ready (sys.ready); otherwise at moves swap_delay blocks on. Every node
** decides from the state alone, so all decide alike.
** int results: 0 or a negative LN_E* code (err.h); LN_EIO when a record does
** not decode (the state is corrupt). Inputs are borrowed for the call.
*/
#ifndef LN_REGISTRY_H
#define LN_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "state.h"

#define LN_PLUGIN_NAME_MAX  31          /* bytes of a plugin's name */
#define LN_PLUGIN_CODE_MAX  (256u * 1024)
#define LN_REGISTRY_HISTORY 256         /* entries a slot keeps */

typedef enum { LN_SLOT_CONSENSUS, LN_SLOT_GOVERNANCE, LN_SLOT_PRICING, LN_NSLOTS } ln_slot;

/* "consensus", "governance", "pricing". */
const char *ln_slot_name(ln_slot s);
/* The slot named name, or -1. */
int ln_slot_of(const char *name);

/* One entry of a slot's history. params: canonical msgpack of a map,
** malloc()ed (ln_plugin_ref_free). */
typedef struct {
    char name[LN_PLUGIN_NAME_MAX + 1];
    uint8_t hash[LN_HASH_LEN];
    uint64_t from;
    uint8_t *params;
    size_t plen;
} ln_plugin_ref;

void ln_plugin_ref_free(ln_plugin_ref *r);     /* NULL is a no-op; frees params only */

/* The plugin of slot in force at height (the last entry with from <=
** height). LN_ENOTFOUND when the slot has none. */
int ln_registry_at(ln_overlay *ov, ln_slot slot, uint64_t height, ln_plugin_ref *out);

/* The code of hash; *code (NUL-terminated, *len bytes) is the caller's.
** LN_ENOTFOUND. */
int ln_registry_code(ln_overlay *ov, const uint8_t hash[LN_HASH_LEN], char **code, size_t *len);

/* Appends {from, hash of code, name, params} to the slot's history and
** stores the code; an entry with the last one's from replaces it (two
** changes made in one block: the later wins). params: canonical msgpack of
** a map (NULL: {}). LN_EINVAL when from is before the last entry's or name
** is not 1..31 bytes,
** LN_ETOOBIG for code over LN_PLUGIN_CODE_MAX or a full history. */
int ln_registry_install(ln_overlay *ov, ln_slot slot, const char *name, const char *code,
                        size_t len, const uint8_t *params, size_t plen, uint64_t from);

/* A swap scheduled and not in force yet. params: malloc()ed. */
typedef struct {
    ln_slot slot;
    char name[LN_PLUGIN_NAME_MAX + 1];
    uint8_t hash[LN_HASH_LEN];
    uint64_t at;
    uint8_t *params;
    size_t plen;
    uint32_t nready;
    char ready[64][LN_NAME_MAX + 1];     /* validators that loaded it */
} ln_swap;

/* Every swap pending, by at then slot: *out (n of them) is the caller's,
** ln_swaps_free. */
int  ln_registry_pending(ln_overlay *ov, ln_swap **out, size_t *n);
void ln_swaps_free(ln_swap *s, size_t n);

/* Schedules code for slot from height at, storing the code. LN_EEXIST when
** the slot has a swap pending already, LN_EINVAL for a bad name, LN_ETOOBIG
** for code over LN_PLUGIN_CODE_MAX. */
int  ln_registry_schedule(ln_overlay *ov, ln_slot slot, const char *name, const char *code,
                          size_t len, const uint8_t *params, size_t plen, uint64_t at);

/* validator loaded the code hash scheduled for slot. LN_ENOTFOUND when no
** such swap is pending; 0 (no change) when it said so already. */
int  ln_registry_ready(ln_overlay *ov, ln_slot slot, const uint8_t hash[LN_HASH_LEN],
                       const char *validator);

/* The end of block height: each swap at height + 1 goes into its slot's
** history if more than 2/3 of the nval validators (names) are ready, else
** at moves delay blocks on. cb (may be NULL) hears of each, with
** activated 1 or 0, before the record changes. */
typedef void (*ln_swap_cb)(void *ud, const ln_swap *s, int activated);
int  ln_registry_advance(ln_overlay *ov, uint64_t height, const char (*names)[LN_NAME_MAX + 1],
                         size_t nval, uint64_t delay, ln_swap_cb cb, void *ud);

#endif
