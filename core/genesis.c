/*
** genesis.c -- a chain's genesis from its config, and the genesis record
** "g" (see genesis.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "codec.h"
#include "config.h"
#include "err.h"
#include "genesis.h"
#include "stake.h"
#include "valset.h"
#include "params.h"
#include "paths.h"
#include "registry.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the record -------------------------------------------------------- */

int ln_genesis_decode(const uint8_t *p, size_t n, ln_genesis *g)
{
    msgpack_zone z;
    msgpack_object o;
    memset(g, 0, sizeof *g);
    ln_membership *out = &g->m;
    msgpack_zone_init(&z, 2048);
    int rc = ln_codec_unpack(p, n, &z, &o);
    if (rc == 0 && o.type != MSGPACK_OBJECT_MAP) rc = LN_EIO;
    if (rc == 0 && (ln_codec_str(ln_codec_map_get(&o, "chain_id"), g->chain_id,
                                 sizeof g->chain_id) < 0 ||
                    ln_codec_str(ln_codec_map_get(&o, "fingerprint"), g->fingerprint,
                                 sizeof g->fingerprint) < 0))
        rc = LN_EIO;
    const msgpack_object *admin = rc == 0 ? ln_codec_map_get(&o, "admin") : NULL;
    const msgpack_object *vals = rc == 0 ? ln_codec_map_get(&o, "validators") : NULL;
    const msgpack_object *mems = rc == 0 ? ln_codec_map_get(&o, "members") : NULL;
    if (admin && (admin->type != MSGPACK_OBJECT_STR ||
                  !ln_name_valid(admin->via.str.ptr, admin->via.str.size)))
        rc = LN_EIO;
    if (rc == 0 && admin) memcpy(out->admin, admin->via.str.ptr, admin->via.str.size);
    if (!vals || vals->type != MSGPACK_OBJECT_ARRAY || vals->via.array.size == 0 ||
        vals->via.array.size > LN_MAX_VALIDATORS)
        rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && i < vals->via.array.size; i++) {
        const msgpack_object *name = ln_codec_map_get(&vals->via.array.ptr[i], "name");
        const msgpack_object *key = ln_codec_map_get(&vals->via.array.ptr[i], "key");
        if (!name || name->type != MSGPACK_OBJECT_STR ||
            !ln_name_valid(name->via.str.ptr, name->via.str.size) ||
            !key || key->type != MSGPACK_OBJECT_BIN || key->via.bin.size != LN_PK_LEN) {
            rc = LN_EIO;
            break;
        }
        memcpy(out->val_names[i], name->via.str.ptr, name->via.str.size);
        memcpy(out->val_keys[i], key->via.bin.ptr, LN_PK_LEN);
        out->nval = i + 1;
    }
    if (rc == 0 && mems && (mems->type != MSGPACK_OBJECT_ARRAY ||
                            mems->via.array.size > LN_MAX_MEMBERS))
        rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && mems && i < mems->via.array.size; i++) {
        const msgpack_object *key = &mems->via.array.ptr[i];
        if (key->type != MSGPACK_OBJECT_BIN || key->via.bin.size != LN_PK_LEN) {
            rc = LN_EIO;
            break;
        }
        memcpy(out->mem_keys[i], key->via.bin.ptr, LN_PK_LEN);
        out->nmem = i + 1;
    }
    msgpack_zone_destroy(&z);
    return rc < 0 ? LN_EIO : 0;
}


int ln_genesis_save(ln_overlay *ov, const ln_genesis *g)
{
    const ln_membership *m = &g->m;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 256 + 48 * m->nval + 40 * m->nmem);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3 + (m->admin[0] != 0) + (m->nmem > 0));
    if (m->admin[0]) {
        ln_pack_str(&pk, "admin");
        ln_pack_str(&pk, m->admin);
    }
    ln_pack_str(&pk, "chain_id");
    ln_pack_str(&pk, g->chain_id);
    ln_pack_str(&pk, "fingerprint");
    ln_pack_str(&pk, g->fingerprint);
    if (m->nmem) {
        ln_pack_str(&pk, "members");
        msgpack_pack_array(&pk, m->nmem);
        for (uint32_t i = 0; i < m->nmem; i++) ln_pack_bin(&pk, m->mem_keys[i], LN_PK_LEN);
    }
    ln_pack_str(&pk, "validators");
    msgpack_pack_array(&pk, m->nval);
    for (uint32_t i = 0; i < m->nval; i++) {
        msgpack_pack_map(&pk, 2);
        ln_pack_str(&pk, "key");
        ln_pack_bin(&pk, m->val_keys[i], LN_PK_LEN);
        ln_pack_str(&pk, "name");
        ln_pack_str(&pk, m->val_names[i]);
    }
    int rc = sb.data ? ln_overlay_set(ov, (const uint8_t *)"g", 1, (const uint8_t *)sb.data, sb.size)
                     : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_genesis_load(ln_overlay *ov, ln_genesis *out)
{
    const uint8_t *p;
    size_t n;
    int rc = ln_overlay_get(ov, (const uint8_t *)"g", 1, &p, &n);
    return rc < 0 ? rc : ln_genesis_decode(p, n, out);
}

