/*
 * test-crp-shift.c: sideways moves, found by the encoder and sent as COPY.
 *
 * Every case encodes a frame against the one before, applies the rects to
 * a decoder and requires the client's picture to equal the new frame
 * pixel for pixel (lossless settings), whatever the detection decided.
 */
#include "codec-test-utils.h"

#define PAPER 0x203040

static const CrpEncoderConfig lossless = {
    .encodings = 1u << CRP_ENCODING_ZLIB, .lossless = TRUE,
};
static const CrpEncoderConfig raw_only = { .lossless = TRUE };

/* A frame: flat paper, a photo-like band at rows [@y, @y + @h) scrolled
 * left by @phase pixels (new content comes in on the right). */
static pixman_image_t *
band_frame(int width, int height, int y, int h, int phase)
{
    pixman_image_t *image = ct_image_new(width, height);
    ct_fill_rect(image, 0, 0, width, height, PAPER);
    ct_draw_photo(image, 0, y, width, h, phase);
    return image;
}

/* A window of text and photo at (@x, @y) on a noise desktop. */
static pixman_image_t *
window_frame(int width, int height, int x, int y)
{
    pixman_image_t *image = ct_image_new(width, height);
    ct_draw_noise(image, 0, 0, width, height, 7);
    ct_fill_rect(image, x, y, 200, 150, 0xf0f0f0);
    ct_draw_text(image, x + 4, y + 4, 192, 80, 0, 4);
    ct_draw_photo(image, x + 4, y + 90, 192, 56, 0);
    return image;
}

/* Encodes @cur against @prev, applies it and checks the client is exact;
 * returns the stats and, if @copy is not NULL, the first COPY rect. */
static CrpEncodeStats
step_exact(CrpEncoder *enc, CrpDecoder *dec, pixman_image_t *prev,
           pixman_image_t *cur, gint64 now_us, CrpMessage *copy)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    CrpEncodeStats st;
    crp_encoder_encode_frame(enc, prev, cur, NULL, now_us, out, &st);
    if (copy) {
        g_assert_true(ct_find_rect(out, CRP_ENCODING_COPY, copy));
    }
    ct_apply(dec, out, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
    return st;
}

/* An encoder and decoder that hold @first exactly. */
static void
start(const CrpEncoderConfig *config, pixman_image_t *first, CrpEncoder **enc,
      CrpDecoder **dec)
{
    *enc = crp_encoder_new(config);
    *dec = ct_decoder_new(pixman_image_get_width(first),
                          pixman_image_get_height(first));
    step_exact(*enc, *dec, NULL, first, 0, NULL);
}

