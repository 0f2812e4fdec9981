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
** stores the code. params: canonical msgpack of a map (NULL: {}). LN_EINVAL
** when from is not after the last entry's or name is not 1..31 bytes,
** LN_ETOOBIG for code over LN_PLUGIN_CODE_MAX or a full history. */
int ln_registry_install(ln_overlay *ov, ln_slot slot, const char *name, const char *code,
                        size_t len, const uint8_t *params, size_t plen, uint64_t from);

#endif
