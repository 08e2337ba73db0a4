/* test-crp-encoder.c: choices, refinement, damage and statistics. */
#include "codec-test-utils.h"

#include <string.h>

#define W 320
#define H 240
#define REFINE_US 250000

static CrpEncoder *
default_encoder(void)
{
    return crp_encoder_new(&(CrpEncoderConfig){ .encodings = CT_ALL_ENCODINGS });
}

static void
test_unchanged(void)
{
    g_autoptr(CrpEncoder) enc = default_encoder();
    pixman_image_t *img = ct_image_new(W, H);
    ct_draw_text(img, 0, 0, W, H, 0, 1);
    g_autoptr(GByteArray) out = g_byte_array_new();
    CrpEncodeStats st;
    g_assert_cmpuint(crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, &st), >, 0);

    /* Output is appended, never cleared. */
    g_byte_array_set_size(out, 3);
    pixman_image_t *same = ct_image_copy(img);
    g_assert_cmpuint(crp_encoder_encode_frame(enc, img, same, NULL, 1000, out, &st), ==, 0);
    g_assert_cmpuint(out->len, ==, 3);
    g_assert_cmpuint(st.rects, ==, 0);
    g_assert_cmpuint(st.bytes, ==, 0);
    g_assert_cmpuint(st.fill + st.raw + st.zlib + st.jpeg + st.copy + st.refined, ==, 0);

    pixman_image_unref(img);
    pixman_image_unref(same);
}

static void
test_stats(void)
{
    g_autoptr(CrpEncoder) enc = default_encoder();
    pixman_image_t *img = ct_image_new(W, H);
    ct_fill_rect(img, 0, 0, W, H, 0x445566);
    ct_draw_text(img, 0, 0, 128, 128, 0, 1);
    ct_draw_photo(img, 128, 128, 192, 112, 0);
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_byte_array_append(out, (const guint8 *)"xyz", 3);
    CrpEncodeStats st;
    guint rects = crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, &st);

    g_assert_cmpuint(rects, ==, st.rects);
    g_assert_cmpuint(st.fill + st.raw + st.zlib + st.jpeg + st.copy, ==, st.rects);
    g_assert_cmpuint(st.fill, >, 0);
    g_assert_cmpuint(st.zlib, >, 0);
    g_assert_cmpuint(st.jpeg, >, 0);
    g_assert_cmpuint(st.bytes, ==, out->len - 3);

    g_autoptr(GByteArray) rest = g_byte_array_new();
    g_byte_array_append(rest, out->data + 3, out->len - 3);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    CtApplied applied = { 0 };
    ct_apply(dec, rest, &applied);
    g_assert_cmpuint(applied.rects, ==, st.rects);
    g_assert_cmpuint(applied.by_encoding[CRP_ENCODING_JPEG], ==, st.jpeg);
    g_assert_cmpuint(applied.by_encoding[CRP_ENCODING_FILL], ==, st.fill);
    pixman_image_unref(img);
}

static void
test_refinement(void)
{
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *img = ct_image_new(W, H);
    ct_draw_text(img, 0, 0, W, H, 0, 1);
    ct_draw_photo(img, 64, 64, 192, 128, 0);
    CrpEncodeStats st;
    CtApplied applied;

    gint64 t0 = 5000000;
    ct_step(enc, dec, NULL, img, t0, &st, &applied);
    g_assert_cmpuint(st.jpeg, >, 0);
    g_assert_cmpuint(applied.lossy, >, 0);
    g_assert_false(ct_images_equal(crp_decoder_get_image(dec), img));

    /* Not yet still long enough. */
    ct_step(enc, dec, img, img, t0 + REFINE_US / 2, &st, NULL);
    g_assert_cmpuint(st.rects, ==, 0);
    g_assert_cmpuint(st.refined, ==, 0);

    /* Now every lossy tile is re-sent losslessly (6 tiles of photo). */
    ct_step(enc, dec, img, img, t0 + REFINE_US, &st, &applied);
    g_assert_cmpuint(st.refined, ==, 3 * 2);
    g_assert_cmpuint(st.jpeg, ==, 0);
    g_assert_cmpuint(applied.lossy, ==, 0);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));

    /* And only once. */
    ct_step(enc, dec, img, img, t0 + 10 * REFINE_US, &st, NULL);
    g_assert_cmpuint(st.rects, ==, 0);
    pixman_image_unref(img);
}

