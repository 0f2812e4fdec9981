/*
** cli_gov.c -- `lunet gov`: proposals to the governance contract `gov`
** (DESIGN, "Governance plugin") over JSON-RPC. propose, vote, execute and
** cancel are `lunet send gov METHOD ...` with the body built from the
** command line; list and show are `lunet query gov proposals|proposal`,
** printed for people. Whatever policy is in force decides: the CLI only
** builds bodies and shows records, so it works with any policy that keeps
** admin.lua's record layout.
*/
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "json.h"
#include "registry.h"

#define AT_DEFAULT "+10"

static const char usage_gov[] =
    "usage: lunet gov SUBCOMMAND [ARG...] [options]\n"
    "\n"
    "Proposals to the chain's governance contract `gov`; the policy in force\n"
    "(admin, council, supermajority, stake, ...) decides who may propose and\n"
    "vote, and when a proposal is carried out.\n"
    "\n"
    "  propose KIND ARG...  make a proposal (see lunet gov propose --help)\n"
    "  vote ID CHOICE       vote yes, no, abstain or veto (where the policy has it)\n"
    "  execute ID           carry out a passed proposal, or record the outcome of one\n"
    "                       whose voting has ended\n"
    "  cancel ID            withdraw your proposal while it is voting\n"
    "  list [STATUS]        the last 100 proposals, or those with STATUS\n"
    "  show ID              one proposal with its body\n"
    "\n"
    "propose, vote, execute and cancel sign as --as ACCOUNT and wait for the\n"
    "receipt; a refusal exits 1 with the policy's reason.\n";

static const char usage_propose[] =
    "usage: lunet gov propose KIND ARG... --as ACCOUNT [options]\n"
    "\n"
    "  plugin SLOT FILE [--at +N|H] [--params JSON] [--name NAME]\n"
    "        swap the plugin of SLOT (consensus, governance, pricing) for the\n"
    "        Lua code in FILE from height H, or N blocks past the head (default\n"
    "        " AT_DEFAULT "; a policy that votes or waits needs more)\n"
    "  param NAME VALUE          a chain param (swap_delay, block_gas_max, ...) or\n"
    "                            consensus.KEY / pricing.KEY of the plugin in force\n"
    "  member add|remove KEYHEX  a node key that may connect (64 hex digits)\n"
    "  validator add NAME KEYHEX | validator remove NAME\n"
    "  spend TO AMOUNT [--memo TEXT]   from the treasury account\n"
    "  code CONTRACT FILE        upgrade a contract whose owner is gov@active\n"
    "\n"
    "Sends gov.propose(KIND, BODY) and prints the proposal's id and status.\n"
    "VALUE is JSON when it is valid JSON, text otherwise.\n";

static const char usage_vote[] =
    "usage: lunet gov vote ID CHOICE --as ACCOUNT [options]\n"
    "\n"
    "Votes on proposal ID: yes, no, abstain, or veto where the policy has it.\n"
    "Prints the proposal's status after the vote.\n";

static const char usage_execute[] =
    "usage: lunet gov execute ID --as ACCOUNT [options]\n"
    "\n"
    "Anyone may: carries out a passed proposal once its timelock is over, or\n"
    "records the outcome of one whose voting has ended (expired, rejected,\n"
    "passed). Prints the proposal's status.\n";

static const char usage_cancel[] =
    "usage: lunet gov cancel ID --as ACCOUNT [options]\n"
    "\n"
    "Withdraws proposal ID, which must be yours and still voting.\n";

static const char usage_list[] =
    "usage: lunet gov list [STATUS] [options]\n"
    "\n"
    "The last 100 proposals, or those with STATUS (voting, passed, queued,\n"
    "executed, failed, rejected, expired, cancelled): id, kind, status,\n"
    "proposer and a summary. --json prints the records.\n";

static const char usage_show[] =
    "usage: lunet gov show ID [options]\n"
    "\n"
    "One proposal: its status, why, proposer, heights, votes and body (code\n"
    "as its size and BLAKE2b-256 hash, the hash a swap is scheduled under).\n"
    "--json prints the record, code included.\n";

