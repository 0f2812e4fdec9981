/*
** fuzz_p2p.c -- libFuzzer target: hostile P2P frames after the handshake.
** Each input is one decrypted frame from an authenticated member, fed to a
** real node (temp home, LevelDB, bft, loopback TCP) by p2p_harness.h; the
** node must handle it or drop the member, in time, and go on.
**   make fuzz          (seeds: tests/fuzz/corpus_p2p, one frame of each type;
**                       what it finds goes there too, and make test replays
**                       them: tests/c/test_p2p_fuzzed.c)
*/
#include "p2p_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        ph_setup();
        ready = 1;
    }
    ph_feed(data, size);
    return 0;
}