static void
test_refinement_waits_for_stillness(void)
{
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS, .refine_after_us = 100000 });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;
    CrpEncodeStats st;

    /* A picture that keeps changing for a second: sent as JPEG each frame,
     * never refined while it moves. (Noise: a photo that only moved
     * sideways would be a COPY and a lossless strip.) */
    for (int f = 0; f < 20; f++) {
        pixman_image_t *cur = ct_image_new(W, H);
        ct_draw_noise(cur, 0, 0, W, H, f + 1);
        ct_step(enc, dec, prev, cur, f * 50000, &st, NULL);
        g_assert_cmpuint(st.refined, ==, 0);
        g_assert_cmpuint(st.jpeg, >, 0);
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    g_assert_false(ct_images_equal(crp_decoder_get_image(dec), prev));
    ct_step(enc, dec, prev, prev, 19 * 50000 + 100000, &st, NULL);
    g_assert_cmpuint(st.refined, ==, 20);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), prev));
    pixman_image_unref(prev);
}

static void
test_refinement_bounded(void)
{
    /* A big photo goes still: it is refined over several calls, and
     * crp_encoder_next_refine_us() says when to make them. */
    const int w = 640, h = 512;
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(w, h);
    pixman_image_t *img = ct_image_new(w, h);
    ct_draw_photo(img, 0, 0, w, h, 3);
    CrpEncodeStats st;

    g_assert_cmpint(crp_encoder_next_refine_us(enc), ==, -1);
    gint64 now = 1000;
    ct_step(enc, dec, NULL, img, now, &st, NULL);
    g_assert_cmpuint(st.jpeg, >, 0);
    g_assert_cmpint(crp_encoder_next_refine_us(enc), ==, now + REFINE_US);

    guint refined = 0, calls = 0;
    now += REFINE_US;
    while (crp_encoder_next_refine_us(enc) >= 0) {
        g_assert_cmpint(crp_encoder_next_refine_us(enc), <=, now);
        ct_step(enc, dec, img, img, now, &st, NULL);
        g_assert_cmpuint(st.refined, >, 0);
        g_assert_cmpuint(st.refined, <, 10 * 8);
        refined += st.refined;
        calls++;
        now += 16667;
        g_assert_cmpuint(calls, <, 100);
    }
    g_assert_cmpuint(refined, ==, 10 * 8);
    g_assert_cmpuint(calls, >, 1);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));
    pixman_image_unref(img);
}

static gsize
photo_bytes(CrpEncoder *enc, int w, int h)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(w, h);
    pixman_image_t *img = ct_image_new(w, h);
    CrpEncodeStats st;

    ct_draw_photo(img, 0, 0, w, h, 5);
    ct_step(enc, dec, NULL, img, 1000, &st, NULL);
    g_assert_cmpuint(st.jpeg, >, 0);
    pixman_image_unref(img);
    return st.bytes;
}

static void
test_rate_quality(void)
{
    /* The link's JPEG quality holds from the next frame on, and a copy
     * of the encoder keeps it; zero goes back to the configured one. */
    const int w = 256, h = 128;
    g_autoptr(CrpEncoder) full = default_encoder();
    g_autoptr(CrpEncoder) low = default_encoder();
    CrpEncoderRate rate = { .jpeg_quality = 20, .target_bps = 1500000 };
    CrpEncoderRate got;

    crp_encoder_get_rate(low, &got);
    g_assert_cmpint(got.jpeg_quality, ==, 0);
    g_assert_cmpuint(got.target_bps, ==, 0);
    crp_encoder_set_rate(low, &rate);
    crp_encoder_get_rate(low, &got);
    g_assert_cmpint(got.jpeg_quality, ==, 20);
    g_assert_cmpuint(got.target_bps, ==, 1500000);

    gsize at75 = photo_bytes(full, w, h);
    gsize at20 = photo_bytes(low, w, h);
    g_test_message("photo %dx%d: %zu bytes at 75, %zu at 20", w, h, at75, at20);
    g_assert_cmpuint(at20 * 4, <, at75 * 3);

    g_autoptr(CrpEncoder) copy = crp_encoder_copy(low);
    crp_encoder_get_rate(copy, &got);
    g_assert_cmpint(got.jpeg_quality, ==, 20);
    gsize copied = photo_bytes(copy, w, h);
    g_assert_cmpuint(copied * 4, <, at75 * 3);

    crp_encoder_set_rate(low, &(CrpEncoderRate){ 0 });
    g_assert_cmpuint(photo_bytes(low, w, h), ==, at75);
}

