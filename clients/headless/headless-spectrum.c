/*
 * headless-spectrum.c: dominant frequency by FFT (see headless-spectrum.h).
 *
 * A Hann-windowed block, zero-padded to 2^16 points, then a parabola
 * through the peak bin and its neighbours on the log magnitude: accurate
 * to well under 1 Hz for a clean tone, which Goertzel at every candidate
 * frequency would need ~10^9 operations to match.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless-spectrum.h"

#include <math.h>

#define FFT_SIZE 65536
#define MIN_HZ 20.0

/* In-place iterative radix-2 FFT of @n (a power of two) complex values. */
static void fft(double *re, double *im, gsize n)
{
    for (gsize i = 1, j = 0; i < n; i++) {
        gsize bit = n >> 1;
        for (; j & bit; bit >>= 1) {
            j ^= bit;
        }
        j ^= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (gsize len = 2; len <= n; len <<= 1) {
        double angle = -2 * G_PI / len;
        double wr = cos(angle), wi = sin(angle);
        for (gsize i = 0; i < n; i += len) {
            double cr = 1, ci = 0;
            for (gsize k = 0; k < len / 2; k++) {
                gsize a = i + k, b = i + k + len / 2;
                double tr = re[b] * cr - im[b] * ci;
                double ti = re[b] * ci + im[b] * cr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                double ncr = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = ncr;
            }
        }
    }
}

double hl_spectrum_dominant(const gint16 *samples, gsize n, int rate,
                            double *rms)
{
    double sum = 0;

    *rms = 0;
    if (n < HL_SPECTRUM_MIN_SAMPLES) {
        return 0;
    }
    if (n > FFT_SIZE) {
        samples += n - FFT_SIZE;
        n = FFT_SIZE;
    }
    g_autofree double *re = g_new0(double, FFT_SIZE);
    g_autofree double *im = g_new0(double, FFT_SIZE);
    for (gsize i = 0; i < n; i++) {
        double w = 0.5 - 0.5 * cos(2 * G_PI * i / (n - 1));
        re[i] = samples[i] * w;
        sum += (double)samples[i] * samples[i];
    }
    *rms = sqrt(sum / n);
    fft(re, im, FFT_SIZE);

    gsize lo = (gsize)ceil(MIN_HZ * FFT_SIZE / rate), best = lo;
    double best_mag = -1;
    for (gsize k = lo; k < FFT_SIZE / 2 - 1; k++) {
        double mag = re[k] * re[k] + im[k] * im[k];
        if (mag > best_mag) {
            best_mag = mag;
            best = k;
        }
    }
    double offset = 0;
    if (best > lo) {
        double a = log(re[best - 1] * re[best - 1] + im[best - 1] * im[best - 1] + 1e-9);
        double b = log(best_mag + 1e-9);
        double c = log(re[best + 1] * re[best + 1] + im[best + 1] * im[best + 1] + 1e-9);
        double denom = a - 2 * b + c;
        if (denom < 0) {
            offset = 0.5 * (a - c) / denom;
        }
    }
    return (best + offset) * rate / FFT_SIZE;
}
