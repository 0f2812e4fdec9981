/* test_store.c -- ln_store: get/put/delete, batches, prefix scans, locking. */
#include "test.h"
#include "store.h"
#include "err.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

#define S(str) (const uint8_t *)(str), strlen(str)   /* key/value from a C string */

static char *mktmp(char *buf, size_t len) { return ln_test_tmpdir(buf, len, "store"); }

static ln_store *open_ok(const char *dir)
{
    ln_store *st = NULL;
    char err[256];
    int rc = ln_store_open_err(dir, &st, err, sizeof err);
    if (rc != 0)
        LN_FAIL("ln_store_open(%s): %s: %s", dir, ln_errname(rc), err);
    return st;
}

/* Asserts that key holds exactly want. */
static void expect_val(ln_store *st, const char *key, const char *want)
{
    uint8_t *v = NULL;
    size_t vl = 0;
    ASSERT_EQ(ln_store_get(st, S(key), &v, &vl), 0);
    ASSERT_EQ(vl, strlen(want));
    ASSERT_MEM(v, want, vl);
    free(v);
}

static void expect_missing(ln_store *st, const char *key)
{
    uint8_t *v = (uint8_t *)"sentinel";
    size_t vl = 99;
    ASSERT_EQ(ln_store_get(st, S(key), &v, &vl), LN_ENOTFOUND);
    ASSERT_STR((char *)v, "sentinel");              /* untouched */
}

/* Scans prefix and joins the keys with ',' into out. */
static void scan_keys(ln_store *st, const char *prefix, const char *seek,
                      char *out, size_t len)
{
    ln_iter *it = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int rc;
    out[0] = '\0';
    ASSERT_EQ(ln_iter_new(st, S(prefix), &it), 0);
    if (seek)
        ln_iter_seek(it, S(seek));
    while ((rc = ln_iter_next(it, &k, &kl, &v, &vl)) == 1) {
        size_t n = strlen(out);
        ASSERT(n + kl + 2 < len);
        if (n)
            out[n++] = ',';
        memcpy(out + n, k, kl);
        out[n + kl] = '\0';
    }
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(ln_iter_next(it, &k, &kl, &v, &vl), 0);    /* stays done */
    ln_iter_free(it);
}

/* ---- tests ------------------------------------------------------------- */

TEST(store_get_missing_key_returns_enotfound)
{
    char dir[64];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    expect_missing(st, "nope");
    ASSERT_STR(ln_store_lasterr(st), "");
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_put_get_delete_round_trip)
{
    char dir[64];
    const uint8_t bin[] = { 'k', 0, 0xff, 1 };
    uint8_t *v;
    size_t vl;
    ln_store *st = open_ok(mktmp(dir, sizeof dir));

    ASSERT_EQ(ln_store_put(st, S("alpha"), S("one")), 0);
    expect_val(st, "alpha", "one");
    ASSERT_EQ(ln_store_put(st, S("alpha"), S("two")), 0);        /* overwrite */
    expect_val(st, "alpha", "two");
    ASSERT_EQ(ln_store_delete(st, S("alpha")), 0);
    expect_missing(st, "alpha");
    ASSERT_EQ(ln_store_delete(st, S("alpha")), 0);               /* idempotent */

    ASSERT_EQ(ln_store_put(st, bin, sizeof bin, bin, sizeof bin), 0);
    ASSERT_EQ(ln_store_get(st, bin, sizeof bin, &v, &vl), 0);
    ASSERT_EQ(vl, sizeof bin);
    ASSERT_MEM(v, bin, sizeof bin);
    free(v);
    expect_missing(st, "k");                     /* a NUL in a key is data */

    ASSERT_EQ(ln_store_put(st, S("empty"), NULL, 0), 0);         /* empty value */
    v = NULL;
    ASSERT_EQ(ln_store_get(st, S("empty"), &v, &vl), 0);
    ASSERT_EQ(vl, 0);
    ASSERT(v != NULL);
    free(v);
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_data_survives_close_and_reopen)
{
    char dir[64];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    ASSERT_EQ(ln_store_put(st, S("height"), S("42")), 0);
    ASSERT_EQ(ln_store_put(st, S("gone"), S("x")), 0);
    ASSERT_EQ(ln_store_delete(st, S("gone")), 0);
    ln_store_close(st);
    st = open_ok(dir);
    expect_val(st, "height", "42");
    expect_missing(st, "gone");
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_batch_is_invisible_until_commit_then_survives_reopen)
{
    char dir[64];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    ln_batch *b = ln_batch_new();
    ASSERT(b != NULL);
    ASSERT_EQ(ln_store_put(st, S("old"), S("x")), 0);

    ln_batch_put(b, S("a"), S("1"));
    ln_batch_put(b, S("b"), S("2"));
    ln_batch_put(b, S("a"), S("3"));            /* later op on a key wins */
    ln_batch_delete(b, S("old"));
    ASSERT_EQ(ln_batch_count(b), 4);
    expect_missing(st, "a");
    expect_val(st, "old", "x");

    ASSERT_EQ(ln_store_commit(st, b), 0);
    ASSERT_EQ(ln_batch_count(b), 4);            /* left as it was */
    ln_store_close(st);

    st = open_ok(dir);
    expect_val(st, "a", "3");
    expect_val(st, "b", "2");
    expect_missing(st, "old");

    ln_batch_clear(b);
    ASSERT_EQ(ln_batch_count(b), 0);
    ASSERT_EQ(ln_store_commit(st, b), 0);       /* empty: no-op */
    ln_batch_put(b, S("c"), S("4"));
    ASSERT_EQ(ln_store_commit(st, b), 0);
    expect_val(st, "c", "4");
    expect_val(st, "a", "3");                   /* the cleared ops did not rerun */
    ln_batch_free(b);
    ln_store_close(st);
    ln_test_rmtree(dir);
}