/* Every option of `gov` (what is parsed); the help of a subcommand shows
** only its own. */
#define WRITE_OPTS                                                                          \
    { "max-fee", 0, LN_OPT_UINT, "N", 0, (uint64_t)LN_SAFE_INT,                             \
      "the most the transaction may cost (default 10000000)" },                             \
    { "timeout", 0, LN_OPT_UINT, "S", 1, 86400, "how long to wait for the receipt (default 30 s)" }
#define PROPOSE_OPTS                                                                        \
    { "at", 0, LN_OPT_STR, "+N|H", 0, 0,                                                    \
      "plugin: from height H, or N blocks past the head (default " AT_DEFAULT ")" },          \
    { "params", 0, LN_OPT_STR, "JSON", 0, 0, "plugin: the plugin's params, a JSON object" }, \
    { "name", 0, LN_OPT_STR, "NAME", 0, 0, "plugin: the name it takes (default: its NAME)" }, \
    { "memo", 0, LN_OPT_STR, "TEXT", 0, 0, "spend: a note kept with the proposal" }
#define END_OPTS { NULL, 0, 0, NULL, 0, 0, NULL }

const ln_opt ln__cli_gov_opts[] = { COMMON_OPTS, WRITE_OPTS, PROPOSE_OPTS, END_OPTS };
static const ln_opt write_opts[] = { COMMON_OPTS, WRITE_OPTS, END_OPTS };
static const ln_opt read_opts[] = { COMMON_OPTS, END_OPTS };

static const char *const statuses[] = { "voting", "passed", "queued", "executed", "failed",
                                        "rejected", "expired", "cancelled", NULL };

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

/* A proposal id: a positive integer. */
static int parse_id(cli *c, const char *s, uint64_t *id)
{
    if (ln_opts_uint(s, 1, (uint64_t)LN_SAFE_INT, id) < 0)
        return ln__cli_usage(c, "'%s' is not a proposal id (1, 2, ...)", s);
    return 0;
}

/* gov.method(arg) read-only: the result in *res (never NULL on success,
** the caller's). arg is taken; NULL sends no argument. 0 or 1. */
static int gov_query(cli *c, const char *method, cJSON *arg, cJSON **res)
{
    cJSON *p = cJSON_CreateObject(), *args = cJSON_CreateArray(), *out = NULL;
    if (!p || !args) {
        cJSON_Delete(p);
        cJSON_Delete(args);
        cJSON_Delete(arg);
        return ln__cli_fail(c, "out of memory");
    }
    if (arg) cJSON_AddItemToArray(args, arg);
    cJSON_AddStringToObject(p, "contract", "gov");
    cJSON_AddStringToObject(p, "method", method);
    cJSON_AddItemToObject(p, "args", args);
    if (ln__cli_rpc(c, "contract_query", p, &out)) return 1;
    *res = cJSON_DetachItemFromObjectCaseSensitive(out, "result");
    cJSON_Delete(out);
    if (!*res && !(*res = cJSON_CreateNull())) return ln__cli_fail(c, "out of memory");
    return 0;
}

/* ---- showing proposals ---------------------------------------------------- */

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The name a plugin's code gives itself (`NAME = "bft"`), read from the
** text as the node would find it in the table the code returns; "" when
** the text does not say. */
static void code_name(const char *code, char name[LN_PLUGIN_NAME_MAX + 1])
{
    name[0] = 0;
    for (const char *s = code; (s = strstr(s, "NAME")); s += 4) {
        if (s > code && (s[-1] == '_' || (s[-1] >= 'A' && s[-1] <= 'Z') || (s[-1] >= 'a' && s[-1] <= 'z')))
            continue;
        const char *q = s + 4;
        while (*q == ' ' || *q == '\t') q++;
        if (*q++ != '=') continue;
        while (*q == ' ' || *q == '\t') q++;
        if (*q != '"' && *q != '\'') continue;
        const char *e = strchr(q + 1, *q);
        if (!e || e - q - 1 < 1 || e - q - 1 > LN_PLUGIN_NAME_MAX) continue;
        memcpy(name, q + 1, (size_t)(e - q - 1));
        name[e - q - 1] = 0;
        return;
    }
}

