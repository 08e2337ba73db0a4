/*
 * crp-opus.h: Opus encoder and decoder for CRP audio: 48 kHz, interleaved
 * signed 16-bit PCM, mono or stereo, 10 or 20 ms frames.
 *
 * The encoder accepts PCM in chunks of any size (as QEMU's audio layer
 * hands it over) and emits one packet per complete frame.
 */
#pragma once

#include <glib.h>
#include "crp/crp-message.h"

G_BEGIN_DECLS

#define CRP_OPUS_RATE 48000
/** Samples per channel in the longest frame we use (20 ms). */
#define CRP_OPUS_MAX_FRAME_SAMPLES 960

typedef struct CrpOpusEncoder CrpOpusEncoder;
typedef struct CrpOpusDecoder CrpOpusDecoder;

/** Called once per encoded packet; @timestamp_us is the packet's first
 *  sample's position in the stream (0 for the first). */
typedef void (*CrpOpusPacketFunc)(const guint8 *packet, gsize len,
                                  guint64 timestamp_us, gpointer user_data);

/**
 * @channels 1 or 2; @frame_ms 10 or 20; @bitrate in bit/s (0: 96000 for
 * stereo, 48000 for mono). Low-delay application mode.
 */
CrpOpusEncoder *crp_opus_encoder_new(int channels, int frame_ms, int bitrate,
                                     GError **error);
void crp_opus_encoder_free(CrpOpusEncoder *enc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpOpusEncoder, crp_opus_encoder_free)

/** Buffers @n_samples samples per channel of interleaved @pcm and calls
 *  @func for every complete frame. */
gboolean crp_opus_encoder_push(CrpOpusEncoder *enc, const gint16 *pcm,
                               gsize n_samples, CrpOpusPacketFunc func,
                               gpointer user_data, GError **error);

CrpOpusDecoder *crp_opus_decoder_new(int channels, GError **error);
void crp_opus_decoder_free(CrpOpusDecoder *dec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpOpusDecoder, crp_opus_decoder_free)

/**
 * Decodes one packet into @pcm (room for @max_samples samples per channel,
 * at least CRP_OPUS_MAX_FRAME_SAMPLES). @packet NULL conceals one lost
 * 20 ms frame. Returns samples per channel, or -1 with @error set.
 */
int crp_opus_decoder_decode(CrpOpusDecoder *dec, const guint8 *packet,
                            gsize len, gint16 *pcm, int max_samples,
                            GError **error);

G_END_DECLS
