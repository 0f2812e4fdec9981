/* watch.c -- `lunet dev --watch` (see watch.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "account.h"
#include "codec.h"
#include "config.h"
#include "contract.h"
#include "crypto.h"
#include "err.h"
#include "genesis.h"
#include "registry.h"
#include "sandbox.h"
#include "tx.h"
#include "watch.h"

#define QUEUE_MAX     64               /* files waiting to be acted on */
#define UPGRADE_WAIT  (30 * 1000 / LN_WATCH_MS)   /* scans an upgrade may take to commit */
#define UPGRADE_FEE   50000000ull      /* the most a transaction of ours may cost (LN_TX_GAS_MAX) */
#define NUDGE_MAX     16               /* blocks a swap may be given (swap_delay is 10) */

typedef struct {
    char name[NAME_MAX + 1];           /* "token.lua" */
    long long mtime_ns;
    long long size;
    unsigned long long ino;
    uint8_t hash[LN_HASH_LEN];
    int dirty;                         /* changed since hashed */
    int seen;                          /* in the last scan */
} wfile;

/* The file that feeds a plugin slot. */
typedef struct {
    ln_slot slot;
    char path[PATH_MAX];               /* as the genesis finds it */
    char shown[PATH_MAX];              /* in the log: from the working directory when under it */
    wfile f;
    int queued;
} wplugin;

struct ln_watch {
    uv_loop_t *loop;
    ln_node *n;
    char home[1024], dir[1024];        /* PATH_MAX room is left for what they join */
    uv_timer_t timer;
    wfile *files;
    size_t nfiles, cap;
    int baseline;                      /* the first scan is done */
    char queue[QUEUE_MAX][NAME_MAX + 1];   /* files to act on, in order */
    size_t nq;
    char specs[QUEUE_MAX][NAME_MAX + 1];   /* specs to run, in order */
    size_t nspecs;
    /* an upgrade on its way: 1 submitting, 2 waiting for its block */
    int upgrading, scans;
    uint8_t up_id[LN_HASH_LEN];
    char up_name[LN_NAME_MAX + 1];
    wplugin plugins[LN_NSLOTS];
    size_t nplugins;
    /* a swap on its way: 1 proposing, 2 waiting for the proposal's block,
    ** 3 waiting for its first block */
    int swapping, sw_tries, sw_scans, sw_nudges;
    size_t sw_plugin;
    uint8_t sw_hash[LN_HASH_LEN], sw_id[LN_HASH_LEN];
    uint64_t sw_at, sw_prop, sw_head, sw_nudged;
    char sw_name[LN_PLUGIN_NAME_MAX + 1], sw_signer[LN_NAME_MAX + 1];
    uv_process_t proc;
    int running;                       /* a spec runs in proc */
    char running_spec[NAME_MAX + 1];
    int closing, live;                 /* live: handles open and callbacks owed */
};

/* ---- helpers -------------------------------------------------------------- */

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void path_of(const ln_watch *w, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", w->dir, file);
}

static void push(char q[][NAME_MAX + 1], size_t *n, const char *file)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(q[i], file) == 0) return;           /* queued already */
    if (*n < QUEUE_MAX) snprintf(q[(*n)++], NAME_MAX + 1, "%s", file);
}

static void pop(char q[][NAME_MAX + 1], size_t *n, char *out)
{
    snprintf(out, NAME_MAX + 1, "%s", q[0]);
    memmove(q[0], q[1], (*n - 1) * sizeof q[0]);
    (*n)--;
}

/* The spec of contract file NAME.lua, if there is one. */
static void queue_spec_of(ln_watch *w, const char *file)
{
    char spec[NAME_MAX + 1], path[PATH_MAX];
    snprintf(spec, sizeof spec, "%.*s_spec.lua", (int)(strlen(file) - 4), file);
    path_of(w, spec, path, sizeof path);
    if (access(path, R_OK) == 0) push(w->specs, &w->nspecs, spec);
}

static void maybe_free(ln_watch *w)
{
    if (w->closing && w->live == 0) {
        free(w->files);
        free(w);
    }
}

/* ---- specs ---------------------------------------------------------------- */

static void proc_closed(uv_handle_t *h)
{
    ln_watch *w = h->data;
    w->running = 0;
    w->live--;
    maybe_free(w);
}

static void spec_exited(uv_process_t *p, int64_t status, int sig)
{
    ln_watch *w = p->data;
    char path[PATH_MAX];
    path_of(w, w->running_spec, path, sizeof path);
    if (status == 0 && sig == 0)
        ln_node_log(LN_LOG_INFO, "watch: %s passed", path);
    else if (sig)
        ln_node_log(LN_LOG_WARN, "watch: %s stopped by signal %d", path, sig);
    else
        ln_node_log(LN_LOG_WARN, "watch: %s failed (exit %lld)", path, (long long)status);
    uv_close((uv_handle_t *)p, proc_closed);
}

