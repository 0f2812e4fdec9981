/*
** testnet.h -- `lunet testnet N --out DIR`: N validator homes on this
** machine that share one genesis, each run by `lunet start --home
** DIR/node<i>` (JSON-RPC on 127.0.0.1:P+2i, P2P on P+2i+1).
** Returns the process exit code: 0, 1 on failure, 2 on usage errors.
*/
#ifndef LN_TESTNET_H
#define LN_TESTNET_H

int ln_cmd_testnet(int argc, char **argv);

#endif
