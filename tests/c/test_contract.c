/* test_contract.c -- the contract host from C (core/contract.c): ln_vm_run
** and ln_vm_query on actions built here, over an in-memory state. What the
** contract API does for contracts is pinned by tests/lua/contract_api_spec.lua
** and authority_spec.lua through real transactions; these are the edges a
** spec cannot reach: calls that are not calls, the exact caps of a result
** and of event data, the argument count and length, the signers a run is
** given, state written by something other than a contract, and the bytes of
** the events. The membership actions are in test_membership.c. */
#include "test.h"
#include "account.h"
#include "codec.h"
#include "contract.h"
#include "crypto.h"
#include "err.h"
#include "exec.h"
#include "sandbox.h"

#define GAS LN_TX_GAS_MAX

static const char BOX[] =
    "local M = {}\n"
    "function M.set(k, v) storage.set(k, v) emit('set', { k = k }) return v end\n"
    "function M.get(k) return storage.get(k) end\n"
    "function M.count(...) return select('#', ...) end\n"
    "function M.len(s) return #s end\n"
    "function M.auth(a) require_auth(a) return true end\n"
    "local function blob(n)\n"
    "  local x = string.rep('x', 16384)\n"
    "  return { x, x, x, string.rep('x', n) }\n"
    "end\n"
    "function M.big(n) return blob(n) end\n"
    "function M.big_event(n) emit('e', blob(n)) end\n"
    "return M\n";

static uint8_t alice_pk[LN_PK_LEN], alice_sk[LN_SK_LEN];

/* ---- actions ------------------------------------------------------------- */

/* One argument: a string of n bytes (n 0: strlen), an unsigned integer, nil. */
typedef struct { char t; const char *s; size_t n; uint64_t u; } arg;
#define S(x) ((arg){ 's', (x), 0, 0 })
#define U(x) ((arg){ 'u', NULL, 0, (x) })

typedef struct {
    msgpack_sbuffer sb;
    msgpack_zone z;
    msgpack_object o;          /* the array of actions */
} actions;

static void pstrn(msgpack_packer *p, const char *s, size_t n)
{
    msgpack_pack_str(p, n);
    msgpack_pack_str_body(p, s, n);
}