/* "NAME, N bytes, hash HEX" of Lua source held in a body; malloc()ed. */
static char *code_text(const char *code, const char *given)
{
    uint8_t h[LN_HASH_LEN];
    char hex[2 * LN_HASH_LEN + 1], found[LN_PLUGIN_NAME_MAX + 1];
    size_t n = strlen(code);
    ln_hash(code, n, h);
    ln_hex(h, LN_HASH_LEN, hex);
    code_name(code, found);
    const char *name = given ? given : found;
    size_t len = strlen(name) + sizeof hex + 64;
    char *s = malloc(len);
    if (s) snprintf(s, len, "%s%s%zu bytes, hash %s", name, *name ? ", " : "", n, hex);
    return s;
}

/* A one-line summary of a proposal's body, for list; malloc()ed. */
static char *summary(const char *kind, const cJSON *b)
{
    char buf[256];
    const cJSON *v;
    const char *s;
    if (!kind || !cJSON_IsObject(b)) return strdup("");
    if (!strcmp(kind, "plugin")) {
        const char *code = str_of(b, "code");
        char name[LN_PLUGIN_NAME_MAX + 1] = "";
        if (str_of(b, "name")) snprintf(name, sizeof name, "%s", str_of(b, "name"));
        else if (code) code_name(code, name);
        v = cJSON_GetObjectItemCaseSensitive(b, "at");
        snprintf(buf, sizeof buf, "%s -> %s at %.0f (%zu bytes)", str_of(b, "slot") ? str_of(b, "slot") : "?",
                 *name ? name : "?", cJSON_IsNumber(v) ? v->valuedouble : -1.0, code ? strlen(code) : 0);
    } else if (!strcmp(kind, "param")) {
        char *val = (v = cJSON_GetObjectItemCaseSensitive(b, "value")) ? cJSON_PrintUnformatted(v) : NULL;
        snprintf(buf, sizeof buf, "%s = %s", str_of(b, "name") ? str_of(b, "name") : "?", val ? val : "?");
        free(val);
    } else if (!strcmp(kind, "member") || !strcmp(kind, "validator")) {
        const char *key = str_of(b, "key");
        snprintf(buf, sizeof buf, "%s%s%s%s%.16s%s", (s = str_of(b, "op")) ? s : "?",
                 str_of(b, "name") ? " " : "", str_of(b, "name") ? str_of(b, "name") : "",
                 key ? " " : "", key ? key : "", key && strlen(key) > 16 ? "..." : "");
    } else if (!strcmp(kind, "spend")) {
        v = cJSON_GetObjectItemCaseSensitive(b, "amount");
        snprintf(buf, sizeof buf, "%.0f to %s%s%.60s", cJSON_IsNumber(v) ? v->valuedouble : -1.0,
                 (s = str_of(b, "to")) ? s : "?", str_of(b, "memo") ? ": " : "",
                 str_of(b, "memo") ? str_of(b, "memo") : "");
    } else if (!strcmp(kind, "code")) {
        const char *src = str_of(b, "source");
        snprintf(buf, sizeof buf, "%s (%zu bytes)", (s = str_of(b, "contract")) ? s : "?",
                 src ? strlen(src) : 0);
    } else {
        char *all = cJSON_PrintUnformatted(b);
        snprintf(buf, sizeof buf, "%.80s", all ? all : "");
        free(all);
    }
    return strdup(buf);
}

/* The fields of a proposal record, in this order, then any others. */
static const char *const record_order[] = { "id", "kind", "status", "why", "proposer", "height",
                                            "ends", "eta", "votes", "of", "mode", "total",
                                            "deposit", "deposit_to", NULL };

/* The fields of a body, in this order (those a kind has), then any others. */
static const char *const body_order[] = { "slot", "name", "value", "at", "params", "code", "op",
                                          "key", "to", "amount", "memo", "contract", "source", NULL };

static void body_row(table *t, const cJSON *f, const char *given)
{
    if (cJSON_IsString(f) && (!strcmp(f->string, "code") || !strcmp(f->string, "source")))
        ln__cli_row(t, f->string, code_text(f->valuestring, !strcmp(f->string, "code") ? given : ""));
    else
        ln__cli_row(t, f->string, ln_json_text(f));
}

