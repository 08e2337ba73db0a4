/*
 * test-crp-tile-grid.c: the framebuffer's tiles are re-made only where
 * damaged, and each holds exactly its part of the picture, opaque.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-tile-grid.h"

static pixman_image_t *make_fb(int w, int h, guint32 seed)
{
    pixman_image_t *fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
    guint32 *p = pixman_image_get_data(fb);
    int stride = pixman_image_get_stride(fb) / 4;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            /* The decoder leaves the X byte 0: the grid must make it opaque. */
            p[y * stride + x] = ((x * 7 + y * 13 + seed) * 2654435761u) & 0x00ffffff;
        }
    }
    return fb;
}

/* Every pixel of the tile at (col, row) equals the framebuffer's, alpha 255. */
static void assert_tile_matches(CrpTileGrid *grid, pixman_image_t *fb, int col, int row)
{
    GdkTexture *tile = crp_tile_grid_peek_tile(grid, col, row);
    g_assert_nonnull(tile);
    int w = gdk_texture_get_width(tile), h = gdk_texture_get_height(tile);
    g_autofree guint32 *pixels = g_new(guint32, w * h);
    gdk_texture_download(tile, (guchar *)pixels, w * 4);   /* cairo ARGB32 */
    const guint32 *src = pixman_image_get_data(fb);
    int stride = pixman_image_get_stride(fb) / 4;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            guint32 want = src[(row * CRP_TILE_SIZE + y) * stride +
                               col * CRP_TILE_SIZE + x] | 0xff000000u;
            if (pixels[y * w + x] != want) {
                g_error("tile %d,%d pixel %d,%d: %08x, want %08x", col, row, x, y,
                        pixels[y * w + x], want);
            }
        }
    }
}

static void test_first_update_makes_every_tile(void)
{
    /* 600x300: 3x2 tiles, the last column and row partial. */
    pixman_image_t *fb = make_fb(600, 300, 1);
    g_autoptr(CrpTileGrid) grid = crp_tile_grid_new(600, 300);

    g_assert_null(crp_tile_grid_peek_tile(grid, 0, 0));
    g_assert_cmpuint(crp_tile_grid_update(grid, fb), ==, 6);
    for (int row = 0; row < 2; row++) {
        for (int col = 0; col < 3; col++) {
            assert_tile_matches(grid, fb, col, row);
        }
    }
    GdkTexture *corner = crp_tile_grid_peek_tile(grid, 2, 1);
    g_assert_cmpint(gdk_texture_get_width(corner), ==, 600 - 2 * CRP_TILE_SIZE);
    g_assert_cmpint(gdk_texture_get_height(corner), ==, 300 - CRP_TILE_SIZE);
    g_assert_null(crp_tile_grid_peek_tile(grid, 3, 0));
    /* Nothing damaged: nothing made. */
    g_assert_cmpuint(crp_tile_grid_update(grid, fb), ==, 0);
    pixman_image_unref(fb);
}

static void test_damage_remakes_only_touched_tiles(void)
{
    pixman_image_t *fb = make_fb(600, 300, 1);
    g_autoptr(CrpTileGrid) grid = crp_tile_grid_new(600, 300);
    crp_tile_grid_update(grid, fb);
    GdkTexture *untouched = crp_tile_grid_peek_tile(grid, 0, 0);

    /* A small rect across the border of tiles (1,0) and (2,0). */
    pixman_image_unref(fb);
    fb = make_fb(600, 300, 2);
    crp_tile_grid_damage(grid, &(pixman_box32_t){ 500, 10, 520, 20 });
    g_assert_cmpuint(crp_tile_grid_update(grid, fb), ==, 2);
    g_assert_true(crp_tile_grid_peek_tile(grid, 0, 0) == untouched);
    assert_tile_matches(grid, fb, 1, 0);
    assert_tile_matches(grid, fb, 2, 0);

    /* Edges: x2 is exclusive, so a box ending at 256 stays in column 0. */
    crp_tile_grid_damage(grid, &(pixman_box32_t){ 0, 0, 256, 256 });
    g_assert_cmpuint(crp_tile_grid_update(grid, fb), ==, 1);
    pixman_image_unref(fb);
}

static void test_hostile_boxes_and_images_are_harmless(void)
{
    pixman_image_t *fb = make_fb(300, 200, 1);
    g_autoptr(CrpTileGrid) grid = crp_tile_grid_new(300, 200);
    crp_tile_grid_update(grid, fb);

    crp_tile_grid_damage(grid, &(pixman_box32_t){ 50, 50, 10, 10 });       /* inverted */
    crp_tile_grid_damage(grid, &(pixman_box32_t){ 400, 400, 900, 900 });   /* outside */
    crp_tile_grid_damage(grid, &(pixman_box32_t){ -100, -100, 0, 0 });     /* empty */
    g_assert_cmpuint(crp_tile_grid_update(grid, fb), ==, 0);
    crp_tile_grid_damage(grid, &(pixman_box32_t){ G_MININT32, G_MININT32,
                                                  G_MAXINT32, G_MAXINT32 });
    g_assert_cmpuint(crp_tile_grid_update(grid, fb), ==, 2);

    /* A framebuffer of another size (a SURFACE raced a frame) is ignored. */
    pixman_image_t *other = make_fb(100, 100, 1);
    crp_tile_grid_damage(grid, &(pixman_box32_t){ 0, 0, 10, 10 });
    g_assert_cmpuint(crp_tile_grid_update(grid, other), ==, 0);
    g_assert_cmpuint(crp_tile_grid_update(grid, NULL), ==, 0);
    pixman_image_unref(other);
    pixman_image_unref(fb);
}

static void test_snapshot_covers_the_scaled_screen(void)
{
    pixman_image_t *fb = make_fb(600, 300, 1);
    g_autoptr(CrpTileGrid) grid = crp_tile_grid_new(600, 300);
    crp_tile_grid_update(grid, fb);

    /* Without gtk_init() (no display here), node types need registering. */
    g_type_ensure(GSK_TYPE_CONTAINER_NODE);
    g_type_ensure(GSK_TYPE_TEXTURE_NODE);
    GtkSnapshot *snapshot = gtk_snapshot_new();
    crp_tile_grid_snapshot(grid, snapshot, 0.5);
    g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node(snapshot);
    graphene_rect_t bounds;
    gsk_render_node_get_bounds(node, &bounds);
    g_assert_cmpfloat_with_epsilon(bounds.origin.x, 0, 1e-4);
    g_assert_cmpfloat_with_epsilon(bounds.size.width, 300, 1e-4);
    g_assert_cmpfloat_with_epsilon(bounds.size.height, 150, 1e-4);
    g_assert_cmpint(gsk_render_node_get_node_type(node), ==, GSK_CONTAINER_NODE);
    g_assert_cmpuint(gsk_container_node_get_n_children(node), ==, 6);
    pixman_image_unref(fb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tile-grid/first-update", test_first_update_makes_every_tile);
    g_test_add_func("/tile-grid/damage", test_damage_remakes_only_touched_tiles);
    g_test_add_func("/tile-grid/hostile", test_hostile_boxes_and_images_are_harmless);
    g_test_add_func("/tile-grid/snapshot", test_snapshot_covers_the_scaled_screen);
    return g_test_run();
}
