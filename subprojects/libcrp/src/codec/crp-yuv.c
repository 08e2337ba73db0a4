/*
 * crp-yuv.c: x8r8g8b8 pixels to and from YUV 4:2:0 (I420), BT.601
 * coefficients, full range, as docs/protocol.md says for H264 rects.
 *
 * Fixed point with 16 fractional bits; each direction rounds to nearest.
 * Chroma is the mean of each 2x2 block's chroma. Full range keeps the
 * 256 levels a desktop's pixels have (limited range would fold 256 into
 * 220 before the codec even starts).
 */
#include "codec/crp-codec-private.h"

#include <string.h>

#define FIX(x) ((gint32)((x) * 65536.0 + 0.5))
#define HALF (1 << 15)

void
crp_yuv_init(CrpYuv *yuv, int width, int height)
{
    g_assert(width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0);
    gsize luma = (gsize)width * height;
    yuv->width = width;
    yuv->height = height;
    yuv->data = g_malloc(luma + luma / 2);
    yuv->plane[0] = yuv->data;
    yuv->plane[1] = yuv->data + luma;
    yuv->plane[2] = yuv->plane[1] + luma / 4;
    yuv->stride[0] = width;
    yuv->stride[1] = yuv->stride[2] = width / 2;
}

void
crp_yuv_finish(CrpYuv *yuv)
{
    g_clear_pointer(&yuv->data, g_free);
    memset(yuv, 0, sizeof(*yuv));
}

static inline guint8
clamp8(gint32 v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (guint8)v;
}

void
crp_yuv_from_pixels(CrpPixels px, CrpYuv *yuv)
{
    g_assert(px.width == yuv->width && px.height == yuv->height);

    for (int y = 0; y < px.height; y += 2) {
        const guint32 *r0 = crp_pixels_row(px, y);
        const guint32 *r1 = crp_pixels_row(px, y + 1);
        guint8 *y0 = yuv->plane[0] + (gsize)y * yuv->stride[0];
        guint8 *y1 = y0 + yuv->stride[0];
        guint8 *u = yuv->plane[1] + (gsize)(y / 2) * yuv->stride[1];
        guint8 *v = yuv->plane[2] + (gsize)(y / 2) * yuv->stride[2];

        for (int x = 0; x < px.width; x += 2) {
            guint32 p[4] = { r0[x], r0[x + 1], r1[x], r1[x + 1] };
            gint32 rs = 0, gs = 0, bs = 0;
            for (int i = 0; i < 4; i++) {
                gint32 r = (p[i] >> 16) & 0xff, g = (p[i] >> 8) & 0xff, b = p[i] & 0xff;
                guint8 luma = (guint8)((FIX(0.299) * r + FIX(0.587) * g +
                                        FIX(0.114) * b + HALF) >> 16);
                if (i < 2) {
                    y0[x + i] = luma;
                } else {
                    y1[x + i - 2] = luma;
                }
                rs += r;
                gs += g;
                bs += b;
            }
            /* The sums are 4x the mean: shift by 2 more. */
            u[x / 2] = clamp8((-FIX(0.168736) * rs - FIX(0.331264) * gs +
                               FIX(0.5) * bs + (128 << 18) + (1 << 17)) >> 18);
            v[x / 2] = clamp8((FIX(0.5) * rs - FIX(0.418688) * gs -
                               FIX(0.081312) * bs + (128 << 18) + (1 << 17)) >> 18);
        }
    }
}

void
crp_yuv_to_pixels(const guint8 *const plane[3], const int stride[3],
                  CrpPixels dst)
{
    for (int y = 0; y < dst.height; y++) {
        const guint8 *yr = plane[0] + (gsize)y * stride[0];
        const guint8 *ur = plane[1] + (gsize)(y / 2) * stride[1];
        const guint8 *vr = plane[2] + (gsize)(y / 2) * stride[2];
        guint32 *out = crp_pixels_row(dst, y);

        for (int x = 0; x < dst.width; x++) {
            gint32 l = (gint32)yr[x] << 16;
            gint32 cb = ur[x / 2] - 128, cr = vr[x / 2] - 128;
            guint32 r = clamp8((l + FIX(1.402) * cr + HALF) >> 16);
            guint32 g = clamp8((l - FIX(0.344136) * cb - FIX(0.714136) * cr + HALF) >> 16);
            guint32 b = clamp8((l + FIX(1.772) * cb + HALF) >> 16);
            out[x] = r << 16 | g << 8 | b;
        }
    }
}
