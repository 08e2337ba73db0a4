/* crp-png.c: minimal PNG encoder (see crp-png.h). */
#include "crp/crp-png.h"
#include "crp/crp-wire.h"

#include <zlib.h>

/* Appends one chunk: length, type, data, CRC over type and data. */
static void
put_chunk(GByteArray *out, const char type[4], const guint8 *data, gsize len)
{
    crp_put_u32(out, len);
    gsize crc_start = out->len;
    crp_put_bytes(out, type, 4);
    crp_put_bytes(out, data, len);
    uLong crc = crc32(0, out->data + crc_start, out->len - crc_start);
    crp_put_u32(out, (guint32)crc);
}

GBytes *
crp_png_encode(pixman_image_t *image)
{
    static const guint8 signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    int width = pixman_image_get_width(image);
    int height = pixman_image_get_height(image);
    int stride = pixman_image_get_stride(image) / 4;
    const guint32 *px = pixman_image_get_data(image);

    g_return_val_if_fail(pixman_image_get_format(image) == PIXMAN_x8r8g8b8 ||
                         pixman_image_get_format(image) == PIXMAN_a8r8g8b8, NULL);

    /* Scanlines: filter byte 0 (none), then R, G, B. */
    gsize row_len = 1 + (gsize)width * 3;
    g_autofree guint8 *raw = g_malloc(row_len * height);
    for (int y = 0; y < height; y++) {
        guint8 *dst = raw + row_len * y;
        const guint32 *src = px + (gsize)y * stride;
        *dst++ = 0;
        for (int x = 0; x < width; x++) {
            *dst++ = src[x] >> 16;
            *dst++ = src[x] >> 8;
            *dst++ = src[x];
        }
    }
    uLongf zlen = compressBound(row_len * height);
    g_autofree guint8 *z = g_malloc(zlen);
    compress2(z, &zlen, raw, row_len * height, 6);

    GByteArray *out = g_byte_array_new();
    g_autoptr(GByteArray) ihdr = g_byte_array_new();
    crp_put_u32(ihdr, width);
    crp_put_u32(ihdr, height);
    crp_put_u8(ihdr, 8);        /* bit depth */
    crp_put_u8(ihdr, 2);        /* colour type: truecolour */
    crp_put_u8(ihdr, 0);        /* compression */
    crp_put_u8(ihdr, 0);        /* filter */
    crp_put_u8(ihdr, 0);        /* interlace */
    crp_put_bytes(out, signature, sizeof(signature));
    put_chunk(out, "IHDR", ihdr->data, ihdr->len);
    put_chunk(out, "IDAT", z, zlen);
    put_chunk(out, "IEND", NULL, 0);
    return g_byte_array_free_to_bytes(out);
}
