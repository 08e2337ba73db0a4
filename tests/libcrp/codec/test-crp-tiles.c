/* test-crp-tiles.c: the tile differ. */
#include "codec-test-utils.h"

#include <string.h>

/* 200x130: 4x3 tiles, the last column 8 wide, the last row 2 high. */
#define W 200
#define H 130

static GString *
changed_list(const CrpTileMap *map)
{
    GString *s = g_string_new(NULL);
    for (guint r = 0; r < map->rows; r++) {
        for (guint c = 0; c < map->cols; c++) {
            if (map->changed[r * map->cols + c]) {
                g_string_append_printf(s, "%s%u,%u", s->len ? " " : "", c, r);
            }
        }
    }
    return s;
}

static void
test_map_size(void)
{
    CrpTileMap map;
    crp_tile_map_init(&map, W, H);
    g_assert_cmpuint(map.cols, ==, 4);
    g_assert_cmpuint(map.rows, ==, 3);
    for (guint i = 0; i < map.cols * map.rows; i++) {
        g_assert_cmpuint(map.changed[i], ==, 0);
    }
    crp_tile_map_finish(&map);
    g_assert_null(map.changed);

    crp_tile_map_init(&map, 128, 64);
    g_assert_cmpuint(map.cols, ==, 2);
    g_assert_cmpuint(map.rows, ==, 1);
    crp_tile_map_finish(&map);
}

static void
test_exact_tiles(void)
{
    pixman_image_t *prev = ct_image_new(W, H);
    ct_draw_text(prev, 0, 0, W, H, 0, 3);
    pixman_image_t *cur = ct_image_copy(prev);
    CrpTileMap map;
    crp_tile_map_init(&map, W, H);

    g_assert_cmpuint(crp_tile_diff(prev, cur, NULL, &map), ==, 0);
    g_autoptr(GString) none = changed_list(&map);
    g_assert_cmpstr(none->str, ==, "");

    /* Tile borders on both sides, and the clipped corner tile. */
    ct_set_pixel(cur, 63, 0, 0x123456);
    ct_set_pixel(cur, 64, 70, 0x123456);
    ct_set_pixel(cur, W - 1, H - 1, 0x654321);
    ct_set_pixel(cur, 192, 0, 0xabcdef);
    g_assert_cmpuint(crp_tile_diff(prev, cur, NULL, &map), ==, 4);
    g_autoptr(GString) got = changed_list(&map);
    g_assert_cmpstr(got->str, ==, "0,0 3,0 1,1 3,2");

    /* Tiles already marked are not counted again. */
    ct_set_pixel(cur, 10, 128, 0x111111);
    g_assert_cmpuint(crp_tile_diff(prev, cur, NULL, &map), ==, 1);
    g_autoptr(GString) more = changed_list(&map);
    g_assert_cmpstr(more->str, ==, "0,0 3,0 1,1 0,2 3,2");

    crp_tile_map_finish(&map);
    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_pad_byte_ignored(void)
{
    pixman_image_t *prev = ct_image_new(W, H);
    ct_draw_photo(prev, 0, 0, W, H, 0);
    pixman_image_t *cur = ct_image_copy(prev);
    ct_scramble_pad(cur, 7);
    CrpTileMap map;
    crp_tile_map_init(&map, W, H);

    g_assert_cmpuint(crp_tile_diff(prev, cur, NULL, &map), ==, 0);
    ct_set_pixel(cur, 100, 100, ct_get_pixel(cur, 100, 100) ^ 1);
    g_assert_cmpuint(crp_tile_diff(prev, cur, NULL, &map), ==, 1);
    g_assert_cmpuint(map.changed[1 * map.cols + 1], ==, 1);

    crp_tile_map_finish(&map);
    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_damage(void)
{
    pixman_image_t *prev = ct_image_new(W, H);
    pixman_image_t *cur = ct_image_new(W, H);
    ct_set_pixel(cur, 5, 5, 0xffffff);          /* tile 0,0 */
    ct_set_pixel(cur, 130, 70, 0xffffff);       /* tile 2,1 */
    ct_set_pixel(cur, 199, 129, 0xffffff);      /* tile 3,2 */
    CrpTileMap map;
    crp_tile_map_init(&map, W, H);

    /* Damage touching tile 2,1 by one pixel, and a box past the image
     * edge covering tile 3,2; tile 0,0 is outside it. */
    pixman_region32_t damage;
    pixman_region32_init_rect(&damage, 127, 127, 2, 2);
    pixman_region32_union_rect(&damage, &damage, 190, 120, 500, 500);
    g_assert_cmpuint(crp_tile_diff(prev, cur, &damage, &map), ==, 2);
    g_autoptr(GString) got = changed_list(&map);
    g_assert_cmpstr(got->str, ==, "2,1 3,2");

    /* Empty damage compares nothing. */
    memset(map.changed, 0, map.cols * map.rows);
    pixman_region32_clear(&damage);
    g_assert_cmpuint(crp_tile_diff(prev, cur, &damage, &map), ==, 0);

    pixman_region32_fini(&damage);
    crp_tile_map_finish(&map);
    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_every_tile(void)
{
    pixman_image_t *prev = ct_image_new(W, H);
    pixman_image_t *cur = ct_image_new(W, H);
    ct_draw_noise(cur, 0, 0, W, H, 1);
    CrpTileMap map;
    crp_tile_map_init(&map, W, H);
    g_assert_cmpuint(crp_tile_diff(prev, cur, NULL, &map), ==, 12);
    crp_tile_map_finish(&map);
    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tiles/map-size", test_map_size);
    g_test_add_func("/tiles/exact-tiles", test_exact_tiles);
    g_test_add_func("/tiles/pad-byte-ignored", test_pad_byte_ignored);
    g_test_add_func("/tiles/damage", test_damage);
    g_test_add_func("/tiles/every-tile", test_every_tile);
    return g_test_run();
}
