/* test_node.c -- a real node on a uv loop: temp home, config file, LevelDB,
** consensus plugin. Shutdown with work in flight, plugin timers and faults,
** genesis from hostile configs, subscriptions, evidence the plugin hands
** the node to submit. */
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "node.h"
#include "store.h"
#include "tx.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

static char dir[64];          /* per test: HOME is dir/home, files beside it */

static void setup(void)
{
    ln_test_tmpdir(dir, sizeof dir, "node");
    ln_crypto_init();
}

static void teardown(void) { ln_test_rmtree(dir); }

static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(path_of(name), "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

/* A config with alice and bob, validator node0, consensus `plugin` (a file
** in dir, or the repository's poa when NULL) with params `params`. */
static void write_config(const char *plugin, const char *params)
{
    char text[2048];
    char ppath[300];
    if (plugin) snprintf(ppath, sizeof ppath, "%s", path_of(plugin));
    else snprintf(ppath, sizeof ppath, "%s/consensus/poa.lua", LN_SOURCE_DIR);
    snprintf(text, sizeof text,
             "return {\n"
             "  chain_id = 'node-test',\n"
             "  validators = { 'node0' },\n"
             "  accounts = { { name = 'alice', balance = 1000000000 },\n"
             "               { name = 'bob', balance = 1000000000 } },\n"
             "  consensus = { plugin = '%s', params = %s },\n"
             "}\n", ppath, params ? params : "{ block_ms = 10 }");
    write_file("config.lua", text);
}

static int open_node(uv_loop_t *loop, ln_node **n, char *err, size_t errlen)
{
    ln_node_config cfg = { .home = path_of("home"), .config = path_of("config.lua"), .dev = 1 };
    err[0] = 0;
    return ln_node_open(&cfg, loop, n, err, errlen);
}

/* Runs the loop until *flag is set or ms have passed; returns *flag. */
static int run_until(uv_loop_t *loop, volatile int *flag, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!*flag) {
        uv_run(loop, UV_RUN_NOWAIT);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms) break;
        usleep(1000);
    }
    return *flag;
}

/* Closes the node, lets its handles close, and checks the loop is empty. */
static void close_node(uv_loop_t *loop, ln_node *n)
{
    ln_node_close(n);
    uv_run(loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(loop), 0);
}

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

/* alice sends 1 to bob, signed with her dev key from HOME/keys. */
static void transfer(uint64_t nonce, uint8_t **out, size_t *len)
{
    ln_key k;
    char kp[300], kerr[160];
    snprintf(kp, sizeof kp, "%s/keys/alice.key", path_of("home"));
    ASSERT_EQ(ln_keyfile_read(kp, &k, kerr, sizeof kerr), 0);
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    pstr(&p, "account"); pstr(&p, "alice");
    pstr(&p, "actions");
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstr(&p, "args");
    msgpack_pack_array(&p, 2);
    pstr(&p, "bob");
    msgpack_pack_uint64(&p, 1);
    pstr(&p, "contract"); pstr(&p, "sys");
    pstr(&p, "method"); pstr(&p, "transfer");
    pstr(&p, "chain_id"); pstr(&p, "node-test");
    pstr(&p, "expires"); msgpack_pack_uint64(&p, 1000000);
    pstr(&p, "max_fee"); msgpack_pack_uint64(&p, 100000);
    pstr(&p, "nonce"); msgpack_pack_uint64(&p, nonce);
    ASSERT_EQ(ln_tx_sign((uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])k.sk, 1,
                         out, len), 0);
    msgpack_sbuffer_destroy(&sb);
}

typedef struct {
    int calls, ok, closed, other;
    uint8_t id[LN_HASH_LEN];
} submits;

static void on_submit(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    (void)why;
    submits *s = ud;
    s->calls++;
    if (status == 0) {
        s->ok++;
        memcpy(s->id, id, LN_HASH_LEN);
    } else if (status == LN_ECLOSED) {
        s->closed++;
    } else {
        s->other++;
    }
}

