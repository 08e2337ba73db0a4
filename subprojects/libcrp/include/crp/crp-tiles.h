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

/** A vertical move of content, found by crp_scroll_detect(). */
typedef struct {
    /** Where the content is now, in the new image. */
    int x, y, width, height;
    /** How far it moved down (negative: up): it was at y - dy. */
    int dy;
} CrpScroll;

/**
 * Looks for content of @prev that reappears in @cur moved vertically (a
 * scrolled terminal, editor or web page) within @area (NULL: the whole
 * image); sources and destinations both lie inside @area.
 *
 * Works in column bands CRP_TILE_SIZE wide on the tile grid, so panes side
 * by side may scroll by different amounts; a band belongs to at most one
 * move, and moves are returned left to right. Fills at most @max_scrolls
 * and returns how many it found.
 *
 * Rows are matched by hash, not compared byte by byte, and a move may span
 * a few rows that changed otherwise: apply the move, then diff against it.
 * Costs at most one hashing pass over both images within @area, and far
 * less when a few probe bands show that nothing scrolled.
 */
guint crp_scroll_detect(pixman_image_t *prev, pixman_image_t *cur,
                        const pixman_box32_t *area, CrpScroll *scrolls,
                        guint max_scrolls);

G_END_DECLS
