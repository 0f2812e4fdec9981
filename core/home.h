/*
** home.h -- a node's home folder as a whole: whether a config makes the
** chain a home holds, and wiping that chain (`--reset`).
**
** A home holds data/ (the chain: LevelDB), plugin/ (the consensus plugin's
** crash-safe memory), keys/, and optionally node.lua and config.lua. Only
** data/ and plugin/ are the chain's; the rest is the operator's.
** int results: 0 or a negative LN_E* code (err.h), with a one-line reason
** in err.
*/
#ifndef LN_HOME_H
#define LN_HOME_H

#include <stddef.h>

/* 0 when home has no chain yet or config makes the chain it has: the same
** chain id and genesis hash (block 0's: chain id, state root and, when the
** config sets genesis_time, time). LN_ECONFIG when they differ, saying
** which and how to go on; LN_ELOCKED when a node runs on home; the
** config's own errors as ln_genesis_build gives them. Nothing is written. */
int ln_home_check(const char *home, const char *config, char *err, size_t errlen);

/* Removes home's chain (data/ and plugin/), keeping keys and the rest.
** 0 also when there was none. LN_EIO. */
int ln_home_reset(const char *home, char *err, size_t errlen);

#endif