static void
test_rate_refine_budget(void)
{
    /* On a slow link refinement is bounded in bytes per frame: each frame
     * carries at most the budget and one tile more, at least one tile,
     * and the picture still ends lossless. */
    const int w = 640, h = 512;
    const gsize budget = 8192;
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(w, h);
    pixman_image_t *img = ct_image_new(w, h);
    CrpEncodeStats st;
    gsize tile_max = CRP_TILE_SIZE * CRP_TILE_SIZE * 4 + 64;

    crp_encoder_set_rate(enc, &(CrpEncoderRate){ .refine_bytes = budget });
    ct_draw_photo(img, 0, 0, w, h, 3);
    gint64 now = 1000;
    ct_step(enc, dec, NULL, img, now, &st, NULL);
    g_assert_cmpuint(st.jpeg, >, 0);

    guint refined = 0, calls = 0;
    now += REFINE_US;
    while (crp_encoder_next_refine_us(enc) >= 0) {
        ct_step(enc, dec, img, img, now, &st, NULL);
        g_assert_cmpuint(st.refined, >, 0);
        g_assert_cmpuint(st.bytes, <=, budget + tile_max);
        refined += st.refined;
        calls++;
        now += 16667;
        g_assert_cmpuint(calls, <, 200);
    }
    g_test_message("refined %u tiles in %u frames of at most %zu bytes",
                   refined, calls, budget);
    g_assert_cmpuint(refined, ==, 10 * 8);
    /* Unbounded, 32 tiles a frame: 3 frames. */
    g_assert_cmpuint(calls, >, 4);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));
    pixman_image_unref(img);
}

/* 40 colours in diagonal stripes, moving with @phase. */
static void
draw_stripes(pixman_image_t *img, int phase)
{
    for (int y = 0; y < 128; y++) {
        for (int x = 0; x < 128; x++) {
            guint c = (guint)(x + y + phase) % 40;
            ct_set_pixel(img, x, y, 0x050a0f * c);
        }
    }
}

static void
count_kinds(gint64 interval_us, guint *zlib, guint *jpeg)
{
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(128, 128);
    pixman_image_t *prev = NULL;
    *zlib = *jpeg = 0;
    for (int f = 0; f < 12; f++) {
        pixman_image_t *cur = ct_image_new(128, 128);
        draw_stripes(cur, f);
        CrpEncodeStats st;
        ct_step(enc, dec, prev, cur, f * interval_us, &st, NULL);
        if (f > 0) {
            *zlib += st.zlib;
            *jpeg += st.jpeg;
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    pixman_image_unref(prev);
}

static void
test_video(void)
{
    guint zlib, jpeg;

    /* Changing at 60 fps: lossless at first, JPEG once it looks like video. */
    count_kinds(16667, &zlib, &jpeg);
    g_assert_cmpuint(zlib, >, 0);
    g_assert_cmpuint(jpeg, >, 0);
    g_assert_cmpuint(zlib, <=, 4 * 4);

    /* The same changes twice a second are not video. */
    count_kinds(500000, &zlib, &jpeg);
    g_assert_cmpuint(jpeg, ==, 0);
    g_assert_cmpuint(zlib, ==, 11 * 4);
}

static void
test_few_colours_stay_lossless(void)
{
    /* Text changing every frame (fast typing, a spinner) never turns to
     * JPEG. */
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;
    for (int f = 0; f < 15; f++) {
        pixman_image_t *cur = ct_image_new(W, H);
        ct_draw_text(cur, 0, 0, W, H, f, 1);
        CrpEncodeStats st;
        ct_step(enc, dec, prev, cur, f * 16667, &st, NULL);
        g_assert_cmpuint(st.jpeg, ==, 0);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    pixman_image_unref(prev);
}

static void
test_damage(void)
{
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *a = ct_image_new(W, H);
    ct_step(enc, dec, NULL, a, 0, NULL, NULL);

    pixman_image_t *b = ct_image_copy(a);
    ct_fill_rect(b, 10, 10, 20, 20, 0xff0000);      /* in the damage */
    ct_fill_rect(b, 200, 150, 20, 20, 0x00ff00);    /* outside it */
    pixman_region32_t damage;
    pixman_region32_init_rect(&damage, 0, 0, 64, 64);
    g_autoptr(GByteArray) out = g_byte_array_new();
    CrpEncodeStats st;
    crp_encoder_encode_frame(enc, a, b, &damage, 1000, out, &st);
    pixman_region32_fini(&damage);
    g_assert_cmpuint(st.rects, ==, 1);
    ct_apply(dec, out, NULL);

    pixman_image_t *fb = crp_decoder_get_image(dec);
    g_assert_cmphex(ct_get_pixel(fb, 15, 15), ==, 0xff0000);
    g_assert_cmphex(ct_get_pixel(fb, 205, 155), ==, 0);
    pixman_image_unref(a);
    pixman_image_unref(b);
}

static void
test_whole_frames(void)
{
    /* One client follows the whole test, so the stream stays in step. */
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS, .lossless = TRUE });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *a = ct_image_new(W, H);
    ct_draw_text(a, 0, 0, W, H, 0, 1);
    CrpEncodeStats first, st;
    g_autoptr(GByteArray) out = g_byte_array_new();
    crp_encoder_encode_frame(enc, NULL, a, NULL, 0, out, &first);
    ct_apply(dec, out, NULL);

    /* prev NULL: everything again, on the same stream. */
    g_byte_array_set_size(out, 0);
    crp_encoder_encode_frame(enc, NULL, a, NULL, 1000, out, &st);
    g_assert_cmpuint(st.rects, ==, first.rects);
    CrpMessage msg;
    g_assert_true(ct_find_rect(out, CRP_ENCODING_ZLIB, &msg));
    g_assert_false(msg.flags & CRP_RECT_FLAG_STREAM_RESET);
    ct_apply(dec, out, NULL);

    /* prev of another size: everything. */
    pixman_image_t *small = ct_image_new(100, 100);
    g_byte_array_set_size(out, 0);
    crp_encoder_encode_frame(enc, small, a, NULL, 2000, out, &st);
    g_assert_cmpuint(st.rects, ==, first.rects);
    ct_apply(dec, out, NULL);

    /* Reset: everything, and a fresh stream. */
    crp_encoder_reset(enc);
    g_byte_array_set_size(out, 0);
    crp_encoder_encode_frame(enc, a, a, NULL, 3000, out, &st);
    g_assert_cmpuint(st.rects, ==, first.rects);
    g_assert_true(ct_find_rect(out, CRP_ENCODING_ZLIB, &msg));
    g_assert_true(msg.flags & CRP_RECT_FLAG_STREAM_RESET);
    ct_apply(dec, out, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), a));

    /* A new size (after a SURFACE): everything, at that size, on the same
     * stream. */
    pixman_image_t *b = ct_image_new(130, 70);
    ct_draw_text(b, 0, 0, 130, 70, 0, 2);
    CrpSurfaceMsg surface = { 130, 70 };
    g_assert_true(crp_decoder_set_surface(dec, &surface, NULL));
    ct_step(enc, dec, a, b, 4000, &st, NULL);
    g_assert_cmpuint(st.rects, >=, 3 * 2 - 1);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), b));

    pixman_image_unref(a);
    pixman_image_unref(b);
    pixman_image_unref(small);
}

