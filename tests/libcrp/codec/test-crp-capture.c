/*
 * test-crp-capture.c: copying guest damage into the server framebuffer
 * through surface switches and pixel formats.
 *
 * Images here end right before an inaccessible page, so a copy that goes
 * past the last row of either image faults at once, with or without
 * AddressSanitizer (which the sanitizer suite adds on top).
 */
#include <crp/crp-capture.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    pixman_image_t *image;
    void *map;
    size_t map_len;
} GuardedImage;

/* A @w x @h image in @format whose pixels end exactly at a PROT_NONE page. */
static GuardedImage
guarded_image(pixman_format_code_t format, int w, int h)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int stride = ((w * PIXMAN_FORMAT_BPP(format) + 31) / 32) * 4;
    size_t len = (size_t)stride * h;
    size_t data_pages = (len + page - 1) / page;
    GuardedImage g = { .map_len = (data_pages + 1) * page };

    g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(g.map != MAP_FAILED);
    g_assert_cmpint(mprotect((guint8 *)g.map + data_pages * page, page,
                             PROT_NONE), ==, 0);
    guint8 *data = (guint8 *)g.map + data_pages * page - len;
    g.image = pixman_image_create_bits(format, w, h, (uint32_t *)data, stride);
    g_assert_nonnull(g.image);
    return g;
}

static void
guarded_image_free(GuardedImage *g)
{
    pixman_image_unref(g->image);
    munmap(g->map, g->map_len);
}

/* Fills @img (x8r8g8b8 or a8r8g8b8) with a pattern unique to @seed. */
static void
fill32(pixman_image_t *img, guint32 seed)
{
    int w = pixman_image_get_width(img), h = pixman_image_get_height(img);
    int stride = pixman_image_get_stride(img);
    guint8 *data = (guint8 *)pixman_image_get_data(img);

    for (int y = 0; y < h; y++) {
        guint32 *row = (guint32 *)(data + y * stride);
        for (int x = 0; x < w; x++) {
            row[x] = 0xff000000u | ((guint32)(x * 7 + seed) & 0xff) << 16 |
                     ((guint32)(y * 3 + seed) & 0xff) << 8 | (seed & 0xff);
        }
    }
}

static guint32
pixel32(pixman_image_t *img, int x, int y)
{
    guint8 *data = (guint8 *)pixman_image_get_data(img);
    return ((guint32 *)(data + y * pixman_image_get_stride(img)))[x] & 0xffffff;
}

/* The review's sequence: a viewer saw 640x480; with nobody watching, the
 * guest went to 1024x768 and painted all of it, then back to 640x480; a
 * viewer comes back. Damage of the 1024x768 surface must not be copied
 * from or into the 640x480 images. */
static void
test_switch_forgets_damage_of_larger_surface(void)
{
    g_autoptr(CrpCapture) cap = crp_capture_new();
    GuardedImage src = guarded_image(PIXMAN_x8r8g8b8, 640, 480);
    GuardedImage fb = guarded_image(PIXMAN_x8r8g8b8, 640, 480);
    pixman_region32_t copied;

    pixman_region32_init(&copied);
    fill32(src.image, 1);
    crp_capture_switch(cap, 640, 480);
    g_assert_true(crp_capture_copy(cap, src.image, fb.image, &copied));

    crp_capture_switch(cap, 1024, 768);
    crp_capture_damage(cap, 0, 0, 1024, 768);
    crp_capture_damage(cap, 900, 700, 124, 68);
    crp_capture_switch(cap, 640, 480);
    fill32(src.image, 2);
    crp_capture_damage(cap, 10, 10, 5, 5);

    pixman_region32_clear(&copied);
    g_assert_true(crp_capture_copy(cap, src.image, fb.image, &copied));
    /* A switch makes the whole new surface new: all of it, no more. */
    pixman_box32_t *ext = pixman_region32_extents(&copied);
    g_assert_cmpint(ext->x1, ==, 0);
    g_assert_cmpint(ext->y1, ==, 0);
    g_assert_cmpint(ext->x2, ==, 640);
    g_assert_cmpint(ext->y2, ==, 480);
    g_assert_cmphex(pixel32(fb.image, 639, 479), ==, pixel32(src.image, 639, 479));
    g_assert_false(crp_capture_pending(cap));

    pixman_region32_fini(&copied);
    guarded_image_free(&src);
    guarded_image_free(&fb);
}

/* Damage reported before a switch to a smaller surface, with no copy in
 * between (the worker was busy): nothing outside the new size is read. */
