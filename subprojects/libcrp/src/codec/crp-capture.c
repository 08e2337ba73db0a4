/*
 * crp-capture.c: guest damage into the server framebuffer, bounded by the
 * surface it was reported for.
 *
 * The damage is kept clipped to the source's size as last switched, and
 * every copy is clipped again to both images: a report that outlived its
 * surface (QEMU clips updates only to the surface of their time) or a
 * device that reports past its edges can at worst cause a wasted copy,
 * never a read or write outside the images.
 */
#include "crp/crp-capture.h"

#include <string.h>

struct CrpCapture {
    pixman_region32_t damage;   /* within 0,0 .. width,height */
    int width, height;          /* of the source, as last switched */
};

CrpCapture *
crp_capture_new(void)
{
    CrpCapture *cap = g_new0(CrpCapture, 1);

    pixman_region32_init(&cap->damage);
    return cap;
}

void
crp_capture_free(CrpCapture *cap)
{
    if (cap) {
        pixman_region32_fini(&cap->damage);
        g_free(cap);
    }
}

void
crp_capture_switch(CrpCapture *cap, int width, int height)
{
    cap->width = MAX(width, 0);
    cap->height = MAX(height, 0);
    crp_capture_damage_all(cap);
}

void
crp_capture_damage_all(CrpCapture *cap)
{
    pixman_region32_reset(&cap->damage, &(pixman_box32_t){
        0, 0, cap->width, cap->height });
}

void
crp_capture_damage(CrpCapture *cap, int x, int y, int width, int height)
{
    /* In 64 bits: a hostile size must not wrap around into the surface. */
    gint64 x1 = MAX(x, 0), y1 = MAX(y, 0);
    gint64 x2 = MIN((gint64)x + width, cap->width);
    gint64 y2 = MIN((gint64)y + height, cap->height);

    if (x1 < x2 && y1 < y2) {
        pixman_region32_union_rect(&cap->damage, &cap->damage, x1, y1,
                                   x2 - x1, y2 - y1);
    }
}

gboolean
crp_capture_pending(const CrpCapture *cap)
{
    return pixman_region32_not_empty((pixman_region32_t *)&cap->damage);
}

static gboolean
crp_capture_is_x8r8g8b8(pixman_format_code_t format)
{
    return format == PIXMAN_x8r8g8b8 || format == PIXMAN_a8r8g8b8;
}

gboolean
crp_capture_copy(CrpCapture *cap, pixman_image_t *src, pixman_image_t *dst,
                 pixman_region32_t *copied)
{
    int w = pixman_image_get_width(src), h = pixman_image_get_height(src);
    pixman_format_code_t src_format = pixman_image_get_format(src);
    pixman_region32_t todo;
    pixman_box32_t *boxes;
    int n;

    if (w != cap->width || h != cap->height ||
        pixman_image_get_width(dst) != w || pixman_image_get_height(dst) != h ||
        pixman_image_get_format(dst) != PIXMAN_x8r8g8b8) {
        return FALSE;
    }
    /* Already within the source's size; intersect once more so that the
     * copy below depends on nothing but the two images in hand. */
    pixman_region32_init_rect(&todo, 0, 0, w, h);
    pixman_region32_intersect(&todo, &todo, &cap->damage);
    boxes = pixman_region32_rectangles(&todo, &n);

    if (crp_capture_is_x8r8g8b8(src_format)) {
        /* The common case, and the hot one: rows straight across. */
        const guint8 *s = (const guint8 *)pixman_image_get_data(src);
        guint8 *d = (guint8 *)pixman_image_get_data(dst);
        int ss = pixman_image_get_stride(src), ds = pixman_image_get_stride(dst);

        for (int i = 0; i < n; i++) {
            size_t off = (size_t)boxes[i].x1 * 4;
            size_t len = (size_t)(boxes[i].x2 - boxes[i].x1) * 4;
            for (int y = boxes[i].y1; y < boxes[i].y2; y++) {
                memcpy(d + (size_t)y * ds + off, s + (size_t)y * ss + off, len);
            }
        }
    } else {
        /* Any other format the device built (16-bit bochs-display or
         * cirrus, 24-bit, byte-swapped): pixman reads it at its own bits
         * per pixel and converts. */
        for (int i = 0; i < n; i++) {
            pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, dst,
                                     boxes[i].x1, boxes[i].y1, 0, 0,
                                     boxes[i].x1, boxes[i].y1,
                                     boxes[i].x2 - boxes[i].x1,
                                     boxes[i].y2 - boxes[i].y1);
        }
    }
    if (copied) {
        pixman_region32_union(copied, copied, &todo);
    }
    pixman_region32_fini(&todo);
    pixman_region32_clear(&cap->damage);
    return TRUE;
}