int ln_genesis_validator_account(ln_overlay *ov, const char *name, const uint8_t pk[LN_PK_LEN])
{
    if (ln_account_exists(ov, name)) return 0;
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    ln_authority_key(&a.owner, pk);
    a.active = a.owner;
    return ln_account_save(ov, &a);
}

/* ---- building it from a config ----------------------------------------- */

/* m[k] (m itself when k is NULL) as a C string; LN_ECONFIG if it is not one. */
static int cfg_str(const msgpack_object *m, const char *k, char *out, size_t n)
{
    return ln_codec_str(k ? ln_codec_map_get(m, k) : m, out, n) < 0 ? LN_ECONFIG : 0;
}

/* The key of `name`: from the config's hex, else from HOME/keys (created in
** dev mode). */
static int account_key(const char *home, const char *name, const msgpack_object *hexkey, int dev,
                       uint8_t pk[LN_PK_LEN], ln_key *full, int *created, char *err, size_t errlen)
{
    if (hexkey) {
        if (hexkey->type != MSGPACK_OBJECT_STR || hexkey->via.str.size != 2 * LN_PK_LEN) {
            snprintf(err, errlen, "account %s: key must be %d hex digits (or left out to use "
                     "HOME/keys/%s.key)", name, 2 * LN_PK_LEN, name);
            return LN_ECONFIG;
        }
        char hex[2 * LN_PK_LEN + 1];
        memcpy(hex, hexkey->via.str.ptr, 2 * LN_PK_LEN);
        hex[2 * LN_PK_LEN] = 0;
        if (ln_unhex(hex, pk, LN_PK_LEN) < 0) {
            snprintf(err, errlen, "account %s: key is not hex", name);
            return LN_ECONFIG;
        }
        return 0;
    }
    char path[700], kerr[160];
    snprintf(path, sizeof path, "%s/keys/%s.key", home, name);
    ln_key k;
    int rc = ln_keyfile_read(path, &k, kerr, sizeof kerr);
    if (rc == LN_ENOTFOUND && dev) {
        memset(&k, 0, sizeof k);
        snprintf(k.account, sizeof k.account, "%s", name);
        ln_keypair(k.pk, k.sk);
        if ((rc = ln_keyfile_write(home, &k, 0)) < 0) {
            snprintf(err, errlen, "writing %s: %s", path, ln_strerror(rc));
            return rc;
        }
        *created = 1;
    } else if (rc < 0) {
        snprintf(err, errlen, "account %s has no key in the config and %s: %s", name, path, kerr);
        return LN_ECONFIG;
    }
    memcpy(pk, k.pk, LN_PK_LEN);
    if (full) *full = k;
    return 0;
}

static const char *resolve(const char *config, const char *rel, char *buf, size_t n)
{
    struct stat st;
    if (rel[0] == '/' || stat(rel, &st) == 0) return rel;
    /* Relative to the folder above the config's (configs/ is at the top). */
    const char *slash = config ? strrchr(config, '/') : NULL;
    if (slash) {
        snprintf(buf, n, "%.*s/../%s", (int)(slash - config), config, rel);
        if (stat(buf, &st) == 0) return buf;
    }
    /* Then where lunet's own files are (consensus/poa.lua from anywhere). */
    if (ln_path_find(rel, buf, n) == 0) return buf;
    return rel;
}

/* Accounts the chain makes itself. */
static int reserved(const char *name)
{
    return !strcmp(name, "sys") || !strcmp(name, "gov") || !strcmp(name, "treasury");
}

