/* test_p2p_fuzzed.c -- every frame in tests/fuzz/corpus_p2p (the fuzzer's
** seeds and what it found) sent by a member to a real node (p2p_harness.h):
** each is handled or gets the member dropped, and the node goes on making
** blocks. */
#include <dirent.h>

#include "test.h"
#include "../fuzz/p2p_harness.h"

TEST(p2p_fuzzed_frames_are_handled_or_refused_and_the_node_goes_on)
{
    ph_setup();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus_p2p", LN_SOURCE_DIR);
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    int files = 0, dropped = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        ASSERT(f != NULL);
        static uint8_t buf[16u << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        dropped += ph_feed(buf, n);
        files++;
    }
    closedir(d);
    ASSERT(files >= 8);
    ASSERT(dropped > 0);                 /* the garbage among them */
    uint64_t h = ph_height();
    uint64_t until = uv_now(&PH.loop) + 20000;
    while (ph_height() < h + 2 && uv_now(&PH.loop) < until) uv_run(&PH.loop, UV_RUN_ONCE);
    ASSERT(ph_height() >= h + 2);
    ph_teardown();
}

static const ln_test tests[] = {
    T(p2p_fuzzed_frames_are_handled_or_refused_and_the_node_goes_on),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
