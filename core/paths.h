/*
** paths.h -- where lunet finds the files it ships (configs/, consensus/,
** plugins/, contracts/, templates/, lua/): in the working directory, where
** `make install` puts them (PREFIX/bin/lunet -> PREFIX/share/lunet/),
** beside the binary (build/lunet -> ./), or, for a binary that runs where
** CMake built it, in the source tree it was built from. Every lookup of a
** shipped file goes through ln_path_find.
*/
#ifndef LN_PATHS_H
#define LN_PATHS_H

#include <stddef.h>

/* The first readable of those places for rel ("configs/dev.lua"): 0 with
** the path in out, or -1. An absolute rel is taken as it is. */
int ln_path_find(const char *rel, char *out, size_t n);

#endif
