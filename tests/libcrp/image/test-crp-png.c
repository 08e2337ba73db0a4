/* test-crp-png.c: the PNG writer's output is a valid PNG of the image. */
#include <crp/crp-png.h>
#include <zlib.h>
#include <string.h>

static guint32
be32(const guint8 *p)
{
    return (guint32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void
test_png(void)
{
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, 3, 2, NULL, 0);
    guint32 *px = pixman_image_get_data(img);
    int stride = pixman_image_get_stride(img) / 4;
    static const guint32 colours[6] = { 0xff0000, 0x00ff00, 0x0000ff,
                                        0x123456, 0xffffff, 0x000000 };
    for (int i = 0; i < 6; i++) {
        px[(i / 3) * stride + i % 3] = colours[i];
    }
    g_autoptr(GBytes) png = crp_png_encode(img);
    gsize len;
    const guint8 *p = g_bytes_get_data(png, &len);

    g_assert_cmpmem(p, 8, "\x89PNG\r\n\x1a\n", 8);
    /* IHDR: 3x2, 8-bit truecolour, with a correct CRC. */
    g_assert_cmpuint(be32(p + 8), ==, 13);
    g_assert_cmpmem(p + 12, 4, "IHDR", 4);
    g_assert_cmpuint(be32(p + 16), ==, 3);
    g_assert_cmpuint(be32(p + 20), ==, 2);
    g_assert_cmpuint(p[24], ==, 8);
    g_assert_cmpuint(p[25], ==, 2);
    g_assert_cmpuint(be32(p + 29), ==, crc32(0, p + 12, 17));

    /* IDAT inflates to the scanlines we expect. */
    gsize idat = 8 + 25;
    g_assert_cmpmem(p + idat + 4, 4, "IDAT", 4);
    guint32 zlen = be32(p + idat);
    guint8 raw[64];
    uLongf raw_len = sizeof(raw);
    g_assert_cmpint(uncompress(raw, &raw_len, p + idat + 8, zlen), ==, Z_OK);
    static const guint8 expected[] = {
        0, 0xff, 0, 0, 0, 0xff, 0, 0, 0, 0xff,
        0, 0x12, 0x34, 0x56, 0xff, 0xff, 0xff, 0, 0, 0,
    };
    g_assert_cmpmem(raw, raw_len, expected, sizeof(expected));
    g_assert_cmpmem(p + len - 8, 4, "IEND", 4);
    pixman_image_unref(img);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/png/encode", test_png);
    return g_test_run();
}
