/* paths.c -- where lunet finds the files it ships (see paths.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif
#ifndef LN_BINARY_DIR
#define LN_BINARY_DIR ""
#endif

static int readable(const char *path, char *out, size_t n)
{
    if (access(path, R_OK) != 0) return -1;
    return snprintf(out, n, "%s", path) < (int)n ? 0 : -1;
}

int ln_path_find(const char *rel, char *out, size_t n)
{
    char p[PATH_MAX + 64];
    if (rel[0] == '/') return readable(rel, out, n);
    if (readable(rel, out, n) == 0) return 0;
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int built_here = 0;
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            built_here = strcmp(exe, LN_BINARY_DIR) == 0;
            snprintf(p, sizeof p, "%s/../share/lunet/%s", exe, rel);
            if (readable(p, out, n) == 0) return 0;
            snprintf(p, sizeof p, "%s/../%s", exe, rel);
            if (readable(p, out, n) == 0) return 0;
        }
    }
    /* A binary where CMake built it (build/, or a build folder outside the
    ** tree) uses the tree it was built from; an installed one never does. */
    if (!built_here) return -1;
    snprintf(p, sizeof p, "%s/%s", LN_SOURCE_DIR, rel);
    return readable(p, out, n);
}