static void
test_alpha_ignored(void)
{
    /* An a8r8g8b8 frame with varying alpha encodes its RGB only. */
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_a8r8g8b8, W, H, NULL, 0);
    ct_draw_text(img, 0, 0, W, H, 0, 1);
    ct_fill_rect(img, 0, 128, W, 64, 0x00336699);
    ct_scramble_pad(img, 9);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS, .lossless = TRUE });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    CrpEncodeStats st;
    ct_step(enc, dec, NULL, img, 0, &st, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));
    g_assert_cmpuint(st.fill, >=, 1);

    /* Only alpha changed: nothing to send. */
    pixman_image_t *other = ct_image_copy(img);
    ct_scramble_pad(other, 10);
    ct_step(enc, dec, img, other, 1000, &st, NULL);
    g_assert_cmpuint(st.rects, ==, 0);
    pixman_image_unref(img);
    pixman_image_unref(other);
}

static void
test_random_session(void)
{
    /* Random edits, scrolls and photos; after each frame the client equals
     * the server except in lossy tiles, and exactly once things are still. */
    g_autoptr(CrpEncoder) enc = default_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;
    pixman_image_t *cur = ct_image_new(W, H);
    ct_draw_text(cur, 0, 0, W, H, 0, 1);
    gint64 now = 0;
    int line = 0;

    for (int f = 0; f < 40; f++) {
        switch (g_test_rand_int_range(0, 5)) {
        case 0:
            line += g_test_rand_int_range(1, 6);
            ct_draw_text(cur, 0, 0, W, H, line, 1);
            break;
        case 1:
            ct_draw_photo(cur, g_test_rand_int_range(0, W - 80),
                          g_test_rand_int_range(0, H - 60), 80, 60, f);
            break;
        case 2:
            ct_fill_rect(cur, g_test_rand_int_range(0, W - 50),
                         g_test_rand_int_range(0, H - 50), 50, 50,
                         (guint32)g_test_rand_int() & 0xffffff);
            break;
        case 3:
            ct_draw_text(cur, g_test_rand_int_range(0, W - 60),
                         g_test_rand_int_range(0, H - 32), 60, 32, f * 7, 2);
            break;
        default:
            break;
        }
        now += g_test_rand_int_range(1000, 200000);
        CtApplied applied;
        ct_step(enc, dec, prev, cur, now, NULL, &applied);
        g_clear_pointer(&prev, pixman_image_unref);
        prev = ct_image_copy(cur);
    }
    ct_step(enc, dec, prev, cur, now + REFINE_US, NULL, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
    pixman_image_unref(prev);
    pixman_image_unref(cur);
}

static void
test_scroll_hashes_follow_prev(void)
{
    /* The encoder keeps the row hashes of each new image for the next
     * frame's old one. Scrolling text frame after frame is found as COPY
     * every time; and when @prev is not the last new image (the hashes are
     * stale and point at the wrong shift) the client still ends up exact,
     * because every COPY is checked. RAW only: the decoder's picture can
     * then be set from a second encoder without sharing a zlib stream. */
    CrpEncoderConfig raw_only = { .lossless = TRUE };
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&raw_only);
    g_autoptr(CrpEncoder) other = crp_encoder_new(&raw_only);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;

    for (int line = 0; line < 6; line++) {
        pixman_image_t *cur = ct_image_new(W, H);
        ct_draw_text(cur, 0, 0, W, H, line, 3);
        CrpEncodeStats st;
        ct_step(enc, dec, prev, cur, line * 1000, &st, NULL);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
        if (line > 0) {
            g_assert_cmpuint(st.copy, >=, 1);
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }

    /* The client now shows text from line 9 (set by another encoder)... */
    pixman_image_t *elsewhere = ct_image_new(W, H);
    ct_draw_text(elsewhere, 0, 0, W, H, 9, 3);
    ct_step(other, dec, NULL, elsewhere, 0, NULL, NULL);
    /* ...and the next frame, one line on, is encoded against it. */
    pixman_image_t *next = ct_image_new(W, H);
    ct_draw_text(next, 0, 0, W, H, 10, 3);
    ct_step(enc, dec, elsewhere, next, 10000, NULL, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), next));

    pixman_image_unref(prev);
    pixman_image_unref(elsewhere);
    pixman_image_unref(next);
}