/* `lunet test DIR/SPEC` in a child, its output on ours. */
static void run_spec(ln_watch *w, const char *spec)
{
    char exe[PATH_MAX], path[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) {
        ln_node_log(LN_LOG_WARN, "watch: cannot find this program to run %s", spec);
        return;
    }
    exe[l] = 0;
    path_of(w, spec, path, sizeof path);
    char *args[] = { exe, "test", path, NULL };
    uv_stdio_container_t io[3] = {
        { .flags = UV_IGNORE }, { .flags = UV_INHERIT_FD, .data.fd = 1 },
        { .flags = UV_INHERIT_FD, .data.fd = 2 }
    };
    uv_process_options_t o = { .exit_cb = spec_exited, .file = exe, .args = args,
                               .stdio_count = 3, .stdio = io };
    w->proc.data = w;
    int rc = uv_spawn(w->loop, &w->proc, &o);
    if (rc < 0) {
        ln_node_log(LN_LOG_WARN, "watch: cannot run lunet test %s: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&w->proc, NULL);   /* uv_spawn leaves it to be closed */
        return;
    }
    w->running = 1;
    w->live++;
    snprintf(w->running_spec, sizeof w->running_spec, "%s", spec);
    ln_node_log(LN_LOG_INFO, "watch: lunet test %s", path);
}

/* ---- upgrades --------------------------------------------------------------- */

/* A key of HOME/keys that holds `name`@active and whose own account it
** holds (so it may send): into *k, 0; else -1. In name order. */
static int find_signer(ln_watch *w, const char *name, ln_key *k)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/keys", w->home);
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), found = -1;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX * 2];
        if (found < 0 && ends_with(list[i]->d_name, ".key")) {
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            if (ln_keyfile_read(path, k, NULL, 0) == 0 &&
                ln_node_authorized(w->n, k->account, "active", k->pk) == 0 &&
                ln_node_authorized(w->n, name, "active", k->pk) == 0)
                found = 0;
            else
                sodium_memzero(k, sizeof *k);
        }
        free(list[i]);
    }
    if (n >= 0) free(list);
    return found;
}

/* The account record of name, decoded: 0, or an LN_E* code. */
static int account_of(ln_watch *w, const char *name, ln_account *a)
{
    uint8_t *rec;
    size_t rl;
    int rc = ln_node_account(w->n, name, &rec, &rl);
    if (rc < 0) return rc;
    memset(a, 0, sizeof *a);
    rc = ln_account_decode(rec, rl, a);
    free(rec);
    return rc;
}

static void pstr(msgpack_packer *p, const char *s, size_t n)
{
    msgpack_pack_str(p, n);
    msgpack_pack_str_body(p, s, n);
}

static void on_submitted(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    ln_watch *w = ud;
    w->live--;
    if (w->closing) {
        maybe_free(w);
        return;
    }
    if (status < 0) {
        ln_node_log(LN_LOG_WARN, "watch: the upgrade of %s was refused: %s: %s", w->up_name,
                    ln_errname(status), why ? why : ln_strerror(status));
        w->upgrading = 0;
        char file[NAME_MAX + 1];
        snprintf(file, sizeof file, "%s.lua", w->up_name);
        queue_spec_of(w, file);
        return;
    }
    memcpy(w->up_id, id, LN_HASH_LEN);
    w->upgrading = 2;
    w->scans = 0;
}

/* Signs contract.method(args...) as k (args: a packed msgpack array) and
** submits it like any client; cb hears of it (w->live counts it). */
static int send_call(ln_watch *w, const ln_key *k, const char *contract, const char *method,
                     const char *args, size_t alen, ln_submit_cb cb)
{
    ln_node_info *info = malloc(sizeof *info);
    ln_account signer;
    int rc = info ? account_of(w, k->account, &signer) : LN_ENOMEM;
    if (rc < 0) {
        free(info);
        return rc;
    }
    ln_node_info_get(w->n, info);
    uint64_t fee = signer.balance < UPGRADE_FEE ? signer.balance : UPGRADE_FEE;
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    pstr(&p, "account", 7);   pstr(&p, k->account, strlen(k->account));
    pstr(&p, "actions", 7);   msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstr(&p, "args", 4);      msgpack_sbuffer_write(&sb, args, alen);
    pstr(&p, "contract", 8);  pstr(&p, contract, strlen(contract));
    pstr(&p, "method", 6);    pstr(&p, method, strlen(method));
    pstr(&p, "chain_id", 8);  pstr(&p, info->chain_id, strlen(info->chain_id));
    pstr(&p, "expires", 7);   msgpack_pack_uint64(&p, info->height + 100);
    pstr(&p, "max_fee", 7);   msgpack_pack_uint64(&p, fee);
    pstr(&p, "nonce", 5);     msgpack_pack_uint64(&p, ln_node_pending_nonce(w->n, k->account));
    free(info);
    uint8_t *stx = NULL;
    size_t slen = 0;
    rc = sb.data ? ln_tx_sign((const uint8_t *)sb.data, sb.size,
                              (const uint8_t (*)[LN_SK_LEN])k->sk, 1, &stx, &slen)
                 : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0) rc = ln_node_submit(w->n, stx, slen, cb, w);   /* copies */
    free(stx);
    if (rc == 0) w->live++;            /* until cb */
    return rc;
}