/* Submits alice's transfer `nonce` and waits until it is committed. */
static void submit_and_commit(uv_loop_t *loop, ln_node *n, uint64_t nonce)
{
    uint8_t *tx;
    size_t len;
    transfer(nonce, &tx, &len);
    submits s = { 0 };
    ASSERT_EQ(ln_node_submit(n, tx, len, on_submit, &s), 0);
    free(tx);
    ASSERT(run_until(loop, &s.calls, 10000));
    ASSERT_EQ(s.ok, 1);
    int committed = 0;
    for (int i = 0; i < 5000 && !committed; i++) {
        uint64_t h;
        uint8_t *rec;
        size_t rl;
        committed = ln_node_tx_status(n, s.id, &h, &rec, &rl) == LN_TX_COMMITTED;
        free(rec);
        if (!committed) {
            uv_run(loop, UV_RUN_NOWAIT);
            usleep(2000);
        }
    }
    ASSERT(committed);
}

/* ---- shutdown ------------------------------------------------------------ */

/* The node is closed while submissions are on the worker pool: each callback
** still runs once (with LN_ECLOSED), then the node is freed and the loop is
** empty. ASan checks nothing is touched after it is freed. */
TEST(node_close_with_submissions_in_flight_answers_each_then_frees)
{
    setup();
    write_config(NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    submits s = { 0 };
    for (uint64_t i = 0; i < 64; i++) {
        uint8_t *tx;
        size_t len;
        transfer(i, &tx, &len);
        ASSERT_EQ(ln_node_submit(n, tx, len, on_submit, &s), 0);
        free(tx);
    }
    close_node(&loop, n);
    ASSERT_EQ(s.calls, 64);
    ASSERT_EQ(s.closed, 64);
    teardown();
}

/* The work queue of admission is bounded: a flood is refused at the call
** (LN_EFULL, the callback never runs) instead of queueing without end. */
TEST(node_submit_bounds_the_admissions_in_flight)
{
    setup();
    write_config(NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    uint8_t *tx;
    size_t len;
    transfer(0, &tx, &len);
    submits s = { 0 };
    int queued = 0, full = 0;
    for (int i = 0; i < 20000; i++) {
        int rc = ln_node_submit(n, tx, len, on_submit, &s);
        if (rc == 0) queued++;
        else if (rc == LN_EFULL) full++;
        else ASSERT_EQ(rc, 0);
    }
    free(tx);
    ASSERT(full > 0);
    ASSERT(queued < 20000);
    close_node(&loop, n);
    ASSERT_EQ(s.calls, queued);
    teardown();
}

/* A plugin whose init arms a timer and then fails: the open fails and leaves
** nothing on the loop (no handle pointing into a freed node). */
TEST(node_open_failure_leaves_no_handle_on_the_loop)
{
    setup();
    write_file("bad.lua",
               "local M = {}\n"
               "function M.init(node, params) node.timer(5, 'early'); error('init refuses', 0) end\n"
               "function M.on_timer(id) end\n"
               "return M\n");
    write_config("bad.lua", "{}");
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n = NULL;
    char err[300];
    ASSERT(open_node(&loop, &n, err, sizeof err) < 0);
    ASSERT(strstr(err, "init refuses") != NULL);
    usleep(20000);
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    teardown();
}

/* ---- the consensus plugin -------------------------------------------------- */

/* Timers armed in init run once the node is open; timers fire once and their
** handles go (a plugin that uses a fresh id per round does not pile up
** handles); an id is given back whole, however long. */
static void walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) ++*(int *)arg;
}

static int count_handles(uv_loop_t *loop)
{
    int k = 0;
    uv_walk(loop, walk, &k);
    return k;
}

static int got_block;
static void on_block(ln_node *n, const uint8_t *blk, size_t len, const uint8_t *r, size_t rl,
                     void *ud)
{
    (void)n; (void)blk; (void)len; (void)r; (void)rl; (void)ud;
    got_block = 1;
}

