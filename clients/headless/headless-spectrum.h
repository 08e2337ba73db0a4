/*
 * headless-spectrum.h: the dominant frequency of a stretch of audio.
 *
 * Shared by crp-headless (expect-audio) and the test's fake server (what
 * it heard on the microphone), so both judge tones the same way.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** Fewest samples worth analysing (about 43 ms at 48 kHz). */
#define HL_SPECTRUM_MIN_SAMPLES 2048

/**
 * Estimates the strongest frequency in @n mono samples at @rate Hz (the
 * last 65,536 samples if there are more), between 20 Hz and @rate / 2.
 * *@rms is set to the signal's RMS level (0..32767) so callers can tell
 * silence from a tone. Returns 0 if @n < HL_SPECTRUM_MIN_SAMPLES.
 */
double hl_spectrum_dominant(const gint16 *samples, gsize n, int rate,
                            double *rms);

G_END_DECLS