static void
test_band_left(void)
{
    /* A full-width band scrolls left by 8: one COPY from x 8 to x 0 (the
     * content leaving at the left edge is dropped), and only the strip
     * coming in on the right is new. */
    pixman_image_t *prev = band_frame(640, 480, 128, 128, 0);
    pixman_image_t *cur = band_frame(640, 480, 128, 128, 8);
    g_autoptr(CrpEncoder) enc = NULL;
    g_autoptr(CrpDecoder) dec = NULL;
    CrpMessage copy;

    start(&lossless, prev, &enc, &dec);
    CrpEncodeStats st = step_exact(enc, dec, prev, cur, 1000, &copy);
    g_assert_cmpuint(st.copy, ==, 1);
    g_assert_cmpint(copy.rect.x, ==, 0);
    g_assert_cmpint(copy.rect.src_x, ==, 8);
    g_assert_cmpint(copy.rect.y, ==, 128);
    g_assert_cmpint(copy.rect.src_y, ==, 128);
    g_assert_cmpint(copy.rect.height, ==, 128);
    g_assert_cmpint(copy.rect.width, ==, 640 - 8);
    /* Only the 8-pixel strip that came in is sent: in the two tile rows
     * of the last tile column, less than its raw size. */
    g_assert_cmpuint(st.zlib + st.fill + st.raw, <=, 2);
    g_assert_cmpuint(st.bytes, <, 8 * 128 * 4);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_frame_edges(void)
{
    /* Moves that end at either edge of the frame, both ways, with the
     * band touching the top and the bottom. */
    const int moves[] = { 8, -8, 63, -64, 200, -200 };
    for (gsize i = 0; i < G_N_ELEMENTS(moves); i++) {
        pixman_image_t *prev = band_frame(512, 256, 0, 256, 1000);
        pixman_image_t *cur = band_frame(512, 256, 0, 256, 1000 + moves[i]);
        g_autoptr(CrpEncoder) enc = NULL;
        g_autoptr(CrpDecoder) dec = NULL;
        CrpMessage copy;

        start(&lossless, prev, &enc, &dec);
        step_exact(enc, dec, prev, cur, 1000, &copy);
        g_assert_cmpint(copy.rect.src_x - copy.rect.x, ==, moves[i]);
        g_assert_cmpint(copy.rect.src_y, ==, copy.rect.y);
        g_assert_cmpint(MIN(copy.rect.x, copy.rect.src_x), ==, 0);
        g_assert_cmpint(MAX(copy.rect.x, copy.rect.src_x) + copy.rect.width, ==, 512);
        pixman_image_unref(prev);
        pixman_image_unref(cur);
    }
}

static void
test_window_beyond_a_tile(void)
{
    /* A window dragged 100 pixels right (more than a tile) and back. */
    pixman_image_t *a = window_frame(640, 400, 40, 70);
    pixman_image_t *b = window_frame(640, 400, 140, 70);
    g_autoptr(CrpEncoder) enc = NULL;
    g_autoptr(CrpDecoder) dec = NULL;
    CrpMessage copy;

    start(&raw_only, a, &enc, &dec);
    step_exact(enc, dec, a, b, 1000, &copy);
    g_assert_cmpint(copy.rect.x - copy.rect.src_x, ==, 100);
    g_assert_cmpint(copy.rect.x, >=, 140);
    g_assert_cmpint(copy.rect.x + copy.rect.width, <=, 340);
    step_exact(enc, dec, b, a, 2000, &copy);
    g_assert_cmpint(copy.rect.x - copy.rect.src_x, ==, -100);
    pixman_image_unref(a);
    pixman_image_unref(b);
}

static void
test_partial_tiles(void)
{
    /* Neither the frame (600x450) nor the band (rows 37..187) is on the
     * tile grid; the band ends in the partial last tile column. */
    g_autoptr(CrpEncoder) enc = NULL;
    g_autoptr(CrpDecoder) dec = NULL;
    pixman_image_t *prev = band_frame(600, 450, 37, 150, 0);
    start(&lossless, prev, &enc, &dec);

    for (int f = 1; f <= 6; f++) {
        pixman_image_t *cur = band_frame(600, 450, 37, 150, f * 13);
        CrpMessage copy;
        step_exact(enc, dec, prev, cur, f * 1000, &copy);
        g_assert_cmpint(copy.rect.src_x - copy.rect.x, ==, 13);
        g_assert_cmpint(copy.rect.y, ==, 37);
        g_assert_cmpint(copy.rect.height, ==, 150);
        pixman_image_unref(prev);
        prev = cur;
    }
    pixman_image_unref(prev);
}

static void
test_photo_parts_lossy(void)
{
    /* A band scrolls left over rows 0..40; under it, in the same tile
     * row, film grain changes every frame. The COPY brings the band, and
     * what it leaves of each tile, 64x24 of grain, is photo-like: JPEG,
     * not a few kilobytes of lossless noise a frame. */
    const CrpEncoderConfig lossy = {
        .encodings = (1u << CRP_ENCODING_ZLIB) | (1u << CRP_ENCODING_JPEG),
    };
    const int w = 512, h = 128;
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&lossy);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(w, h);
    pixman_image_t *prev = NULL;

    for (int f = 0; f <= 4; f++) {
        pixman_image_t *cur = band_frame(w, h, 0, 40, f * 8);
        ct_draw_noise(cur, 0, 40, w, 24, f + 1);
        g_autoptr(GByteArray) out = g_byte_array_new();
        CrpEncodeStats st;
        crp_encoder_encode_frame(enc, prev, cur, NULL, f * 20000, out, &st);
        ct_apply(dec, out, NULL);
        if (f > 0) {
            CrpMessage m;
            g_assert_true(ct_find_rect(out, CRP_ENCODING_COPY, &m));
            g_assert_true(ct_find_rect(out, CRP_ENCODING_JPEG, &m));
            g_assert_cmpint(m.rect.y, ==, 40);
            g_assert_cmpint(m.rect.height, ==, 24);
            g_test_message("frame %d: %zu bytes, %u JPEG, %u zlib", f, st.bytes,
                           st.jpeg, st.zlib);
            g_assert_cmpuint(st.zlib, <=, 1);
        }
        if (prev) {
            pixman_image_unref(prev);
        }
        prev = cur;
    }
    pixman_image_unref(prev);
}

