/*
** testnet.c -- `lunet testnet`: N validator homes from a template config.
** Afterwards everything a node needs at its first start is on disk: one
** genesis holding every public key (so every node computes the same block
** 0), each home's own validator key, the account keys, and node.lua with
** the node's ports and its peers.
*/
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "err.h"
#include "opts.h"
#include "paths.h"
#include "testnet.h"
#include "tx.h"

#define MAX_NODES    64          /* validators a chain may have (node.h) */
#define MAX_ACCOUNTS 256
#define DEFAULT_PORT 26600

static const char usage[] =
    "usage: lunet testnet N --out DIR [--consensus NAME] [--base-port P]\n"
    "                     [--config FILE] [--force]\n"
    "\n"
    "Writes N validator homes DIR/node0 .. DIR/node<N-1> (N is 1..64) that share\n"
    "one genesis, DIR/genesis.lua: validators node0.. with fresh keys, the\n"
    "template's accounts with fresh keys, its consensus params and other fields\n"
    "(members, ...), a chain_id of its own (the template's plus -testnet-<random>,\n"
    "so two testnets never talk) and genesis_time now. The template's validators\n"
    "and keys are not used. Node i serves JSON-RPC on 127.0.0.1:P+2i and P2P on\n"
    "P+2i+1, dials every other node, and runs with: lunet start --home DIR/node<i>\n"
    "\n"
    "Each home gets keys/node<i>.key (its validator key), the account keys,\n"
    "config.lua (a copy of the genesis) and node.lua (rpc, p2p, peers). The\n"
    "account keys are also in DIR/keys. The plugin is copied to\n"
    "DIR/consensus/NAME.lua, which the genesis names by its absolute path.\n"
    "\n"
    "options:\n";

static const ln_opt options[] = {
    { "out", 0, LN_OPT_STR, "DIR", 0, 0, "where to write (created when missing)" },
    { "consensus", 0, LN_OPT_STR, "NAME",  0, 0,
      "the plugin consensus/NAME.lua (default bft, or the template's with --config)" },
    { "base-port", 0, LN_OPT_UINT, "P", 1, 65535, "first port (default 26600); uses P .. P+2N-1" },
    { "config", 0, LN_OPT_STR, "FILE", 0, 0,
      "the template (default configs/consortium-NAME.lua, found as lunet finds its files)" },
    { "force", 0, LN_OPT_FLAG, NULL, 0, 0, "replace the testnet already in DIR (its homes and data)" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

typedef struct {
    char name[LN_NAME_MAX + 1];
    int has_balance;
    uint64_t balance;
    ln_key key;
} account;

typedef struct {
    int n;
    unsigned base;
    char out[PATH_MAX], consensus[32], config[PATH_MAX];   /* "" when not given */
    char out_abs[PATH_MAX];
    char config_path[PATH_MAX], plugin_path[PATH_MAX], name[32];
    char chain_id[LN_CHAIN_ID_MAX + 1];
    long long genesis_time;
    size_t naccts;
    account accts[MAX_ACCOUNTS];
    ln_key vals[MAX_NODES];
    uint64_t stake[MAX_NODES];               /* from the template's validators; 0: none */
    const msgpack_object *tmpl, *params;     /* the template's table */
} testnet;


/* One line "lunet testnet: ..." on stderr; returns code, the exit code:
** 2 for a usage error, 1 for a failure. */
static int say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lunet testnet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}
#define usagef(...) say(2, __VA_ARGS__)
#define failf(...) say(1, __VA_ARGS__)

static int valid_plugin_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p) < 0 ? -1 : 0;
}

static int rm_rf(const char *path)
{
    if (!exists(path)) return 0;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *dir, mode_t mode)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -1;
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return close(fd);
}

/* ---- the template ----------------------------------------------------- */

static int str_eq(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* The fields the testnet writes itself; the template's others (members,
** ...) go into the genesis as they are, for the node to judge. */
static const char *const rewritten[] = {
    "accounts", "chain_id", "consensus", "genesis_time", "validators"
};

