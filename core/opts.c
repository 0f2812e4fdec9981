/* opts.c -- command-line options from one table per command (see opts.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opts.h"

static size_t table_len(const ln_opt *t)
{
    size_t n = 0;
    while (t[n].name) n++;
    return n;
}

int ln_opts_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!*s || strlen(s) > 20) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    if (s[0] == '0' && s[1]) return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int take(const ln_opt *o, ln_optval *v, const char *val, char *err, size_t errlen)
{
    v->given++;
    switch (o->kind) {
    case LN_OPT_FLAG:
        return 0;
    case LN_OPT_STR:
        v->str = val;
        return 0;
    case LN_OPT_UINT:
        if (ln_opts_uint(val, o->lo, o->hi, &v->num) < 0)
            return ln_errf(err, errlen, LN_EINVAL, "--%s wants an integer %llu..%llu, not '%s'",
                           o->name, (unsigned long long)o->lo, (unsigned long long)o->hi, val);
        v->str = val;
        return 0;
    default: {
        const char **l = realloc(v->list, (v->nlist + 1) * sizeof *l);
        if (!l) return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
        v->list = l;
        v->list[v->nlist++] = val;
        return 0;
    }
    }
}

int ln_opts_parse(const ln_opt *table, int argc, char **argv, ln_args *out,
                  char *err, size_t errlen)
{
    size_t n = table_len(table);
    memset(out, 0, sizeof *out);
    out->table = table;
    out->v = calloc(n + 1, sizeof *out->v);
    out->pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof *out->pos);
    if (!out->v || !out->pos) return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
    int dashdash = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || a[0] != '-' || !a[1]) {
            out->pos[out->npos++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            dashdash = 1;
            continue;
        }
        size_t k = n;
        const char *val = NULL;
        int inline_val = 0;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            for (k = 0; k < n; k++)
                if (strlen(table[k].name) == nl && !strncmp(table[k].name, name, nl)) break;
            if (k == n)
                return ln_errf(err, errlen, LN_EINVAL, "unknown option --%.*s",
                               (int)(nl > 40 ? 40 : nl), name);
            if (eq) {
                val = eq + 1;
                inline_val = 1;
            }
        } else {
            for (k = 0; k < n; k++)
                if (table[k].short_name && table[k].short_name == a[1] && !a[2]) break;
            if (k == n)
                return ln_errf(err, errlen, LN_EINVAL, "unknown option %.40s", a);
        }
        const ln_opt *o = &table[k];
        if (o->kind == LN_OPT_FLAG) {
            if (inline_val) return ln_errf(err, errlen, LN_EINVAL, "--%s takes no value", o->name);
        } else if (!inline_val) {
            if (i + 1 >= argc) return ln_errf(err, errlen, LN_EINVAL, "--%s needs a value", o->name);
            val = argv[++i];
        }
        int rc = take(o, &out->v[k], val, err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

void ln_args_free(ln_args *a)
{
    if (a->v)
        for (size_t k = 0; a->table && a->table[k].name; k++) free(a->v[k].list);
    free(a->v);
    free(a->pos);
    memset(a, 0, sizeof *a);
}

const ln_optval *ln_args_get(const ln_args *a, const char *name)
{
    static const ln_optval none;     /* read-only: a name the table lacks */
    for (size_t k = 0; a->table[k].name; k++)
        if (!strcmp(a->table[k].name, name)) return &a->v[k];
    return &none;
}

const char *ln_args_str(const ln_args *a, const char *name, const char *def)
{
    const ln_optval *v = ln_args_get(a, name);
    return v->given && v->str ? v->str : def;
}

uint64_t ln_args_uint(const ln_args *a, const char *name, uint64_t def)
{
    const ln_optval *v = ln_args_get(a, name);
    return v->given ? v->num : def;
}

int ln_args_flag(const ln_args *a, const char *name)
{
    return ln_args_get(a, name)->given > 0;
}

int ln_opts_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    }
    return 0;
}

/* "-n, --count N" or "--rpc URL" */
static int opt_head(const ln_opt *o, char *buf, size_t n)
{
    const char *mv = o->kind == LN_OPT_FLAG ? "" : o->metavar ? o->metavar : "VALUE";
    if (o->short_name)
        return snprintf(buf, n, "-%c, --%s%s%s", o->short_name, o->name, *mv ? " " : "", mv);
    return snprintf(buf, n, "--%s%s%s", o->name, *mv ? " " : "", mv);
}

void ln_opts_usage(FILE *out, const ln_opt *table)
{
    char head[80];
    int w = 10;                      /* "-h, --help" */
    for (const ln_opt *o = table; o->name; o++) {
        int l = opt_head(o, head, sizeof head);
        if (l > w) w = l;
    }
    for (const ln_opt *o = table; o->name; o++) {
        opt_head(o, head, sizeof head);
        fprintf(out, "  %-*s  %s\n", w, head, o->help);
    }
    fprintf(out, "  %-*s  %s\n", w, "-h, --help", "this text");
}