/* One action {args, contract, method} (method of ml bytes; 0: strlen) with
** nargs arguments; nargs beyond the array's are nils. */
static void one_action(actions *a, const char *contract, const char *method, size_t ml,
                       const arg *args, int nargs, int nils)
{
    msgpack_packer p;
    msgpack_sbuffer_init(&a->sb);
    msgpack_packer_init(&p, &a->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstrn(&p, "args", 4);
    msgpack_pack_array(&p, (uint32_t)(nargs + nils));
    for (int i = 0; i < nargs; i++) {
        if (args[i].t == 's') pstrn(&p, args[i].s, args[i].n ? args[i].n : strlen(args[i].s));
        else msgpack_pack_uint64(&p, args[i].u);
    }
    for (int i = 0; i < nils; i++) msgpack_pack_nil(&p);
    pstrn(&p, "contract", 8);
    pstrn(&p, contract, strlen(contract));
    pstrn(&p, "method", 6);
    pstrn(&p, method, ml ? ml : strlen(method));
    msgpack_zone_init(&a->z, 4096);
    size_t off = 0;
    ASSERT_EQ(msgpack_unpack(a->sb.data, a->sb.size, &off, &a->z, &a->o), MSGPACK_UNPACK_SUCCESS);
}

static void actions_free(actions *a)
{
    msgpack_zone_destroy(&a->z);
    msgpack_sbuffer_destroy(&a->sb);
}

/* ---- a chain with box ------------------------------------------------------ */

typedef struct {
    ln_state *st;
    ln_overlay *ov;
    ln_vm *vm;
} world;

/* Runs contract.method(args) as origin with signers over w's vm. */
static ln_outcome run(world *w, const ln_signers *signers, const char *contract, const char *method,
                      const arg *args, int nargs)
{
    actions a;
    ln_outcome out;
    one_action(&a, contract, method, 0, args, nargs, 0);
    ASSERT_EQ(ln_vm_run(w->vm, "alice", signers, a.o.via.array.ptr, a.o.via.array.size, GAS, &out), 0);
    actions_free(&a);
    return out;
}

static ln_outcome query(world *w, const char *contract, const char *method, const arg *args, int nargs)
{
    actions a;
    ln_outcome out;
    one_action(&a, contract, method, 0, args, nargs, 0);
    const msgpack_object *act = &a.o.via.array.ptr[0];
    ASSERT_EQ(ln_vm_query(w->vm, contract, method, &act->via.map.ptr[0].val, GAS, &out), 0);
    actions_free(&a);
    return out;
}

/* alice (10^9), box deployed by alice, a vm over an open overlay. */
static world chain(void)
{
    world w;
    ASSERT_EQ(ln_crypto_init(), 0);
    uint8_t seed[LN_SEED_LEN] = { 0x11 };
    ln_keypair_seed(seed, alice_pk, alice_sk);
    ASSERT_EQ(ln_state_open(NULL, &w.st), 0);
    w.ov = ln_overlay_new(w.st);
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "alice");
    ln_authority_key(&a.owner, alice_pk);
    a.active = a.owner;
    a.balance = 1000000000;
    ASSERT_EQ(ln_account_save(w.ov, &a), 0);
    ln_blockinfo bi = { 1, 1700000000, { 0 } };
    ASSERT_EQ(ln_vm_new(w.ov, &bi, &w.vm), 0);
    ln_outcome out = run(&w, NULL, "sys", "deploy", (arg[]){ S("box"), S(BOX) }, 2);
    if (out.code) LN_FAIL("deploy: %s", out.error);
    ln_outcome_free(&out);
    return w;
}

static void world_free(world *w)
{
    ln_vm_free(w->vm);
    ln_overlay_free(w->ov);
    ln_state_close(w->st);
}

#define ASSERT_FAILS(out, want, text) do {                                  \
    ln_outcome o_ = (out);                                               \
    if (o_.code != (want))                                               \
        LN_FAIL("code %s (%s), want %s", ln_errname(o_.code), o_.error ? o_.error : "", \
                ln_errname(want));                                       \
    if (!o_.error || !strstr(o_.error, (text)))                          \
        LN_FAIL("error \"%s\" does not say \"%s\"", o_.error ? o_.error : "", (text)); \
    ln_outcome_free(&o_);                                                \
} while (0)

/* ---- what is not a call ------------------------------------------------------ */

TEST(contract_run_refuses_a_contract_that_is_no_name_and_a_method_that_is_empty_or_holds_nul)
{
    world w = chain();
    actions a;
    ln_outcome out;
    one_action(&a, "Box", "get", 0, (arg[]){ S("k") }, 1, 0);
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, a.o.via.array.ptr, 1, GAS, &out), 0);
    ASSERT_FAILS(out, LN_EBADNAME, "contract must be an account name");
    actions_free(&a);
    one_action(&a, "box", "", 0, NULL, 0, 0);
    a.o.via.array.ptr[0].via.map.ptr[2].val.via.str.size = 0;    /* "" after strlen's 0 */
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, a.o.via.array.ptr, 1, GAS, &out), 0);
    ASSERT_FAILS(out, LN_ENOMETHOD, "method must be a non-empty string without NUL bytes");
    actions_free(&a);
    one_action(&a, "box", "get\0set", 7, (arg[]){ S("k"), U(1) }, 2, 0);
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, a.o.via.array.ptr, 1, GAS, &out), 0);
    ASSERT_FAILS(out, LN_ENOMETHOD, "method must be a non-empty string without NUL bytes");
    actions_free(&a);
    ASSERT_EQ(ln_vm_query(w.vm, "box", "count\0set", NULL, GAS, &out), 0);   /* a C string: "count" */
    ASSERT_EQ(out.code, 0);
    ln_outcome_free(&out);
    world_free(&w);
}

