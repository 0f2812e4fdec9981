/*
** cli.h -- the client commands of the lunet CLI: keys, deploy, send, query,
** tx, block, info, account, and gov (proposals to the governance contract: propose,
** vote, execute, cancel, list, show; cli_gov.c). They reach a node only
** through its JSON-RPC 2.0 over HTTP (POST to the --rpc URL; DESIGN, "Wire
** format" and "Outside interfaces").
**
** Exit codes: 0 done, 1 the operation failed (a node error, a failed
** transaction, a missing key file...), 2 a usage error. Errors are one line
** on the err stream, "lunet CMD: what was wrong".
**
** Method arguments follow json.h: JSON when valid, text otherwise; floats,
** integers beyond +-(2^53-1), and null inside arrays/objects are refused.
**
** Nonces: send and deploy take account_get's pending_nonce, past the
** account's transactions waiting in the node's mempool, so sends in a row
** (--no-wait) take one nonce each.
**
** Fees: without --max-fee, send and deploy first ask the node for a dry
** run of the signed transaction (tx_estimate, at the committed nonce) and
** give max_fee = its fee x1.5 + LN_CLI_FEE_MARGIN, at most the balance.
**
** Positions: a contract's errors name its account ("token:12: boom", the
** same text on every node). deploy notes in HOME/sources.json which file
** each account runs (with the code's hash); the CLI then prints
** "contracts/token.lua:12: boom" while the node's code_hash is the file's.
** deploy compiles the file first and sends nothing when it does not.
**
** Inputs are borrowed for the call. int results of the helpers: 0 or a
** negative LN_E* code (core/err.h) with a one-line reason in err.
*/
#ifndef LN_CLI_H
#define LN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define LN_CLI_DEFAULT_RPC      "http://127.0.0.1:8765"
#define LN_CLI_DEFAULT_HOME     ".lunet/dev"
#define LN_CLI_DEFAULT_MAX_FEE  10000000ull   /* when the node gives no estimate */
#define LN_CLI_DRY_RUN_FEE      50000000ull   /* the most a dry run may spend (LN_TX_GAS_MAX) */
#define LN_CLI_FEE_MARGIN       1000          /* max_fee = the dry run's fee x1.5 + this */
#define LN_CLI_EXPIRES_AFTER    100       /* expires = head height + this */
#define LN_CLI_WAIT_SECONDS     30        /* send/deploy: wait for the receipt */
#define LN_CLI_RPC_TIMEOUT_MS   10000     /* one JSON-RPC request */

/* 1 when cmd is one of the commands above, else 0. */
int  ln_cli_is_command(const char *cmd);

/* Runs argv[0] (one of the commands) with its arguments argv[1..argc).
** Results go to out, errors to err. Returns the exit code (0, 1 or 2).
** Call ln_crypto_init() first. */
int  ln_cli_run(int argc, char **argv, FILE *out, FILE *err);

/* ---- pure parts, for tests and other clients ---------------------------- */

/* Parses n method arguments (ln_json_arg each) into a new JSON array *out
** (the caller's, cJSON_Delete). On error err names the argument, counting
** from first: "argument 2: 1.5 is not an integer: ...". */
int  ln_cli_args(int n, char *const *texts, int first, cJSON **out,
                 char *err, size_t errlen);

/* One action, one sender: the unsigned transaction of DESIGN's wire format. */
typedef struct {
    const char *account;        /* sender, an account name */
    const char *chain_id;       /* from chain_info, 1-64 bytes */
    uint64_t nonce, expires, max_fee;
    const char *contract;       /* an account name */
    const char *method;         /* 1-64 bytes */
    const cJSON *args;          /* a JSON array, as from ln_cli_args */
} ln_cli_tx;

/* The canonical msgpack of {account, actions: [{args, contract, method}],
** chain_id, expires, max_fee, nonce}: *out is malloc()ed (free()), set only
** on success. LN_EBADNAME, LN_EINVAL (chain_id, method, args not an array),
** or an ln_json_pack code for an argument. */
int  ln_cli_tx_unsigned(const ln_cli_tx *t, uint8_t **out, size_t *outlen,
                        char *err, size_t errlen);

#endif