TEST(node_plugin_timers_fire_once_and_release_their_handles)
{
    setup();
    write_file("timers.lua",
               "local M, node, left = {}, nil, 0\n"
               "local long = 'a-timer-id-that-is-longer-than-thirty-two-bytes-by-far'\n"
               "function M.init(n) node = n; node.timer(1, long) end\n"
               "function M.start() for i = 1, 300 do node.timer(1, 'round-' .. i) end; left = 300 end\n"
               "function M.on_timer(id)\n"
               "  if id == long then node.persist('long', id); return end\n"
               "  left = left - 1\n"
               "  if left == 0 then\n"
               "    local b = node.propose()\n"
               "    node.commit(b, { done = true })\n"
               "  end\n"
               "end\n"
               "return M\n");
    write_config("timers.lua", "{}");
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    got_block = 0;
    ASSERT_EQ(ln_node_subscribe(n, on_block, NULL), 0);
    ASSERT(run_until(&loop, &got_block, 10000));
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT(count_handles(&loop) <= 1);
    close_node(&loop, n);

    /* The long id came back as it was given. */
    ln_store *st;
    char dpath[300];
    snprintf(dpath, sizeof dpath, "%s/data", path_of("home"));
    ASSERT_EQ(ln_store_open(dpath, &st), 0);
    uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_store_get(st, (const uint8_t *)"Plong", 5, &v, &vl), 0);
    const char *want = "a-timer-id-that-is-longer-than-thirty-two-bytes-by-far";
    ASSERT(vl > strlen(want));
    ASSERT_MEM(v + vl - strlen(want), want, strlen(want));
    free(v);
    ln_store_close(st);
    teardown();
}

/* A plugin whose module table has an __index metamethod that never returns:
** looking up a callback must not run it (it would run outside the meter and
** hang the node). */
TEST(node_plugin_callback_lookup_runs_no_metamethod)
{
    setup();
    write_file("meta.lua",
               "return setmetatable({}, { __index = function() while true do end end })\n");
    write_config("meta.lua", "{}");
    alarm(60);                       /* the hang, as a failure */
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    close_node(&loop, n);
    alarm(0);
    teardown();
}

/* A plugin that loops past its budget, errors, or calls the host wrongly in
** its callbacks: the node logs it and goes on making blocks. */
TEST(node_plugin_that_errors_or_loops_keeps_the_node_running)
{
    setup();
    write_file("faulty.lua",
               "local M, node, k = {}, nil, 0\n"
               "function M.init(n) node = n end\n"
               "function M.start() node.timer(1, 'tick') end\n"
               "function M.on_timer(id)\n"
               "  node.timer(5, 'tick')\n"
               "  k = k + 1\n"
               "  if k == 1 then while true do end end\n"
               "  if k == 2 then error('plugin bug') end\n"
               "  if k == 3 then node.timer(0/0, 'nan') end\n"
               "  if k == 4 then node.timer(1, string.rep('x', 4096)) end\n"
               "  if k == 5 then node.commit({ hash = 'zz' }) end\n"
               "  if k == 6 then local t = {} for i = 1, 1e8 do t[i] = i end end\n"
               "  if node.pending() > 0 then\n"
               "    local b = assert(node.propose())\n"
               "    assert(node.commit(b, { by = node.self() }))\n"
               "  end\n"
               "end\n"
               "return M\n");
    write_config("faulty.lua", "{}");
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    submit_and_commit(&loop, n, 0);
    submit_and_commit(&loop, n, 1);
    ln_node_info info;
    ln_node_info_get(n, &info);
    ASSERT_EQ(info.height, 2);
    close_node(&loop, n);
    teardown();
}

/* ---- subscriptions ---------------------------------------------------------- */

static int sub_b_calls;
static void sub_a(ln_node *n, const uint8_t *blk, size_t len, const uint8_t *r, size_t rl,
                  void *ud)
{
    (void)blk; (void)len; (void)r; (void)rl;
    ln_node_unsubscribe(n, sub_a, ud);         /* once is enough */
}
static void sub_b(ln_node *n, const uint8_t *blk, size_t len, const uint8_t *r, size_t rl,
                  void *ud)
{
    (void)n; (void)blk; (void)len; (void)r; (void)rl; (void)ud;
    sub_b_calls++;
}