TEST(contract_query_refuses_a_contract_that_is_no_name_and_args_that_are_not_an_array)
{
    world w = chain();
    ln_outcome out;
    ASSERT_EQ(ln_vm_query(w.vm, "Box", "get", NULL, GAS, &out), 0);
    ASSERT_FAILS(out, LN_EBADNAME, "contract must be an account name");
    ASSERT_EQ(ln_vm_query(w.vm, "thirteen.char", "get", NULL, GAS, &out), 0);
    ASSERT_FAILS(out, LN_EBADNAME, "contract must be an account name");
    msgpack_object map = { .type = MSGPACK_OBJECT_MAP };
    ASSERT_EQ(ln_vm_query(w.vm, "box", "get", &map, GAS, &out), 0);
    ASSERT_FAILS(out, LN_EINVAL, "args must be an array");
    out = query(&w, "box", "count", (arg[]){ S("a"), U(2) }, 2);
    ASSERT_EQ(out.code, 0);
    ASSERT_EQ(out.result_len, 1);
    ASSERT_EQ(out.result[0], 2);
    ln_outcome_free(&out);
    world_free(&w);
}

/* ---- caps and limits ---------------------------------------------------------- */

TEST(contract_result_and_event_data_of_exactly_64_kib_pass_and_one_byte_more_does_not)
{
    world w = chain();
    /* [x16384, x16384, x16384, xN]: 1 + 4 * 3 + 3 * 16384 + N bytes; N 16371: 65536 */
    ln_outcome out = run(&w, NULL, "box", "big", (arg[]){ U(16371) }, 1);
    if (out.code) LN_FAIL("%s", out.error);
    ASSERT_EQ(out.result_len, LN_RESULT_MAX);
    ln_outcome_free(&out);
    ASSERT_FAILS(run(&w, NULL, "box", "big", (arg[]){ U(16372) }, 1), LN_ETOOBIG,
                 "result: item too large (the most is 65536 bytes encoded)");
    out = run(&w, NULL, "box", "big_event", (arg[]){ U(16371) }, 1);
    if (out.code) LN_FAIL("%s", out.error);
    ln_outcome_free(&out);
    ASSERT_FAILS(run(&w, NULL, "box", "big_event", (arg[]){ U(16372) }, 1), LN_ETOOBIG,
                 "emit: item too large (the most is 65536 bytes encoded)");
    world_free(&w);
}

TEST(contract_takes_4000_arguments_and_refuses_more_with_etoobig)
{
    world w = chain();
    actions a;
    ln_outcome out;
    one_action(&a, "box", "count", 0, NULL, 0, 4000);
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, a.o.via.array.ptr, 1, GAS, &out), 0);
    if (out.code) LN_FAIL("%s", out.error);
    ASSERT_EQ(out.result_len, 3);
    ASSERT_MEM(out.result, "\xcd\x0f\xa0", 3);                /* 4000 */
    ln_outcome_free(&out);
    actions_free(&a);
    one_action(&a, "box", "count", 0, NULL, 0, 4001);
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, a.o.via.array.ptr, 1, GAS, &out), 0);
    ASSERT_FAILS(out, LN_ETOOBIG, "too many arguments (max 4000)");
    actions_free(&a);
    world_free(&w);
}