static void
test_copy_continues_the_stream(void)
{
    /* Two clients share an encoder (and so one zlib stream); at frame 3
     * one falls behind and goes on with a copy. Both streams stay
     * decodable and exact, each with its own content, and neither needs a
     * fresh zlib stream. */
    CrpEncoderConfig lossless = { .encodings = CT_ALL_ENCODINGS, .lossless = TRUE };
    g_autoptr(CrpEncoder) shared = crp_encoder_new(&lossless);
    g_autoptr(CrpEncoder) copy = NULL;
    g_autoptr(CrpDecoder) fast = ct_decoder_new(W, H);
    g_autoptr(CrpDecoder) slow = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL, *slow_prev = NULL;

    for (int f = 0; f < 8; f++) {
        pixman_image_t *cur = ct_image_new(W, H);
        ct_draw_text(cur, 0, 0, W, H, f, 5);
        g_autoptr(GByteArray) out = g_byte_array_new();
        CtApplied applied = { 0 };
        if (f == 3) {
            /* Both have had frames 0-2: the slow one leaves here. */
            copy = crp_encoder_copy(shared);
            slow_prev = ct_image_copy(prev);
        }
        crp_encoder_encode_frame(shared, prev, cur, NULL, f * 1000, out, NULL);
        ct_apply(fast, out, &applied);
        if (f < 3) {
            ct_apply(slow, out, NULL);
        }
        if (f > 0) {
            g_assert_cmpuint(applied.zlib_reset, ==, 0);
        }
        g_assert_true(ct_images_equal(crp_decoder_get_image(fast), cur));
        if (f >= 3 && f % 2 == 1) {
            /* The slow one gets every other frame, against what it has. */
            CtApplied a = { 0 };
            ct_step(copy, slow, slow_prev, cur, f * 1000, NULL, &a);
            g_assert_cmpuint(a.zlib_reset, ==, 0);
            g_assert_true(ct_images_equal(crp_decoder_get_image(slow), cur));
            g_clear_pointer(&slow_prev, pixman_image_unref);
            slow_prev = ct_image_copy(cur);
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    pixman_image_unref(prev);
    pixman_image_unref(slow_prev);
}


/* ---- video regions (H264) ---------------------------------------------- */

#define VW 640
#define VH 400
#define VIDEO_US 40000          /* 25 frames a second */
#define H264_ENCODINGS (CT_ALL_ENCODINGS | (1u << CRP_ENCODING_ZSTD) | \
                        (1u << CRP_ENCODING_H264))

static const pixman_box32_t video_at = { 101, 51, 101 + 256, 51 + 160 };

/* Text (of @text_seed) on a light background, and a film-like picture
 * (a moving photo with grain) of frame @f in @box. */
static pixman_image_t *
video_screen(const pixman_box32_t *box, int f, guint text_seed)
{
    pixman_image_t *img = ct_image_new(VW, VH);
    ct_fill_rect(img, 0, 0, VW, VH, 0xf0f0f0);
    ct_draw_text(img, 0, 0, VW, VH, 0, text_seed);
    int w = box->x2 - box->x1, h = box->y2 - box->y1;
    ct_draw_photo(img, box->x1, box->y1, w, h, f * 4);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            guint32 p = ct_get_pixel(img, box->x1 + x, box->y1 + y);
            int grain = (int)(ct_mix(f * 1000003u + y * 4096 + x) % 13) - 6;
            guint32 out = 0;
            for (int sh = 0; sh < 24; sh += 8) {
                out |= (guint32)CLAMP((int)((p >> sh) & 0xff) + grain, 0, 255) << sh;
            }
            ct_set_pixel(img, box->x1 + x, box->y1 + y, out);
        }
    }
    return img;
}

