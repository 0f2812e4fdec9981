/*
** daemon.h -- the commands that run a node: `lunet dev`, `lunet start`, and
** `lunet init`, which creates a node's chain from a config and exits.
** Each returns the process exit code: 0, 1 on failure, 2 on usage errors.
*/
#ifndef LN_DAEMON_H
#define LN_DAEMON_H

int ln_cmd_dev(int argc, char **argv);
int ln_cmd_start(int argc, char **argv);
int ln_cmd_init(int argc, char **argv);

#endif