static void show_rows(table *t, const cJSON *p)
{
    const cJSON *f, *body = cJSON_GetObjectItemCaseSensitive(p, "body");
    for (const char *const *k = record_order; *k; k++)
        if ((f = cJSON_GetObjectItemCaseSensitive(p, *k)) && !cJSON_IsNull(f))
            ln__cli_row(t, *k, ln_json_text(f));
    for (f = p->child; f; f = f->next)
        if (f->string && strcmp(f->string, "body") && !in_list(f->string, record_order))
            ln__cli_row(t, f->string, ln_json_text(f));
    if (!cJSON_IsObject(body)) return;
    const char *given = str_of(body, "name");
    for (const char *const *k = body_order; *k; k++)
        if ((f = cJSON_GetObjectItemCaseSensitive(body, *k))) body_row(t, f, given);
    for (f = body->child; f; f = f->next)
        if (f->string && !in_list(f->string, body_order)) body_row(t, f, given);
}

/* The record of proposal id, printed; fail when there is none. */
static int show(cli *c, uint64_t id)
{
    cJSON *p = NULL;
    if (gov_query(c, "proposal", cJSON_CreateNumber((double)id), &p)) return 1;
    int rc = 0;
    if (!cJSON_IsObject(p)) {
        rc = ln__cli_fail(c, "no proposal %llu", (unsigned long long)id);
    } else if (c->json) {
        rc = ln__cli_json(c, p);
    } else {
        table t = { .n = 0 };
        show_rows(&t, p);
        ln__cli_table_print(&t, c->out);
    }
    cJSON_Delete(p);
    return rc;
}

static int gov_show(cli *c)
{
    uint64_t id;
    if (c->npos != 1) return ln__cli_usage(c, "show wants one ID");
    if (parse_id(c, c->pos[0], &id)) return 2;
    return show(c, id);
}

static int gov_list(cli *c)
{
    if (c->npos > 1) return ln__cli_usage(c, "list takes at most one STATUS");
    if (c->npos == 1 && !in_list(c->pos[0], statuses))
        return ln__cli_usage(c, "'%s' is no status (voting, passed, queued, executed, failed, "
                             "rejected, expired, cancelled)", c->pos[0]);
    cJSON *res = NULL;
    if (gov_query(c, "proposals", c->npos ? cJSON_CreateString(c->pos[0]) : NULL, &res)) return 1;
    int rc = 0;
    if (c->json) {
        rc = ln__cli_json(c, res);
    } else if (!cJSON_IsArray(res)) {
        rc = ln__cli_fail(c, "gov.proposals answered with no list");
    } else if (cJSON_GetArraySize(res) == 0) {
        fprintf(c->out, "no proposals%s%s\n", c->npos ? " " : "", c->npos ? c->pos[0] : "");
    } else {
        static const char *const cols[] = { "id", "kind", "status", "proposer" };
        int w[4] = { 2, 4, 6, 8 };
        const cJSON *p;
        cJSON_ArrayForEach(p, res)
            for (int i = 0; i < 4; i++) {
                char *s = ln_json_text(cJSON_GetObjectItemCaseSensitive(p, cols[i]));
                if (s && (int)strlen(s) > w[i]) w[i] = (int)strlen(s);
                free(s);
            }
        fprintf(c->out, "%-*s  %-*s  %-*s  %-*s  %s\n", w[0], "ID", w[1], "KIND", w[2], "STATUS",
                w[3], "PROPOSER", "SUMMARY");
        cJSON_ArrayForEach(p, res) {
            char *f[4], *sum = summary(str_of(p, "kind"), cJSON_GetObjectItemCaseSensitive(p, "body"));
            for (int i = 0; i < 4; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, cols[i]);
                f[i] = v ? ln_json_text(v) : strdup("-");
            }
            fprintf(c->out, "%-*s  %-*s  %-*s  %-*s  %s\n", w[0], f[0] ? f[0] : "", w[1], f[1] ? f[1] : "",
                    w[2], f[2] ? f[2] : "", w[3], f[3] ? f[3] : "", sum ? sum : "");
            for (int i = 0; i < 4; i++) free(f[i]);
            free(sum);
        }
    }
    cJSON_Delete(res);
    return rc;
}