static int is_rewritten(const msgpack_object *k)
{
    for (size_t j = 0; j < sizeof rewritten / sizeof rewritten[0]; j++)
        if (str_eq(k, rewritten[j])) return 1;
    return 0;
}

/* Reads what the testnet takes from the template: chain_id, accounts,
** consensus plugin and params. Its validators and keys are left: the
** testnet's are node0.. with fresh keys. */
static int read_template(testnet *t, const msgpack_object *o, char *tplugin, size_t tpn)
{
    const char *f = t->config_path;
    if (o->type != MSGPACK_OBJECT_MAP) return failf("%s: must return a table", f);
    t->tmpl = o;
    if (ln_codec_str(ln_codec_map_get(o, "chain_id"), t->chain_id, sizeof t->chain_id) < 0 ||
        !ln_chain_id_valid(t->chain_id))
        return failf("%s: chain_id must be 1-%d printable ASCII characters, no space, "
                     "quote or backslash", f, LN_CHAIN_ID_MAX);
    const msgpack_object *accts = ln_codec_map_get(o, "accounts");
    if (accts && (accts->type != MSGPACK_OBJECT_ARRAY || accts->via.array.size > MAX_ACCOUNTS))
        return failf("%s: accounts must be a list of up to %d {name=, balance=}", f, MAX_ACCOUNTS);
    for (uint32_t i = 0; accts && i < accts->via.array.size; i++) {
        const msgpack_object *a = &accts->via.array.ptr[i];
        account *ac = &t->accts[t->naccts];
        memset(ac, 0, sizeof *ac);
        if (ln_codec_str(ln_codec_map_get(a, "name"), ac->name, sizeof ac->name) < 0 ||
            !ln_name_valid(ac->name, strlen(ac->name)))
            return failf("%s: accounts[%u].name must be an account name", f, i + 1);
        const msgpack_object *bal = ln_codec_map_get(a, "balance");
        if (bal && bal->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return failf("%s: accounts[%u].balance must be a non-negative integer", f, i + 1);
        if (bal) {
            ac->has_balance = 1;
            ac->balance = bal->via.u64;
        }
        /* node0.. are the testnet's validators: one name, one key. */
        for (int j = 0; j < t->n; j++) {
            char vn[16];
            snprintf(vn, sizeof vn, "node%d", j);
            if (!strcmp(vn, ac->name))
                return failf("%s: account %s has the name of a testnet validator", f, ac->name);
        }
        for (size_t j = 0; j < t->naccts; j++)
            if (!strcmp(t->accts[j].name, ac->name))
                return failf("%s: accounts[%u]: %s is listed twice", f, i + 1, ac->name);
        t->naccts++;
    }
    /* Validator I's stake is the template's validators[I + 1]'s (the last
    ** one's past its list): a pos chain starts with voting power. */
    const msgpack_object *tv = ln_codec_map_get(o, "validators");
    uint32_t ntv = tv && tv->type == MSGPACK_OBJECT_ARRAY ? tv->via.array.size : 0;
    for (int i = 0; ntv && i < t->n; i++) {
        const msgpack_object *st = ln_codec_map_get(&tv->via.array.ptr[(uint32_t)i < ntv ? (uint32_t)i : ntv - 1],
                                                    "stake");
        if (st && st->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return failf("%s: validators[%d].stake must be a non-negative integer", f,
                         (uint32_t)i < ntv ? i + 1 : (int)ntv);
        t->stake[i] = st ? st->via.u64 : 0;
    }
    const msgpack_object *cons = ln_codec_map_get(o, "consensus");
    if (!cons || ln_codec_str(ln_codec_map_get(cons, "plugin"), tplugin, tpn) < 0)
        return failf("%s: consensus = { plugin = \"consensus/NAME.lua\", params = {...} }", f);
    t->params = ln_codec_map_get(cons, "params");
    if (t->params && t->params->type != MSGPACK_OBJECT_MAP &&
        !(t->params->type == MSGPACK_OBJECT_ARRAY && t->params->via.array.size == 0))
        return failf("%s: consensus.params must be a table of named values", f);
    return 0;
}

/* ---- Lua data out ----------------------------------------------------- */

static void lua_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\%03u", c);   /* always 3 digits */
        else fputc(c, f);
    }
    fputc('"', f);
}

