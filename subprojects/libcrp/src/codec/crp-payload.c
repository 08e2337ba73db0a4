/*
 * crp-payload.c: what ZLIB and ZSTD rects compress, uncompressed.
 *
 * u8 n; n == 0: B,G,R per pixel; else n palette entries B,G,R and the
 * indices packed crp_palette_bits(n) to a byte, most significant bits
 * first, each row starting on a byte (docs/protocol.md, "RECT"). Building
 * and checking it lives here, apart from the two streams that carry it.
 */
#include "codec/crp-codec-private.h"
#include "crp/crp-error.h"

#include <string.h>

guint
crp_palette_bits(guint n)
{
    return n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
}

gsize
crp_palette_row_bytes(guint n, int width)
{
    return ((gsize)width * crp_palette_bits(n) + 7) / 8;
}

gsize
crp_payload_size(guint8 n, int width, int height)
{
    gsize npixels = (gsize)width * height;
    return 1 + (n == 0 ? npixels * 3
                       : 3 * (gsize)n + crp_palette_row_bytes(n, width) * height);
}

static guint8 *
buffer_ensure(CrpBuffer *buf, gsize len)
{
    if (len > buf->cap) {
        buf->cap = MAX(len, 2 * buf->cap);
        buf->data = g_realloc(buf->data, buf->cap);
    }
    return buf->data;
}

void
crp_buffer_finish(CrpBuffer *buf)
{
    g_clear_pointer(&buf->data, g_free);
    buf->cap = 0;
}

/* One row of @bits-wide indices; inlined with @bits constant, the inner
 * loop unrolls (on two-colour text this packing was a seventh of the
 * encoder's time with the bounds check in it). */
static inline void
pack_row(const guint8 *in, int width, guint bits, guint8 *out)
{
    const int per_byte = 8 / bits;
    int x = 0;

    for (; x + per_byte <= width; x += per_byte) {
        guint v = 0;
        for (int k = 0; k < per_byte; k++) {
            v = (v << bits) | in[x + k];
        }
        *out++ = (guint8)v;
    }
    if (x < width) {
        guint v = 0;
        for (int k = 0; k < per_byte; k++) {
            v = (v << bits) | (x + k < width ? in[x + k] : 0);
        }
        *out = (guint8)v;
    }
}

/* Packs @bits-wide indices of a @width x @height rect into @out. */
static void
pack_indices(const guint8 *indices, int width, int height, guint bits,
             guint8 *out)
{
    gsize row_bytes = ((gsize)width * bits + 7) / 8;

    if (bits == 8) {
        memcpy(out, indices, (gsize)width * height);
        return;
    }
    for (int y = 0; y < height; y++, out += row_bytes) {
        const guint8 *in = indices + (gsize)y * width;
        switch (bits) {
        case 1:
            pack_row(in, width, 1, out);
            break;
        case 2:
            pack_row(in, width, 2, out);
            break;
        default:
            pack_row(in, width, 4, out);
            break;
        }
    }
}

gsize
crp_payload_palette(const CrpPalette *pal, const guint8 *indices, int width,
                    int height, CrpBuffer *buf)
{
    g_assert(pal->n >= 1 && pal->n <= CRP_PALETTE_MAX);
    gsize len = crp_payload_size((guint8)pal->n, width, height);
    guint8 *p = buffer_ensure(buf, len);

    *p++ = (guint8)pal->n;
    for (guint i = 0; i < pal->n; i++) {
        guint32 c = pal->colours[i];
        *p++ = c & 0xff;
        *p++ = (c >> 8) & 0xff;
        *p++ = (c >> 16) & 0xff;
    }
    pack_indices(indices, width, height, crp_palette_bits(pal->n), p);
    return len;
}

gsize
crp_payload_truecolor(CrpPixels px, CrpBuffer *buf)
{
    gsize len = crp_payload_size(0, px.width, px.height);
    guint8 *p = buffer_ensure(buf, len);

    *p++ = 0;
    for (int y = 0; y < px.height; y++) {
        const guint32 *row = crp_pixels_row(px, y);
        for (int x = 0; x < px.width; x++) {
            guint32 c = row[x];
            p[0] = c & 0xff;
            p[1] = (c >> 8) & 0xff;
            p[2] = (c >> 16) & 0xff;
            p += 3;
        }
    }
    return len;
}

static gboolean
unpack_palette(const guint8 *in, guint n, CrpPixels dst, const char *what,
               GError **error)
{
    guint32 lut[256];
    guint bits = crp_palette_bits(n);
    guint mask = (1u << bits) - 1;
    gsize row_bytes = crp_palette_row_bytes(n, dst.width);

    for (guint i = 0; i < n; i++) {
        lut[i] = in[0] | (in[1] << 8) | ((guint32)in[2] << 16);
        in += 3;
    }
    for (int y = 0; y < dst.height; y++, in += row_bytes) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            gsize bit = (gsize)x * bits;
            guint index = (in[bit / 8] >> (8 - bits - bit % 8)) & mask;
            if (G_UNLIKELY(index >= n)) {
                g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                            "%s rect: palette index %u of %u colours", what,
                            index, n);
                return FALSE;
            }
            row[x] = lut[index];
        }
    }
    return TRUE;
}

static void
unpack_truecolor(const guint8 *in, CrpPixels dst)
{
    for (int y = 0; y < dst.height; y++) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            row[x] = in[0] | (in[1] << 8) | ((guint32)in[2] << 16);
            in += 3;
        }
    }
}

guint8 *
crp_payload_begin(CrpBuffer *buf, guint8 n, int width, int height, gsize *room)
{
    /* One byte of room more than the payload: a stream that fills it
     * holds too much for the rect. */
    *room = crp_payload_size(n, width, height);
    guint8 *p = buffer_ensure(buf, *room + 1);
    p[0] = n;
    return p + 1;
}

gboolean
crp_payload_end(CrpBuffer *buf, gsize got, gboolean input_left, CrpPixels dst,
                const char *what, GError **error)
{
    gsize want = crp_payload_size(buf->data[0], dst.width, dst.height) - 1;

    if (got != want || input_left) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "%s rect: %s data for %dx%d pixels", what,
                    got < want ? "too little" : "too much", dst.width, dst.height);
        return FALSE;
    }
    return crp_payload_unpack(buf->data, dst, what, error);
}

gboolean
crp_payload_unpack(const guint8 *payload, CrpPixels dst, const char *what,
                   GError **error)
{
    guint8 n = payload[0];

    if (n == 0) {
        unpack_truecolor(payload + 1, dst);
        return TRUE;
    }
    return unpack_palette(payload + 1, n, dst, what, error);
}