/* ---- transactions ---------------------------------------------------------- */

/* gov.method(args) as --as (args taken); then the proposal, by id or, for
** propose (id 0), by the receipt's result: its status, or with --json
** tx_get's answer with the record as "proposal". */
static int gov_send(cli *c, const char *method, cJSON *args, uint64_t id)
{
    cJSON *st = NULL, *p = NULL;
    int rc = ln__cli_transact(c, "gov", method, args, &st);
    cJSON_Delete(args);
    if (rc) return rc;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "receipt");
    if (!id && ln_rpcc_uint(r, "result", &id) < 0) {
        rc = ln__cli_fail(c, "transaction %s: gov.%s gave no proposal id", str_of(st, "hash"), method);
    } else if ((rc = gov_query(c, "proposal", cJSON_CreateNumber((double)id), &p)) == 0) {
        if (c->json) {
            cJSON_AddItemToObject(st, "proposal", p);
            p = NULL;
            rc = ln__cli_json(c, st);
        } else {
            static const char *const order[] = { "kind", "status", "why", NULL };
            table t = { .n = 0 };
            char *n = malloc(24);
            if (n) snprintf(n, 24, "%llu", (unsigned long long)id);
            ln__cli_row(&t, "proposal", n);
            for (const char *const *k = order; *k; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, *k);
                if (v && !cJSON_IsNull(v)) ln__cli_row(&t, *k, ln_json_text(v));
            }
            ln__cli_row(&t, "tx", str_of(st, "hash") ? strdup(str_of(st, "hash")) : NULL);
            ln__cli_row(&t, "height", ln_json_text(cJSON_GetObjectItemCaseSensitive(st, "height")));
            ln__cli_row(&t, "gas_used", ln_json_text(cJSON_GetObjectItemCaseSensitive(r, "gas_used")));
            ln__cli_table_print(&t, c->out);
        }
    }
    cJSON_Delete(p);
    cJSON_Delete(st);
    return rc;
}

/* [ID] or [ID, CHOICE] for vote, execute, cancel. */
static int gov_id_call(cli *c, const char *method, int with_choice)
{
    uint64_t id;
    if (c->npos != 1 + with_choice)
        return ln__cli_usage(c, "%s wants ID%s", method, with_choice ? " CHOICE" : "");
    if (parse_id(c, c->pos[0], &id)) return 2;
    static const char *const choices[] = { "yes", "no", "abstain", "veto", NULL };
    if (with_choice && !in_list(c->pos[1], choices))
        return ln__cli_usage(c, "'%s' is no choice (yes, no, abstain, veto)", c->pos[1]);
    if (!c->as) return ln__cli_usage(c, "--as ACCOUNT is required: who signs the transaction");
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, cJSON_CreateNumber((double)id));
    if (with_choice) cJSON_AddItemToArray(args, cJSON_CreateString(c->pos[1]));
    return gov_send(c, method, args, id);
}

static int gov_vote(cli *c) { return gov_id_call(c, "vote", 1); }
static int gov_execute(cli *c) { return gov_id_call(c, "execute", 0); }
static int gov_cancel(cli *c) { return gov_id_call(c, "cancel", 0); }

static int hex_key(cli *c, const char *s, cJSON *body)
{
    uint8_t pk[LN_PK_LEN];
    if (strlen(s) != 2 * LN_PK_LEN || ln_unhex(s, pk, sizeof pk) < 0)
        return ln__cli_usage(c, "'%s' is not a node key (64 hex digits)", s);
    cJSON_AddStringToObject(body, "key", s);
    return 0;
}

static int name_arg(cli *c, const char *s, const char *what, cJSON *body, const char *field)
{
    if (!ln_name_valid(s, strlen(s)))
        return ln__cli_usage(c, "%s '%s' is not an account name (1-12 of a-z 0-9 .)", what, s);
    cJSON_AddStringToObject(body, field, s);
    return 0;
}