/* Signs and submits sys.deploy(name, src) as signer: the upgrade. */
static void submit_upgrade(ln_watch *w, const char *name, const char *src, size_t sl,
                           const ln_key *k)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&p, 2);
    pstr(&p, name, strlen(name));
    pstr(&p, src, sl);
    int rc = sb.data ? send_call(w, k, "sys", "deploy", sb.data, sb.size, on_submitted) : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0) {
        ln_node_log(LN_LOG_WARN, "watch: the upgrade of %s could not be sent: %s", name,
                    ln_strerror(rc));
        return;
    }
    snprintf(w->up_name, sizeof w->up_name, "%s", name);
    w->upgrading = 1;
    ln_node_log(LN_LOG_INFO, "watch: upgrading %s from %s/%s.lua (signed by %s)", name, w->dir,
                name, k->account);
}

/* "NAME:LINE" of the upgraded contract as its file's. */
static void log_failed(ln_watch *w, const char *err)
{
    char out[LN_ERROR_MAX + 256];
    size_t nl = strlen(w->up_name), len = 0;
    for (const char *s = err; *s && len + PATH_MAX < sizeof out;) {
        int alone = s == err || !(s[-1] == '/' || s[-1] == '.' || s[-1] == '_' ||
                                  (s[-1] >= 'a' && s[-1] <= 'z') || (s[-1] >= '0' && s[-1] <= '9'));
        if (alone && strncmp(s, w->up_name, nl) == 0 && s[nl] == ':' && s[nl + 1] >= '0' &&
            s[nl + 1] <= '9') {
            len += (size_t)snprintf(out + len, sizeof out - len, "%s/%s.lua", w->dir, w->up_name);
            s += nl;
            continue;
        }
        out[len++] = *s++;
    }
    out[len] = 0;
    ln_node_log(LN_LOG_WARN, "watch: the upgrade of %s failed: %s", w->up_name, out);
}

/* The upgrade's transaction: committed (logged, its spec queued), or
** still waiting. */
static void check_upgrade(ln_watch *w)
{
    uint64_t height;
    uint8_t *rec;
    size_t rl;
    int st = ln_node_tx_status(w->n, w->up_id, &height, &rec, &rl);
    if (st != LN_TX_COMMITTED) {
        if (++w->scans > UPGRADE_WAIT || st == LN_TX_UNKNOWN) {
            ln_node_log(LN_LOG_WARN, "watch: the upgrade of %s was not committed (%s)", w->up_name,
                        st == LN_TX_UNKNOWN ? "dropped" : "no block in 30 s");
            w->upgrading = 0;
        }
        free(rec);
        return;
    }
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    int ok = 0;
    char err[LN_ERROR_MAX + 1] = "";
    if (ln_codec_unpack(rec, rl, &z, &o) == 0) {
        const msgpack_object *okv = ln_codec_map_get(&o, "ok");
        ok = okv && okv->type == MSGPACK_OBJECT_BOOLEAN && okv->via.boolean;
        ln_codec_str(ln_codec_map_get(&o, "error"), err, sizeof err);
    }
    msgpack_zone_destroy(&z);
    free(rec);
    if (ok)
        ln_node_log(LN_LOG_INFO, "watch: %s upgraded at height %llu: code replaced, storage kept, "
                    "init not run", w->up_name, (unsigned long long)height);
    else
        log_failed(w, err);
    w->upgrading = 0;
    char file[NAME_MAX + 1];
    snprintf(file, sizeof file, "%s.lua", w->up_name);
    queue_spec_of(w, file);
}

