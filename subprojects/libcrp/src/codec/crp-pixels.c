/*
 * crp-pixels.c: the per-pixel loops that do not compress: colour counting
 * for palettes, RAW packing, FILL and COPY on a framebuffer.
 *
 * These run for every changed tile, so they stay branch-light.
 */
#include "codec/crp-codec-private.h"

#include <string.h>

#define SLOTS G_N_ELEMENTS(((CrpPalette *)NULL)->keys)
/* Colours are masked to 24 bits, so this never matches one. */
#define EMPTY_KEY 0xffffffffu

static inline guint
slot_of(guint32 rgb)
{
    /* Fibonacci hashing; the table has 512 slots. */
    return (rgb * 0x9e3779b1u) >> 23;
}

/* Index of @rgb, inserting it; -1 once the palette would exceed @max. */
static inline int
palette_lookup(CrpPalette *pal, guint32 rgb, guint max)
{
    guint s = slot_of(rgb);
    for (;;) {
        guint32 key = pal->keys[s];
        if (key == rgb) {
            return pal->index[s];
        }
        if (key == EMPTY_KEY) {
            break;
        }
        s = (s + 1) & (SLOTS - 1);
    }
    if (pal->n >= max) {
        return -1;
    }
    pal->keys[s] = rgb;
    pal->index[s] = (guint8)pal->n;
    pal->colours[pal->n] = rgb;
    return (int)pal->n++;
}

guint
crp_palette_scan(CrpPalette *pal, CrpPixels px, guint max, guint8 *indices)
{
    g_assert(max >= 1 && max <= CRP_PALETTE_MAX);

    memset(pal->keys, 0xff, sizeof(pal->keys));
    pal->n = 0;
    guint8 *out = indices;

    /* Comparing with the previous pixel would mispredict at every edge of
     * a glyph; a colour almost always sits in its home slot, a branch that
     * is predicted right once the tile's few colours are known. */
    for (int y = 0; y < px.height; y++) {
        const guint32 *row = crp_pixels_row(px, y);
        /* Rows repeat (blank lines, vertical strokes, flat UI): reuse the
         * indices of the row above for the price of a memcmp(). */
        if (y > 0 && memcmp(row, row - px.stride, (gsize)px.width * 4) == 0) {
            memcpy(out, out - px.width, px.width);
            out += px.width;
            continue;
        }
        for (int x = 0; x < px.width; x++) {
            guint32 rgb = row[x] & CRP_PIXEL_RGB_MASK;
            guint s = slot_of(rgb);
            if (G_LIKELY(pal->keys[s] == rgb)) {
                *out++ = pal->index[s];
                continue;
            }
            int index = palette_lookup(pal, rgb, max);
            if (index < 0) {
                return max + 1;
            }
            *out++ = (guint8)index;
        }
    }
    return pal->n;
}

void
crp_raw_pack(CrpPixels px, guint8 *out)
{
    for (int y = 0; y < px.height; y++) {
        const guint32 *row = crp_pixels_row(px, y);
        /* Rows repeat (blank lines, vertical strokes, flat UI): reuse the
         * bytes of the row above (4 a pixel) for the price of a memcmp(). */
        if (y > 0 && memcmp(row, row - px.stride, (gsize)px.width * 4) == 0) {
            memcpy(out, out - (gsize)px.width * 4, (gsize)px.width * 4);
            out += (gsize)px.width * 4;
            continue;
        }
        for (int x = 0; x < px.width; x++) {
            guint32 le = GUINT32_TO_LE(row[x] & CRP_PIXEL_RGB_MASK);
            memcpy(out, &le, 4);
            out += 4;
        }
    }
}

void
crp_raw_unpack(const guint8 *in, CrpPixels dst)
{
    for (int y = 0; y < dst.height; y++) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            guint32 le;
            memcpy(&le, in, 4);
            row[x] = GUINT32_FROM_LE(le) & CRP_PIXEL_RGB_MASK;
            in += 4;
        }
    }
}

void
crp_pixels_fill(CrpPixels dst, guint32 rgb)
{
    rgb &= CRP_PIXEL_RGB_MASK;
    for (int y = 0; y < dst.height; y++) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            row[x] = rgb;
        }
    }
}

void
crp_pixels_copy_area(pixman_image_t *image, int src_x, int src_y,
                     int dst_x, int dst_y, int w, int h)
{
    gsize stride = (gsize)pixman_image_get_stride(image) / 4;
    guint32 *data = pixman_image_get_data(image);
    guint32 *src = data + (gsize)src_y * stride + src_x;
    guint32 *dst = data + (gsize)dst_y * stride + dst_x;
    gsize row_bytes = (gsize)w * 4;

    /* Rows in the order that never reads a row already overwritten;
     * memmove handles overlap within a row. */
    if (dst_y > src_y) {
        for (int y = h - 1; y >= 0; y--) {
            memmove(dst + (gsize)y * stride, src + (gsize)y * stride, row_bytes);
        }
    } else {
        for (int y = 0; y < h; y++) {
            memmove(dst + (gsize)y * stride, src + (gsize)y * stride, row_bytes);
        }
    }
}