static gboolean
box_equal(pixman_box32_t a, pixman_box32_t b)
{
    return a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2;
}

/* Sends frames with nothing new until nothing is left to refine; returns
 * how long that took. */
static gint64
settle(CrpEncoder *enc, CrpDecoder *dec, pixman_image_t *img, gint64 *now,
       CtApplied *total)
{
    gint64 start = *now;
    for (int i = 0; crp_encoder_next_refine_us(enc) >= 0; i++) {
        g_assert_cmpint(i, <, 200);
        *now = MAX(*now + VIDEO_US, crp_encoder_next_refine_us(enc));
        CtApplied a = { 0 };
        ct_step(enc, dec, img, img, *now, NULL, &a);
        if (total) {
            total->by_encoding[CRP_ENCODING_H264] += a.by_encoding[CRP_ENCODING_H264];
        }
    }
    return *now - start;
}

/* A video plays in part of a screen of text: after VIDEO_MIN_STREAK
 * frames it goes as one H264 stream exactly where it is (not JPEG), text
 * changing elsewhere stays lossless tiles, and once the video stops the
 * client's picture becomes exact within a second. */
static void
test_video_region(void)
{
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = H264_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(VW, VH);
    pixman_image_t *prev = NULL;
    gint64 now = 0;
    int first_h264 = -1;
    guint jpeg_after = 0, resets = 0;

    for (int f = 0; f < 20; f++, now += VIDEO_US) {
        pixman_image_t *cur = video_screen(&video_at, f, f < 12 ? 1 : 2);
        CtApplied a = { 0 };
        ct_step(enc, dec, prev, cur, now, NULL, &a);
        if (a.by_encoding[CRP_ENCODING_H264] > 0) {
            g_assert_cmpuint(a.by_encoding[CRP_ENCODING_H264], ==, 1);
            g_assert_true(box_equal(a.h264_box, video_at));
            first_h264 = first_h264 < 0 ? f : first_h264;
        }
        if (first_h264 >= 0 && f > first_h264) {
            jpeg_after += a.by_encoding[CRP_ENCODING_JPEG];
            g_assert_cmpuint(a.by_encoding[CRP_ENCODING_H264], ==, 1);
            g_assert_cmpfloat(ct_psnr(crp_decoder_get_image(dec), cur), >, 30);
        }
        resets += a.h264_reset;
        if (f == 12) {
            /* The text changed: lossless, around the video. */
            g_assert_cmpuint(a.by_encoding[CRP_ENCODING_ZSTD], >, 0);
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    g_assert_cmpint(first_h264, >=, 4);
    g_assert_cmpint(first_h264, <=, 6);
    g_assert_cmpuint(jpeg_after, ==, 0);
    g_assert_cmpuint(resets, ==, 1);

    CtApplied after = { 0 };
    gint64 took = settle(enc, dec, prev, &now, &after);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), prev));
    g_assert_cmpuint(after.by_encoding[CRP_ENCODING_H264], ==, 0);
    g_assert_cmpint(took, <=, 1000000);
    pixman_image_unref(prev);
}

/* Bytes a second and mean PSNR of the video scene's frames 10..39 (the
 * stream runs from frame 4 or so), with @target_bps as the link's rate
 * (0: none known). */