/* A contract file changed: upgrade its account when it has one with a
** contract, then (or else) run its spec. */
static void contract_changed(ln_watch *w, const char *file, const uint8_t hash[LN_HASH_LEN])
{
    char name[LN_NAME_MAX + 2], path[PATH_MAX], chunk[PATH_MAX + 2];
    size_t nl = strlen(file) - 4;
    path_of(w, file, path, sizeof path);
    if (nl == 0 || nl > LN_NAME_MAX || (memcpy(name, file, nl), name[nl] = 0, !ln_name_valid(name, nl))) {
        ln_node_log(LN_LOG_INFO, "watch: %s changed (not an account name: nothing to upgrade)", path);
        queue_spec_of(w, file);
        return;
    }
    ln_account a;
    int rc = account_of(w, name, &a);
    if (rc < 0 || !a.has_code) {
        ln_node_log(LN_LOG_INFO, "watch: %s changed; %s runs no contract here: nothing to upgrade",
                    path, name);
        queue_spec_of(w, file);
        return;
    }
    if (memcmp(a.code_hash, hash, LN_HASH_LEN) == 0) {
        ln_node_log(LN_LOG_INFO, "watch: %s changed; %s runs this code already", path, name);
        queue_spec_of(w, file);
        return;
    }
    char *src;
    size_t sl;
    if (ln_file_read(path, &src, &sl) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: cannot read %s", path);
        return;
    }
    /* Compiled here first: code that does not compile is not sent. */
    ln_sandbox *sb;
    snprintf(chunk, sizeof chunk, "@%s", path);
    if (ln_sandbox_new(NULL, &sb) == 0) {
        rc = ln_sandbox_cap_strings(sb, LN_STRING_MAX);
        if (rc == 0) rc = ln_sandbox_load(sb, src, sl, chunk);
        if (rc == LN_ECODE)
            ln_node_log(LN_LOG_WARN, "watch: %s does not compile, %s not upgraded: %s", path, name,
                        lua_tostring(ln_sandbox_L(sb), -1));
        ln_sandbox_free(sb);
        if (rc == LN_ECODE) {
            free(src);
            queue_spec_of(w, file);
            return;
        }
    }
    ln_key k;
    if (find_signer(w, name, &k) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: %s changed, but no key in %s/keys holds %s@active: not "
                    "upgraded (upgrade it with lunet deploy --as its owner)", path, w->home, name);
        queue_spec_of(w, file);
    } else {
        submit_upgrade(w, name, src, sl, &k);
        sodium_memzero(&k, sizeof k);
    }
    free(src);
}

/* ---- plugin swaps ------------------------------------------------------------ */

/* The height of the head. */
static uint64_t head_of(ln_watch *w)
{
    ln_node_info *info = malloc(sizeof *info);
    if (!info) return 0;
    ln_node_info_get(w->n, info);
    uint64_t h = info->height;
    free(info);
    return h;
}