/* Only these keys: a misspelt one would otherwise be ignored. */
static int cfg_known_keys(const msgpack_object *o, char *err, size_t errlen)
{
    static const char *const known[] = {
        "accounts", "admin", "chain_id", "consensus", "genesis_time", "governance", "members",
        "params", "pricing", "validators"
    };
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        size_t j = 0;
        for (; j < sizeof known / sizeof known[0]; j++)
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(known[j]) &&
                memcmp(k->via.str.ptr, known[j], k->via.str.size) == 0)
                break;
        if (j == sizeof known / sizeof known[0]) {
            snprintf(err, errlen, "config: unknown field '%.*s' (known: accounts, admin, chain_id, "
                     "consensus, genesis_time, governance, members, params, pricing, validators)",
                     k->type == MSGPACK_OBJECT_STR ? (int)(k->via.str.size > 40 ? 40 : k->via.str.size) : 1,
                     k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
            return LN_ECONFIG;
        }
    }
    return 0;
}


/* The file a config names for slot (`consensus = { plugin = FILE, ... }`),
** or governance's and pricing's default: plugin as written, path as found. */
static int plugin_file(const char *config, const msgpack_object *cfg, ln_slot slot,
                       char plugin[256], char *path, size_t n, char *err, size_t errlen)
{
    const char *sname = ln_slot_name(slot);
    const msgpack_object *s = ln_codec_map_get(cfg, sname);
    /* governance and pricing have defaults that behave as a chain without
    ** them: one admin (the config's) decides; one fee unit per gas. */
    static const char *const dflt[LN_NSLOTS] = {
        NULL, "plugins/governance/admin.lua", "plugins/pricing/flat.lua"
    };
    if (!s && dflt[slot]) snprintf(plugin, 256, "%s", dflt[slot]);
    else if (!s || cfg_str(s, "plugin", plugin, 256) < 0)
        return ln_errf(err, errlen, LN_ECONFIG,
                       "config: %s = { plugin = \"%s/NAME.lua\", params = {...} }", sname,
                       slot == LN_SLOT_CONSENSUS ? "consensus" : "plugins/SLOT");
    char buf[1024];
    const char *p = resolve(config, plugin, buf, sizeof buf);
    if (access(p, R_OK) != 0 && ln_path_find(plugin, path, n) == 0) return 0;
    snprintf(path, n, "%s", p);
    return 0;
}

int ln_genesis_plugin_file(const char *config, const uint8_t *enc, size_t el, ln_slot slot,
                           char *path, size_t n, char *err, size_t errlen)
{
    msgpack_zone z;
    msgpack_object o;
    char plugin[256];
    msgpack_zone_init(&z, 4096);
    int rc = ln_codec_unpack(enc, el, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP)
        rc = ln_errf(err, errlen, LN_ECONFIG, "config: not a table");
    else
        rc = plugin_file(config, &o, slot, plugin, path, n, err, errlen);
    msgpack_zone_destroy(&z);
    return rc;
}

/* The plugin a config names for slot, into the registry from height 0. */
static int install_slot(const ln_genesis_spec *spec, const msgpack_object *cfg, ln_slot slot,
                        const char *admin, ln_overlay *ov, char *err, size_t errlen)
{
    const char *sname = ln_slot_name(slot);
    const msgpack_object *s = ln_codec_map_get(cfg, sname);
    char plugin[256], path[1024];
    int rc = plugin_file(spec->config, cfg, slot, plugin, path, sizeof path, err, errlen);
    if (rc < 0) return rc;
    char name[LN_PLUGIN_NAME_MAX + 1];
    size_t nl = ln_plugin_name_of(plugin, name, sizeof name);
    if (nl == 0 || nl > LN_PLUGIN_NAME_MAX)
        return ln_errf(err, errlen, LN_ECONFIG, "config: %s plugin %s: its name must be 1-%d characters",
                       sname, plugin, LN_PLUGIN_NAME_MAX);
    const msgpack_object *params = s ? ln_codec_map_get(s, "params") : NULL;
    if (params && params->type != MSGPACK_OBJECT_MAP &&
        !(params->type == MSGPACK_OBJECT_ARRAY && params->via.array.size == 0))
        return ln_errf(err, errlen, LN_ECONFIG, "config: %s.params must be a table of named values",
                       sname);
    char *code;
    size_t cl;
    rc = ln_file_read_max(path, LN_PLUGIN_CODE_MAX, &code, &cl);
    if (rc == LN_ETOOBIG)
        return ln_errf(err, errlen, LN_ECONFIG, "config: %s plugin %s: larger than %u bytes", sname,
                       plugin, LN_PLUGIN_CODE_MAX);
    if (rc < 0)
        return ln_errf(err, errlen, LN_ECONFIG, "config: %s plugin %s: cannot read", sname, plugin);
    msgpack_sbuffer psb;
    msgpack_packer ppk;
    msgpack_sbuffer_init(&psb);
    msgpack_packer_init(&ppk, &psb, msgpack_sbuffer_write);
    if (params && params->type == MSGPACK_OBJECT_MAP) {
        msgpack_pack_object(&ppk, *params);
    } else if (slot == LN_SLOT_GOVERNANCE && !s && admin[0]) {
        msgpack_pack_map(&ppk, 1);       /* the config's admin is admin.lua's */
        ln_pack_str(&ppk, "admin");
        ln_pack_str(&ppk, admin);
    } else {
        msgpack_pack_map(&ppk, 0);
    }
    rc = ln_registry_install(ov, slot, name, code, cl, (const uint8_t *)psb.data, psb.size, 0);
    msgpack_sbuffer_destroy(&psb);
    free(code);
    if (rc == LN_ETOOBIG)
        return ln_errf(err, errlen, LN_ECONFIG, "config: %s plugin %s: larger than %u bytes", sname,
                       plugin, LN_PLUGIN_CODE_MAX);
    if (rc < 0) return ln_errf(err, errlen, rc, "genesis: %s: %s", sname, ln_strerror(rc));
    return 0;
}

