/*
 * spectrum.h - dominant frequency and level of a block of samples
 *
 * Used by the guest (microphone reports) and, since the binaries are static
 * x86_64 executables, by host-side tests on WAV files as well, so guest and
 * host measure sound the same way.
 */
#ifndef CRP_GUEST_SPECTRUM_H
#define CRP_GUEST_SPECTRUM_H

#include <stddef.h>
#include <stdint.h>

/* Below this RMS (full scale = 1.0, about -66 dBFS) a block counts as silence. */
#define CRP_SPECTRUM_SILENCE_RMS 0.0005

typedef struct CrpSpectrumResult {
    double freq; /* dominant frequency in Hz; 0 for silence */
    double rms;  /* RMS level, full scale = 1.0 */
    double peak; /* largest absolute sample, full scale = 1.0 */
} CrpSpectrumResult;

/**
 * crp_spectrum_analyse:
 * @samples: interleaved S16 samples
 * @frames: number of frames
 * @channels: channels per frame; they are mixed to mono
 * @rate: sample rate in Hz
 * @max_fft: upper bound of the FFT size (a power of two; 0 = 16384)
 *
 * RMS and peak cover all frames; the frequency comes from a Hann-windowed
 * FFT of the middle frames (the largest power of two <= min(frames,
 * max_fft)), peak bin refined by parabolic interpolation on the log
 * magnitude, ignoring anything below 20 Hz. Returns 0, or -1 when out of
 * memory.
 */
int crp_spectrum_analyse(const int16_t *samples, size_t frames,
                         unsigned channels, unsigned rate, size_t max_fft,
                         CrpSpectrumResult *out);

#endif
