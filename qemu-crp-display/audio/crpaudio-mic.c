/*
 * CRP audio: the microphone FIFO (see crpaudio-mic.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "crpaudio-mic.h"

#include "crp/crp-opus.h"

struct CrpMic {
    CrpOpusDecoder *decoder;
    GByteArray *pcm;                /* decoded, not yet read */
    bool primed;                    /* prefill reached since it ran dry */
};

CrpMic *crp_mic_new(GError **error)
{
    CrpOpusDecoder *decoder = crp_opus_decoder_new(CRP_MIC_CHANNELS, error);
    CrpMic *mic;

    if (!decoder) {
        return NULL;
    }
    mic = g_new0(CrpMic, 1);
    mic->decoder = decoder;
    /* Room for all it keeps from the start: no reallocation on the way,
     * and never the NULL data of an empty GByteArray, which memcpy()
     * must not be given even for 0 bytes. */
    mic->pcm = g_byte_array_sized_new(CRP_MIC_MAX_MS * CRP_MIC_BYTES_PER_MS);
    return mic;
}

void crp_mic_free(CrpMic *mic)
{
    if (mic) {
        crp_opus_decoder_free(mic->decoder);
        g_byte_array_unref(mic->pcm);
        g_free(mic);
    }
}

void crp_mic_packet(CrpMic *mic, const uint8_t *packet, size_t len)
{
    gint16 pcm[CRP_OPUS_MAX_FRAME_SAMPLES * 6 * CRP_MIC_CHANNELS];
    int n = crp_opus_decoder_decode(mic->decoder, packet, len, pcm,
                                    G_N_ELEMENTS(pcm) / CRP_MIC_CHANNELS,
                                    NULL);

    if (n <= 0) {
        return;
    }
    g_byte_array_append(mic->pcm, (guint8 *)pcm, n * CRP_MIC_CHANNELS * 2);
    if (mic->pcm->len > CRP_MIC_MAX_MS * CRP_MIC_BYTES_PER_MS) {
        size_t drop = mic->pcm->len - CRP_MIC_MAX_MS * CRP_MIC_BYTES_PER_MS;
        g_byte_array_remove_range(mic->pcm, 0, drop - drop % 4);
    }
}

size_t crp_mic_read(CrpMic *mic, void *buf, size_t bytes, size_t frame_bytes)
{
    size_t have;

    if (mic->pcm->len >= CRP_MIC_PREFILL_MS * CRP_MIC_BYTES_PER_MS) {
        mic->primed = true;
    }
    have = mic->primed ? MIN(bytes, mic->pcm->len) : 0;
    have -= have % frame_bytes;
    if (mic->primed && have < bytes) {
        mic->primed = false;        /* ran dry: refill before playing on */
    }
    memcpy(buf, mic->pcm->data, have);
    g_byte_array_remove_range(mic->pcm, 0, have);
    return have;
}

size_t crp_mic_queued(CrpMic *mic)
{
    return mic->pcm->len;
}

void crp_mic_reset(CrpMic *mic)
{
    g_byte_array_set_size(mic->pcm, 0);
    mic->primed = false;
}
