/*
 * fuzz-server-parser.c: what a server parses from a hostile client after
 * the handshake: a QEMU display server (or, with FUZZ_FLAG_BROKER, the
 * broker reading requests).
 *
 * Input: a flags byte, then chunks (see fuzz-common.h). The low two bits
 * of the flags pick the path:
 *   0  each chunk is one record's plaintext, parsed as crp-channel.c does
 *      (message decoding and the direction check, no crypto in the way);
 *   1  the chunks are the client's wire bytes (stream header, records),
 *      received one chunk at a time by a READY server channel: framing,
 *      caps and authentication failures;
 *   2  a real client seals each chunk (messages with arbitrary bodies) as
 *      a record for a READY server channel: decoding through the channel;
 *   3  as 2, and then the client closes its stream.
 * Every decoded message must re-encode to its own bytes.
 */
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    fuzz_init();
    fuzz_run_parser(CRP_ROLE_SERVER, data[0], data + 1, size - 1, NULL, NULL);
    return 0;
}
