/*
 * bench-h264-x264.c: x264 for bench-h264-codecs.c, in a file of its own
 * because x264.h and openh264's headers define the same enumerators.
 */
#include "bench-h264-x264.h"

#include <stdint.h>
#include <x264.h>

struct BenchX264 {
    x264_t *h;
    x264_picture_t in, out;
};

BenchX264 *
bench_x264_new(int width, int height, int qp, const char *preset)
{
    x264_param_t p;
    BenchX264 *x = g_new0(BenchX264, 1);

    x264_param_default_preset(&p, preset, "zerolatency");
    p.i_threads = 1;
    p.i_width = width;
    p.i_height = height;
    p.i_csp = X264_CSP_I420;
    p.i_fps_num = 30;
    p.i_fps_den = 1;
    p.i_keyint_max = X264_KEYINT_MAX_INFINITE;
    p.rc.i_rc_method = X264_RC_CQP;
    p.rc.i_qp_constant = qp;
    p.b_repeat_headers = 1;
    p.b_annexb = 1;
    p.vui.b_fullrange = 1;
    p.i_log_level = X264_LOG_ERROR;
    x264_param_apply_profile(&p, "baseline");
    x->h = x264_encoder_open(&p);
    g_assert(x->h);
    x264_picture_init(&x->in);
    x->in.img.i_csp = X264_CSP_I420;
    x->in.img.i_plane = 3;
    return x;
}

const guint8 *
bench_x264_encode(BenchX264 *x, guint8 *const plane[3], const int stride[3],
                  gint64 pts, gsize *len)
{
    x264_nal_t *nals;
    int nnal;

    for (int i = 0; i < 3; i++) {
        x->in.img.plane[i] = plane[i];
        x->in.img.i_stride[i] = stride[i];
    }
    x->in.i_pts = pts;
    int size = x264_encoder_encode(x->h, &nals, &nnal, &x->in, &x->out);
    g_assert(size > 0);
    *len = size;
    /* The NALs' payloads lie one after the other. */
    return nals[0].p_payload;
}

void
bench_x264_free(BenchX264 *x)
{
    x264_encoder_close(x->h);
    g_free(x);
}