/* The chain params the config sets (`params = { block_gas_max = N, ... }`). */
static int install_params(const msgpack_object *cfg, ln_overlay *ov, char *err, size_t errlen)
{
    const msgpack_object *p = ln_codec_map_get(cfg, "params");
    if (!p || (p->type == MSGPACK_OBJECT_ARRAY && p->via.array.size == 0)) return 0;
    if (p->type != MSGPACK_OBJECT_MAP)
        return ln_errf(err, errlen, LN_ECONFIG, "config: params must be a table of named values");
    for (uint32_t i = 0; i < p->via.map.size; i++) {
        const msgpack_object_kv *kv = &p->via.map.ptr[i];
        char name[32], why[160];
        if (ln_codec_str(&kv->key, name, sizeof name) < 0 ||
            kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return ln_errf(err, errlen, LN_ECONFIG,
                           "config: params.%s must be a non-negative integer",
                           kv->key.type == MSGPACK_OBJECT_STR ? name : "?");
        if (ln_params_set(ov, name, kv->val.via.u64, why, sizeof why) < 0)
            return ln_errf(err, errlen, LN_ECONFIG, "config: params: %s", why);
    }
    return 0;
}

/* gov (the governance plugin's contract: its own code is its only
** authority) and treasury (what gov spends); genesis_govern puts gov's code. */
static int system_accounts(ln_overlay *ov, char *err, size_t errlen)
{
    static const char *const names[] = { "gov", "treasury" };
    for (int i = 0; i < 2; i++) {
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", names[i]);
        ln_authority_account(&a.owner, "gov", i == 0 ? "code" : "active");
        a.active = a.owner;
        int rc = ln_account_save(ov, &a);
        if (rc < 0) return ln_errf(err, errlen, rc, "genesis: %s: %s", names[i], ln_strerror(rc));
    }
    return 0;
}

int ln_genesis_build(const ln_genesis_spec *spec, ln_overlay *ov, ln_genesis *out,
                     uint64_t *time, char *err, size_t errlen)
{
    uint8_t *enc;
    size_t el;
    int rc = ln_config_eval(spec->config, &enc, &el, err, errlen);
    if (rc < 0) return rc;
    rc = ln_genesis_build_from(spec, enc, el, ov, out, time, err, errlen);
    free(enc);
    return rc;
}

/* A validator's `stake`: minted to its balance and bonded (stake.h). */
static int genesis_stake(ln_overlay *ov, const msgpack_object *v, uint32_t i, const char *name,
                         char *err, size_t errlen)
{
    const msgpack_object *st = v ? ln_codec_map_get(v, "stake") : NULL;
    if (!st) return 0;
    if (st->type != MSGPACK_OBJECT_POSITIVE_INTEGER || st->via.u64 > (uint64_t)LN_SAFE_INT)
        return ln_errf(err, errlen, LN_ECONFIG,
                       "config: validators[%u].stake must be a non-negative integer", i + 1);
    if (st->via.u64 == 0) return 0;
    ln_account a;
    int rc = ln_account_load(ov, name, &a);
    if (rc == 0 && a.balance > (uint64_t)LN_SAFE_INT - st->via.u64) rc = LN_ERANGE;
    if (rc == 0) {
        a.balance += st->via.u64;
        rc = ln_account_save(ov, &a);
    }
    char why[160];
    if (rc == 0 && (rc = ln_stake_bond(ov, name, st->via.u64, why, sizeof why)) < 0)
        return ln_errf(err, errlen, LN_ECONFIG, "config: validators[%u]: %s", i + 1, why);
    if (rc < 0)
        return ln_errf(err, errlen, LN_ECONFIG, "config: validators[%u].stake: %s", i + 1,
                       ln_strerror(rc));
    return 0;
}

int ln_genesis_build_from(const ln_genesis_spec *spec, const uint8_t *enc, size_t el,
                          ln_overlay *ov, ln_genesis *out, uint64_t *time, char *err, size_t errlen)
{
    int rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 4096);
    rc = ln_codec_unpack(enc, el, &z, &o);
    ln_genesis *g = out;
    memset(g, 0, sizeof *g);
    snprintf(g->fingerprint, sizeof g->fingerprint, "%s", spec->fingerprint);
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP) {
        rc = ln_errf(err, errlen, LN_ECONFIG, "config: must be a table");
        goto done;
    }
    if ((rc = cfg_known_keys(&o, err, errlen)) < 0) goto done;
    if (cfg_str(&o, "chain_id", g->chain_id, sizeof g->chain_id) < 0 || !ln_chain_id_valid(g->chain_id)) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: chain_id must be 1-64 printable ASCII characters, "
                     "no space, quote or backslash");
        goto done;
    }
    const msgpack_object *gt = ln_codec_map_get(&o, "genesis_time");
    if (gt && gt->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: genesis_time must be a non-negative integer (unix seconds)");
        goto done;
    }
    /* admin: the account whose transactions may change membership. */
    char *admin = g->m.admin;
    if (ln_codec_map_get(&o, "admin") &&
        (cfg_str(&o, "admin", admin, sizeof g->m.admin) < 0 || !ln_name_valid(admin, strlen(admin)))) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: admin must be the name of an account in accounts or validators");
        goto done;
    }
    const msgpack_object *accts = ln_codec_map_get(&o, "accounts");
    if (accts && accts->type != MSGPACK_OBJECT_ARRAY) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: accounts must be a list of {name=, balance=, key=}");
        goto done;
    }
    int printed = 0;
    for (uint32_t i = 0; accts && i < accts->via.array.size; i++) {
        const msgpack_object *a = &accts->via.array.ptr[i];
        ln_account acc;
        memset(&acc, 0, sizeof acc);
        if (cfg_str(a, "name", acc.name, sizeof acc.name) < 0 ||
            !ln_name_valid(acc.name, strlen(acc.name)) || reserved(acc.name)) {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "config: accounts[%u].name must be an account name (not sys, gov or treasury)", i + 1);
            goto done;
        }
        if (ln_account_exists(ov, acc.name)) {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "config: accounts[%u]: %s is listed twice", i + 1, acc.name);
            goto done;
        }
        const msgpack_object *bal = ln_codec_map_get(a, "balance");
        if (bal && bal->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "config: accounts[%u].balance must be a non-negative integer", i + 1);
            goto done;
        }
        if (bal) acc.balance = bal->via.u64;
        uint8_t pk[LN_PK_LEN];
        int created = 0;
        if ((rc = account_key(spec->home, acc.name, ln_codec_map_get(a, "key"), spec->dev, pk, NULL,
                              &created, err, errlen)) < 0)
            goto done;
        if (spec->dev) {
            char hex[2 * LN_PK_LEN + 1];
            ln_hex(pk, LN_PK_LEN, hex);
            if (!printed++) printf("accounts (keys in %s/keys):\n", spec->home);
            printf("  %-8s %s%s\n", acc.name, hex, created ? "  (new key)" : "");
        }
        ln_authority_key(&acc.owner, pk);
        acc.active = acc.owner;
        if ((rc = ln_account_save(ov, &acc)) < 0) {
            snprintf(err, errlen, "config: accounts[%u]: %s", i + 1, ln_strerror(rc));
            goto done;
        }
    }
    /* Validators: accounts too, so their keys are on chain. */
    const msgpack_object *vals = ln_codec_map_get(&o, "validators");
    if (!vals || vals->type != MSGPACK_OBJECT_ARRAY || vals->via.array.size == 0 ||
        vals->via.array.size > LN_MAX_VALIDATORS) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: validators must be a list of 1-%d names", LN_MAX_VALIDATORS);
        goto done;
    }
    /* Members: more keys that may connect (hex), besides the validators'. */
    const msgpack_object *mems = ln_codec_map_get(&o, "members");
    if (mems && (mems->type != MSGPACK_OBJECT_ARRAY || mems->via.array.size > LN_MAX_MEMBERS)) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: members must be a list of up to %d public keys (hex)", LN_MAX_MEMBERS);
        goto done;
    }
    for (uint32_t i = 0; mems && i < mems->via.array.size; i++) {
        char hex[2 * LN_PK_LEN + 1];
        if (cfg_str(&mems->via.array.ptr[i], NULL, hex, sizeof hex) < 0 ||
            strlen(hex) != 2 * LN_PK_LEN || ln_unhex(hex, g->m.mem_keys[i], LN_PK_LEN) < 0) {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "config: members[%u] must be a public key, %d hex digits",
                         i + 1, 2 * LN_PK_LEN);
            goto done;
        }
        for (uint32_t j = 0; j < i; j++)
            if (memcmp(g->m.mem_keys[j], g->m.mem_keys[i], LN_PK_LEN) == 0) {
                rc = ln_errf(err, errlen, LN_ECONFIG, "config: members[%u] is listed twice", i + 1);
                goto done;
            }
        g->m.nmem = i + 1;
    }
    for (uint32_t i = 0; i < vals->via.array.size; i++) {
        const msgpack_object *v = &vals->via.array.ptr[i];
        char *name = g->m.val_names[i];
        const msgpack_object *hexkey = NULL;
        if (v->type == MSGPACK_OBJECT_MAP) {
            if (cfg_str(v, "name", name, LN_NAME_MAX + 1) < 0) v = NULL;
            else hexkey = ln_codec_map_get(v, "key");
        } else if (v->type == MSGPACK_OBJECT_STR && v->via.str.size <= LN_NAME_MAX) {
            memcpy(name, v->via.str.ptr, v->via.str.size);
            name[v->via.str.size] = 0;
        } else {
            v = NULL;
        }
        if (!v || !ln_name_valid(name, strlen(name)) || reserved(name)) {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "config: validators[%u] must be a name (not sys, gov or treasury) or {name=, key=}", i + 1);
            goto done;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(g->m.val_names[j], name) == 0) {
                rc = ln_errf(err, errlen, LN_ECONFIG,
                             "config: validators[%u]: %s is listed twice", i + 1, name);
                goto done;
            }
        int created = 0;
        if ((rc = account_key(spec->home, name, hexkey, spec->dev, g->m.val_keys[i], NULL, &created,
                              err, errlen)) < 0)
            goto done;
        /* One key, one validator: two names on one key would give one node two votes. */
        for (uint32_t j = 0; j < i; j++)
            if (memcmp(g->m.val_keys[j], g->m.val_keys[i], LN_PK_LEN) == 0) {
                rc = ln_errf(err, errlen, LN_ECONFIG, "config: validators[%u]: %s has the key of %s",
                             i + 1, name, g->m.val_names[j]);
                goto done;
            }
        g->m.nval = i + 1;
        if ((rc = ln_genesis_validator_account(ov, name, g->m.val_keys[i])) < 0) goto done;
        if ((rc = genesis_stake(ov, v && v->type == MSGPACK_OBJECT_MAP ? v : NULL, i, name, err,
                                errlen)) < 0)
            goto done;
    }
    if (admin[0] && !ln_account_exists(ov, admin)) {
        rc = ln_errf(err, errlen, LN_ECONFIG,
                     "config: admin %s is not in accounts or validators", admin);
        goto done;
    }
    if ((rc = ln_genesis_save(ov, g)) < 0) goto done;

    if ((rc = system_accounts(ov, err, errlen)) < 0) goto done;
    if ((rc = install_params(&o, ov, err, errlen)) < 0) goto done;
    /* Each slot's plugin goes on chain: the registry. */
    for (int s = 0; s < LN_NSLOTS; s++)
        if ((rc = install_slot(spec, &o, (ln_slot)s, admin, ov, err, errlen)) < 0) goto done;
    /* Under pos, the set in force from block 1 (valset.h). */
    if ((rc = ln_valset_end_block(ov, 0)) < 0) {
        snprintf(err, errlen, "config: validator set: %s", ln_strerror(rc));
        goto done;
    }
    *time = gt ? gt->via.u64 : (uint64_t)now_s();
    rc = 0;
done:
    msgpack_zone_destroy(&z);
    return rc;
}