static void
test_switch_to_smaller_while_busy(void)
{
    g_autoptr(CrpCapture) cap = crp_capture_new();
    GuardedImage src = guarded_image(PIXMAN_x8r8g8b8, 320, 200);
    GuardedImage fb = guarded_image(PIXMAN_x8r8g8b8, 320, 200);

    crp_capture_switch(cap, 800, 600);
    crp_capture_damage(cap, 0, 0, 800, 600);
    crp_capture_switch(cap, 320, 200);
    fill32(src.image, 3);
    g_assert_true(crp_capture_copy(cap, src.image, fb.image, NULL));
    g_assert_cmphex(pixel32(fb.image, 319, 199), ==, pixel32(src.image, 319, 199));

    guarded_image_free(&src);
    guarded_image_free(&fb);
}

/* Reports that lie outside the surface (a device's bug, or negative
 * coordinates) are clipped, not trusted. */
static void
test_damage_clipped_to_surface(void)
{
    g_autoptr(CrpCapture) cap = crp_capture_new();
    GuardedImage src = guarded_image(PIXMAN_x8r8g8b8, 100, 50);
    GuardedImage fb = guarded_image(PIXMAN_x8r8g8b8, 100, 50);
    pixman_region32_t copied;

    pixman_region32_init(&copied);
    crp_capture_switch(cap, 100, 50);
    g_assert_true(crp_capture_copy(cap, src.image, fb.image, NULL));

    crp_capture_damage(cap, -20, -20, 40, 40);
    crp_capture_damage(cap, 90, 40, 1000, 1000);
    crp_capture_damage(cap, 5000, 5000, 10, 10);
    crp_capture_damage(cap, 10, 10, -5, 7);
    fill32(src.image, 4);
    g_assert_true(crp_capture_copy(cap, src.image, fb.image, &copied));
    pixman_box32_t *ext = pixman_region32_extents(&copied);
    g_assert_cmpint(ext->x1, ==, 0);
    g_assert_cmpint(ext->y1, ==, 0);
    g_assert_cmpint(ext->x2, ==, 100);
    g_assert_cmpint(ext->y2, ==, 50);
    g_assert_cmphex(pixel32(fb.image, 99, 49), ==, pixel32(src.image, 99, 49));
    g_assert_cmphex(pixel32(fb.image, 19, 19), ==, pixel32(src.image, 19, 19));
    /* Not damaged: still the old picture (all zero). */
    g_assert_cmphex(pixel32(fb.image, 50, 20), ==, 0);

    pixman_region32_fini(&copied);
    guarded_image_free(&src);
    guarded_image_free(&fb);
}

/* A pair of the wrong size copies nothing and keeps the damage. */
static void
test_size_mismatch_refused(void)
{
    g_autoptr(CrpCapture) cap = crp_capture_new();
    GuardedImage src = guarded_image(PIXMAN_x8r8g8b8, 64, 64);
    GuardedImage fb_small = guarded_image(PIXMAN_x8r8g8b8, 32, 32);
    GuardedImage fb_16 = guarded_image(PIXMAN_r5g6b5, 64, 64);

    crp_capture_switch(cap, 64, 64);
    g_assert_false(crp_capture_copy(cap, src.image, fb_small.image, NULL));
    g_assert_false(crp_capture_copy(cap, src.image, fb_16.image, NULL));
    g_assert_true(crp_capture_pending(cap));
    crp_capture_switch(cap, 128, 64);
    g_assert_false(crp_capture_copy(cap, src.image, src.image, NULL));

    guarded_image_free(&src);
    guarded_image_free(&fb_small);
    guarded_image_free(&fb_16);
}

/* A 16-bit guest surface (bochs-display, cirrus at 16 bpp): converted,
 * and only its 2 bytes per pixel are read. */
static void
test_16bpp_converted(void)
{
    g_autoptr(CrpCapture) cap = crp_capture_new();
    GuardedImage src = guarded_image(PIXMAN_r5g6b5, 640, 480);
    GuardedImage fb = guarded_image(PIXMAN_x8r8g8b8, 640, 480);
    guint8 *data = (guint8 *)pixman_image_get_data(src.image);
    int stride = pixman_image_get_stride(src.image);

    for (int y = 0; y < 480; y++) {
        guint16 *row = (guint16 *)(data + y * stride);
        for (int x = 0; x < 640; x++) {
            row[x] = (x & 1) ? 0xf800 /* red */ : 0x07e0 /* green */;
        }
    }
    ((guint16 *)(data + 479 * stride))[639] = 0x001f;  /* blue */
    crp_capture_switch(cap, 640, 480);
    g_assert_true(crp_capture_copy(cap, src.image, fb.image, NULL));
    g_assert_cmphex(pixel32(fb.image, 0, 0), ==, 0x00ff00);
    g_assert_cmphex(pixel32(fb.image, 1, 0), ==, 0xff0000);
    g_assert_cmphex(pixel32(fb.image, 639, 479), ==, 0x0000ff);

    guarded_image_free(&src);
    guarded_image_free(&fb);
}