static int lua_ident(const char *s, size_t n)
{
    static const char *const kw[] = {
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if",
        "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"
    };
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && !memcmp(kw[i], s, n)) return 0;
    return 1;
}

/* A table key: `name` when it can be, else ["text"]. */
static int lua_key(FILE *f, const msgpack_object *k)
{
    if (k->type != MSGPACK_OBJECT_STR) return LN_EKEYTYPE;
    if (lua_ident(k->via.str.ptr, k->via.str.size)) {
        fwrite(k->via.str.ptr, 1, k->via.str.size, f);
    } else {
        fputc('[', f);
        lua_str(f, k->via.str.ptr, k->via.str.size);
        fputc(']', f);
    }
    return 0;
}

/* o as a Lua literal that evaluates back to the same msgpack (the params
** go on chain, so their encoding must survive the round trip). */
static int lua_val(FILE *f, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("nil", f); return 0;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); return 0;
    case MSGPACK_OBJECT_STR: lua_str(f, o->via.str.ptr, o->via.str.size); return 0;
    case MSGPACK_OBJECT_BIN: lua_str(f, o->via.bin.ptr, o->via.bin.size); return 0;
    case MSGPACK_OBJECT_ARRAY:
        if (o->via.array.size == 0) {
            fputs("{}", f);
            return 0;
        }
        fputs("{ ", f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i) fputs(", ", f);
            if (lua_val(f, &o->via.array.ptr[i]) < 0) return LN_ETYPE;
        }
        fputs(" }", f);
        return 0;
    case MSGPACK_OBJECT_MAP:
        fputs("{ ", f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i) fputs(", ", f);
            if (lua_key(f, &o->via.map.ptr[i].key) < 0) return LN_EKEYTYPE;
            fputs(" = ", f);
            if (lua_val(f, &o->via.map.ptr[i].val) < 0) return LN_ETYPE;
        }
        fputs(" }", f);
        return 0;
    default:
        return LN_ETYPE;
    }
}

