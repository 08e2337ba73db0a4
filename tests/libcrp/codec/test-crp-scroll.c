/* test-crp-scroll.c: scroll detection, alone and as COPY rects. */
#include "codec-test-utils.h"

#define W 640
#define H 480
#define PAPER 0x101820

/* A terminal whose top line is @first_line of the text. */
static pixman_image_t *
terminal(int first_line, guint seed)
{
    pixman_image_t *image = ct_image_new(W, H);
    ct_draw_text(image, 0, 0, W, H, first_line, seed);
    return image;
}

static void
test_detect_up(void)
{
    pixman_image_t *prev = terminal(0, 1);
    pixman_image_t *cur = terminal(3, 1);       /* scrolled up 3 lines */
    CrpScroll s[4];

    guint n = crp_scroll_detect(prev, cur, NULL, s, G_N_ELEMENTS(s));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(s[0].dy, ==, -48);
    g_assert_cmpint(s[0].x, ==, 0);
    g_assert_cmpint(s[0].width, ==, W);
    /* Everything but the exposed strip at the bottom moves. */
    g_assert_cmpint(s[0].y, <=, 16);
    g_assert_cmpint(s[0].y + s[0].height, >=, H - 48 - 16);
    g_assert_cmpint(s[0].y + s[0].height, <=, H - 48);
    g_assert_cmpint(s[0].y - s[0].dy, >=, 0);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_detect_down_in_area(void)
{
    /* A pane at x 128..448 scrolls down by 5 lines (80 rows); the rest is
     * still. Detection is limited to an area around it. */
    pixman_image_t *prev = ct_image_new(W, H);
    pixman_image_t *cur = ct_image_new(W, H);
    ct_draw_text(prev, 0, 0, W, H, 100, 2);
    ct_draw_text(cur, 0, 0, W, H, 100, 2);
    ct_draw_text(prev, 128, 0, 320, H, 10, 5);
    ct_draw_text(cur, 128, 0, 320, H, 5, 5);

    pixman_box32_t area = { 128, 0, 448, H };
    CrpScroll s[4];
    guint n = crp_scroll_detect(prev, cur, &area, s, G_N_ELEMENTS(s));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(s[0].dy, ==, 80);
    g_assert_cmpint(s[0].x, ==, 128);
    g_assert_cmpint(s[0].width, ==, 320);
    g_assert_cmpint(s[0].y, >=, 80);
    g_assert_cmpint(s[0].y + s[0].height, >=, H - 16);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_detect_two_panes(void)
{
    /* Side by side panes scrolling by different amounts. */
    pixman_image_t *prev = ct_image_new(W, H);
    pixman_image_t *cur = ct_image_new(W, H);
    ct_draw_text(prev, 0, 0, 320, H, 0, 3);
    ct_draw_text(cur, 0, 0, 320, H, 2, 3);
    ct_draw_text(prev, 320, 0, 320, H, 0, 4);
    ct_draw_text(cur, 320, 0, 320, H, 7, 4);

    CrpScroll s[4];
    guint n = crp_scroll_detect(prev, cur, NULL, s, G_N_ELEMENTS(s));
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpint(s[0].x, ==, 0);
    g_assert_cmpint(s[0].width, ==, 320);
    g_assert_cmpint(s[0].dy, ==, -32);
    g_assert_cmpint(s[1].x, ==, 320);
    g_assert_cmpint(s[1].width, ==, 320);
    g_assert_cmpint(s[1].dy, ==, -112);

    /* max_scrolls is honoured. */
    g_assert_cmpuint(crp_scroll_detect(prev, cur, NULL, s, 1), ==, 1);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_no_scroll(void)
{
    CrpScroll s[4];

    /* New content unrelated to the old. */
    pixman_image_t *prev = terminal(0, 1);
    pixman_image_t *cur = terminal(0, 2);
    g_assert_cmpuint(crp_scroll_detect(prev, cur, NULL, s, G_N_ELEMENTS(s)), ==, 0);

    /* Identical frames, and noise. */
    g_assert_cmpuint(crp_scroll_detect(prev, prev, NULL, s, G_N_ELEMENTS(s)), ==, 0);
    ct_draw_noise(prev, 0, 0, W, H, 1);
    ct_draw_noise(cur, 0, 0, W, H, 2);
    g_assert_cmpuint(crp_scroll_detect(prev, cur, NULL, s, G_N_ELEMENTS(s)), ==, 0);

    /* An area too short to hold a scroll. */
    pixman_image_t *a = terminal(0, 1), *b = terminal(1, 1);
    pixman_box32_t area = { 0, 0, W, 20 };
    g_assert_cmpuint(crp_scroll_detect(a, b, &area, s, G_N_ELEMENTS(s)), ==, 0);

    pixman_image_unref(a);
    pixman_image_unref(b);
    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

/* Sends @prev whole, then @cur; checks the result is exact. */
static void
scroll_step(pixman_image_t *prev, pixman_image_t *cur, CrpEncodeStats *st)
{
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    CtApplied applied;
    ct_step(enc, dec, NULL, prev, 0, NULL, NULL);
    ct_step(enc, dec, prev, cur, 1000, st, &applied);
    g_assert_cmpuint(applied.by_encoding[CRP_ENCODING_COPY], ==, st->copy);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
}

static void
test_encoder_copy(void)
{
    pixman_image_t *prev = terminal(0, 1);
    pixman_image_t *cur = terminal(1, 1);
    CrpEncodeStats st;
    scroll_step(prev, cur, &st);
    g_assert_cmpuint(st.copy, ==, 1);

    /* Without the copy every tile would be re-sent. */
    CrpEncodeStats whole;
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(GByteArray) out = g_byte_array_new();
    crp_encoder_encode_frame(enc, NULL, cur, NULL, 0, out, &whole);
    g_assert_cmpuint(whole.copy, ==, 0);
    g_assert_cmpuint(st.bytes * 4, <, whole.bytes);
    g_assert_cmpuint(st.rects * 4, <, whole.rects);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_encoder_copy_and_edit(void)
{
    /* A line inside the scrolled area changed too: one copy still covers
     * it, and the line is sent on top. */
    pixman_image_t *prev = terminal(0, 1);
    pixman_image_t *cur = terminal(4, 1);
    ct_draw_text(cur, 0, 96, W, 16, 1000, 9);
    CrpEncodeStats st;
    scroll_step(prev, cur, &st);
    g_assert_cmpuint(st.copy, ==, 1);
    g_assert_cmpuint(st.zlib, >, 0);

    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_encoder_copy_down(void)
{
    /* Scrolling back (content moves down) within a window, twice in a row
     * over the same streams. */
    pixman_image_t *f0 = ct_image_new(W, H), *f1 = ct_image_new(W, H);
    pixman_image_t *f2 = ct_image_new(W, H);
    ct_fill_rect(f0, 0, 0, W, H, 0x3a6ea5);
    ct_fill_rect(f1, 0, 0, W, H, 0x3a6ea5);
    ct_fill_rect(f2, 0, 0, W, H, 0x3a6ea5);
    ct_draw_text(f0, 64, 40, 500, 400, 20, 6);
    ct_draw_text(f1, 64, 40, 500, 400, 17, 6);
    ct_draw_text(f2, 64, 40, 500, 400, 11, 6);

    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    CrpEncodeStats st1, st2;
    ct_step(enc, dec, NULL, f0, 0, NULL, NULL);
    ct_step(enc, dec, f0, f1, 1000, &st1, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), f1));
    ct_step(enc, dec, f1, f2, 2000, &st2, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), f2));
    g_assert_cmpuint(st1.copy, >=, 1);
    g_assert_cmpuint(st2.copy, >=, 1);

    pixman_image_unref(f0);
    pixman_image_unref(f1);
    pixman_image_unref(f2);
}

static void
test_encoder_copy_carries_lossy(void)
{
    /* A photo in a scrolling page: its lossy pixels move with the copy, so
     * the tiles they land in must still be refined. */
    pixman_image_t *f0 = ct_image_new(W, H), *f1 = ct_image_new(W, H);
    ct_draw_text(f0, 0, 0, W, H, 0, 8);
    ct_draw_photo(f0, 64, 256, 256, 128, 0);
    ct_draw_text(f1, 0, 0, W, H, 4, 8);
    ct_draw_photo(f1, 64, 192, 256, 128, 0);

    const guint32 refine = 100000;
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS, .refine_after_us = refine });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    CrpEncodeStats st;
    CtApplied applied;
    ct_step(enc, dec, NULL, f0, 0, &st, &applied);
    g_assert_cmpuint(applied.lossy, >, 0);
    ct_step(enc, dec, f0, f1, 1000, &st, NULL);
    g_assert_cmpuint(st.copy, ==, 1);
    g_assert_false(ct_images_equal(crp_decoder_get_image(dec), f1));

    ct_step(enc, dec, f1, f1, 1000 + refine, &st, NULL);
    g_assert_cmpuint(st.refined, >, 0);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), f1));

    pixman_image_unref(f0);
    pixman_image_unref(f1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/scroll/detect-up", test_detect_up);
    g_test_add_func("/scroll/detect-down-in-area", test_detect_down_in_area);
    g_test_add_func("/scroll/detect-two-panes", test_detect_two_panes);
    g_test_add_func("/scroll/no-scroll", test_no_scroll);
    g_test_add_func("/scroll/encoder-copy", test_encoder_copy);
    g_test_add_func("/scroll/encoder-copy-and-edit", test_encoder_copy_and_edit);
    g_test_add_func("/scroll/encoder-copy-down", test_encoder_copy_down);
    g_test_add_func("/scroll/encoder-copy-carries-lossy", test_encoder_copy_carries_lossy);
    return g_test_run();
}