/* The plugin body: {slot, code, at, params?, name?}. */
static int plugin_body(cli *c, cJSON *body)
{
    static const char *const slots[] = { "consensus", "governance", "pricing", NULL };
    if (c->npos != 3) return ln__cli_usage(c, "propose plugin wants SLOT FILE");
    if (!in_list(c->pos[1], slots))
        return ln__cli_usage(c, "'%s' is no plugin slot (consensus, governance, pricing)", c->pos[1]);
    const char *at = ln_args_str(c->args, "at", AT_DEFAULT), *name = ln_args_str(c->args, "name", NULL);
    const char *params = ln_args_str(c->args, "params", NULL);
    uint64_t h;
    if (ln_opts_uint(at[0] == '+' ? at + 1 : at, at[0] == '+' ? 1 : 0, (uint64_t)LN_SAFE_INT, &h) < 0)
        return ln__cli_usage(c, "--at wants a height H or +N blocks past the head, not '%s'", at);
    if (name && (!*name || strlen(name) > LN_PLUGIN_NAME_MAX))
        return ln__cli_usage(c, "--name must be 1-%d characters", LN_PLUGIN_NAME_MAX);
    cJSON *pv = NULL;
    if (params) {
        char why[320];
        if (ln_json_arg(params, &pv, why, sizeof why) < 0 || !cJSON_IsObject(pv)) {
            cJSON_Delete(pv);
            return ln__cli_usage(c, "--params wants a JSON object, not '%.60s'", params);
        }
    }
    char *code = NULL;
    if (ln__cli_read_source(c, c->pos[2], &code)) {
        cJSON_Delete(pv);
        return 1;
    }
    if (at[0] == '+') {
        cJSON *info = NULL;
        uint64_t head;
        int bad = ln__cli_rpc(c, "chain_info", NULL, &info) ||
                  (ln_rpcc_uint(info, "height", &head) < 0 && ln__cli_fail(c, "chain_info: no height"));
        cJSON_Delete(info);
        if (bad) {
            free(code);
            cJSON_Delete(pv);
            return 1;
        }
        h += head;
    }
    cJSON_AddStringToObject(body, "slot", c->pos[1]);
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddNumberToObject(body, "at", (double)h);
    if (pv) cJSON_AddItemToObject(body, "params", pv);
    if (name) cJSON_AddStringToObject(body, "name", name);
    free(code);
    return 0;
}

/* The body of a proposal of kind pos[0] from pos[1..]: 0, or the exit code. */
static int build_body(cli *c, const char *kind, cJSON *body)
{
    int n = c->npos;
    char **a = c->pos;
    if (!strcmp(kind, "plugin")) return plugin_body(c, body);
    if (!strcmp(kind, "param")) {
        if (n != 3) return ln__cli_usage(c, "propose param wants NAME VALUE");
        cJSON *v;
        char why[320];
        if (ln_json_arg(a[2], &v, why, sizeof why) < 0) return ln__cli_usage(c, "VALUE: %s", why);
        cJSON_AddStringToObject(body, "name", a[1]);
        cJSON_AddItemToObject(body, "value", v);
        return 0;
    }
    if (!strcmp(kind, "member")) {
        if (n != 3 || (strcmp(a[1], "add") && strcmp(a[1], "remove")))
            return ln__cli_usage(c, "propose member wants add|remove KEYHEX");
        cJSON_AddStringToObject(body, "op", a[1]);
        return hex_key(c, a[2], body);
    }
    if (!strcmp(kind, "validator")) {
        int add = n > 1 && !strcmp(a[1], "add");
        if (!(add && n == 4) && !(n == 3 && !strcmp(a[1], "remove")))
            return ln__cli_usage(c, "propose validator wants add NAME KEYHEX or remove NAME");
        cJSON_AddStringToObject(body, "op", a[1]);
        if (name_arg(c, a[2], "NAME", body, "name")) return 2;
        return add ? hex_key(c, a[3], body) : 0;
    }
    if (!strcmp(kind, "spend")) {
        uint64_t amount;
        if (n != 3) return ln__cli_usage(c, "propose spend wants TO AMOUNT");
        if (name_arg(c, a[1], "TO", body, "to")) return 2;
        if (ln_opts_uint(a[2], 1, (uint64_t)LN_SAFE_INT, &amount) < 0)
            return ln__cli_usage(c, "AMOUNT must be a positive integer, not '%s'", a[2]);
        cJSON_AddNumberToObject(body, "amount", (double)amount);
        const char *memo = ln_args_str(c->args, "memo", NULL);
        if (memo) cJSON_AddStringToObject(body, "memo", memo);
        return 0;
    }
    if (!strcmp(kind, "code")) {
        char *src = NULL;
        if (n != 3) return ln__cli_usage(c, "propose code wants CONTRACT FILE");
        if (name_arg(c, a[1], "CONTRACT", body, "contract")) return 2;
        if (ln__cli_read_source(c, a[2], &src)) return 1;
        cJSON_AddStringToObject(body, "source", src);
        free(src);
        return 0;
    }
    return ln__cli_usage(c, "unknown KIND '%s' (plugin, param, member, validator, spend, code)", kind);
}