/* The plugin of slot in force at height: its hash, since, and, when params
** is not NULL, its params (canonical msgpack of a map, malloc()ed). */
static int plugin_at(ln_watch *w, ln_slot slot, uint64_t height, uint8_t hash[LN_HASH_LEN],
                     uint64_t *since, uint8_t **params, size_t *plen)
{
    uint8_t *rec;
    size_t rl;
    int rc = ln_node_plugin_get(w->n, ln_slot_name(slot), (int64_t)height, &rec, &rl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    char hex[2 * LN_HASH_LEN + 1];
    msgpack_zone_init(&z, 1024);
    rc = ln_codec_unpack(rec, rl, &z, &o);
    const msgpack_object *from = rc == 0 ? ln_codec_map_get(&o, "since") : NULL;
    if (rc == 0 && (ln_codec_str(ln_codec_map_get(&o, "hash"), hex, sizeof hex) < 0 ||
                    ln_unhex(hex, hash, LN_HASH_LEN) < 0 || !from ||
                    from->type != MSGPACK_OBJECT_POSITIVE_INTEGER))
        rc = LN_EIO;
    if (rc == 0 && since) *since = from->via.u64;
    if (rc == 0 && params) {
        const msgpack_object *po = ln_codec_map_get(&o, "params");
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (po && po->type == MSGPACK_OBJECT_MAP) msgpack_pack_object(&pk, *po);
        else msgpack_pack_map(&pk, 0);
        *params = (uint8_t *)sb.data;
        *plen = sb.size;
        if (!sb.data) rc = LN_ENOMEM;
    }
    msgpack_zone_destroy(&z);
    free(rec);
    return rc;
}

/* The height the swap of slot to hash is pending for, or 0. */
static uint64_t pending_at(ln_watch *w, ln_slot slot, const uint8_t hash[LN_HASH_LEN])
{
    uint8_t *rec;
    size_t rl;
    if (ln_node_plugins(w->n, &rec, &rl) < 0) return 0;
    msgpack_zone z;
    msgpack_object o;
    uint64_t at = 0;
    msgpack_zone_init(&z, 1024);
    const msgpack_object *pend = ln_codec_unpack(rec, rl, &z, &o) == 0 ? ln_codec_map_get(&o, "pending") : NULL;
    for (uint32_t i = 0; pend && pend->type == MSGPACK_OBJECT_ARRAY && i < pend->via.array.size; i++) {
        const msgpack_object *e = &pend->via.array.ptr[i], *a = ln_codec_map_get(e, "at");
        char sname[16], hex[2 * LN_HASH_LEN + 1];
        uint8_t h[LN_HASH_LEN];
        if (ln_codec_str(ln_codec_map_get(e, "slot"), sname, sizeof sname) == 0 &&
            ln_slot_of(sname) == (int)slot &&
            ln_codec_str(ln_codec_map_get(e, "hash"), hex, sizeof hex) == 0 &&
            ln_unhex(hex, h, LN_HASH_LEN) == 0 && memcmp(h, hash, LN_HASH_LEN) == 0 &&
            a && a->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            at = a->via.u64;
    }
    msgpack_zone_destroy(&z);
    free(rec);
    return at;
}

static void swap_submitted(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    ln_watch *w = ud;
    w->live--;
    if (w->closing) {
        maybe_free(w);
        return;
    }
    if (status < 0) {
        ln_node_log(LN_LOG_WARN, "watch: %s changed: the %s swap was refused: %s: %s",
                    w->plugins[w->sw_plugin].shown, ln_slot_name(w->plugins[w->sw_plugin].slot),
                    ln_errname(status), why ? why : ln_strerror(status));
        w->swapping = 0;
        return;
    }
    memcpy(w->sw_id, id, LN_HASH_LEN);
    w->swapping = 2;
    w->sw_scans = 0;
}

static void nudge_submitted(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    ln_watch *w = ud;
    (void)id;
    w->live--;
    if (w->closing) {
        maybe_free(w);
        return;
    }
    if (status < 0)
        ln_node_log(LN_LOG_DEBUG, "watch: gov.proposal(%llu) refused: %s", (unsigned long long)w->sw_prop,
                    why ? why : ln_strerror(status));
}

/* A plugin file changed: when its code compiles, is not the slot's already
** and loads (the probe a proposal goes through), the chain's admin
** proposes the swap, signed with its key of HOME/keys:
** gov.propose("plugin", {slot, code, params, at, name}), with the params in
** force kept and name the file's. */
static void plugin_changed(ln_watch *w, size_t i)
{
    wplugin *p = &w->plugins[i];
    const char *slot = ln_slot_name(p->slot);
    char *src;
    size_t sl;
    if (ln_file_read_max(p->path, LN_PLUGIN_CODE_MAX, &src, &sl) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: cannot read %s (a plugin is at most %u bytes)", p->shown,
                    LN_PLUGIN_CODE_MAX);
        return;
    }
    char chunk[PATH_MAX + 2];
    ln_sandbox *sb;
    int rc = 0;
    snprintf(chunk, sizeof chunk, "@%s", p->shown);
    if (ln_sandbox_new(NULL, &sb) == 0) {
        rc = ln_sandbox_load(sb, src, sl, chunk);
        if (rc == LN_ECODE)
            ln_node_log(LN_LOG_WARN, "watch: %s does not compile, nothing proposed: %s", p->shown,
                        lua_tostring(ln_sandbox_L(sb), -1));
        ln_sandbox_free(sb);
    }
    uint8_t hash[LN_HASH_LEN], now[LN_HASH_LEN], *params = NULL;
    size_t plen = 0;
    uint64_t head = head_of(w);
    char why[300];
    ln_key k;
    ln_node_info *info = NULL;
    ln_hash(src, sl, hash);
    if (rc == LN_ECODE) goto done;
    if ((rc = plugin_at(w, p->slot, head + 1, now, NULL, &params, &plen)) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: %s changed, but the %s slot cannot be read: %s", p->shown,
                    slot, ln_strerror(rc));
        goto done;
    }
    if (memcmp(now, hash, LN_HASH_LEN) == 0) {
        ln_node_log(LN_LOG_INFO, "watch: %s changed; the %s slot runs this code already", p->shown, slot);
        goto done;
    }
    if (ln_node_plugin_probe(w->n, slot, src, sl, params, plen, why, sizeof why) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: %s does not load as the %s plugin, nothing proposed: %s",
                    p->shown, slot, why);
        goto done;
    }
    if (!(info = malloc(sizeof *info))) goto done;
    ln_node_info_get(w->n, info);
    if (!info->admin[0]) {
        ln_node_log(LN_LOG_WARN, "watch: %s changed, but the chain names no admin to propose the "
                    "swap: nothing sent (lunet gov propose)", p->shown);
        goto done;
    }
    if (find_signer(w, info->admin, &k) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: %s changed, but no key in %s/keys holds %s@active, the "
                    "admin's: the swap is not proposed", p->shown, w->home, info->admin);
        goto done;
    }
    /* at: the proposal's block B is head + 1 (the dev chain makes it as
    ** soon as the proposal waits); this node's sys.ready, sent when B
    ** commits, makes block B + 1, and readiness is counted at its end: at
    ** = B + 2 is the earliest a swap can be, and needs no more blocks than
    ** those two and the one the swap is for (check_swap sends it). A
    ** proposal that lands later is refused ("at must be ...") and sent
    ** again. */
    uint64_t at = head + 3;
    char name[LN_PLUGIN_NAME_MAX + 1];
    size_t nl = ln_plugin_name_of(p->path, name, sizeof name);
    msgpack_sbuffer ab;
    msgpack_packer pk;
    msgpack_sbuffer_init(&ab);
    msgpack_packer_init(&pk, &ab, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    pstr(&pk, "plugin", 6);
    msgpack_pack_map(&pk, nl >= 1 && nl <= LN_PLUGIN_NAME_MAX ? 5 : 4);   /* canonical: keys sorted */
    pstr(&pk, "at", 2);       msgpack_pack_uint64(&pk, at);
    pstr(&pk, "code", 4);     pstr(&pk, src, sl);
    if (nl >= 1 && nl <= LN_PLUGIN_NAME_MAX) {
        pstr(&pk, "name", 4); pstr(&pk, name, nl);
    }
    pstr(&pk, "params", 6);   msgpack_sbuffer_write(&ab, (const char *)params, plen);
    pstr(&pk, "slot", 4);     pstr(&pk, slot, strlen(slot));
    rc = ab.data ? send_call(w, &k, "gov", "propose", ab.data, ab.size, swap_submitted) : LN_ENOMEM;
    msgpack_sbuffer_destroy(&ab);
    if (rc < 0) {
        ln_node_log(LN_LOG_WARN, "watch: the %s swap from %s could not be sent: %s", slot, p->shown,
                    ln_strerror(rc));
    } else {
        w->swapping = 1;
        w->sw_plugin = i;
        memcpy(w->sw_hash, hash, LN_HASH_LEN);
        snprintf(w->sw_name, sizeof w->sw_name, "%s", nl >= 1 && nl <= LN_PLUGIN_NAME_MAX ? name : "?");
        snprintf(w->sw_signer, sizeof w->sw_signer, "%s", k.account);
        ln_node_log(LN_LOG_INFO, "watch: proposing the %s swap to %s from %s at %llu (signed by %s)",
                    slot, w->sw_name, p->shown, (unsigned long long)at, k.account);
    }
    sodium_memzero(&k, sizeof k);
done:
    free(info);
    free(params);
    free(src);
}