TEST(contract_string_arguments_over_16_kib_are_refused_but_a_deployed_source_is_not)
{
    world w = chain();
    static char s[LN_STRING_MAX + 2];
    memset(s, 'y', sizeof s - 1);
    ln_outcome out = run(&w, NULL, "box", "len", (arg[]){ { 's', s, LN_STRING_MAX, 0 } }, 1);
    if (out.code) LN_FAIL("%s", out.error);
    ASSERT_MEM(out.result, "\xcd\x40\x00", 3);                /* 16384 */
    ln_outcome_free(&out);
    out = run(&w, NULL, "box", "len", (arg[]){ { 's', s, LN_STRING_MAX + 1, 0 } }, 1);
    ASSERT_EQ(out.code, LN_ETOOBIG);
    ASSERT(strstr(out.error, "argument 1: ") != NULL);
    ln_outcome_free(&out);
    /* sys.deploy reads its source in the host: 20000 bytes of it are fine */
    static char src[20001];
    memset(src, '-', sizeof src - 1);
    memcpy(src, "return {}\n", 10);
    out = run(&w, NULL, "sys", "deploy", (arg[]){ S("big"), { 's', src, 20000, 0 } }, 2);
    if (out.code) LN_FAIL("%s", out.error);
    ln_outcome_free(&out);
    world_free(&w);
}

/* ---- state written by others ---------------------------------------------------- */

TEST(contract_stored_value_that_does_not_decode_fails_the_read_with_the_codecs_code)
{
    world w = chain();
    ASSERT_EQ(ln_overlay_set(w.ov, (const uint8_t *)"sbox/k", 6, (const uint8_t *)"\xc1", 1), 0);
    ASSERT_FAILS(run(&w, NULL, "box", "get", (arg[]){ S("k") }, 1), LN_EBADBYTE,
                 "storage.get: stored value: invalid msgpack type byte");
    ASSERT_EQ(ln_overlay_set(w.ov, (const uint8_t *)"sbox/k", 6, (const uint8_t *)"\xcc\x05", 2), 0);
    ASSERT_FAILS(query(&w, "box", "get", (arg[]){ S("k") }, 1), LN_ENONCANON,
                 "storage.get: stored value: non-canonical encoding");
    world_free(&w);
}

TEST(contract_code_that_does_not_compile_fails_each_call_with_ecode)
{
    world w = chain();
    ASSERT_EQ(ln_overlay_set(w.ov, (const uint8_t *)"cbroken", 7, (const uint8_t *)"return {", 8), 0);
    ASSERT_FAILS(run(&w, NULL, "broken", "m", NULL, 0), LN_ECODE, "contract broken does not load: ");
    ASSERT_FAILS(query(&w, "broken", "m", NULL, 0), LN_ECODE, "contract broken does not load: ");
    ASSERT_EQ(ln_overlay_set(w.ov, (const uint8_t *)"cbytes", 6, (const uint8_t *)"\033LJ\002", 4), 0);
    ASSERT_FAILS(run(&w, NULL, "bytes", "m", NULL, 0), LN_ECODE, "contract bytes does not load: ");
    world_free(&w);
}

/* ---- signers, events ------------------------------------------------------------ */

TEST(contract_signers_given_to_a_run_count_in_that_run_only)
{
    world w = chain();
    uint8_t keys[1][LN_PK_LEN];
    memcpy(keys[0], alice_pk, LN_PK_LEN);
    ln_signers alice = { (const uint8_t (*)[LN_PK_LEN])keys, 1, NULL };
    ASSERT_FAILS(run(&w, NULL, "box", "auth", (arg[]){ S("alice") }, 1), LN_EAUTH,
                 "missing authority of alice@active");
    ln_outcome out = run(&w, &alice, "box", "auth", (arg[]){ S("alice") }, 1);
    if (out.code) LN_FAIL("%s", out.error);
    ln_outcome_free(&out);
    /* box is held by its deployer's active permission */
    out = run(&w, &alice, "box", "auth", (arg[]){ S("box") }, 1);
    if (out.code) LN_FAIL("%s", out.error);
    ln_outcome_free(&out);
    /* the next call on the vm has none of them */
    ASSERT_FAILS(query(&w, "box", "auth", (arg[]){ S("alice") }, 1), LN_EAUTH,
                 "missing authority of alice@active");
    /* a code signer stands for that contract's calls, not for an action of the transaction */
    ln_signers code = { NULL, 0, "box" };
    ASSERT_FAILS(run(&w, &code, "box", "auth", (arg[]){ S("alice") }, 1), LN_EAUTH,
                 "missing authority of alice@active");
    world_free(&w);
}

