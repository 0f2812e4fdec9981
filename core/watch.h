/*
** watch.h -- `lunet dev --watch`: the dev node keeps an eye on the
** contracts of the working directory (the .lua files of contracts/).
**
** An edited contracts/NAME.lua whose NAME is an account with a contract is
** upgraded in place: the node signs sys.deploy(NAME, <new source>) with a
** key of HOME/keys that holds NAME@active (the deployer's, as `lunet
** deploy --as ACCOUNT` left it) and submits it like any client, so the code
** is replaced, the storage kept and init not run again. Then
** contracts/NAME_spec.lua, if there is one, runs in a child process
** (`lunet test contracts/NAME_spec.lua`, its output on the node's stdout
** and stderr); an edited spec runs too. Each step is one log line
** ("watch: ..."). Code that does not compile is not sent: its FILE:LINE is
** logged. Changes are found by polling (a scan of the folder every
** LN_WATCH_MS: size, time and inode, then BLAKE2b of what changed), which
** works on every file system; a file is taken once it has not changed for
** one scan.
**
** The plugin files are watched too: for each slot, the file the config
** names (`consensus = { plugin = FILE }`; governance and pricing default to
** plugins/governance/admin.lua and plugins/pricing/flat.lua), found as the
** genesis finds it (ln_genesis_plugin_file: from the working directory
** first). An edited one that compiles, is not the slot's code already and
** passes the probe a proposal goes through (ln_node_plugin_probe) is
** proposed by the chain's admin, signed with its key of HOME/keys:
** gov.propose("plugin", {slot, code, params = the params in force, at,
** name = the file's}). The policy decides (admin.lua: at once); the swap
** goes in at `at` as every swap does, and the watcher sends what makes the
** blocks it needs on the dev chain, which makes blocks only for
** transactions. A refusal (the receipt's error) is logged; code that does
** not compile or load is not sent. One change (upgrade or swap) at a time.
**
** Runs on the loop thread. int results: 0 or a negative LN_E* code.
*/
#ifndef LN_WATCH_H
#define LN_WATCH_H

#include <uv.h>

#include "node.h"

#define LN_WATCH_MS 200

typedef struct ln_watch ln_watch;

/* Watches dir (".../contracts") for node n, whose keys are in home/keys,
** and the plugin files of the config file config (NULL: none). The files
** there now are the baseline: nothing is done for them. */
int  ln_watch_start(uv_loop_t *loop, ln_node *n, const char *home, const char *dir,
                    const char *config, ln_watch **out);
/* Stops watching: a spec that runs is sent SIGTERM; the handles close on
** the loop, then w is freed. NULL is a no-op. */
void ln_watch_stop(ln_watch *w);

#endif
