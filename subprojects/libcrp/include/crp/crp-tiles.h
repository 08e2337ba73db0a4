/*
 * crp-tiles.h: find the 64x64 tiles that differ between two framebuffers.
 *
 * Framebuffers are pixman images in PIXMAN_x8r8g8b8 or PIXMAN_a8r8g8b8
 * (the alpha byte is ignored). Tiles at the right and bottom edges are
 * clipped to the image.
 */
#pragma once

#include <glib.h>
#include <pixman.h>

G_BEGIN_DECLS

#define CRP_TILE_SIZE 64

/** A grid of per-tile flags, one byte per tile, row-major. */
typedef struct {
    guint cols, rows;
    guint8 *changed;        /* cols * rows entries, 1 = differs */
} CrpTileMap;

/** Sizes @map for a @width x @height image and clears it. */
void crp_tile_map_init(CrpTileMap *map, int width, int height);
void crp_tile_map_finish(CrpTileMap *map);

/**
 * Compares @prev and @cur (same size and format) tile by tile and sets
 * map->changed. Only tiles that intersect @damage are compared (NULL means
 * the whole image); others are left untouched. Returns the number of tiles
 * newly marked changed.
 */
guint crp_tile_diff(pixman_image_t *prev, pixman_image_t *cur,
                    const pixman_region32_t *damage, CrpTileMap *map);

G_END_DECLS
