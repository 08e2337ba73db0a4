/* crp-opus.c: low-delay Opus encoder with a frame accumulator, and decoder. */
#include "crp/crp-opus.h"
#include "crp/crp-error.h"

#include <string.h>
#include <opus.h>

#define MIN_BITRATE 6000
#define MAX_BITRATE 510000
/* The longest packet Opus allows (120 ms); a bigger caller buffer is unused. */
#define MAX_PACKET_SAMPLES (CRP_OPUS_RATE / 1000 * 120)

struct CrpOpusEncoder {
    OpusEncoder *opus;
    int channels;
    int frame_samples;          /* per channel */
    guint64 position;           /* samples per channel already encoded */
    gint16 *pending;            /* one frame, interleaved */
    int n_pending;              /* samples per channel in @pending */
    guint8 packet[CRP_MAX_AUDIO_PACKET];
};

struct CrpOpusDecoder {
    OpusDecoder *opus;
    int channels;
};

static gboolean
check_channels(int channels, GError **error)
{
    if (channels != 1 && channels != 2) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "Opus: %d channels (want 1 or 2)", channels);
        return FALSE;
    }
    return TRUE;
}

CrpOpusEncoder *
crp_opus_encoder_new(int channels, int frame_ms, int bitrate, GError **error)
{
    if (!check_channels(channels, error)) {
        return NULL;
    }
    if (frame_ms != 10 && frame_ms != 20) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "Opus: %d ms frames (want 10 or 20)", frame_ms);
        return NULL;
    }
    if (bitrate == 0) {
        bitrate = channels == 2 ? 96000 : 48000;
    }
    if (bitrate < MIN_BITRATE || bitrate > MAX_BITRATE) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "Opus: bitrate %d outside %d..%d", bitrate,
                    MIN_BITRATE, MAX_BITRATE);
        return NULL;
    }

    int err = OPUS_OK;
    OpusEncoder *opus = opus_encoder_create(CRP_OPUS_RATE, channels,
                                            OPUS_APPLICATION_RESTRICTED_LOWDELAY,
                                            &err);
    if (!opus) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "Opus: cannot create encoder: %s", opus_strerror(err));
        return NULL;
    }
    err = opus_encoder_ctl(opus, OPUS_SET_BITRATE(bitrate));
    if (err != OPUS_OK) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "Opus: cannot set bitrate %d: %s", bitrate,
                    opus_strerror(err));
        opus_encoder_destroy(opus);
        return NULL;
    }

    CrpOpusEncoder *enc = g_new0(CrpOpusEncoder, 1);
    enc->opus = opus;
    enc->channels = channels;
    enc->frame_samples = CRP_OPUS_RATE / 1000 * frame_ms;
    enc->pending = g_new0(gint16, (gsize)enc->frame_samples * channels);
    return enc;
}

void
crp_opus_encoder_free(CrpOpusEncoder *enc)
{
    if (!enc) {
        return;
    }
    opus_encoder_destroy(enc->opus);
    g_free(enc->pending);
    g_free(enc);
}

/* Encodes one full frame at @frame and hands the packet to @func. */
static gboolean
encode_frame(CrpOpusEncoder *enc, const gint16 *frame,
             CrpOpusPacketFunc func, gpointer user_data, GError **error)
{
    opus_int32 len = opus_encode(enc->opus, frame, enc->frame_samples,
                                 enc->packet, sizeof(enc->packet));
    if (len < 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "Opus: encoding failed: %s", opus_strerror(len));
        return FALSE;
    }
    guint64 timestamp_us = enc->position * G_USEC_PER_SEC / CRP_OPUS_RATE;
    enc->position += (guint64)enc->frame_samples;
    func(enc->packet, (gsize)len, timestamp_us, user_data);
    return TRUE;
}

gboolean
crp_opus_encoder_push(CrpOpusEncoder *enc, const gint16 *pcm,
                      gsize n_samples, CrpOpusPacketFunc func,
                      gpointer user_data, GError **error)
{
    if (!enc || !func || (!pcm && n_samples)) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_STATE,
                            "Opus: push without encoder, callback or PCM");
        return FALSE;
    }

    const gsize ch = (gsize)enc->channels;
    const gsize frame = (gsize)enc->frame_samples;

    if (n_samples == 0) {
        return TRUE;            /* pcm may be NULL: nothing to copy */
    }
    /* Top up a partial frame first. */
    if (enc->n_pending) {
        gsize take = MIN(frame - (gsize)enc->n_pending, n_samples);
        memcpy(enc->pending + (gsize)enc->n_pending * ch, pcm,
               take * ch * sizeof(gint16));
        enc->n_pending += (int)take;
        pcm += take * ch;
        n_samples -= take;
        if ((gsize)enc->n_pending < frame) {
            return TRUE;
        }
        enc->n_pending = 0;
        if (!encode_frame(enc, enc->pending, func, user_data, error)) {
            return FALSE;
        }
    }

    /* Whole frames straight from the caller's buffer, without a copy. */
    while (n_samples >= frame) {
        if (!encode_frame(enc, pcm, func, user_data, error)) {
            return FALSE;
        }
        pcm += frame * ch;
        n_samples -= frame;
    }

    if (n_samples) {
        memcpy(enc->pending, pcm, n_samples * ch * sizeof(gint16));
        enc->n_pending = (int)n_samples;
    }
    return TRUE;
}

CrpOpusDecoder *
crp_opus_decoder_new(int channels, GError **error)
{
    if (!check_channels(channels, error)) {
        return NULL;
    }
    int err = OPUS_OK;
    OpusDecoder *opus = opus_decoder_create(CRP_OPUS_RATE, channels, &err);
    if (!opus) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "Opus: cannot create decoder: %s", opus_strerror(err));
        return NULL;
    }
    CrpOpusDecoder *dec = g_new0(CrpOpusDecoder, 1);
    dec->opus = opus;
    dec->channels = channels;
    return dec;
}

void
crp_opus_decoder_free(CrpOpusDecoder *dec)
{
    if (!dec) {
        return;
    }
    opus_decoder_destroy(dec->opus);
    g_free(dec);
}

int
crp_opus_decoder_decode(CrpOpusDecoder *dec, const guint8 *packet,
                        gsize len, gint16 *pcm, int max_samples,
                        GError **error)
{
    if (!dec || !pcm || (!packet && len)) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_STATE,
                            "Opus: decode without decoder or buffer");
        return -1;
    }
    if (max_samples < CRP_OPUS_MAX_FRAME_SAMPLES) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "Opus: room for %d samples, need %d", max_samples,
                    CRP_OPUS_MAX_FRAME_SAMPLES);
        return -1;
    }
    if (packet && len == 0) {
        /* libopus would take this for a lost packet; only NULL means that. */
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_CODEC,
                            "Opus: empty packet");
        return -1;
    }
    if (len > CRP_MAX_AUDIO_PACKET) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE,
                    "Opus: %" G_GSIZE_FORMAT "-byte packet (max %d)", len,
                    CRP_MAX_AUDIO_PACKET);
        return -1;
    }

    /* A lost frame is concealed as exactly one 20 ms frame. */
    int frame_size = packet ? MIN(max_samples, MAX_PACKET_SAMPLES)
                            : CRP_OPUS_MAX_FRAME_SAMPLES;
    int n = opus_decode(dec->opus, packet, (opus_int32)len, pcm, frame_size, 0);
    if (n < 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "Opus: cannot decode %" G_GSIZE_FORMAT "-byte packet: %s",
                    len, opus_strerror(n));
        return -1;
    }
    return n;
}