/* 24-bit and byte-swapped 32-bit surfaces convert too (other devices'
 * formats), and 8-bit ones at least never read out of bounds. */
static void
test_other_formats(void)
{
    static const pixman_format_code_t formats[] = {
        PIXMAN_r8g8b8, PIXMAN_b8g8r8x8, PIXMAN_x1r5g5b5, PIXMAN_a8r8g8b8,
        PIXMAN_a8,
    };
    for (guint i = 0; i < G_N_ELEMENTS(formats); i++) {
        g_autoptr(CrpCapture) cap = crp_capture_new();
        GuardedImage src = guarded_image(formats[i], 333, 77);
        GuardedImage fb = guarded_image(PIXMAN_x8r8g8b8, 333, 77);

        memset(pixman_image_get_data(src.image), 0xff,
               (size_t)pixman_image_get_stride(src.image) * 77);
        crp_capture_switch(cap, 333, 77);
        crp_capture_damage(cap, 300, 70, 100, 100);
        g_assert_true(crp_capture_copy(cap, src.image, fb.image, NULL));
        if (formats[i] != PIXMAN_a8) {
            g_assert_cmphex(pixel32(fb.image, 332, 76), ==, 0xffffff);
        }
        guarded_image_free(&src);
        guarded_image_free(&fb);
    }
}

/* Random switches, reports and copies (a guest setting modes while the
 * worker may or may not be busy): never out of bounds, and after each
 * copy with everything damaged, fb equals the source. */
static void
test_random_switches(void)
{
    static const int sizes[][2] = {
        { 640, 480 }, { 1024, 768 }, { 800, 600 }, { 1, 1 }, { 1280, 800 },
    };
    GuardedImage imgs[G_N_ELEMENTS(sizes)][2];
    g_autoptr(CrpCapture) cap = crp_capture_new();
    GRand *rand = g_rand_new_with_seed(42);
    guint cur = 0;

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        imgs[i][0] = guarded_image(PIXMAN_x8r8g8b8, sizes[i][0], sizes[i][1]);
        imgs[i][1] = guarded_image(PIXMAN_x8r8g8b8, sizes[i][0], sizes[i][1]);
        fill32(imgs[i][0].image, i + 10);
    }
    crp_capture_switch(cap, sizes[0][0], sizes[0][1]);
    for (int step = 0; step < 2000; step++) {
        switch (g_rand_int_range(rand, 0, 4)) {
        case 0:
            cur = g_rand_int_range(rand, 0, G_N_ELEMENTS(sizes));
            crp_capture_switch(cap, sizes[cur][0], sizes[cur][1]);
            break;
        case 1:
            crp_capture_damage(cap, g_rand_int_range(rand, -50, 1300),
                               g_rand_int_range(rand, -50, 900),
                               g_rand_int_range(rand, -10, 1400),
                               g_rand_int_range(rand, -10, 1000));
            break;
        case 2: {
            /* The framebuffer may lag behind (not resized yet). */
            guint other = g_rand_int_range(rand, 0, G_N_ELEMENTS(sizes));
            crp_capture_copy(cap, imgs[cur][0].image, imgs[other][1].image, NULL);
            break;
        }
        default:
            crp_capture_damage_all(cap);
            g_assert_true(crp_capture_copy(cap, imgs[cur][0].image,
                                           imgs[cur][1].image, NULL));
            g_assert_cmpint(memcmp(pixman_image_get_data(imgs[cur][0].image),
                                   pixman_image_get_data(imgs[cur][1].image),
                                   (size_t)pixman_image_get_stride(imgs[cur][0].image) *
                                   sizes[cur][1]), ==, 0);
            break;
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        guarded_image_free(&imgs[i][0]);
        guarded_image_free(&imgs[i][1]);
    }
    g_rand_free(rand);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/capture/switch-forgets-damage-of-larger-surface",
                    test_switch_forgets_damage_of_larger_surface);
    g_test_add_func("/capture/switch-to-smaller-while-busy",
                    test_switch_to_smaller_while_busy);
    g_test_add_func("/capture/damage-clipped-to-surface",
                    test_damage_clipped_to_surface);
    g_test_add_func("/capture/size-mismatch-refused", test_size_mismatch_refused);
    g_test_add_func("/capture/16bpp-converted", test_16bpp_converted);
    g_test_add_func("/capture/other-formats", test_other_formats);
    g_test_add_func("/capture/random-switches", test_random_switches);
    return g_test_run();
}
