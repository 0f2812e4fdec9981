/*
** main.c -- the lunet command line: one table of commands, which also
** makes the usage text. Each command is a function taking its own argv
** (argv[0] is the command's name); `lunet CMD --help` prints its usage.
** Errors are one line on stderr; exit codes 0 done, 1 failed, 2 usage.
*/
#include <stdio.h>
#include <string.h>

#include <lua.h>

#include "bench.h"
#include "cli.h"
#include "crypto.h"
#include "daemon.h"
#include "err.h"
#include "opts.h"
#include "replay.h"
#include "sandbox.h"
#include "scaffold.h"
#include "spec.h"
#include "testnet.h"

#define LUNET_VERSION "0.1.0"

static int cmd_fingerprint(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_client(int argc, char **argv) { return ln_cli_run(argc, argv, stdout, stderr); }

static const struct {
    const char *name, *args;     /* "tx", "HASH" */
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "dev", "", ln_cmd_dev, "run a one-validator development chain (data in .lunet/dev)" },
    { "init", "", ln_cmd_init, "create a node's chain from a config (--home DIR --config FILE)" },
    { "start", "", ln_cmd_start, "run a node on an existing home (--home DIR)" },
    { "testnet", "N", ln_cmd_testnet, "write N node homes sharing one genesis (--out DIR)" },
    { "keys", "", cmd_client, "create, list and show account keys (new NAME, list, show NAME)" },
    { "deploy", "", cmd_client, "deploy a Lua contract: NAME FILE [ARG...] --as ACCOUNT" },
    { "send", "", cmd_client, "sign and send a transaction, print its receipt" },
    { "query", "", cmd_client, "run a contract method read-only, print the result" },
    { "tx", "HASH", cmd_client, "a transaction's status and receipt" },
    { "block", "[HEIGHT]", cmd_client, "a block (default: the head)" },
    { "info", "", cmd_client, "the node's chain_info" },
    { "gov", "SUBCOMMAND", cmd_client, "governance: propose, vote, execute, cancel, list, show" },
    { "account", "NAME", cmd_client, "an account: balance, nonces, permissions, code hash" },
    { "new", "NAME", ln_cmd_new, "write contracts/NAME.lua and its spec from a template" },
    { "test", "[PATH...]", ln_cmd_test, "run busted specs against the real sandbox (default: contracts/)" },
    { "bench", "", ln_cmd_bench, "the standard workload: M token transfers, tx/s, latency, CPU" },
    { "pricing", "replay", ln_cmd_pricing, "FILE: what past blocks would pay under another pricing model" },
    { "fingerprint", "", cmd_fingerprint, "print this build's VM fingerprint (gas of a calibration suite)" },
    { "version", "", cmd_version, "print the version" },
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *out)
{
    fputs("usage: lunet <command> [options]\n"
          "\n"
          "lunet is a blockchain node for permissioned consortium chains whose\n"
          "consensus, governance, pricing and contracts are Lua plugins running in a\n"
          "deterministic, metered LuaJIT sandbox.\n"
          "\n"
          "commands:\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char head[32];
        snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
        fprintf(out, "  %-15s  %s\n", head, commands[i].summary);
    }
    fprintf(out, "  %-15s  %s\n", "help", "this text");
    fputs("\n`lunet <command> --help` describes each command.\n", out);
}

static int cmd_fingerprint(int argc, char **argv)
{
    if (ln_opts_wants_help(argc, argv)) {
        puts("usage: lunet fingerprint\n\nPrints the VM fingerprint: a hash of the gas this "
             "build meters for a fixed\ncalibration suite. Nodes whose builds meter "
             "differently print different values.");
        return 0;
    }
    char hex[65];
    int rc = ln_sandbox_fingerprint(hex);
    if (rc < 0) {
        fprintf(stderr, "lunet fingerprint: %s\n", ln_strerror(rc));
        return 1;
    }
    puts(hex);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("lunet %s (%s)\n", LUNET_VERSION, LUA_RELEASE);
    return 0;
}

int main(int argc, char **argv)
{
    if (ln_crypto_init() < 0) {
        fprintf(stderr, "lunet: libsodium failed to initialise\n");
        return 1;
    }
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "lunet: unknown command '%s' (see lunet help)\n", argv[1]);
    return 2;
}
