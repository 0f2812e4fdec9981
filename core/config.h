/*
** config.h -- config files are Lua data (`return { ... }`), evaluated in a
** fresh sandbox under an instruction and memory budget, with no access to
** anything but the whitelisted pure functions. Their result is canonical
** msgpack, so the caller reads it with codec.h.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_CONFIG_H
#define LN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Reads a file of at most LN_CODE_MAX bytes, NUL-terminated. LN_ENOTFOUND,
** LN_ETOOBIG, LN_EIO. *out is the caller's (free()). */
int ln_file_read(const char *path, char **out, size_t *len);
int ln_file_read_max(const char *path, size_t max, char **out, size_t *len);   /* up to max */

/* Evaluates the config file at path: its table as msgpack in *out (the
** caller's). LN_ECONFIG with a one-line reason in err. */
int ln_config_eval(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen);

/* 1 when id may be a chain id: 1-LN_CHAIN_ID_MAX printable ASCII bytes, no
** space, quote or backslash (it is written into files and logs as is). */
int ln_chain_id_valid(const char *id);

/* A plugin's name from its file's path: the file name up to its first dot
** ("consensus/bft.lua" -> "bft"), cut to fit out (n > 0). Returns the
** name's whole length, so a caller can refuse one that does not fit. */
size_t ln_plugin_name_of(const char *path, char *out, size_t n);

#endif