static void
test_both_ways(void)
{
    /* Side by side in the same rows, the left pane moves left and the
     * right one right; then the whole picture moves diagonally (no COPY
     * can be expected, but the client must stay exact). */
    pixman_image_t *prev = ct_image_new(640, 320);
    pixman_image_t *cur = ct_image_new(640, 320);
    ct_fill_rect(prev, 0, 0, 640, 320, PAPER);
    ct_fill_rect(cur, 0, 0, 640, 320, PAPER);
    ct_draw_photo(prev, 0, 64, 300, 192, 0);
    ct_draw_photo(cur, 0, 64, 300, 192, 20);
    ct_draw_text(prev, 340, 64, 300, 192, 0, 9);
    ct_draw_text(cur, 364, 64, 276, 192, 0, 9);
    ct_fill_rect(cur, 340, 64, 24, 192, PAPER);

    g_autoptr(CrpEncoder) enc = NULL;
    g_autoptr(CrpDecoder) dec = NULL;
    start(&lossless, prev, &enc, &dec);
    CrpEncodeStats st = step_exact(enc, dec, prev, cur, 1000, NULL);
    g_assert_cmpuint(st.copy, ==, 2);

    pixman_image_t *diag = ct_image_new(640, 320);
    ct_fill_rect(diag, 0, 0, 640, 320, PAPER);
    pixman_image_composite32(PIXMAN_OP_SRC, cur, NULL, diag, 0, 0, 0, 0,
                             16, 8, 624, 312);
    step_exact(enc, dec, cur, diag, 2000, NULL);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
    pixman_image_unref(diag);
}

static void
test_lossy_copies_are_refined(void)
{
    /* Default settings: the band goes out as JPEG, then moves; COPY carries
     * the approximation along, and once still every tile is refined to
     * the exact picture. */
    CrpEncoderConfig config = { .encodings = (1u << CRP_ENCODING_ZLIB) |
                                             (1u << CRP_ENCODING_JPEG) };
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&config);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(640, 480);
    pixman_image_t *prev = NULL;
    gint64 now = 0;
    guint copies = 0;

    for (int f = 0; f < 8; f++, now += 16667) {
        pixman_image_t *cur = band_frame(640, 480, 100, 200, f * 16);
        CrpEncodeStats st;
        ct_step(enc, dec, prev, cur, now, &st, NULL);
        copies += st.copy;
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    g_assert_cmpuint(copies, >=, 6);
    for (gint64 due; (due = crp_encoder_next_refine_us(enc)) >= 0;) {
        now = MAX(now + 16667, due);
        ct_step(enc, dec, prev, prev, now, NULL, NULL);
    }
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), prev));
    pixman_image_unref(prev);
}

