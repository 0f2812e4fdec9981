/*
** opts.h -- command-line options from one table per command.
**
** A command declares its options as an array of ln_opt and gets them back
** parsed, with the positional arguments in order. Options may come anywhere
** among the arguments; `--` ends them. Long options are `--name VALUE` or
** `--name=VALUE`; a short one is `-x VALUE`. Nothing is kept in static or
** thread-local state, and argv is not reordered.
**
** int results: 0, or LN_EINVAL for a usage error, with a one-line reason in
** err ("unknown option --frob", "--timeout wants an integer 1..86400,
** not 'x'").
*/
#ifndef LN_OPTS_H
#define LN_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    LN_OPT_FLAG,      /* no value: given or not */
    LN_OPT_STR,       /* a value; the last one given counts */
    LN_OPT_UINT,      /* a strict decimal within [lo, hi]; the last one counts */
    LN_OPT_LIST       /* a value, repeatable: every one, in order */
};

typedef struct {
    const char *name;        /* long name without "--"; NULL ends a table */
    char short_name;         /* 'n' for -n, 0 for none */
    int kind;                /* LN_OPT_* */
    const char *metavar;     /* "URL", for the usage text (not for flags) */
    uint64_t lo, hi;         /* LN_OPT_UINT bounds */
    const char *help;        /* one line */
} ln_opt;

/* What was given for one option. */
typedef struct {
    int given;               /* times it appeared */
    const char *str;         /* STR, UINT: the last value (borrowed from argv) */
    uint64_t num;            /* UINT */
    const char **list;       /* LIST: every value (malloc()ed array) */
    size_t nlist;
} ln_optval;

typedef struct {
    const ln_opt *table;
    ln_optval *v;            /* one per table entry, in table order */
    char **pos;              /* positional arguments, borrowed from argv */
    int npos;
} ln_args;

/* Parses argv[1..argc) against table (ended by a NULL name). *out is the
** caller's to ln_args_free, also on failure. LN_EINVAL, LN_ENOMEM. */
int  ln_opts_parse(const ln_opt *table, int argc, char **argv, ln_args *out,
                   char *err, size_t errlen);
void ln_args_free(ln_args *a);

/* The entry of long option `name` (it must be in the table). */
const ln_optval *ln_args_get(const ln_args *a, const char *name);
/* Its last value, or def when it was not given. */
const char *ln_args_str(const ln_args *a, const char *name, const char *def);
uint64_t    ln_args_uint(const ln_args *a, const char *name, uint64_t def);
int         ln_args_flag(const ln_args *a, const char *name);

/* A strict unsigned decimal (digits only, no sign, no leading zero) within
** [lo, hi]: 0 and *out, or -1. */
int  ln_opts_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* 1 when argv[1..argc) asks for help (-h or --help before any `--`). */
int  ln_opts_wants_help(int argc, char **argv);

/* Prints one aligned line per option: "  --rpc URL     help". */
void ln_opts_usage(FILE *out, const ln_opt *table);

#endif