TEST(contract_events_are_canonical_maps_of_contract_data_and_name)
{
    world w = chain();
    ln_outcome out = run(&w, NULL, "box", "set", (arg[]){ S("k"), U(1) }, 2);
    if (out.code) LN_FAIL("%s", out.error);
    static const uint8_t want[] = {
        0x91, 0x83,
        0xa8, 'c', 'o', 'n', 't', 'r', 'a', 'c', 't', 0xa3, 'b', 'o', 'x',
        0xa4, 'd', 'a', 't', 'a', 0x81, 0xa1, 'k', 0xa1, 'k',
        0xa4, 'n', 'a', 'm', 'e', 0xa3, 's', 'e', 't' };
    ASSERT_EQ(out.events_len, sizeof want);
    ASSERT_MEM(out.events, want, sizeof want);
    ASSERT_EQ(ln_codec_check(out.events, out.events_len), 0);
    ln_outcome_free(&out);
    /* a failed run has an empty list, not none */
    out = run(&w, NULL, "box", "nope", NULL, 0);
    ASSERT_EQ(out.code, LN_ENOMETHOD);
    ASSERT_EQ(out.events_len, 1);
    ASSERT_EQ(out.events[0], 0x90);
    ln_outcome_free(&out);
    world_free(&w);
}


/* ---- log(...) and the text of a kill --------------------------------------- */

static const char NOTES[] =
    "local M = {}\n"
    "function M.say(n)\n"
    "  log('n is', n, true, nil, { 1 }, 0.5)\n"
    "end\n"
    "function M.long(n) log(string.rep('x', n)) end\n"
    "function M.rep(n) local s = string.rep('x', n) end\n"
    "function M.spin()\n"
    "  local i = 0\n"
    "  while true do i = i + 1 end\n"
    "end\n"
    "function M.eat()\n"
    "  local t = {}\n"
    "  for i = 1, 1e9 do t[i] = string.rep('y', 4096) .. i end\n"
    "end\n"
    "return M\n";

static char heard[LN_LOG_MAX + 1], heard_where[128];
static int heard_calls;

static void sink(const char *where, const char *text, size_t len, void *ud)
{
    (void)ud;
    ASSERT(len <= LN_LOG_MAX);
    memcpy(heard, text, len);
    heard[len] = 0;
    snprintf(heard_where, sizeof heard_where, "%s", where);
    heard_calls++;
}

static world notes(void)
{
    world w = chain();
    ln_outcome out = run(&w, NULL, "sys", "deploy", (arg[]){ S("notes"), S(NOTES) }, 2);
    if (out.code) LN_FAIL("deploy: %s", out.error);
    ln_outcome_free(&out);
    return w;
}

TEST(contract_log_hands_its_text_and_the_calling_line_to_the_sink)
{
    world w = notes();
    heard_calls = 0;
    ln_contract_log_sink(sink, NULL);
    ln_outcome out = run(&w, NULL, "notes", "say", (arg[]){ U(42) }, 1);
    ln_contract_log_sink(NULL, NULL);
    ASSERT_EQ(out.code, 0);
    ASSERT_EQ(heard_calls, 1);
    ASSERT_STR(heard, "n is 42 true nil <table> 0.5");
    ASSERT_STR(heard_where, "notes:3");
    ASSERT_EQ(out.events_len, 1);              /* not an event: the list is empty */
    ln_outcome_free(&out);
    /* text beyond 16 KiB is cut, not refused */
    ln_contract_log_sink(sink, NULL);
    out = run(&w, NULL, "notes", "long", (arg[]){ U(LN_STRING_MAX) }, 1);
    ln_contract_log_sink(NULL, NULL);
    ASSERT_EQ(out.code, 0);
    ASSERT_EQ(strlen(heard), LN_LOG_MAX);
    ln_outcome_free(&out);
    world_free(&w);
}

