/* codec-test-utils.c: images, pipelines and checks shared by the codec tests. */
#include "codec-test-utils.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

pixman_image_t *
ct_image_new(int width, int height)
{
    pixman_image_t *image = pixman_image_create_bits(PIXMAN_x8r8g8b8, width,
                                                     height, NULL, 0);
    g_assert_nonnull(image);
    return image;
}

pixman_image_t *
ct_image_copy(pixman_image_t *image)
{
    int w = pixman_image_get_width(image), h = pixman_image_get_height(image);
    pixman_image_t *copy = ct_image_new(w, h);
    for (int y = 0; y < h; y++) {
        memcpy((guint8 *)pixman_image_get_data(copy) + y * pixman_image_get_stride(copy),
               (guint8 *)pixman_image_get_data(image) + y * pixman_image_get_stride(image),
               (gsize)w * 4);
    }
    return copy;
}

static guint32 *
pixel(pixman_image_t *image, int x, int y)
{
    return (guint32 *)((guint8 *)pixman_image_get_data(image) +
                       (gsize)y * pixman_image_get_stride(image)) + x;
}

void
ct_set_pixel(pixman_image_t *image, int x, int y, guint32 rgb)
{
    *pixel(image, x, y) = rgb;
}

guint32
ct_get_pixel(pixman_image_t *image, int x, int y)
{
    return *pixel(image, x, y) & 0xffffff;
}

void
ct_fill_rect(pixman_image_t *image, int x, int y, int w, int h, guint32 rgb)
{
    for (int j = y; j < y + h; j++) {
        for (int i = x; i < x + w; i++) {
            *pixel(image, i, j) = rgb;
        }
    }
}

guint32
ct_mix(guint32 v)
{
    v ^= v >> 16;
    v *= 0x7feb352d;
    v ^= v >> 15;
    v *= 0x846ca68b;
    v ^= v >> 16;
    return v;
}

void
ct_draw_text(pixman_image_t *image, int x, int y, int w, int h,
             int first_line, guint seed)
{
    /* 8x16 cells drawn from 48 fixed pseudo-glyphs, so glyphs repeat the
     * way real text does; ink changes per word like syntax highlighting. */
    static const guint32 inks[] = { 0xd0d0d0, 0x60c060, 0xc06060, 0x6080e0 };
    const guint32 paper = 0x101820;

    for (int j = 0; j < h; j++) {
        int line = first_line + j / 16;
        int gy = j % 16;
        guint32 line_hash = ct_mix(seed * 7919u + (guint32)line);
        int line_len = 4 + line_hash % (guint)MAX(1, w / 8);
        for (int i = 0; i < w; i++) {
            int col = i / 8, gx = i % 8;
            guint32 rgb = paper;
            guint32 ch = ct_mix(line_hash + (guint32)col) % 56;
            if (col < line_len && ch < 48 && gy >= 2 && gy < 14 && gx < 7) {
                /* A glyph row is a few vertical strokes: runs, not dots. */
                guint32 bits = ct_mix(ch * 131u + (guint32)(gy / 3)) & 0x7f;
                if (bits & (1u << gx)) {
                    rgb = inks[ct_mix(line_hash + (guint32)col / 6) % G_N_ELEMENTS(inks)];
                }
            }
            *pixel(image, x + i, y + j) = rgb;
        }
    }
}

void
ct_draw_photo(pixman_image_t *image, int x, int y, int w, int h, int phase)
{
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            double u = (i + phase) / 37.0, v = j / 29.0;
            int r = (int)(128 + 100 * sin(u) * cos(v * 0.7));
            int g = (int)(128 + 90 * sin(u * 0.5 + v));
            int b = (int)(128 + 80 * cos(u * 0.3 - v * 0.9));
            *pixel(image, x + i, y + j) = (guint32)(r << 16 | g << 8 | b);
        }
    }
}

void
ct_draw_noise(pixman_image_t *image, int x, int y, int w, int h, guint seed)
{
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            *pixel(image, x + i, y + j) =
                ct_mix(seed ^ ct_mix((guint32)(j * 65536 + i))) & 0xffffff;
        }
    }
}

void
ct_scramble_pad(pixman_image_t *image, guint seed)
{
    int w = pixman_image_get_width(image), h = pixman_image_get_height(image);
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            guint32 *p = pixel(image, i, j);
            *p = (*p & 0xffffff) | (ct_mix(seed + (guint32)(j * w + i)) << 24);
        }
    }
}

