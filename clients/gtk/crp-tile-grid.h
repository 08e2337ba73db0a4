/*
 * crp-tile-grid.h: the guest's framebuffer as a grid of GPU-ready tiles.
 *
 * GTK 4.8 cannot update part of a texture, and uploading the whole
 * framebuffer for a blinking text cursor would cost a 1080p frame's worth
 * of copying and upload per keystroke. So the framebuffer is cut into
 * CRP_TILE_SIZE squares, each its own immutable GdkMemoryTexture; a frame
 * re-creates only the tiles its damage touches, and GSK keeps the others
 * (already uploaded) from frame to frame.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include <pixman.h>

G_BEGIN_DECLS

#define CRP_TILE_SIZE 256

typedef struct CrpTileGrid CrpTileGrid;

/** A grid for a @width x @height framebuffer; every tile starts dirty. */
CrpTileGrid *crp_tile_grid_new(int width, int height);
void crp_tile_grid_free(CrpTileGrid *grid);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpTileGrid, crp_tile_grid_free)

int crp_tile_grid_get_width(CrpTileGrid *grid);
int crp_tile_grid_get_height(CrpTileGrid *grid);

/** Marks the tiles @box touches as dirty (clipped to the grid; an empty
 *  or inverted box marks nothing). */
void crp_tile_grid_damage(CrpTileGrid *grid, const pixman_box32_t *box);

/**
 * Re-creates the dirty tiles' textures from @framebuffer (x8r8g8b8 of the
 * grid's size; anything else is ignored) and returns how many it made.
 */
guint crp_tile_grid_update(CrpTileGrid *grid, pixman_image_t *framebuffer);

/** Appends every tile to @snapshot, the grid's (0, 0) at the snapshot's
 *  origin, each pixel drawn @scale device-independent pixels wide. */
void crp_tile_grid_snapshot(CrpTileGrid *grid, GtkSnapshot *snapshot,
                            double scale);

/** The texture of the tile at column @col, row @row (NULL before the first
 *  update or outside the grid); for tests. */
GdkTexture *crp_tile_grid_peek_tile(CrpTileGrid *grid, int col, int row);

G_END_DECLS