/* gov.proposal(id) from the proposer: a block for the swap to go in. */
static void nudge(ln_watch *w)
{
    ln_key k;
    if (find_signer(w, w->sw_signer, &k) < 0) return;
    msgpack_sbuffer ab;
    msgpack_packer pk;
    msgpack_sbuffer_init(&ab);
    msgpack_packer_init(&pk, &ab, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, w->sw_prop);
    int rc = ab.data ? send_call(w, &k, "gov", "proposal", ab.data, ab.size, nudge_submitted) : LN_ENOMEM;
    msgpack_sbuffer_destroy(&ab);
    sodium_memzero(&k, sizeof k);
    if (rc == 0) w->sw_nudges++;
    ln_node_log(LN_LOG_DEBUG, "watch: gov.proposal(%llu) sent for a block at %llu: %s",
                (unsigned long long)w->sw_prop, (unsigned long long)w->sw_head + 1,
                rc == 0 ? "ok" : ln_strerror(rc));
}

/* The proposal's receipt, then the swap until its first block; a block
** just committed (block 1) only moves it on, a scan also sends blocks. */
static void check_swap(ln_watch *w, int block)
{
    wplugin *p = &w->plugins[w->sw_plugin];
    const char *slot = ln_slot_name(p->slot);
    if (w->swapping == 2) {
        uint64_t height;
        uint8_t *rec = NULL;
        size_t rl;
        int st = ln_node_tx_status(w->n, w->sw_id, &height, &rec, &rl);
        if (st < LN_TX_COMMITTED) {
            free(rec);
            if (++w->sw_scans > UPGRADE_WAIT || st == LN_TX_UNKNOWN) {
                ln_node_log(LN_LOG_WARN, "watch: the %s swap proposal was not committed (%s)", slot,
                            st == LN_TX_UNKNOWN ? "dropped" : "no block in 30 s");
                w->swapping = 0;
            }
            return;
        }
        msgpack_zone z;
        msgpack_object o;
        msgpack_zone_init(&z, 1024);
        int ok = 0;
        char err[LN_ERROR_MAX + 1] = "";
        w->sw_prop = 0;
        if (ln_codec_unpack(rec, rl, &z, &o) == 0) {
            const msgpack_object *okv = ln_codec_map_get(&o, "ok"), *r = ln_codec_map_get(&o, "result");
            ok = okv && okv->type == MSGPACK_OBJECT_BOOLEAN && okv->via.boolean;
            ln_codec_str(ln_codec_map_get(&o, "error"), err, sizeof err);
            if (r && r->type == MSGPACK_OBJECT_POSITIVE_INTEGER) w->sw_prop = r->via.u64;
        }
        msgpack_zone_destroy(&z);
        free(rec);
        w->swapping = 0;
        if (!ok) {
            if (strstr(err, "at must be") && ++w->sw_tries < 3) {
                w->plugins[w->sw_plugin].queued = 1;   /* the chain moved on: again */
                return;
            }
            w->sw_tries = 0;
            ln_node_log(LN_LOG_WARN, "watch: %s changed: the %s swap was refused: %s", p->shown, slot, err);
            return;
        }
        w->sw_tries = 0;
        w->sw_at = pending_at(w, p->slot, w->sw_hash);
        uint64_t since;
        uint8_t h[LN_HASH_LEN];
        if (!w->sw_at && plugin_at(w, p->slot, head_of(w) + 1, h, &since, NULL, NULL) == 0 &&
            memcmp(h, w->sw_hash, LN_HASH_LEN) == 0)
            w->sw_at = since;          /* in the history already */
        if (!w->sw_at) {
            ln_node_log(LN_LOG_WARN, "watch: %s changed: gov proposal %llu made, but the policy has not "
                        "scheduled the swap (lunet gov show %llu)", p->shown,
                        (unsigned long long)w->sw_prop, (unsigned long long)w->sw_prop);
            return;
        }
        ln_node_log(LN_LOG_INFO, "watch: %s changed: %s swap to %s scheduled at %llu", p->shown, slot,
                    w->sw_name, (unsigned long long)w->sw_at);
        w->swapping = 3;
        w->sw_scans = w->sw_nudges = 0;
        w->sw_head = w->sw_nudged = 0;
        return;
    }
    uint64_t head = head_of(w), since = 0;
    uint8_t h[LN_HASH_LEN];
    if (plugin_at(w, p->slot, head, h, &since, NULL, NULL) == 0 && memcmp(h, w->sw_hash, LN_HASH_LEN) == 0) {
        ln_node_log(LN_LOG_INFO, "watch: %s in force from height %llu", p->shown, (unsigned long long)since);
        w->swapping = 0;
        return;
    }
    if (block) return;
    int due = plugin_at(w, p->slot, head + 1, h, NULL, NULL, NULL) == 0 &&
              memcmp(h, w->sw_hash, LN_HASH_LEN) == 0;
    uint64_t at = due ? head + 1 : pending_at(w, p->slot, w->sw_hash);
    if (!at) {
        ln_node_log(LN_LOG_WARN, "watch: the %s swap to %s is neither pending nor in force", slot, w->sw_name);
        w->swapping = 0;
        return;
    }
    /* The dev chain makes blocks only for transactions: when it has been
    ** idle for a scan short of at, a call that changes nothing (the
    ** proposal read back) makes the next block; a swap postponed for want
    ** of readiness gets its blocks so too. */
    ln_node_info *info = malloc(sizeof *info);
    if (info) {
        ln_node_info_get(w->n, info);
        if (head == w->sw_head && info->mempool == 0 && head != w->sw_nudged &&
            w->sw_nudges < NUDGE_MAX) {
            nudge(w);
            w->sw_nudged = head;
        }
        free(info);
    }
    w->sw_head = head;
    if (++w->sw_scans > UPGRADE_WAIT) {
        ln_node_log(LN_LOG_WARN, "watch: the %s swap to %s is not in force after 30 s (due at %llu, "
                    "see chain_info.pending)", slot, w->sw_name, (unsigned long long)at);
        w->swapping = 0;
    }
}