/* A subscriber that unsubscribes in its callback does not make the node
** skip the next one. */
TEST(node_subscriber_that_unsubscribes_does_not_hide_the_next)
{
    setup();
    write_config(NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    sub_b_calls = 0;
    ASSERT_EQ(ln_node_subscribe(n, sub_a, NULL), 0);
    ASSERT_EQ(ln_node_subscribe(n, sub_b, NULL), 0);
    submit_and_commit(&loop, n, 0);
    ASSERT(run_until(&loop, &sub_b_calls, 10000));    /* after the commit returns */
    ASSERT_EQ(sub_b_calls, 1);
    submit_and_commit(&loop, n, 1);
    for (int i = 0; i < 5000 && sub_b_calls < 2; i++) uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(sub_b_calls, 2);
    close_node(&loop, n);
    teardown();
}

/* ---- genesis and restart ----------------------------------------------------- */

/* A restart goes on from the head: same chain, same height, and the next
** block follows it. */
TEST(node_restart_goes_on_from_the_head)
{
    setup();
    write_config(NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    submit_and_commit(&loop, n, 0);
    ln_node_info a, b;
    ln_node_info_get(n, &a);
    close_node(&loop, n);
    uv_loop_init(&loop);
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    ln_node_info_get(n, &b);
    ASSERT_EQ(b.height, a.height);
    ASSERT_MEM(b.head, a.head, LN_HASH_LEN);
    submit_and_commit(&loop, n, 1);
    ln_node_info_get(n, &b);
    ASSERT_EQ(b.height, a.height + 1);
    close_node(&loop, n);
    teardown();
}

/* Params the consensus plugin refuses stop the first start before anything
** is written: the home is not left with a chain that can never start, and a
** corrected config then works on it. */
TEST(node_genesis_refused_by_the_plugin_writes_no_chain)
{
    setup();
    write_config(NULL, "{ block_ms = 'fast' }");
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT(open_node(&loop, &n, err, sizeof err) < 0);
    ASSERT(strstr(err, "block_ms") != NULL);
    write_config(NULL, "{ block_ms = 10 }");
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    submit_and_commit(&loop, n, 0);
    close_node(&loop, n);
    teardown();
}

/* The plugin's init sees the genesis head (height 0) on the first start as
** on every later one. */
TEST(node_plugin_init_sees_the_genesis_head_on_the_first_start)
{
    setup();
    write_file("head.lua",
               "local M = {}\n"
               "function M.init(node) local h = node.head(); assert(h.height == 0 and #h.hash == 64)\n"
               "  node.persist('h', h.hash) end\n"
               "return M\n");
    write_config("head.lua", "{}");
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    ln_node_info info;
    ln_node_info_get(n, &info);
    char hex[2 * LN_HASH_LEN + 1];
    ln_hex(info.head, LN_HASH_LEN, hex);
    close_node(&loop, n);
    ln_store *st;
    char dpath[300];
    snprintf(dpath, sizeof dpath, "%s/data", path_of("home"));
    ASSERT_EQ(ln_store_open(dpath, &st), 0);
    uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_store_get(st, (const uint8_t *)"Ph", 2, &v, &vl), 0);
    ASSERT(vl > 64);
    ASSERT_MEM(v + vl - 64, hex, 64);
    free(v);
    ln_store_close(st);
    teardown();
}

/* Hostile or mistaken configs: each is refused with a reason, none crashes,
** hangs or leaves a chain behind; a good config then works on the same home. */
TEST(node_hostile_configs_are_refused_with_a_reason)
{
    setup();
    char poa[300];
    snprintf(poa, sizeof poa, "%s/consensus/poa.lua", LN_SOURCE_DIR);
    write_file("p_with_a_name_far_longer_than_thirty_two.lua", "return {}\n");
    struct { const char *text, *why; } cases[] = {
        { "return 42", "must return a table" },
        { "return {", "config" },
        { "while true do end", "config" },
        { "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end return t", "config" },
        { "local t = {} t.t = t return t", "config" },
        { "return { chain_id = 1.5 }", "config" },
        { "return { chain_id = 5 }", "chain_id" },
        { "return { chain_id = '' }", "chain_id" },
        { "return { chain_id = string.rep('c', 65) }", "chain_id" },
        { "return { chain_id = 'x', validators = {} }", "validators" },
        { "return { chain_id = 'x', validators = 'node0' }", "validators" },
        { "return { chain_id = 'x', validators = { 'Node 0' } }", "validators[1]" },
        { "return { chain_id = 'x', validators = { 'node0', 'node0' } }", "twice" },
        { "return { chain_id = 'x', accounts = 'alice', validators = { 'node0' } }", "accounts" },
        { "return { chain_id = 'x', accounts = { 5 }, validators = { 'node0' } }", "accounts[1]" },
        { "return { chain_id = 'x', accounts = { { name = 'alice', balance = 'lots' } }, "
          "validators = { 'node0' } }", "balance" },
        { "return { chain_id = 'x', accounts = { { name = 'alice', balance = -1 } }, "
          "validators = { 'node0' } }", "balance" },
        { "return { chain_id = 'x', accounts = { { name = 'alice', balance = 2^60 } }, "
          "validators = { 'node0' } }", "config" },
        { "return { chain_id = 'x', accounts = { { name = 'alice', key = 'zz' } }, "
          "validators = { 'node0' } }", "key" },
        { "return { chain_id = 'x', accounts = { { name = 'alice' }, { name = 'alice' } }, "
          "validators = { 'node0' } }", "twice" },
        { "return { chain_id = 'x', validators = { 'node0' } }", "consensus" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = 'poa' }", "consensus" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = '/nonexistent.lua' } }",
          "cannot read" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = '%s', params = 5 } }",
          "params" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = '%s', "
          "params = { block_ms = -1 } } }", "block_ms" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = '%s', "
          "params = { block_ms = 0 } } }", "block_ms" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = '%s' }, "
          "genesis_time = 'now' }", "genesis_time" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = '%s' }, "
          "acounts = {} }", "acounts" },
        { "return { chain_id = 'x', validators = { 'node0' }, consensus = { plugin = "
          "'P/p_with_a_name_far_longer_than_thirty_two.lua' } }", "name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], t2[1024];
        snprintf(text, sizeof text, cases[i].text, poa);
        /* P/ stands for this test's folder */
        char *at = strstr(text, "'P/");
        if (at) {
            snprintf(t2, sizeof t2, "%.*s'%s/%s", (int)(at - text), text, dir, at + 3);
            snprintf(text, sizeof text, "%s", t2);
        }
        write_file("config.lua", text);
        uv_loop_t loop;
        uv_loop_init(&loop);
        ln_node *n = NULL;
        char err[400];
        int rc = open_node(&loop, &n, err, sizeof err);
        if (rc == 0) LN_FAIL("config %zu was accepted: %s", i + 1, text);
        if (!strstr(err, cases[i].why))
            LN_FAIL("config %zu: \"%s\" does not say '%s'", i + 1, err, cases[i].why);
        uv_run(&loop, UV_RUN_NOWAIT);
        ASSERT_EQ(uv_loop_close(&loop), 0);
    }
    write_config(NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    submit_and_commit(&loop, n, 0);
    close_node(&loop, n);
    teardown();
}