TEST(contract_log_costs_the_length_of_its_text_before_it_is_built)
{
    world w = notes();
    ln_outcome a = run(&w, NULL, "notes", "long", (arg[]){ U(16) }, 1);
    ln_outcome b = run(&w, NULL, "notes", "long", (arg[]){ U(16000) }, 1);
    ASSERT_EQ(a.code, 0);
    ASSERT_EQ(b.code, 0);
    /* string.rep and log each copy the bytes once */
    uint64_t more = b.gas_used - a.gas_used;
    uint64_t copies = 2 * (LN_GAS_COPY_BYTES(16000) - LN_GAS_COPY_BYTES(16));
    if (more < copies)
        LN_FAIL("16000 bytes logged cost %llu more gas than 16, less than two copies (%llu)",
                (unsigned long long)more, (unsigned long long)copies);
    ln_outcome_free(&a);
    ln_outcome_free(&b);
    /* a limit that covers the rep but not the log: out of gas, no text built */
    ln_outcome c = run(&w, NULL, "notes", "rep", (arg[]){ U(16000) }, 1);
    ASSERT_EQ(c.code, 0);
    uint64_t limit = c.gas_used + 50;
    ln_outcome_free(&c);
    heard_calls = 0;
    ln_contract_log_sink(sink, NULL);
    actions act;
    ln_outcome out;
    one_action(&act, "notes", "long", 0, (arg[]){ U(16000) }, 1, 0);
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, act.o.via.array.ptr, 1, limit, &out), 0);
    actions_free(&act);
    ln_contract_log_sink(NULL, NULL);
    ASSERT_EQ(heard_calls, 0);
    ASSERT_FAILS(out, LN_EGAS, "out of gas in notes.long at notes:5");
    world_free(&w);
}

TEST(contract_out_of_gas_and_of_memory_say_the_action_the_line_and_the_limit)
{
    world w = notes();
    actions act;
    ln_outcome out;
    one_action(&act, "notes", "spin", 0, NULL, 0, 0);
    ASSERT_EQ(ln_vm_run(w.vm, "alice", NULL, act.o.via.array.ptr, 1, 12345, &out), 0);
    actions_free(&act);
    ASSERT_EQ(out.gas_used, 12345);
    ASSERT_FAILS(out, LN_EGAS, "out of gas in notes.spin at notes:9: the limit is 12345 gas");
    ASSERT_FAILS(run(&w, NULL, "notes", "eat", NULL, 0), LN_EMEM,
                 "out of memory in notes.eat at notes:13: the cap is 32 MiB of memory");
    /* a query says the same, with its own limit */
    ASSERT_FAILS(query(&w, "notes", "spin", NULL, 0), LN_EGAS,
                 "out of gas in notes.spin at notes:9: the limit is 50000000 gas");
    world_free(&w);
}

static const ln_test tests[] = {
    T(contract_run_refuses_a_contract_that_is_no_name_and_a_method_that_is_empty_or_holds_nul),
    T(contract_query_refuses_a_contract_that_is_no_name_and_args_that_are_not_an_array),
    T(contract_result_and_event_data_of_exactly_64_kib_pass_and_one_byte_more_does_not),
    T(contract_takes_4000_arguments_and_refuses_more_with_etoobig),
    T(contract_string_arguments_over_16_kib_are_refused_but_a_deployed_source_is_not),
    T(contract_stored_value_that_does_not_decode_fails_the_read_with_the_codecs_code),
    T(contract_code_that_does_not_compile_fails_each_call_with_ecode),
    T(contract_signers_given_to_a_run_count_in_that_run_only),
    T(contract_events_are_canonical_maps_of_contract_data_and_name),
    T(contract_log_hands_its_text_and_the_calling_line_to_the_sink),
    T(contract_log_costs_the_length_of_its_text_before_it_is_built),
    T(contract_out_of_gas_and_of_memory_say_the_action_the_line_and_the_limit),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