/* A block committed: the proposal's or the swap's first, maybe. */
static void on_block(ln_node *n, const uint8_t *blk, size_t len, const uint8_t *receipts,
                     size_t rlen, void *ud)
{
    ln_watch *w = ud;
    (void)n; (void)blk; (void)len; (void)receipts; (void)rlen;
    if (!w->closing && w->swapping >= 2) check_swap(w, 1);
}

/* ---- the scan --------------------------------------------------------------- */

static wfile *file_of(ln_watch *w, const char *name)
{
    for (size_t i = 0; i < w->nfiles; i++)
        if (strcmp(w->files[i].name, name) == 0) return &w->files[i];
    if (w->nfiles == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        wfile *nf = realloc(w->files, cap * sizeof *nf);
        if (!nf) return NULL;
        w->files = nf;
        w->cap = cap;
    }
    wfile *f = &w->files[w->nfiles++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->mtime_ns = -1;
    return f;
}

static int hash_file(const char *path, uint8_t hash[LN_HASH_LEN])
{
    char *src;
    size_t sl;
    if (ln_file_read(path, &src, &sl) < 0) return -1;
    ln_hash(src, sl, hash);
    free(src);
    return 0;
}

/* One look at f, the file at path: 1 when it changed, then stayed unchanged
** for a whole scan (the editor is done writing) and its content differs
** from the last taken (f->hash is the new one); 0 otherwise; -1 when it is
** not a regular file now. The first look at a file before the baseline is
** done takes its hash as the baseline. */
static int look(wfile *f, const char *path, int baseline)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    long long mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (mt != f->mtime_ns || (long long)st.st_size != f->size || st.st_ino != f->ino) {
        int fresh = f->mtime_ns < 0;
        f->mtime_ns = mt;
        f->size = (long long)st.st_size;
        f->ino = st.st_ino;
        if (fresh && !baseline) hash_file(path, f->hash);
        else f->dirty = 1;
        return 0;
    }
    if (!f->dirty) return 0;
    f->dirty = 0;
    uint8_t h[LN_HASH_LEN];
    if (hash_file(path, h) < 0 || memcmp(h, f->hash, LN_HASH_LEN) == 0) return 0;
    memcpy(f->hash, h, LN_HASH_LEN);
    return 1;
}