CrpDecoder *
ct_decoder_new(int width, int height)
{
    CrpDecoder *dec = crp_decoder_new();
    CrpSurfaceMsg surface = { width, height };
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_decoder_set_surface(dec, &surface, &error));
    g_assert_no_error(error);
    return dec;
}

void
ct_apply(CrpDecoder *dec, GByteArray *out, CtApplied *applied)
{
    gsize pos = 0;
    while (pos < out->len) {
        CrpMessage msg;
        g_autoptr(GError) error = NULL;
        gsize used = crp_message_decode(out->data + pos, out->len - pos, &msg, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(used, >, 0);
        g_assert_cmpuint(msg.type, ==, CRP_MSG_RECT);
        g_assert_true(crp_decoder_apply_rect(dec, &msg.rect, msg.flags, &error));
        g_assert_no_error(error);
        if (applied) {
            applied->rects++;
            g_assert_cmpuint(msg.rect.encoding, <, G_N_ELEMENTS(applied->by_encoding));
            applied->by_encoding[msg.rect.encoding]++;
            applied->lossy += (msg.flags & CRP_RECT_FLAG_LOSSY) != 0;
            applied->zlib_reset += (msg.flags & CRP_RECT_FLAG_STREAM_RESET) != 0;
            applied->picture += (msg.flags & CRP_RECT_FLAG_PICTURE_STREAM) != 0;
            if (msg.rect.encoding == CRP_ENCODING_H264) {
                applied->h264_reset += (msg.flags & CRP_RECT_FLAG_STREAM_RESET) != 0;
                applied->h264_box = (pixman_box32_t){
                    msg.rect.x, msg.rect.y, msg.rect.x + msg.rect.width,
                    msg.rect.y + msg.rect.height };
            }
        }
        pos += used;
    }
}

void
ct_step(CrpEncoder *enc, CrpDecoder *dec, pixman_image_t *prev,
        pixman_image_t *cur, gint64 now_us, CrpEncodeStats *stats,
        CtApplied *applied)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    CrpEncodeStats st;
    guint rects = crp_encoder_encode_frame(enc, prev, cur, NULL, now_us, out, &st);
    g_assert_cmpuint(rects, ==, st.rects);
    g_assert_cmpuint(st.bytes, ==, out->len);
    CtApplied local = { 0 };
    ct_apply(dec, out, &local);
    g_assert_cmpuint(local.rects, ==, st.rects);
    if (stats) {
        *stats = st;
    }
    if (applied) {
        *applied = local;
    }
}

gboolean
ct_images_equal(pixman_image_t *a, pixman_image_t *b)
{
    int w = pixman_image_get_width(a), h = pixman_image_get_height(a);
    if (w != pixman_image_get_width(b) || h != pixman_image_get_height(b)) {
        return FALSE;
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            if (ct_get_pixel(a, x, y) != ct_get_pixel(b, x, y)) {
                return FALSE;
            }
        }
    }
    return TRUE;
}

double
ct_psnr(pixman_image_t *a, pixman_image_t *b)
{
    int w = pixman_image_get_width(a), h = pixman_image_get_height(a);
    double se = 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            guint32 p = ct_get_pixel(a, x, y), q = ct_get_pixel(b, x, y);
            for (int s = 0; s < 24; s += 8) {
                double d = (double)((p >> s) & 0xff) - (double)((q >> s) & 0xff);
                se += d * d;
            }
        }
    }
    if (se == 0) {
        return 1000;
    }
    double mse = se / ((double)w * h * 3);
    return 10 * log10(255.0 * 255.0 / mse);
}

void
ct_deflate_chunk(struct z_stream_s *strm, const guint8 *data, gsize len,
                 GByteArray *out)
{
    guint8 buf[4096];
    strm->next_in = (Bytef *)data;
    strm->avail_in = (uInt)len;
    do {
        strm->next_out = buf;
        strm->avail_out = sizeof(buf);
        int ret = deflate(strm, Z_SYNC_FLUSH);
        g_assert_true(ret == Z_OK || ret == Z_BUF_ERROR);
        g_byte_array_append(out, buf, sizeof(buf) - strm->avail_out);
    } while (strm->avail_out == 0);
}

gboolean
ct_find_rect(GByteArray *out, CrpEncoding encoding, CrpMessage *msg)
{
    gsize pos = 0;
    while (pos < out->len) {
        gsize used = crp_message_decode(out->data + pos, out->len - pos, msg, NULL);
        g_assert_cmpuint(used, >, 0);
        if (msg->type == CRP_MSG_RECT && msg->rect.encoding == encoding) {
            return TRUE;
        }
        pos += used;
    }
    return FALSE;
}
