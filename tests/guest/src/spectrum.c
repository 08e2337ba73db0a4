/*
 * spectrum.c - dominant frequency and level of a block of samples
 */
#include "spectrum.h"

#include <math.h>
#include <stdlib.h>

/* In-place iterative radix-2 FFT; n is a power of two. */
static void fft(float *re, float *im, size_t n)
{
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;

        for (; j & bit; bit >>= 1) {
            j ^= bit;
        }
        j ^= bit;
        if (i < j) {
            float t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        double ang = -2.0 * M_PI / (double)len;
        float wr = (float)cos(ang);
        float wi = (float)sin(ang);

        for (size_t i = 0; i < n; i += len) {
            float cr = 1.0f;
            float ci = 0.0f;

            for (size_t k = 0; k < len / 2; k++) {
                size_t a = i + k;
                size_t b = a + len / 2;
                float xr = re[b] * cr - im[b] * ci;
                float xi = re[b] * ci + im[b] * cr;
                float t;

                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
                t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = t;
            }
        }
    }
}

int crp_spectrum_analyse(const int16_t *samples, size_t frames,
                         unsigned channels, unsigned rate, size_t max_fft,
                         CrpSpectrumResult *out)
{
    double sum2 = 0.0;
    double peak = 0.0;
    size_t n = 1;

    out->freq = 0.0;
    out->rms = 0.0;
    out->peak = 0.0;
    if (frames == 0 || channels == 0) {
        return 0;
    }
    for (size_t i = 0; i < frames * channels; i++) {
        double v = samples[i] / 32768.0;

        sum2 += v * v;
        if (fabs(v) > peak) {
            peak = fabs(v);
        }
    }
    out->rms = sqrt(sum2 / (double)(frames * channels));
    out->peak = peak;
    if (out->rms < CRP_SPECTRUM_SILENCE_RMS) {
        return 0;
    }

    if (max_fft == 0) {
        max_fft = 16384;
    }
    while (n * 2 <= frames && n * 2 <= max_fft) {
        n *= 2;
    }
    if (n < 64) {
        return 0;
    }
    float *re = calloc(n, sizeof(float));
    float *im = calloc(n, sizeof(float));
    if (!re || !im) {
        free(re);
        free(im);
        return -1;
    }
    size_t start = (frames - n) / 2;
    for (size_t i = 0; i < n; i++) {
        const int16_t *f = samples + (start + i) * channels;
        float mono = 0.0f;

        for (unsigned c = 0; c < channels; c++) {
            mono += f[c];
        }
        float w = 0.5f - 0.5f * (float)cos(2.0 * M_PI * i / (n - 1));
        re[i] = w * mono / (32768.0f * channels);
    }
    fft(re, im, n);

    size_t lo = (size_t)(20.0 * n / rate) + 1;
    size_t best = 0;
    double best_mag = -1.0;
    for (size_t k = lo; k < n / 2 - 1; k++) {
        double mag = (double)re[k] * re[k] + (double)im[k] * im[k];

        if (mag > best_mag) {
            best_mag = mag;
            best = k;
        }
    }
    double delta = 0.0;
    if (best > 0) {
        double a = log((double)re[best - 1] * re[best - 1] +
                       (double)im[best - 1] * im[best - 1] + 1e-30);
        double b = log(best_mag + 1e-30);
        double c = log((double)re[best + 1] * re[best + 1] +
                       (double)im[best + 1] * im[best + 1] + 1e-30);
        double d = a - 2.0 * b + c;

        if (d < 0.0) {
            delta = 0.5 * (a - c) / d;
        }
    }
    out->freq = ((double)best + delta) * rate / (double)n;
    free(re);
    free(im);
    return 0;
}