/* One scan of the folder and the plugin files: what changed and has
** settled goes to the queues. */
static void scan(ln_watch *w)
{
    DIR *d = opendir(w->dir);
    for (size_t i = 0; i < w->nfiles; i++) w->files[i].seen = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".lua")) continue;
        char path[PATH_MAX];
        struct stat st;
        path_of(w, e->d_name, path, sizeof path);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        wfile *f = file_of(w, e->d_name);
        if (!f) continue;
        int r = look(f, path, w->baseline);
        f->seen = r >= 0;
        if (r == 1) push(w->queue, &w->nq, f->name);
    }
    if (d) closedir(d);
    for (size_t i = 0; i < w->nfiles;)            /* removed files are forgotten */
        if (!w->files[i].seen) w->files[i] = w->files[--w->nfiles];
        else i++;
    /* A plugin file that is away (an editor replacing it) is kept. */
    for (size_t i = 0; i < w->nplugins; i++)
        if (look(&w->plugins[i].f, w->plugins[i].path, w->baseline) == 1) w->plugins[i].queued = 1;
    w->baseline = 1;
}

static void on_tick(uv_timer_t *t)
{
    ln_watch *w = t->data;
    scan(w);
    if (w->upgrading == 2) check_upgrade(w);
    if (w->swapping >= 2) check_swap(w, 0);
    /* One change at a time: each is a transaction of a key of the home. */
    while (!w->upgrading && !w->swapping && w->nq) {
        char file[NAME_MAX + 1];
        pop(w->queue, &w->nq, file);
        char path[PATH_MAX];
        path_of(w, file, path, sizeof path);
        if (ends_with(file, "_spec.lua")) {
            ln_node_log(LN_LOG_INFO, "watch: %s changed", path);
            push(w->specs, &w->nspecs, file);
        } else {
            uint8_t h[LN_HASH_LEN] = { 0 };
            wfile *f = file_of(w, file);
            if (f) memcpy(h, f->hash, LN_HASH_LEN);
            contract_changed(w, file, h);
        }
    }
    for (size_t i = 0; i < w->nplugins && !w->upgrading && !w->swapping; i++)
        if (w->plugins[i].queued) {
            w->plugins[i].queued = 0;
            plugin_changed(w, i);
        }
    if (!w->running && !w->upgrading && w->nspecs) {
        char spec[NAME_MAX + 1];
        pop(w->specs, &w->nspecs, spec);
        run_spec(w, spec);
    }
}

/* ---- start and stop ---------------------------------------------------------- */

/* The files that feed the slots in config, as the genesis finds them. */
static void find_plugins(ln_watch *w, const char *config)
{
    uint8_t *enc;
    size_t el;
    char err[512], cwd[PATH_MAX];
    if (ln_config_eval(config, &enc, &el, err, sizeof err) < 0) {
        ln_node_log(LN_LOG_WARN, "watch: plugin files not watched: %s", err);
        return;
    }
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    size_t cl = strlen(cwd);
    for (int s = 0; s < LN_NSLOTS; s++) {
        wplugin *p = &w->plugins[w->nplugins];
        char real[PATH_MAX];
        if (ln_genesis_plugin_file(config, enc, el, (ln_slot)s, p->path, sizeof p->path, err,
                                   sizeof err) < 0)
            continue;
        p->slot = (ln_slot)s;
        p->f.mtime_ns = -1;
        const char *shown = realpath(p->path, real) ? real : p->path;
        if (cl && strncmp(shown, cwd, cl) == 0 && shown[cl] == '/') shown += cl + 1;
        snprintf(p->shown, sizeof p->shown, "%s", shown);
        w->nplugins++;
    }
    free(enc);
}

int ln_watch_start(uv_loop_t *loop, ln_node *n, const char *home, const char *dir,
                   const char *config, ln_watch **out)
{
    ln_watch *w = calloc(1, sizeof *w);
    if (!w) return LN_ENOMEM;
    w->loop = loop;
    w->n = n;
    snprintf(w->home, sizeof w->home, "%s", home);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    if (config) find_plugins(w, config);
    if (w->nplugins && ln_node_subscribe(n, on_block, w) < 0) w->nplugins = 0;
    scan(w);                           /* the baseline */
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->live = 1;                       /* the timer */
    uv_timer_start(&w->timer, on_tick, LN_WATCH_MS, LN_WATCH_MS);
    ln_node_log(LN_LOG_INFO, "watch: %s/*.lua (%zu file%s): an edited contract is upgraded in "
                "place, its spec run", dir, w->nfiles, w->nfiles == 1 ? "" : "s");
    for (size_t i = 0; i < w->nplugins; i++)
        ln_node_log(LN_LOG_INFO, "watch: %s%s: the %s plugin, swapped through governance when edited",
                    w->plugins[i].shown, access(w->plugins[i].path, R_OK) == 0 ? "" : " (not there now)",
                    ln_slot_name(w->plugins[i].slot));
    *out = w;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    ln_watch *w = h->data;
    w->live--;
    maybe_free(w);
}

void ln_watch_stop(ln_watch *w)
{
    if (!w || w->closing) return;
    w->closing = 1;
    if (w->nplugins) ln_node_unsubscribe(w->n, on_block, w);
    uv_close((uv_handle_t *)&w->timer, timer_closed);
    if (w->running) uv_process_kill(&w->proc, SIGTERM);   /* its exit closes it */
}