/* A child commits batches of BATCH_KEYS keys until it is SIGKILLed; after
** reopening, every batch must be wholly there or wholly absent. */
#define BATCH_KEYS 64
TEST(store_batch_commit_is_all_or_nothing_across_a_kill)
{
    char dir[64];
    int pfd[2];
    mktmp(dir, sizeof dir);
    ASSERT_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ln_store *st = NULL;
        ln_batch *b = ln_batch_new();
        char key[32];
        close(pfd[0]);
        if (!b || ln_store_open(dir, &st) != 0)
            _exit(3);
        for (int i = 0; ; i++) {
            ln_batch_clear(b);
            for (int j = 0; j < BATCH_KEYS; j++) {
                snprintf(key, sizeof key, "b%06d/%02d", i, j);
                ln_batch_put(b, S(key), S("some value to make the record longer"));
            }
            if (ln_store_commit(st, b) != 0)
                _exit(4);
            if (i == 20 && write(pfd[1], "x", 1) != 1)
                _exit(5);
        }
    }
    close(pfd[1]);
    char c;
    ASSERT_EQ(read(pfd[0], &c, 1), 1);          /* 21 batches are in */
    usleep(20 * 1000);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status));
    close(pfd[0]);

    ln_store *st = open_ok(dir);
    ln_iter *it;
    const uint8_t *k, *v;
    size_t kl, vl;
    int batch = -1, inbatch = 0, batches = 0;
    ASSERT_EQ(ln_iter_new(st, S("b"), &it), 0);
    while (ln_iter_next(it, &k, &kl, &v, &vl) == 1) {
        int i = atoi((const char *)k + 1);      /* "b000123/..": digits then '/' */
        if (i != batch) {
            if (batch >= 0)
                ASSERT_EQ(inbatch, BATCH_KEYS);
            ASSERT_EQ(i, batch + 1);            /* batches land in order */
            batch = i, inbatch = 0, batches++;
        }
        inbatch++;
    }
    ASSERT_EQ(inbatch, BATCH_KEYS);
    ASSERT(batches >= 21);
    ln_iter_free(it);
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_iter_returns_only_the_prefix_in_key_order)
{
    char dir[64], got[256];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    const char *keys[] = { "b/2", "a/1", "b/10", "c/1", "b", "b/1", "b/\x7f", "b0" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ASSERT_EQ(ln_store_put(st, S(keys[i]), S("v")), 0);

    scan_keys(st, "b/", NULL, got, sizeof got);
    ASSERT_STR(got, "b/1,b/10,b/2,b/\x7f");
    scan_keys(st, "zz", NULL, got, sizeof got);
    ASSERT_STR(got, "");
    scan_keys(st, "", NULL, got, sizeof got);
    ASSERT_STR(got, "a/1,b,b/1,b/10,b/2,b/\x7f,b0,c/1");
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_iter_seek_resumes_at_first_key_at_or_after)
{
    char dir[64], got[256];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    const char *keys[] = { "a/9", "b/1", "b/10", "b/2", "b/3", "c/1" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ASSERT_EQ(ln_store_put(st, S(keys[i]), S("v")), 0);

    scan_keys(st, "b/", "b/2", got, sizeof got);
    ASSERT_STR(got, "b/2,b/3");
    scan_keys(st, "b/", "b/10x", got, sizeof got);
    ASSERT_STR(got, "b/2,b/3");
    scan_keys(st, "b/", "a", got, sizeof got);          /* below the prefix */
    ASSERT_STR(got, "b/1,b/10,b/2,b/3");
    scan_keys(st, "b/", "b/4", got, sizeof got);        /* past the prefix */
    ASSERT_STR(got, "");
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_iter_sees_the_store_as_of_its_creation)
{
    char dir[64];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    ln_iter *it;
    const uint8_t *k, *v;
    size_t kl, vl;
    ASSERT_EQ(ln_store_put(st, S("k1"), S("old")), 0);
    ASSERT_EQ(ln_iter_new(st, S("k"), &it), 0);
    ASSERT_EQ(ln_store_put(st, S("k1"), S("new")), 0);
    ASSERT_EQ(ln_store_put(st, S("k2"), S("x")), 0);
    ASSERT_EQ(ln_iter_next(it, &k, &kl, &v, &vl), 1);
    ASSERT_EQ(vl, 3);
    ASSERT_MEM(v, "old", 3);
    ASSERT_EQ(ln_iter_next(it, &k, &kl, &v, &vl), 0);
    ln_iter_free(it);
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_view_reads_the_store_as_of_its_creation_and_refuses_writes)
{
    char dir[64];
    ln_store *st = open_ok(mktmp(dir, sizeof dir));
    ASSERT_EQ(ln_store_put(st, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1), 0);
    ln_store *v;
    ASSERT_EQ(ln_store_view(st, &v), 0);
    ln_batch *b = ln_batch_new();
    ln_batch_put(b, (const uint8_t *)"a", 1, (const uint8_t *)"2", 1);
    ln_batch_put(b, (const uint8_t *)"b", 1, (const uint8_t *)"3", 1);
    ASSERT_EQ(ln_store_commit(st, b), 0);
    expect_val(st, "a", "2");
    expect_val(v, "a", "1");
    expect_missing(v, "b");
    ASSERT_EQ(ln_store_put(v, (const uint8_t *)"c", 1, (const uint8_t *)"4", 1), LN_EINVAL);
    ASSERT_EQ(ln_store_commit(v, b), LN_EINVAL);
    ASSERT_EQ(ln_store_delete(v, (const uint8_t *)"a", 1), LN_EINVAL);
    ln_batch_free(b);
    ln_store_close(v);
    expect_val(st, "b", "3");
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_open_twice_in_one_process_returns_elocked)
{
    char dir[64], err[256];
    ln_store *st = open_ok(mktmp(dir, sizeof dir)), *st2 = NULL;
    ASSERT_EQ(ln_store_open_err(dir, &st2, err, sizeof err), LN_ELOCKED);
    ASSERT(st2 == NULL);
    ASSERT(strstr(err, "LOCK") != NULL);
    ln_store_close(st);
    st2 = open_ok(dir);                         /* free again once closed */
    ln_store_close(st2);
    ln_test_rmtree(dir);
}

TEST(store_open_held_by_another_process_returns_elocked)
{
    char dir[64];
    int up[2], down[2];
    mktmp(dir, sizeof dir);
    ASSERT_EQ(pipe(up), 0);
    ASSERT_EQ(pipe(down), 0);
    pid_t pid = fork();                         /* before any LevelDB thread */
    ASSERT(pid >= 0);
    if (pid == 0) {
        ln_store *st = NULL;
        char c;
        close(up[0]);
        close(down[1]);
        if (ln_store_open(dir, &st) != 0)
            _exit(3);
        if (write(up[1], "o", 1) != 1)
            _exit(4);
        (void)!read(down[0], &c, 1);            /* hold until the parent is done */
        ln_store_close(st);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    char c;
    ASSERT_EQ(read(up[0], &c, 1), 1);           /* the child has it open */
    ln_store *st = NULL;
    ASSERT_EQ(ln_store_open(dir, &st), LN_ELOCKED);
    close(down[1]);                             /* let the child close */
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(up[0]);
    st = open_ok(dir);
    ln_store_close(st);
    ln_test_rmtree(dir);
}

TEST(store_open_on_a_file_returns_eio_with_leveldb_text)
{
    char dir[64], path[128], err[256] = "";
    ln_store *st = NULL;
    mktmp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fclose(f);
    ASSERT_EQ(ln_store_open_err(path, &st, err, sizeof err), LN_EIO);
    ASSERT(st == NULL);
    ASSERT(err[0] != '\0');
    ln_test_rmtree(dir);
}

static const ln_test tests[] = {
    T(store_get_missing_key_returns_enotfound),
    T(store_put_get_delete_round_trip),
    T(store_data_survives_close_and_reopen),
    T(store_batch_is_invisible_until_commit_then_survives_reopen),
    T(store_batch_commit_is_all_or_nothing_across_a_kill),
    T(store_iter_returns_only_the_prefix_in_key_order),
    T(store_iter_seek_resumes_at_first_key_at_or_after),
    T(store_iter_sees_the_store_as_of_its_creation),
    T(store_view_reads_the_store_as_of_its_creation_and_refuses_writes),
    T(store_open_twice_in_one_process_returns_elocked),
    T(store_open_held_by_another_process_returns_elocked),
    T(store_open_on_a_file_returns_eio_with_leveldb_text),
    {0}
};
LN_TEST_MAIN(tests)
