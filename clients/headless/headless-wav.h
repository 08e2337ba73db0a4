/*
 * headless-wav.h: 16-bit PCM WAV files, read whole or written as a stream.
 *
 * A stream's length is only known at its end, so the writer puts a
 * placeholder header first and fixes the sizes up when it is closed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct HlWavWriter HlWavWriter;

/** Creates @path (48 kHz s16); the channel count is fixed by the first
 *  write (2 if nothing is ever written). */
HlWavWriter *hl_wav_writer_new(const char *path, GError **error);

/** Appends @n_frames frames of @channels interleaved samples, converting
 *  mono <-> stereo if the file has the other count. */
gboolean hl_wav_writer_write(HlWavWriter *w, const gint16 *pcm, gsize n_frames,
                             int channels, GError **error);

/** Fixes up the header and closes; frees @w whatever happens. */
gboolean hl_wav_writer_close(HlWavWriter *w, GError **error);

/**
 * Reads a PCM WAV file (format 1, or EXTENSIBLE with PCM) of 16-bit
 * samples, 1 or 2 channels, any rate (the caller checks it). Returns the
 * interleaved samples; free with g_free().
 */
gint16 *hl_wav_read(const char *path, gsize *n_frames, int *channels,
                    int *rate, GError **error);

G_END_DECLS