static int gov_propose(cli *c)
{
    if (c->npos < 1) return ln__cli_usage(c, "propose wants KIND ARG...");
    const char *kind = c->pos[0];
    static const char *const plugin_only[] = { "at", "params", "name", NULL };
    for (const char *const *o = plugin_only; *o; o++)
        if (ln_args_get(c->args, *o)->given && strcmp(kind, "plugin"))
            return ln__cli_usage(c, "--%s is for plugin proposals", *o);
    if (ln_args_get(c->args, "memo")->given && strcmp(kind, "spend"))
        return ln__cli_usage(c, "--memo is for spend proposals");
    cJSON *body = cJSON_CreateObject();
    if (!body) return ln__cli_fail(c, "out of memory");
    int rc = build_body(c, kind, body);
    if (rc == 0 && !c->as) rc = ln__cli_usage(c, "--as ACCOUNT is required: who signs the transaction");
    if (rc) {
        cJSON_Delete(body);
        return rc;
    }
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, cJSON_CreateString(kind));
    cJSON_AddItemToArray(args, body);
    return gov_send(c, "propose", args, 0);
}

/* ---- dispatch ---------------------------------------------------------------- */

static const struct {
    const char *name, *cmd;      /* cmd: how messages name it */
    int (*fn)(cli *);
    const char *usage;
    int writes;                  /* propose-only options aside, takes --as */
} subs[] = {
    { "propose", "gov propose", gov_propose, usage_propose, 1 },
    { "vote",    "gov vote",    gov_vote,    usage_vote,    1 },
    { "execute", "gov execute", gov_execute, usage_execute, 1 },
    { "cancel",  "gov cancel",  gov_cancel,  usage_cancel,  1 },
    { "list",    "gov list",    gov_list,    usage_list,    0 },
    { "show",    "gov show",    gov_show,    usage_show,    0 },
};
#define NSUBS (sizeof subs / sizeof *subs)

static int sub_of(const char *s)
{
    for (size_t i = 0; s && i < NSUBS; i++)
        if (!strcmp(s, subs[i].name)) return (int)i;
    return -1;
}

int ln__cli_gov_help(int argc, char **argv, FILE *out)
{
    int i = argc > 1 ? sub_of(argv[1]) : -1;
    fprintf(out, "%s\noptions (anywhere among the arguments; `--` ends them):\n",
            i < 0 ? usage_gov : subs[i].usage);
    ln_opts_usage(out, i < 0 || subs[i].fn == gov_propose ? ln__cli_gov_opts
                       : subs[i].writes ? write_opts : read_opts);
    return 0;
}

int ln__cli_gov(cli *c)
{
    if (c->npos < 1)
        return ln__cli_usage(c, "which? propose, vote, execute, cancel, list or show");
    int i = sub_of(c->pos[0]);
    if (i < 0)
        return ln__cli_usage(c, "unknown subcommand '%s' (propose, vote, execute, cancel, list, show)",
                             c->pos[0]);
    c->cmd = subs[i].cmd;
    c->pos++;
    c->npos--;
    if (!subs[i].writes) {
        static const char *const write_only[] = { "at", "params", "name", "memo", "max-fee", "timeout", NULL };
        for (const char *const *o = write_only; *o; o++)
            if (ln_args_get(c->args, *o)->given)
                return ln__cli_usage(c, "--%s is for propose, vote, execute and cancel", *o);
    }
    return subs[i].fn(c);
}