static void
video_at_rate(guint64 target_bps, double *bps, double *psnr)
{
    /* QP 20 at the finest, where the grain costs enough for a link to
     * matter (at the default 28 it is mostly quantised away). */
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = H264_ENCODINGS, .video_qp = 20 });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(VW, VH);
    pixman_image_t *prev = NULL;
    gint64 now = 0;
    gsize bytes = 0;
    double sum = 0;
    int n = 0;

    crp_encoder_set_rate(enc, &(CrpEncoderRate){ .target_bps = target_bps });
    for (int f = 0; f < 40; f++, now += VIDEO_US) {
        pixman_image_t *cur = video_screen(&video_at, f, 1);
        CrpEncodeStats st;
        ct_step(enc, dec, prev, cur, now, &st, NULL);
        if (f >= 10) {
            bytes += st.bytes;
            sum += ct_psnr(crp_decoder_get_image(dec), cur);
            n++;
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    *bps = bytes * 8.0 / (n * VIDEO_US / 1e6);
    *psnr = sum / n;
    pixman_image_unref(prev);
}

/* With no limit known the video is as fine as the finest QP; under the
 * link's rate the whole frame stream, video and all, stays under it (the
 * video takes half; the scene's grain keeps the PSNR near the
 * same at any QP, so only the bytes tell). */
static void
test_video_follows_the_link(void)
{
    double free_bps, free_psnr, slow_bps, slow_psnr;

    video_at_rate(0, &free_bps, &free_psnr);
    video_at_rate(150000, &slow_bps, &slow_psnr);
    g_test_message("no limit: %.0f kbit/s, %.2f dB; 150 kbit/s link: "
                   "%.0f kbit/s, %.2f dB", free_bps / 1e3, free_psnr,
                   slow_bps / 1e3, slow_psnr);
    g_assert_cmpfloat(free_bps, >, 2 * 150000);
    g_assert_cmpfloat(slow_bps, <, 150000 * 1.2);
    g_assert_cmpfloat(slow_bps, >, 150000 * 0.3);
}

/* The same screen for a client without H264 (or a lossless one): JPEG
 * tiles as before (none at all when lossless), exact once still. */
static void
test_video_without_h264(void)
{
    for (int lossless = 0; lossless <= 1; lossless++) {
        g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
            .encodings = lossless ? H264_ENCODINGS
                                  : H264_ENCODINGS & ~(1u << CRP_ENCODING_H264),
            .lossless = lossless });
        g_autoptr(CrpDecoder) dec = ct_decoder_new(VW, VH);
        pixman_image_t *prev = NULL;
        gint64 now = 0;
        guint jpeg = 0, h264 = 0;

        for (int f = 0; f < 12; f++, now += VIDEO_US) {
            pixman_image_t *cur = video_screen(&video_at, f, 1);
            CtApplied a = { 0 };
            ct_step(enc, dec, prev, cur, now, NULL, &a);
            jpeg += a.by_encoding[CRP_ENCODING_JPEG];
            h264 += a.by_encoding[CRP_ENCODING_H264];
            g_clear_pointer(&prev, pixman_image_unref);
            prev = cur;
        }
        g_assert_cmpuint(h264, ==, 0);
        if (lossless) {
            g_assert_cmpuint(jpeg, ==, 0);
        } else {
            g_assert_cmpuint(jpeg, >, 0);
        }
        settle(enc, dec, prev, &now, NULL);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), prev));
        pixman_image_unref(prev);
    }
}

/* Two clients share an encoder while a video plays; one falls behind and
 * goes on with a copy: the copy's stream starts afresh (an H.264 stream
 * cannot be copied), the original goes on without a restart, and both
 * clients end exact once the video stops. */
static void
test_video_copy_restarts_the_stream(void)
{
    g_autoptr(CrpEncoder) shared = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = H264_ENCODINGS });
    g_autoptr(CrpEncoder) copy = NULL;
    g_autoptr(CrpDecoder) fast = ct_decoder_new(VW, VH);
    g_autoptr(CrpDecoder) slow = ct_decoder_new(VW, VH);
    pixman_image_t *prev = NULL, *slow_prev = NULL;
    gint64 now = 0;

    for (int f = 0; f < 14; f++, now += VIDEO_US) {
        pixman_image_t *cur = video_screen(&video_at, f, 1);
        g_autoptr(GByteArray) out = g_byte_array_new();
        CtApplied a = { 0 };
        if (f == 8) {
            copy = crp_encoder_copy(shared);
            slow_prev = ct_image_copy(prev);
        }
        crp_encoder_encode_frame(shared, prev, cur, NULL, now, out, NULL);
        ct_apply(fast, out, &a);
        if (f < 8) {
            ct_apply(slow, out, NULL);
        } else {
            g_assert_cmpuint(a.by_encoding[CRP_ENCODING_H264], ==, 1);
            g_assert_cmpuint(a.h264_reset, ==, 0);
        }
        if (f >= 8 && f % 2 == 0) {
            CtApplied b = { 0 };
            ct_step(copy, slow, slow_prev, cur, now, NULL, &b);
            g_assert_cmpuint(b.by_encoding[CRP_ENCODING_H264], ==, 1);
            g_assert_cmpuint(b.h264_reset, ==, f == 8 ? 1 : 0);
            g_assert_cmpfloat(ct_psnr(crp_decoder_get_image(slow), cur), >, 30);
            g_clear_pointer(&slow_prev, pixman_image_unref);
            slow_prev = ct_image_copy(cur);
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    gint64 later = now;
    settle(shared, fast, prev, &now, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(fast), prev));
    CtApplied b = { 0 };
    ct_step(copy, slow, slow_prev, prev, later, NULL, &b);
    settle(copy, slow, prev, &later, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(slow), prev));
    pixman_image_unref(prev);
    pixman_image_unref(slow_prev);
}

