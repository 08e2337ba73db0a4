/*
 * fuzz-qemu-mic.c: audio-crp's microphone path, fed by a hostile client:
 * qemu-crp-display/audio/crpaudio-mic.c, the real file (Opus decoding and
 * the jitter FIFO), compiled against qemu-stubs/.
 *
 * The harness keeps a model next to it: a second Opus decoder fed the
 * same packets (decoding is deterministic, so it yields the same PCM) and
 * a plain FIFO with the same cap. Every read must return the model's
 * oldest bytes, whole frames, all that was asked while the FIFO is primed
 * and nothing while it refills after running dry (CRP_MIC_PREFILL_MS),
 * and the FIFO never holds more than CRP_MIC_MAX_MS.
 *
 * Input: a flags byte (unused), then chunks. The first byte of a chunk
 * says what it is: 'r' (or anything from 0x80) a read by the capture voice
 * of the frames in the next two bytes (u16); 'x' the voice re-enabled
 * (reset); anything else a packet from a client, its bytes after the
 * first (AUDIO_IN guarantees 1 to CRP_MAX_AUDIO_PACKET bytes).
 */
#include "fuzz-common.h"
#include <crp/crp-opus.h>

#include "qemu/osdep.h"
#include "crpaudio-mic.h"

#define FRAME_BYTES (CRP_MIC_CHANNELS * 2)
#define MAX_BYTES (CRP_MIC_MAX_MS * CRP_MIC_BYTES_PER_MS)
#define PREFILL_BYTES (CRP_MIC_PREFILL_MS * CRP_MIC_BYTES_PER_MS)

typedef struct {
    CrpOpusDecoder *decoder;
    GByteArray *fifo;
    gboolean dry;               /* ran dry (or new): refilling */
} Model;

static void
model_packet(Model *m, const guint8 *packet, gsize len)
{
    gint16 pcm[CRP_OPUS_MAX_FRAME_SAMPLES * 6 * CRP_MIC_CHANNELS];
    int n = crp_opus_decoder_decode(m->decoder, packet, len, pcm,
                                    G_N_ELEMENTS(pcm) / CRP_MIC_CHANNELS, NULL);
    if (n <= 0) {
        return;
    }
    g_byte_array_append(m->fifo, (guint8 *)pcm, n * FRAME_BYTES);
    if (m->fifo->len > MAX_BYTES) {
        g_byte_array_remove_range(m->fifo, 0, m->fifo->len - MAX_BYTES);
    }
}

static void
check_read(CrpMic *mic, Model *m, gsize frames)
{
    gsize bytes = frames * FRAME_BYTES;
    gsize queued = crp_mic_queued(mic);
    g_autofree guint8 *buf = g_malloc(MAX(bytes, 1));
    gsize have = crp_mic_read(mic, buf, bytes, FRAME_BYTES);

    g_assert_cmpuint(queued, ==, m->fifo->len);
    if (m->dry && queued < PREFILL_BYTES) {
        g_assert_cmpuint(have, ==, 0);          /* still refilling */
    } else {
        g_assert_cmpuint(have, ==, MIN(bytes, queued));
        m->dry = have < bytes;
    }
    g_assert_cmpuint(have % FRAME_BYTES, ==, 0);
    g_assert_cmpmem(buf, have, m->fifo->data, have);
    g_byte_array_remove_range(m->fifo, 0, have);
    g_assert_cmpuint(crp_mic_queued(mic), ==, m->fifo->len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    CrpMic *mic = crp_mic_new(&error);
    g_assert_no_error(error);
    Model m = {
        .decoder = crp_opus_decoder_new(CRP_MIC_CHANNELS, &error),
        .fifo = g_byte_array_new(),
        .dry = TRUE,
    };
    g_assert_no_error(error);

    FuzzInput in;
    guint8 *chunk;
    gsize n;
    fuzz_input_init(&in, data + 1, size - 1);
    while ((chunk = fuzz_input_next(&in, &n))) {
        if (n >= 1 && (chunk[0] == 'r' || chunk[0] >= 0x80)) {
            check_read(mic, &m, n >= 3 ? (gsize)(chunk[1] << 8 | chunk[2]) : 0);
        } else if (n >= 1 && chunk[0] == 'x') {
            crp_mic_reset(mic);
            g_byte_array_set_size(m.fifo, 0);
            m.dry = TRUE;
        } else if (n >= 2 && n - 1 <= CRP_MAX_AUDIO_PACKET) {
            /* A copy of exactly the packet's size, for AddressSanitizer. */
            g_autofree guint8 *packet = g_memdup2(chunk + 1, n - 1);
            crp_mic_packet(mic, packet, n - 1);
            model_packet(&m, packet, n - 1);
            g_assert_cmpuint(crp_mic_queued(mic), <=, MAX_BYTES);
            g_assert_cmpuint(crp_mic_queued(mic), ==, m.fifo->len);
        }
        g_free(chunk);
    }

    crp_mic_free(mic);
    crp_opus_decoder_free(m.decoder);
    g_byte_array_unref(m.fifo);
    return 0;
}