static void
test_random_moves(void)
{
    /* Random rectangles of the last frame moved sideways (some also a few
     * rows), sometimes over each other, with random small edits. */
    GRand *rand = g_rand_new_with_seed(1234);
    g_autoptr(CrpEncoder) enc = NULL;
    g_autoptr(CrpDecoder) dec = NULL;
    pixman_image_t *prev = ct_image_new(500, 330);
    ct_draw_photo(prev, 0, 0, 500, 110, 3);
    ct_draw_text(prev, 0, 110, 500, 110, 0, 2);
    ct_draw_noise(prev, 0, 220, 500, 110, 5);
    start(&lossless, prev, &enc, &dec);
    guint copies = 0;

    for (int f = 1; f <= 60; f++) {
        pixman_image_t *cur = ct_image_copy(prev);
        for (int m = g_rand_int_range(rand, 1, 4); m > 0; m--) {
            int w = g_rand_int_range(rand, 40, 500);
            int h = g_rand_int_range(rand, 8, 200);
            int x = g_rand_int_range(rand, 0, 500 - w + 1);
            int y = g_rand_int_range(rand, 0, 330 - h + 1);
            int dx = g_rand_int_range(rand, -x, 500 - w - x + 1);
            int dy = g_rand_boolean(rand) ? 0 : g_rand_int_range(rand, -MIN(y, 3),
                                                                 MIN(330 - h - y, 3) + 1);
            pixman_image_composite32(PIXMAN_OP_SRC, prev, NULL, cur, x, y, 0, 0,
                                     x + dx, y + dy, w, h);
        }
        if (g_rand_boolean(rand)) {
            ct_fill_rect(cur, g_rand_int_range(rand, 0, 490),
                         g_rand_int_range(rand, 0, 320), 10, 10,
                         g_rand_int(rand) & 0xffffff);
        }
        copies += step_exact(enc, dec, prev, cur, f * 1000, NULL).copy;
        pixman_image_unref(prev);
        prev = cur;
    }
    g_assert_cmpuint(copies, >=, 20);
    pixman_image_unref(prev);
    g_rand_free(rand);
}

static void
test_terminal_unaffected(void)
{
    /* Scrolling text is still one vertical COPY a frame, and no sideways
     * COPY is made up from repeated words. */
    g_autoptr(CrpEncoder) enc = NULL;
    g_autoptr(CrpDecoder) dec = NULL;
    pixman_image_t *prev = ct_image_new(640, 480);
    ct_draw_text(prev, 0, 0, 640, 480, 0, 3);
    start(&lossless, prev, &enc, &dec);

    for (int line = 1; line < 8; line++) {
        pixman_image_t *cur = ct_image_new(640, 480);
        ct_draw_text(cur, 0, 0, 640, 480, line, 3);
        CrpMessage copy;
        CrpEncodeStats st = step_exact(enc, dec, prev, cur, line * 1000, &copy);
        g_assert_cmpuint(st.copy, ==, 1);
        g_assert_cmpint(copy.rect.src_x, ==, copy.rect.x);
        pixman_image_unref(prev);
        prev = cur;
    }
    pixman_image_unref(prev);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/shift/band-left", test_band_left);
    g_test_add_func("/shift/frame-edges", test_frame_edges);
    g_test_add_func("/shift/window-beyond-a-tile", test_window_beyond_a_tile);
    g_test_add_func("/shift/partial-tiles", test_partial_tiles);
    g_test_add_func("/shift/photo-parts-lossy", test_photo_parts_lossy);
    g_test_add_func("/shift/both-ways", test_both_ways);
    g_test_add_func("/shift/lossy-copies-are-refined", test_lossy_copies_are_refined);
    g_test_add_func("/shift/random-moves", test_random_moves);
    g_test_add_func("/shift/terminal-unaffected", test_terminal_unaffected);
    return g_test_run();
}
