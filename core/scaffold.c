/* scaffold.c -- `lunet new NAME` (see scaffold.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "opts.h"
#include "paths.h"
#include "scaffold.h"

#define PLACEHOLDER "{{name}}"

static const char usage_new[] =
    "usage: lunet new NAME\n"
    "\n"
    "Writes contracts/NAME.lua (a counter per account: init, bump, count) and\n"
    "contracts/NAME_spec.lua (its busted spec) in the working directory, from\n"
    "the templates lunet ships. NAME is the account the contract is deployed\n"
    "to (1-12 of a-z 0-9 .). Refuses to overwrite: if either file exists,\n"
    "nothing is written. Then:\n"
    "    lunet test contracts/NAME_spec.lua\n"
    "    lunet deploy NAME contracts/NAME.lua 0 --as alice    # with lunet dev running\n";

/* The template `file` (templates/...) with every PLACEHOLDER as name;
** malloc()ed, or NULL with the error printed. */
static char *render(const char *file, const char *name)
{
    char rel[64], path[PATH_MAX];
    snprintf(rel, sizeof rel, "templates/%s", file);
    if (ln_path_find(rel, path, sizeof path) < 0) {
        fprintf(stderr, "lunet new: cannot find %s where lunet's files are (is lunet installed?)\n",
                rel);
        return NULL;
    }
    char *src;
    size_t sl;
    if (ln_file_read(path, &src, &sl) < 0) {
        fprintf(stderr, "lunet new: cannot read %s\n", path);
        return NULL;
    }
    size_t nl = strlen(name), pl = strlen(PLACEHOLDER), count = 0;
    for (const char *p = src; (p = strstr(p, PLACEHOLDER)); p += pl) count++;
    char *out = malloc(sl + count * nl + 1), *o = out;
    if (!out) {
        free(src);
        fprintf(stderr, "lunet new: out of memory\n");
        return NULL;
    }
    for (const char *p = src, *q; ; p = q + pl) {
        q = strstr(p, PLACEHOLDER);
        size_t k = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, k);
        o += k;
        if (!q) break;
        memcpy(o, name, nl);
        o += nl;
    }
    *o = 0;
    free(src);
    return out;
}

/* Creates path with text, failing if it exists (O_EXCL): 0, or -1 with
** errno. */
static int write_new(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return -1;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(path);
            errno = e;
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

int ln_cmd_new(int argc, char **argv)
{
    static const ln_opt opts[] = { { NULL, 0, 0, NULL, 0, 0, NULL } };
    if (ln_opts_wants_help(argc, argv)) {
        fputs(usage_new, stdout);
        return 0;
    }
    ln_args a;
    char why[256] = "";
    if (ln_opts_parse(opts, argc, argv, &a, why, sizeof why) < 0 || a.npos != 1) {
        fprintf(stderr, "lunet new: %s (see lunet new --help)\n", why[0] ? why : "wants one NAME");
        ln_args_free(&a);
        return 2;
    }
    char name[LN_NAME_MAX + 1];
    const char *arg = a.pos[0];
    if (!ln_name_valid(arg, strlen(arg))) {
        fprintf(stderr, "lunet new: '%s' is not an account name (1-12 of a-z 0-9 .; see lunet "
                "new --help)\n", arg);
        ln_args_free(&a);
        return 2;
    }
    snprintf(name, sizeof name, "%s", arg);
    ln_args_free(&a);

    char code_path[64], spec_path[64];
    snprintf(code_path, sizeof code_path, "contracts/%s.lua", name);
    snprintf(spec_path, sizeof spec_path, "contracts/%s_spec.lua", name);
    const char *paths[2] = { code_path, spec_path };
    for (int i = 0; i < 2; i++)
        if (access(paths[i], F_OK) == 0) {
            fprintf(stderr, "lunet new: %s exists already; not overwriting it (nothing written)\n",
                    paths[i]);
            return 1;
        }
    char *code = render("contract.lua", name), *spec = code ? render("contract_spec.lua", name) : NULL;
    int status = 1;
    if (!code || !spec) goto out;
    if (mkdir("contracts", 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "lunet new: cannot create contracts/: %s\n", strerror(errno));
        goto out;
    }
    if (write_new(code_path, code) < 0) {
        fprintf(stderr, "lunet new: cannot write %s: %s\n", code_path, strerror(errno));
        goto out;
    }
    if (write_new(spec_path, spec) < 0) {
        fprintf(stderr, "lunet new: cannot write %s: %s\n", spec_path, strerror(errno));
        unlink(code_path);
        goto out;
    }
    printf("wrote %s and %s\n"
           "next:\n"
           "  lunet test %s\n"
           "  lunet deploy %s %s 0 --as alice    # with lunet dev running\n",
           code_path, spec_path, spec_path, name, code_path);
    status = 0;
out:
    free(code);
    free(spec);
    return status;
}
