/*
** bench.h -- `lunet bench`: the standard workload of DESIGN ("Outside
** interfaces"). S funded senders, M pre-signed token transfers to distinct
** fresh recipients, submitted in parallel over JSON-RPC (batches of
** tx_submit on keep-alive connections, one thread each), timed from the
** first submit to the last transaction seen committed.
**
** Setup, not timed: the funder (alice) deploys contracts/token.lua under a
** fresh name and creates the senders (fresh keys, held in memory), each paid
** native balance for its fees and token balance for its transfers, 16
** actions per transaction. Then all M transfers are signed: transfer k is
** sender k % S's nonce k / S, to recipient "r" TAG base36(k), amount 1.
**
** Commit detection: the poller reads GET /health (the head height) every
** few ms and, when it moves, the senders' nonces (one account_get batch): a
** committed nonce n means the sender's transfers below n are committed.
** That costs the node O(S) per block, not O(M). After the window every
** transfer's receipt is checked with tx_get.
**
** Reports tx/s, latency p50/p99 (batch sent -> first seen committed), node
** CPU per transaction (utime+stime of /proc/PID/stat over the window / M)
** and the node's peak RSS (VmHWM); progress lines go to stderr.
*/
#ifndef LN_BENCH_H
#define LN_BENCH_H

/* Runs the benchmark with its own argv (argv[0] = "bench"). Returns the exit
** code: 0 when every transfer was accepted, committed and succeeded; 1 when
** one was refused, failed or did not commit in time, or setup failed; 2 on a
** usage error. Call ln_crypto_init() first. */
int ln_cmd_bench(int argc, char **argv);

#endif
