/* bench-h264-x264.h: x264 behind a wall (see bench-h264-x264.c). */
#pragma once

#include <glib.h>

typedef struct BenchX264 BenchX264;

/** One thread, zerolatency, baseline profile, constant @qp, full range. */
BenchX264 *bench_x264_new(int width, int height, int qp, const char *preset);
/** Encodes one I420 picture; returns the access unit (valid until the
 *  next call) and its length in *@len. */
const guint8 *bench_x264_encode(BenchX264 *x, guint8 *const plane[3],
                                const int stride[3], gint64 pts, gsize *len);
void bench_x264_free(BenchX264 *x);