/* ---- evidence ------------------------------------------------------------ */

static uint8_t *ev_receipts;
static size_t ev_rl;
static int ev_got;
static void on_ev_block(ln_node *n, const uint8_t *blk, size_t len, const uint8_t *r, size_t rl,
                        void *ud)
{
    (void)n; (void)blk; (void)len; (void)ud;
    if (ev_receipts || rl < 2) return;                 /* the first block with a receipt */
    ev_receipts = malloc(rl);
    memcpy(ev_receipts, r, rl);
    ev_rl = rl;
    ev_got = 1;
}

/* What node.evidence answers a plugin, in order, as "true" or "false why". */
static const char *const EV_ANSWERS[] = {
    "true",
    "false sent already",
    "false evidence against this node's own validator",
    "false evidence must be {validator, type, ...}",
    "false evidence of node9 has no height (nor a header with one)",
    "true",
};

/* node0's node submits the evidence its plugin hands it as sys.evidence
** from node0, free, once per validator and height; what it cannot read or
** sent already is refused with the reason. Here the plugin in force is not
** pos, so the block's sys refuses the call: free all the same. */
TEST(node_evidence_is_submitted_once_per_validator_and_height_from_the_validator)
{
    setup();
    write_file("ev.lua",
               "local M, node = {}, nil\n"
               "local function e(v, h)\n"
               "  local sig = string.rep('00', 64)\n"
               "  return { validator = v, height = h, round = 0, type = 'pv',\n"
               "           a = { hash = '', sig = sig }, b = { hash = string.rep('ab', 32), sig = sig } }\n"
               "end\n"
               "local function say(ok, why) return tostring(ok) .. (why and ' ' .. why or '') end\n"
               "function M.init(n) node = n end\n"
               "function M.start()\n"
               "  local r = {}\n"
               "  r[1] = say(node.evidence(e('node9', 1)))\n"
               "  r[2] = say(node.evidence(e('node9', 1)))\n"
               "  r[3] = say(node.evidence(e('node0', 1)))\n"
               "  r[4] = say(node.evidence({ validator = 'node9' }))\n"
               "  r[5] = say(node.evidence({ validator = 'node9', type = 'blk', a = { header = 'zz' } }))\n"
               "  r[6] = say(node.evidence(e('node9', 2)))\n"
               "  node.persist('r', table.concat(r, '|'))\n"
               "  node.timer(5, 'go')\n"
               "end\n"
               "function M.on_timer()\n"
               "  if node.pending() == 0 then node.timer(5, 'go') return end\n"
               "  node.commit(node.propose(), { done = true })\n"
               "end\n"
               "return M\n");
    write_config("ev.lua", "{}");
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node *n;
    char err[300];
    ASSERT_EQ(open_node(&loop, &n, err, sizeof err), 0);
    ev_receipts = NULL;
    ev_got = 0;
    ASSERT_EQ(ln_node_subscribe(n, on_ev_block, NULL), 0);
    ASSERT(run_until(&loop, &ev_got, 10000));
    close_node(&loop, n);

    /* The first block with them: each free, refused by sys, from node0. */
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 4096);
    ASSERT_EQ(ln_codec_unpack(ev_receipts, ev_rl, &z, &o), 0);
    ASSERT(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size >= 1);
    for (uint32_t i = 0; i < o.via.array.size; i++) {
        const msgpack_object *r = &o.via.array.ptr[i];
        const msgpack_object *fee = ln_codec_map_get(r, "fee"), *ok = ln_codec_map_get(r, "ok");
        const msgpack_object *er = ln_codec_map_get(r, "error"), *payer = ln_codec_map_get(r, "payer");
        ASSERT(fee && fee->type == MSGPACK_OBJECT_POSITIVE_INTEGER && fee->via.u64 == 0);
        ASSERT(ok && ok->type == MSGPACK_OBJECT_BOOLEAN && !ok->via.boolean);
        ASSERT(payer && payer->type == MSGPACK_OBJECT_STR && payer->via.str.size == 5 &&
               memcmp(payer->via.str.ptr, "node0", 5) == 0);
        const char *want = "the consensus plugin in force is not pos";
        ASSERT(er && er->type == MSGPACK_OBJECT_STR &&
               memmem(er->via.str.ptr, er->via.str.size, want, strlen(want)));
    }
    msgpack_zone_destroy(&z);
    free(ev_receipts);
    ev_receipts = NULL;
    ev_rl = 0;

    ln_store *st;
    char dpath[300], want[600] = "";
    snprintf(dpath, sizeof dpath, "%s/data", path_of("home"));
    ASSERT_EQ(ln_store_open(dpath, &st), 0);
    uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_store_get(st, (const uint8_t *)"Pr", 2, &v, &vl), 0);
    for (size_t i = 0; i < sizeof EV_ANSWERS / sizeof *EV_ANSWERS; i++) {
        if (i) strcat(want, "|");
        strcat(want, EV_ANSWERS[i]);
    }
    if (vl < strlen(want) || memcmp(v + vl - strlen(want), want, strlen(want)) != 0)
        LN_FAIL("node.evidence answered \"%.*s\", want \"%s\"", (int)vl, (const char *)v, want);
    free(v);
    ln_store_close(st);
    teardown();
}

static const ln_test tests[] = {
    T(node_close_with_submissions_in_flight_answers_each_then_frees),
    T(node_submit_bounds_the_admissions_in_flight),
    T(node_open_failure_leaves_no_handle_on_the_loop),
    T(node_plugin_timers_fire_once_and_release_their_handles),
    T(node_plugin_callback_lookup_runs_no_metamethod),
    T(node_plugin_that_errors_or_loops_keeps_the_node_running),
    T(node_subscriber_that_unsubscribes_does_not_hide_the_next),
    T(node_restart_goes_on_from_the_head),
    T(node_genesis_refused_by_the_plugin_writes_no_chain),
    T(node_plugin_init_sees_the_genesis_head_on_the_first_start),
    T(node_hostile_configs_are_refused_with_a_reason),
    T(node_evidence_is_submitted_once_per_validator_and_height_from_the_validator),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
