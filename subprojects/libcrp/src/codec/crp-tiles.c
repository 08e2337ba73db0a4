/*
 * crp-tiles.c: find the 64x64 tiles that differ between two framebuffers.
 *
 * Tiles are compared a tile row at a time, pixel row by pixel row, so both
 * images are read front to back; a tile drops out at its first differing
 * row, which makes changed tiles cheap and leaves unchanged ones (which
 * must be read whole) as the cost.
 */
#include "crp/crp-tiles.h"

#include <string.h>

void
crp_tile_map_init(CrpTileMap *map, int width, int height)
{
    map->cols = width > 0 ? (guint)(width + CRP_TILE_SIZE - 1) / CRP_TILE_SIZE : 0;
    map->rows = height > 0 ? (guint)(height + CRP_TILE_SIZE - 1) / CRP_TILE_SIZE : 0;
    map->changed = g_malloc0((gsize)map->cols * map->rows);
}

void
crp_tile_map_finish(CrpTileMap *map)
{
    g_clear_pointer(&map->changed, g_free);
    map->cols = map->rows = 0;
}

static gboolean
is_32bpp(pixman_image_t *image)
{
    return PIXMAN_FORMAT_BPP(pixman_image_get_format(image)) == 32;
}

/* memcmp() finds candidates fast; this confirms that a difference is not
 * only in the ignored alpha/pad byte. */
static gboolean
rgb_differs(const guint32 *a, const guint32 *b, int n)
{
    for (int i = 0; i < n; i++) {
        if ((a[i] ^ b[i]) & 0x00ffffffu) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Marks in @want (cols * rows) the tiles that intersect @damage. */
static void
mark_damaged(const pixman_region32_t *damage, int width, int height,
             guint cols, guint8 *want)
{
    int n = 0;
    const pixman_box32_t *boxes =
        pixman_region32_rectangles((pixman_region32_t *)damage, &n);

    for (int i = 0; i < n; i++) {
        int x1 = CLAMP(boxes[i].x1, 0, width);
        int x2 = CLAMP(boxes[i].x2, 0, width);
        int y1 = CLAMP(boxes[i].y1, 0, height);
        int y2 = CLAMP(boxes[i].y2, 0, height);
        if (x1 >= x2 || y1 >= y2) {
            continue;
        }
        for (int r = y1 / CRP_TILE_SIZE; r <= (y2 - 1) / CRP_TILE_SIZE; r++) {
            memset(want + (gsize)r * cols + x1 / CRP_TILE_SIZE, 1,
                   (x2 - 1) / CRP_TILE_SIZE - x1 / CRP_TILE_SIZE + 1);
        }
    }
}

guint
crp_tile_diff(pixman_image_t *prev, pixman_image_t *cur,
              const pixman_region32_t *damage, CrpTileMap *map)
{
    int width = pixman_image_get_width(cur);
    int height = pixman_image_get_height(cur);

    g_return_val_if_fail(pixman_image_get_width(prev) == width &&
                         pixman_image_get_height(prev) == height, 0);
    g_return_val_if_fail(is_32bpp(prev) && is_32bpp(cur), 0);
    g_return_val_if_fail(map->cols == (guint)(width + CRP_TILE_SIZE - 1) / CRP_TILE_SIZE &&
                         map->rows == (guint)(height + CRP_TILE_SIZE - 1) / CRP_TILE_SIZE, 0);

    gsize ntiles = (gsize)map->cols * map->rows;
    if (ntiles == 0) {
        return 0;
    }

    g_autofree guint8 *want = NULL;
    if (damage) {
        want = g_malloc0(ntiles);
        mark_damaged(damage, width, height, map->cols, want);
    }

    gsize prev_stride = (gsize)pixman_image_get_stride(prev) / 4;
    gsize cur_stride = (gsize)pixman_image_get_stride(cur) / 4;
    const guint32 *prev_data = pixman_image_get_data(prev);
    const guint32 *cur_data = pixman_image_get_data(cur);
    g_autofree guint *active = g_new(guint, map->cols);
    guint newly = 0;

    for (guint r = 0; r < map->rows; r++) {
        guint8 *changed = map->changed + (gsize)r * map->cols;
        guint n_active = 0;
        for (guint c = 0; c < map->cols; c++) {
            if (!changed[c] && (!want || want[(gsize)r * map->cols + c])) {
                active[n_active++] = c;
            }
        }

        int y_end = MIN(height, (int)(r + 1) * CRP_TILE_SIZE);
        for (int y = r * CRP_TILE_SIZE; y < y_end && n_active > 0; y++) {
            const guint32 *prow = prev_data + (gsize)y * prev_stride;
            const guint32 *crow = cur_data + (gsize)y * cur_stride;
            /* Most rows of a damaged area are unchanged (blank lines, the
             * parts of a window that stayed): one memcmp over the span of
             * the active tiles settles those. */
            guint lo = map->cols, hi = 0;
            for (guint i = 0; i < n_active; i++) {
                lo = MIN(lo, active[i]);
                hi = MAX(hi, active[i]);
            }
            int sx = lo * CRP_TILE_SIZE;
            int sn = MIN((int)(hi + 1) * CRP_TILE_SIZE, width) - sx;
            if (memcmp(prow + sx, crow + sx, (gsize)sn * 4) == 0) {
                continue;
            }
            for (guint i = 0; i < n_active; i++) {
                guint c = active[i];
                int x = c * CRP_TILE_SIZE;
                int n = MIN(CRP_TILE_SIZE, width - x);
                if (memcmp(prow + x, crow + x, (gsize)n * 4) != 0 &&
                    rgb_differs(prow + x, crow + x, n)) {
                    changed[c] = 1;
                    newly++;
                    active[i--] = active[--n_active];
                }
            }
        }
    }
    return newly;
}
