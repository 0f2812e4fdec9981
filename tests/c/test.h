/*
** test.h -- the C test harness: TEST(fn) defines one behaviour, the file's
** LN_TEST_MAIN lists them. `test_x fn` runs one test (as ctest does);
** `test_x` alone runs them all. A failed ASSERT prints file, line and both
** values, then exits 1. ln_test_tmpdir/ln_test_rmtree make and remove a
** test's temporary directory.
*/
#ifndef LN_TEST_H
#define LN_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

#define TEST(fn) static void fn(void)

#define LN_FAIL(...) do {                                              \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                    \
    fprintf(stderr, __VA_ARGS__);                                      \
    fputc('\n', stderr);                                               \
    exit(1);                                                           \
} while (0)

#define ASSERT(c) do { if (!(c)) LN_FAIL("assertion failed: %s", #c); } while (0)

#define ASSERT_EQ(a, b) do {                                           \
    long long a_ = (long long)(a), b_ = (long long)(b);                \
    if (a_ != b_) LN_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);   \
} while (0)

#define ASSERT_NE(a, b) do {                                           \
    long long a_ = (long long)(a), b_ = (long long)(b);                \
    if (a_ == b_) LN_FAIL("%s != %s: both %lld", #a, #b, a_);          \
} while (0)

#define ASSERT_STR(a, b) do {                                          \
    const char *a_ = (a), *b_ = (b);                                   \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                             \
        LN_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,                  \
                a_ ? a_ : "(null)", b_ ? b_ : "(null)");               \
} while (0)

#define ASSERT_MEM(a, b, n) do {                                       \
    if (memcmp((a), (b), (n)) != 0)                                    \
        LN_FAIL("%s and %s differ in their %zu bytes", #a, #b, (size_t)(n)); \
} while (0)

/* A new empty directory /tmp/lunet-TAG-XXXXXX, its path in buf (n bytes,
** at least strlen(tag) + 20); returns buf. */
static inline char *ln_test_tmpdir(char *buf, size_t n, const char *tag)
{
    int l = snprintf(buf, n, "/tmp/lunet-%s-XXXXXX", tag);
    if (l < 0 || (size_t)l >= n) LN_FAIL("ln_test_tmpdir: %zu bytes are too few for tag %s", n, tag);
    if (!mkdtemp(buf)) LN_FAIL("ln_test_tmpdir: mkdtemp(%s) failed", buf);
    return buf;
}

static inline int ln_test_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

/* Removes dir and everything under it, without following symlinks. */
static inline void ln_test_rmtree(const char *dir)
{
    if (nftw(dir, ln_test_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        LN_FAIL("ln_test_rmtree: cannot remove all of %s", dir);
}

typedef struct { const char *name; void (*fn)(void); } ln_test;
#define T(fn) { #fn, fn }

#define LN_TEST_MAIN(list)                                             \
int main(int argc, char **argv)                                        \
{                                                                      \
    int ran = 0;                                                       \
    for (const ln_test *t = (list); t->name; t++) {                    \
        if (argc > 1 && strcmp(argv[1], t->name) != 0) continue;       \
        t->fn();                                                       \
        ran++;                                                         \
    }                                                                  \
    if (ran == 0) { fprintf(stderr, "no test named %s\n", argv[1]); return 2; } \
    return 0;                                                          \
}

#endif