/* A client joins (the encoder is reset, a whole frame follows): the
 * region's stream starts afresh, and the new client decodes all of it. */
static void
test_video_reset_restarts_the_stream(void)
{
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = H264_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(VW, VH);
    pixman_image_t *prev = NULL;
    gint64 now = 0;

    for (int f = 0; f < 12; f++, now += VIDEO_US) {
        pixman_image_t *cur = video_screen(&video_at, f, 1);
        CtApplied a = { 0 };
        if (f == 9) {
            crp_encoder_reset(enc);
            g_clear_pointer(&dec, crp_decoder_free);
            dec = ct_decoder_new(VW, VH);
        }
        ct_step(enc, dec, f == 9 ? NULL : prev, cur, now, NULL, &a);
        if (f == 9) {
            g_assert_cmpuint(a.by_encoding[CRP_ENCODING_H264], ==, 1);
            g_assert_cmpuint(a.h264_reset, ==, 1);
            g_assert_cmpfloat(ct_psnr(crp_decoder_get_image(dec), cur), >, 30);
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    settle(enc, dec, prev, &now, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), prev));
    pixman_image_unref(prev);
}

/* The video's window moves across the screen: the region follows it
 * (a new stream where it is now) and the area it left is refined. */
static void
test_video_region_moves(void)
{
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = H264_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(VW, VH);
    pixman_image_t *prev = NULL;
    const pixman_box32_t moved = { 330, 200, 330 + 256, 200 + 160 };
    gint64 now = 0;
    CtApplied last = { 0 };

    for (int f = 0; f < 24; f++, now += VIDEO_US) {
        pixman_image_t *cur = video_screen(f < 10 ? &video_at : &moved, f, 1);
        CtApplied a = { 0 };
        ct_step(enc, dec, prev, cur, now, NULL, &a);
        if (a.by_encoding[CRP_ENCODING_H264]) {
            last = a;
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    g_assert_true(box_equal(last.h264_box, moved));
    settle(enc, dec, prev, &now, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), prev));
    pixman_image_unref(prev);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/encoder/unchanged", test_unchanged);
    g_test_add_func("/encoder/stats", test_stats);
    g_test_add_func("/encoder/refinement", test_refinement);
    g_test_add_func("/encoder/refinement-waits-for-stillness",
                    test_refinement_waits_for_stillness);
    g_test_add_func("/encoder/refinement-bounded", test_refinement_bounded);
    g_test_add_func("/encoder/rate-quality", test_rate_quality);
    g_test_add_func("/encoder/rate-refine-budget", test_rate_refine_budget);
    g_test_add_func("/encoder/video", test_video);
    g_test_add_func("/encoder/few-colours-stay-lossless", test_few_colours_stay_lossless);
    g_test_add_func("/encoder/damage", test_damage);
    g_test_add_func("/encoder/whole-frames", test_whole_frames);
    g_test_add_func("/encoder/alpha-ignored", test_alpha_ignored);
    g_test_add_func("/encoder/random-session", test_random_session);
    g_test_add_func("/encoder/scroll-hashes-follow-prev",
                    test_scroll_hashes_follow_prev);
    g_test_add_func("/encoder/copy-continues-the-stream",
                    test_copy_continues_the_stream);
    g_test_add_func("/encoder/video-region", test_video_region);
    g_test_add_func("/encoder/video-follows-the-link", test_video_follows_the_link);
    g_test_add_func("/encoder/video-without-h264", test_video_without_h264);
    g_test_add_func("/encoder/video-copy-restarts-the-stream",
                    test_video_copy_restarts_the_stream);
    g_test_add_func("/encoder/video-reset-restarts-the-stream",
                    test_video_reset_restarts_the_stream);
    g_test_add_func("/encoder/video-region-moves", test_video_region_moves);
    return g_test_run();
}