/* The genesis, as Lua data. Every home's config.lua is this text byte for
** byte; the plugin path is absolute so it resolves from any home and any
** working directory (only the plugin's code and name go on chain). */
static int genesis_text(const testnet *t, char **out, size_t *len)
{
    FILE *f = open_memstream(out, len);
    if (!f) return LN_ENOMEM;
    char hex[2 * LN_PK_LEN + 1];
    fprintf(f, "-- genesis.lua -- the genesis of testnet %s\n-- (%d validator%s, consensus "
               "%s), written by `lunet testnet` from\n-- ", t->chain_id, t->n,
            t->n == 1 ? "" : "s", t->name);
    lua_str(f, t->config_path, strlen(t->config_path));
    fputs(". Each node home's config.lua is a copy of it:\n-- every node must start from the "
          "same genesis.\n\nreturn {\n  chain_id = ", f);
    lua_str(f, t->chain_id, strlen(t->chain_id));
    fprintf(f, ",\n  genesis_time = %lld,\n  validators = {\n", t->genesis_time);
    for (int i = 0; i < t->n; i++) {
        ln_hex(t->vals[i].pk, LN_PK_LEN, hex);
        fprintf(f, "    { name = \"%s\", key = \"%s\"", t->vals[i].account, hex);
        if (t->stake[i]) fprintf(f, ", stake = %" PRIu64, t->stake[i]);
        fputs(" },\n", f);
    }
    fputs("  },\n  accounts = {\n", f);
    for (size_t i = 0; i < t->naccts; i++) {
        const account *a = &t->accts[i];
        ln_hex(a->key.pk, LN_PK_LEN, hex);
        fprintf(f, "    { name = \"%s\", ", a->name);
        if (a->has_balance) fprintf(f, "balance = %" PRIu64 ", ", a->balance);
        fprintf(f, "key = \"%s\" },\n", hex);
    }
    fputs("  },\n", f);
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < t->tmpl->via.map.size; i++) {
        const msgpack_object *k = &t->tmpl->via.map.ptr[i].key;
        if (is_rewritten(k)) continue;
        fputs("  ", f);
        if ((rc = lua_key(f, k)) < 0) break;
        fputs(" = ", f);
        rc = lua_val(f, &t->tmpl->via.map.ptr[i].val);
        fputs(",\n", f);
    }
    char plugin[PATH_MAX + 64];   /* out_abs, "/consensus/", a name of < 32, ".lua" */
    snprintf(plugin, sizeof plugin, "%s/consensus/%s.lua", t->out_abs, t->name);
    fputs("  consensus = {\n    plugin = ", f);
    lua_str(f, plugin, strlen(plugin));
    fputs(",\n    params = ", f);
    if (t->params) {
        if (rc == 0) rc = lua_val(f, t->params);
    } else {
        fputs("{}", f);
    }
    fputs(",\n  },\n}\n", f);
    if (fclose(f) != 0 && rc == 0) rc = LN_ENOMEM;
    if (rc < 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static char *node_text(const testnet *t, int i)
{
    char *s;
    size_t l;
    FILE *f = open_memstream(&s, &l);
    if (!f) return NULL;
    fprintf(f, "-- node.lua -- how `lunet start --home` runs node%d of testnet %s.\n"
               "-- Command-line flags override these (--rpc, --p2p; --peer replaces peers).\n\n"
               "return {\n  rpc = \"127.0.0.1:%u\",\n  p2p = \"127.0.0.1:%u\",\n  peers = {",
            i, t->chain_id, t->base + 2u * (unsigned)i, t->base + 2u * (unsigned)i + 1);
    int first = 1;
    for (int j = 0; j < t->n; j++) {
        if (j == i) continue;
        fprintf(f, "%s\"127.0.0.1:%u\"", first ? " " : ", ", t->base + 2u * (unsigned)j + 1);
        first = 0;
    }
    fputs(first ? "},\n}\n" : " },\n}\n", f);
    if (fclose(f) != 0) return NULL;
    return s;
}

/* ---- the command ------------------------------------------------------ */

/* Refuses to write over a testnet unless --force, and --force removes only
** what a testnet holds (its homes, keys), only where genesis.lua says one is. */
static int clear_out(const testnet *t, int force)
{
    char p[PATH_MAX + 32], home[16];
    static const char *const ours[] = { "genesis.lua", "keys" };
    const char *found = NULL;
    for (int i = 0; !found && i < MAX_NODES; i++) {
        snprintf(home, sizeof home, "node%d", i);
        snprintf(p, sizeof p, "%s/%s", t->out, home);
        if (exists(p)) found = home;
    }
    for (size_t i = 0; !found && i < sizeof ours / sizeof ours[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", t->out, ours[i]);
        if (exists(p)) found = ours[i];
    }
    if (!found) return 0;
    if (!force)
        return usagef("%s/%s exists; --force replaces the testnet in %s", t->out, found, t->out);
    snprintf(p, sizeof p, "%s/genesis.lua", t->out);
    if (!exists(p))
        return usagef("--force: %s has %s but no genesis.lua, so it is not a testnet; "
                      "not removing anything", t->out, found);
    if (rm_rf(p) < 0) return failf("removing %s: %s", p, strerror(errno));
    snprintf(p, sizeof p, "%s/keys", t->out);
    if (rm_rf(p) < 0) return failf("removing %s: %s", p, strerror(errno));
    for (int i = 0; i < MAX_NODES; i++) {
        snprintf(p, sizeof p, "%s/node%d", t->out, i);
        if (rm_rf(p) < 0) return failf("removing %s: %s", p, strerror(errno));
    }
    return 0;
}

static int new_key(ln_key *k, const char *name)
{
    memset(k, 0, sizeof *k);
    snprintf(k->account, sizeof k->account, "%.*s", LN_NAME_MAX, name);
    ln_keypair(k->pk, k->sk);
    return 0;
}

/* Writes every file. The caller wipes the keys. */
static int write_all(testnet *t, const char *code, size_t cl)
{
    char p[PATH_MAX + 64], home[PATH_MAX + 16];
    int rc;
    snprintf(p, sizeof p, "%s/consensus", t->out);
    if (mkdir_p(p, 0755) < 0) return failf("cannot create %s: %s", p, strerror(errno));
    snprintf(p, sizeof p, "%s/consensus/%s.lua", t->out, t->name);
    if (write_file(p, code, cl, 0644) < 0) return failf("writing %s: %s", p, strerror(errno));

    for (int i = 0; i < t->n; i++) {
        char name[16];
        snprintf(name, sizeof name, "node%d", i);
        new_key(&t->vals[i], name);
    }
    for (size_t i = 0; i < t->naccts; i++) new_key(&t->accts[i].key, t->accts[i].name);

    char *gen;
    size_t gl;
    if ((rc = genesis_text(t, &gen, &gl)) < 0)
        return failf("%s: %s", t->config_path, ln_strerror(rc));
    snprintf(p, sizeof p, "%s/genesis.lua", t->out);
    if (write_file(p, gen, gl, 0644) < 0) {
        free(gen);
        return failf("writing %s: %s", p, strerror(errno));
    }
    for (size_t j = 0; j < t->naccts; j++)
        if ((rc = ln_keyfile_write(t->out, &t->accts[j].key, 0)) < 0) {
            free(gen);
            return failf("writing %s/keys/%s.key: %s", t->out, t->accts[j].name, ln_strerror(rc));
        }
    for (int i = 0; i < t->n; i++) {
        snprintf(home, sizeof home, "%s/node%d", t->out, i);
        if (mkdir_p(home, 0700) < 0) {
            free(gen);
            return failf("cannot create %s: %s", home, strerror(errno));
        }
        rc = ln_keyfile_write(home, &t->vals[i], 0);
        for (size_t j = 0; rc == 0 && j < t->naccts; j++)
            rc = ln_keyfile_write(home, &t->accts[j].key, 0);
        if (rc < 0) {
            free(gen);
            return failf("writing keys in %s/keys: %s", home, ln_strerror(rc));
        }
        snprintf(p, sizeof p, "%s/config.lua", home);
        if (write_file(p, gen, gl, 0644) < 0) {
            free(gen);
            return failf("writing %s: %s", p, strerror(errno));
        }
        char *nl = node_text(t, i);
        snprintf(p, sizeof p, "%s/node.lua", home);
        if (!nl || write_file(p, nl, strlen(nl), 0644) < 0) {
            free(nl);
            free(gen);
            return failf("writing %s: %s", p, nl ? strerror(errno) : "out of memory");
        }
        free(nl);
    }
    free(gen);
    return 0;
}

static void summary(const testnet *t)
{
    const char *bin = program_invocation_name;
    printf("testnet %s: %d validator%s, consensus %s, genesis time %lld\n", t->chain_id,
           t->n, t->n == 1 ? "" : "s", t->name, t->genesis_time);
    printf("  %s/genesis.lua  the genesis (each home's config.lua is a copy)\n", t->out);
    printf("  %s/keys/        account keys:", t->out);
    for (size_t i = 0; i < t->naccts; i++) printf(" %s", t->accts[i].name);
    printf(" (also in every home's keys/)\n");
    for (int i = 0; i < t->n; i++)
        printf("  %s/node%d  JSON-RPC http://127.0.0.1:%u  P2P 127.0.0.1:%u\n", t->out, i,
               t->base + 2u * (unsigned)i, t->base + 2u * (unsigned)i + 1);
    printf("start every node (each in a terminal of its own, or with &):\n");
    for (int i = 0; i < t->n; i++) printf("  %s start --home %s/node%d\n", bin, t->out, i);
    if (t->naccts > 0) {
        const char *to = t->naccts > 1 ? t->accts[1].name : t->accts[0].name;
        printf("then send a transaction to node0 and ask any node for its head:\n");
        printf("  %s send sys transfer %s 10 --as %s --home %s/node0 --rpc http://127.0.0.1:%u\n",
               bin, to, t->accts[0].name, t->out, t->base);
        printf("  %s info --rpc http://127.0.0.1:%u\n", bin,
               t->base + 2u * (unsigned)(t->n - 1));
    }
}

/* -1 to go on, else the exit code (0 after --help). */
static int parse_args(testnet *t, int argc, char **argv, int *force)
{
    if (ln_opts_wants_help(argc, argv)) {
        fputs(usage, stdout);
        ln_opts_usage(stdout, options);
        return 0;
    }
    ln_args a;
    char why[256];
    int rc = -1;
    if (ln_opts_parse(options, argc, argv, &a, why, sizeof why) < 0) {
        rc = usagef("%s (see lunet testnet --help)", why);
        goto done;
    }
    if (a.npos != 1) {
        rc = a.npos ? usagef("unexpected argument '%s' (see lunet testnet --help)", a.pos[1])
                    : usagef("how many nodes? lunet testnet N --out DIR");
        goto done;
    }
    char *end;
    unsigned long v = strtoul(a.pos[0], &end, 10);
    if (!*a.pos[0] || *end || a.pos[0][0] < '0' || a.pos[0][0] > '9' || v < 1 || v > MAX_NODES) {
        rc = usagef("N must be a number of nodes, 1..%d (not '%s')", MAX_NODES, a.pos[0]);
        goto done;
    }
    t->n = (int)v;
    t->base = (unsigned)ln_args_uint(&a, "base-port", DEFAULT_PORT);
    snprintf(t->out, sizeof t->out, "%s", ln_args_str(&a, "out", ""));
    snprintf(t->consensus, sizeof t->consensus, "%s", ln_args_str(&a, "consensus", ""));
    snprintf(t->config, sizeof t->config, "%s", ln_args_str(&a, "config", ""));
    *force = ln_args_flag(&a, "force");
    if (!t->out[0]) rc = usagef("--out DIR is required (where the node homes go)");
    else if (strlen(t->out) > PATH_MAX - 128) rc = usagef("--out: path too long");
    else if (t->base + 2u * (unsigned)t->n - 1 > 65535)
        rc = usagef("--base-port %u leaves no room for %d nodes (ports up to %u)", t->base,
                    t->n, t->base + 2u * (unsigned)t->n - 1);
    else if (t->consensus[0] && !valid_plugin_name(t->consensus))
        rc = usagef("--consensus NAME is a plugin's name, like poa or bft (not '%s')",
                    t->consensus);
done:
    ln_args_free(&a);
    return rc;
}

/* With --config and no --consensus the template's plugin is the one, found
** where node.c would find it: as given, or beside the config's folder. */
static int template_plugin(testnet *t, const char *tplugin, const char *tname)
{
    char rel[128];
    snprintf(t->name, sizeof t->name, "%s", tname);
    if (!valid_plugin_name(t->name))
        return failf("%s: consensus plugin %s: its name must be 1-31 of a-z 0-9 _ -",
                     t->config_path, tplugin);
    snprintf(rel, sizeof rel, "consensus/%s.lua", t->name);
    if (access(tplugin, R_OK) == 0) {
        snprintf(t->plugin_path, sizeof t->plugin_path, "%s", tplugin);
        return 0;
    }
    const char *slash = strrchr(t->config_path, '/');
    int n = slash ? (int)(slash - t->config_path) : 1;
    int l = snprintf(t->plugin_path, sizeof t->plugin_path, "%.*s/../%s", n,
                     slash ? t->config_path : ".", tplugin);
    if ((l >= (int)sizeof t->plugin_path || access(t->plugin_path, R_OK) != 0) &&
        ln_path_find(rel, t->plugin_path, sizeof t->plugin_path) < 0)
        return usagef("%s: no consensus plugin %s", t->config_path, tplugin);
    return 0;
}

/* Writes the testnet t describes; the exit code. */
static int make(testnet *t, int force)
{
    int rc;

    /* The plugin, then the template: both must be there before anything is written. */
    char rel[128];
    if (t->consensus[0] || !t->config[0]) {
        snprintf(t->name, sizeof t->name, "%s", t->consensus[0] ? t->consensus : "bft");
        snprintf(rel, sizeof rel, "consensus/%s.lua", t->name);
        if (ln_path_find(rel, t->plugin_path, sizeof t->plugin_path) < 0)
            return usagef("no consensus plugin %s (looked where lunet finds its files: ., beside the binary, the source tree)", rel);
    }
    if (t->config[0]) {
        if (access(t->config, R_OK) == 0)
            snprintf(t->config_path, sizeof t->config_path, "%s", t->config);
        else if (ln_path_find(t->config, t->config_path, sizeof t->config_path) < 0)
            return usagef("--config %s: %s", t->config, strerror(errno));
    } else {
        snprintf(rel, sizeof rel, "configs/consortium-%s.lua", t->name);
        if (ln_path_find(rel, t->config_path, sizeof t->config_path) < 0)
            return usagef("no template %s for consensus %s (looked in ., beside "
                          "the binary and the source tree); give one with --config FILE", rel, t->name);
    }
    uint8_t *enc;
    size_t el;
    char err[512];
    if (ln_config_eval(t->config_path, &enc, &el, err, sizeof err) < 0) return failf("%s", err);
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 4096);
    char tplugin[PATH_MAX], tname[32];
    rc = ln_codec_unpack(enc, el, &z, &o) < 0 ? failf("%s: not data", t->config_path)
                                              : read_template(t, &o, tplugin, sizeof tplugin);
    if (rc) goto done;
    ln_plugin_name_of(tplugin, tname, sizeof tname);
    if (t->config[0] && !t->consensus[0]) {
        if ((rc = template_plugin(t, tplugin, tname)) != 0) goto done;
    } else if (strcmp(tname, t->name) != 0) {
        rc = usagef("%s configures consensus %s, not %s (its params are %s's); "
                    "drop --consensus or give a template for %s", t->config_path, tname,
                    t->name, tname, t->name);
        goto done;
    }
    char *code;
    size_t cl;
    if (ln_file_read(t->plugin_path, &code, &cl) < 0) {
        rc = failf("cannot read %s", t->plugin_path);
        goto done;
    }

    if ((rc = clear_out(t, force)) != 0) goto code_done;
    if (mkdir_p(t->out, 0755) < 0) {
        rc = failf("cannot create %s: %s", t->out, strerror(errno));
        goto code_done;
    }
    if (!realpath(t->out, t->out_abs)) {
        rc = failf("%s: %s", t->out, strerror(errno));
        goto code_done;
    }
    /* A chain_id of its own, so nodes of two testnets never take each
    ** other for peers of one chain. */
    uint8_t rnd[4];
    char rhex[9];
    randombytes_buf(rnd, sizeof rnd);
    ln_hex(rnd, sizeof rnd, rhex);
    char suffix[32];
    int sl = snprintf(suffix, sizeof suffix, "-testnet-%s", rhex);
    if (strlen(t->chain_id) + (size_t)sl > LN_CHAIN_ID_MAX) t->chain_id[LN_CHAIN_ID_MAX - sl] = 0;
    strcat(t->chain_id, suffix);
    t->genesis_time = (long long)time(NULL);

    rc = write_all(t, code, cl);
    if (rc == 0) summary(t);
code_done:
    free(code);
done:
    msgpack_zone_destroy(&z);
    free(enc);
    return rc;
}

int ln_cmd_testnet(int argc, char **argv)
{
    testnet *tp = calloc(1, sizeof *tp);   /* big: keys of 64 nodes, 256 accounts */
    if (!tp) return failf("out of memory");
    int force = 0;
    int rc = parse_args(tp, argc, argv, &force);
    if (rc < 0) rc = make(tp, force);
    sodium_memzero(tp, sizeof *tp);
    free(tp);
    return rc;
}
