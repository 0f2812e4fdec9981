/*
** cli_int.h -- what cli.c (options, output, keys, reads, dispatch) shares
** with cli_tx.c (send and deploy) and cli_gov.c (`lunet gov`): the
** command's state and the helpers that print. Not a public face: cli.h is.
**
** Helpers that print return the exit code: 0, 1 (failed; the error is one
** line on c->err, "lunet CMD: what") or 2 (usage error).
*/
#ifndef LN_CLI_INT_H
#define LN_CLI_INT_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "crypto.h"
#include "opts.h"
#include "rpcc.h"

/* The options of every client command. */
#define COMMON_OPTS                                                                    \
    { "rpc", 0, LN_OPT_STR, "URL", 0, 0,                                               \
      "the node's JSON-RPC endpoint (default " LN_CLI_DEFAULT_RPC ")" },                \
    { "home", 0, LN_OPT_STR, "DIR", 0, 0,                                              \
      "where the keys are: DIR/keys/ACCOUNT.key (default " LN_CLI_DEFAULT_HOME ")" },   \
    { "as", 0, LN_OPT_STR, "ACCOUNT", 0, 0, "the sending account (send, deploy, gov)" }, \
    { "json", 0, LN_OPT_FLAG, NULL, 0, 0, "print machine-readable JSON" }

/* One run of a client command, from its options. */
typedef struct {
    FILE *out, *err;
    const char *cmd;
    const char *rpcurl, *as, *home;
    int json, no_wait, timeout_s;
    int max_fee_given;              /* --max-fee: else the fee comes from a dry run */
    const char *src_name, *src_file;   /* deploy: the account and the file it takes */
    uint64_t max_fee;
    char **pos;                     /* positional arguments */
    int npos;
    ln_rpcc *rpc;
    const ln_args *args;            /* every option, for a command's own */
} cli;

/* One line "lunet CMD: ..." on the err stream; return 1 (failed) and 2
** (usage, with "see lunet CMD --help"). */
int  ln__cli_fail(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  ln__cli_usage(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Calls method with params (taken, may be NULL); on success *result is the
** caller's. 0, or 1 with the error printed. */
int  ln__cli_rpc(cli *c, const char *method, cJSON *params, cJSON **result);
#define jstr ln_rpcc_str
#define juint ln_rpcc_uint

/* Prints v as one line of compact JSON: 0, or 1 on out of memory. */
int  ln__cli_json(cli *c, const cJSON *v);

/* Rows of `key  value`, aligned, for plain output. */
typedef struct {
    const char *key[64];
    char *val[64];
    int n;
} table;
void ln__cli_row(table *t, const char *key, char *val);      /* takes val (NULL: no row) */
void ln__cli_row_json(table *t, const char *key, const cJSON *v);
void ln__cli_table_print(table *t, FILE *out);

/* Prints a tx_get result {status, height, receipt} with its hash; the
** error with positions as files (ln__cli_positions). */
void ln__cli_receipt(cli *c, const char *hash, const cJSON *r);

/* Reads HOME/keys/NAME.key into *k: 0, or 1 with the error printed. */
int  ln__cli_key(cli *c, const char *name, ln_key *k);

/* cli_tx.c: text with each "ACCOUNT:LINE" of an account deployed from a
** file by this home (HOME/sources.json, while the account's code is still
** what was deployed) as "FILE:LINE"; malloc()ed, or NULL. */
char *ln__cli_positions(cli *c, const char *text);

/* The commands of cli_tx.c. */
int  ln__cli_send(cli *c);
int  ln__cli_deploy(cli *c);

/* Signs contract.method(args) as c->as, submits it and waits for the
** receipt, as `lunet send` does. With got, a receipt with ok = true is not
** printed: tx_get's answer (with its hash) goes to *got, the caller's. */
int  ln__cli_transact(cli *c, const char *contract, const char *method, const cJSON *args,
                      cJSON **got);
/* A Lua source file, NUL-terminated, at most a transaction's size, in *out
** (free()). 0 or 1. */
int  ln__cli_read_source(cli *c, const char *path, char **out);

/* cli_gov.c: `lunet gov SUBCOMMAND ...`, its options, and the help of each
** subcommand (`lunet gov vote --help`). */
extern const ln_opt ln__cli_gov_opts[];
int  ln__cli_gov(cli *c);
int  ln__cli_gov_help(int argc, char **argv, FILE *out);

#endif
