/*
** genesis.h -- the genesis of a chain from its config, and the genesis
** record "g": the only code that reads or writes it.
**
** "g" (canonical msgpack) says what the chain is and who runs it:
**   {admin?: NAME, chain_id, fingerprint: hex64, members?: [bin32],
**    validators: [{key: bin32, name}]}
** admin (left out when the config names none) may change the members and
** validators (sys.addmember ...); members are node keys that may connect
** without validating (left out when there are none).
**
** int results: 0 or a negative LN_E* code (err.h). Inputs are borrowed.
*/
#ifndef LN_GENESIS_H
#define LN_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "registry.h"
#include "state.h"
#include "tx.h"

#define LN_MAX_VALIDATORS  64
#define LN_MAX_MEMBERS     256     /* besides the validators */

/* Who runs the chain. */
typedef struct {
    char admin[LN_NAME_MAX + 1];   /* "" when the genesis names none */
    uint32_t nval, nmem;
    char val_names[LN_MAX_VALIDATORS][LN_NAME_MAX + 1];
    uint8_t val_keys[LN_MAX_VALIDATORS][LN_PK_LEN];
    uint8_t mem_keys[LN_MAX_MEMBERS][LN_PK_LEN];
} ln_membership;

/* The whole record. */
typedef struct {
    char chain_id[LN_CHAIN_ID_MAX + 1];
    char fingerprint[65];
    ln_membership m;
} ln_genesis;

/* Reads "g" through ov: LN_ENOTFOUND before genesis, LN_EIO when it does
** not decode as the layout above. */
int  ln_genesis_load(ln_overlay *ov, ln_genesis *out);
/* Writes g as "g" canonically (members left out when there are none). */
int  ln_genesis_save(ln_overlay *ov, const ln_genesis *g);
/* The record's decoding alone (for callers holding its bytes). */
int  ln_genesis_decode(const uint8_t *p, size_t n, ln_genesis *out);

/* A validator's account as genesis makes it: held by its key, when there is
** no account of that name yet (one that exists keeps its own keys: the
** validator key signs consensus messages, the account's its transactions). */
int  ln_genesis_validator_account(ln_overlay *ov, const char *name, const uint8_t pk[LN_PK_LEN]);

/* What a genesis is built from. */
typedef struct {
    const char *config;            /* the config file (Lua data, config.h) */
    const char *home;              /* keys not in the config: HOME/keys/NAME.key */
    int dev;                       /* create missing keys, print the accounts */
    const char *fingerprint;       /* this build's VM fingerprint (hex) */
} ln_genesis_spec;

/* Evaluates the config and writes the genesis state into ov (an overlay
** over an empty state): accounts, validators (accounts too, so their keys
** are on chain), "g", and each plugin slot's code and params in the
** registry (registry.h). *time is the genesis time (the config's
** genesis_time, else now). LN_ECONFIG with a one-line reason in err for a
** config that cannot make a chain, LN_E* from the state otherwise. The
** plugins are not loaded here: the caller does that before committing. */
int  ln_genesis_build(const ln_genesis_spec *spec, ln_overlay *ov, ln_genesis *out,
                      uint64_t *time, char *err, size_t errlen);
/* The same from the config already evaluated: enc is its canonical msgpack
** (the test fixture's chains); spec->config only places relative plugin
** paths (NULL: the working directory, then ln_path_find). */
int  ln_genesis_build_from(const ln_genesis_spec *spec, const uint8_t *enc, size_t el,
                           ln_overlay *ov, ln_genesis *out, uint64_t *time, char *err,
                           size_t errlen);
/* The file that feeds slot's plugin in the config enc (evaluated from the
** file config): `SLOT = { plugin = FILE }`, else the default of governance
** (plugins/governance/admin.lua) and pricing (plugins/pricing/flat.lua),
** found as the genesis finds it (from the working directory, from the
** folder above the config's, then paths.h). 0 with the path in out (it may
** not exist); LN_ECONFIG with err when the config names none. */
int  ln_genesis_plugin_file(const char *config, const uint8_t *enc, size_t el, ln_slot slot,
                            char *out, size_t n, char *err, size_t errlen);

#endif
