/*
 * fuzz-broker-handshake.c: the broker handshake (Noise IK, the golden
 * static keys) from either side: a broker parsing a hostile HELLO, or
 * a client parsing a hostile RESPONSE or REJECT; then whatever stream
 * follows. Input: a flags byte (FUZZ_HS_*), then chunks, each received in
 * turn (see fuzz-common.h).
 */
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    fuzz_init();
    fuzz_run_handshake(CRP_CHANNEL_BROKER, data[0], data + 1, size - 1);
    return 0;
}
