/* test-crp-zlib.c: ZLIB rects over persistent streams, and bad streams. */
#include "codec-test-utils.h"

#include <string.h>
#include <zlib.h>

#define W 320
#define H 200

static CrpEncoder *
lossless_encoder(void)
{
    return crp_encoder_new(&(CrpEncoderConfig){ .encodings = CT_ALL_ENCODINGS,
                                                .lossless = TRUE });
}

static void
test_round_trip_frames(void)
{
    /* Text (palette), noise (truecolor) and flat areas, changing over
     * several frames of one stream. */
    g_autoptr(CrpEncoder) enc = lossless_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;

    for (int f = 0; f < 6; f++) {
        pixman_image_t *cur = ct_image_new(W, H);
        ct_fill_rect(cur, 0, 0, W, H, 0x202020);
        ct_draw_text(cur, 0, 0, 200, 120, f, 1);
        ct_draw_noise(cur, 200, 120, 120, 80, f < 3 ? 1 : f);
        ct_draw_photo(cur, 0, 150, 150, 50, f * 3);
        CrpEncodeStats st;
        CtApplied applied;
        ct_step(enc, dec, prev, cur, f * 20000, &st, &applied);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
        g_assert_cmpuint(st.zlib, >, 0);
        g_assert_cmpuint(st.jpeg, ==, 0);
        /* Only the very first rect starts the stream. */
        g_assert_cmpuint(applied.zlib_reset, ==, f == 0 ? 1 : 0);
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    pixman_image_unref(prev);
}

static void
test_reset(void)
{
    g_autoptr(CrpEncoder) enc = lossless_encoder();
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *a = ct_image_new(W, H), *b = ct_image_new(W, H);
    ct_draw_text(a, 0, 0, W, H, 0, 1);
    ct_draw_text(b, 0, 0, W, H, 50, 2);
    ct_step(enc, dec, NULL, a, 0, NULL, NULL);

    /* After a reset the next frame is whole and restarts the stream: a
     * decoder that saw nothing before can join there. */
    crp_encoder_reset(enc);
    g_autoptr(GByteArray) out = g_byte_array_new();
    CrpEncodeStats st;
    crp_encoder_encode_frame(enc, a, b, NULL, 1000, out, &st);
    g_assert_cmpuint(st.zlib, >=, 10);

    CtApplied applied = { 0 };
    ct_apply(dec, out, &applied);
    g_assert_cmpuint(applied.zlib_reset, ==, 1);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), b));

    g_autoptr(CrpDecoder) late = ct_decoder_new(W, H);
    ct_apply(late, out, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(late), b));

    /* The same bytes without the flag do not decode on a used stream. */
    g_autoptr(CrpDecoder) used = ct_decoder_new(W, H);
    g_autoptr(CrpEncoder) enc2 = lossless_encoder();
    ct_step(enc2, used, NULL, a, 0, NULL, NULL);
    CrpMessage msg;
    g_assert_true(ct_find_rect(out, CRP_ENCODING_ZLIB, &msg));
    g_assert_true(msg.flags & CRP_RECT_FLAG_STREAM_RESET);
    g_autoptr(GError) error = NULL;
    g_assert_false(crp_decoder_apply_rect(used, &msg.rect, 0, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);

    pixman_image_unref(a);
    pixman_image_unref(b);
}

/* ---- hand-made streams ----------------------------------------------- */

typedef struct {
    CrpDecoder *dec;
    z_stream zs;
} Sender;

static void
sender_init(Sender *s)
{
    memset(s, 0, sizeof(*s));
    s->dec = ct_decoder_new(W, H);
    g_assert_cmpint(deflateInit(&s->zs, 6), ==, Z_OK);
}

static void
sender_finish(Sender *s)
{
    deflateEnd(&s->zs);
    crp_decoder_free(s->dec);
}

/* Sends @payload as a @w x @h ZLIB rect at (1, 2); returns the result. */
static gboolean
send_payload(Sender *s, int w, int h, const guint8 *payload, gsize len,
             guint8 flags, GError **error)
{
    g_autoptr(GByteArray) z = g_byte_array_new();
    ct_deflate_chunk(&s->zs, payload, len, z);
    CrpRectMsg rect = { .x = 1, .y = 2, .width = w, .height = h,
                        .encoding = CRP_ENCODING_ZLIB, .data = { z->data, z->len } };
    return crp_decoder_apply_rect(s->dec, &rect, flags, error);
}

/* A palette payload as docs/protocol.md lays it out: n colours, then a
 * w x h rect of indices cycling through @span, packed 1/2/4/8 bits to a
 * byte (most significant first, rows byte-aligned), with @delta bytes
 * added (> 0) or cut (< 0) at the end. Packed here independently of the
 * codec, so the two check each other against the spec. */
static GByteArray *
palette_payload(guint n, int w, int h, guint span, int delta)
{
    GByteArray *p = g_byte_array_new();
    guint bits = n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
    guint8 b = (guint8)n;
    g_byte_array_append(p, &b, 1);
    for (guint i = 0; i < n; i++) {
        guint8 bgr[3] = { (guint8)i, (guint8)(i * 2), (guint8)(i * 3) };
        g_byte_array_append(p, bgr, 3);
    }
    for (int y = 0; y < h; y++) {
        guint acc = 0, used = 0;
        for (int x = 0; x < w; x++) {
            acc = (acc << bits) | ((guint)(y * w + x) % span);
            used += bits;
            if (used == 8) {
                b = (guint8)acc;
                g_byte_array_append(p, &b, 1);
                acc = used = 0;
            }
        }
        if (used) {
            b = (guint8)(acc << (8 - used));
            g_byte_array_append(p, &b, 1);
        }
    }
    if (delta < 0) {
        g_byte_array_set_size(p, p->len + delta);
    }
    for (int i = 0; i < delta; i++) {
        b = 0;
        g_byte_array_append(p, &b, 1);
    }
    return p;
}

static void
expect_codec_error(Sender *s, int w, int h, GByteArray *payload)
{
    g_autoptr(GError) error = NULL;
    g_assert_false(send_payload(s, w, h, payload->data, payload->len,
                                CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    /* The sender starts a fresh stream after each failed case. */
    deflateReset(&s->zs);
}

/* Every packing width decodes to the indices it was given. */
static void
test_palette_packing(void)
{
    static const guint ns[] = { 1, 2, 3, 4, 5, 16, 17, 200 };
    Sender s;
    sender_init(&s);
    for (gsize i = 0; i < G_N_ELEMENTS(ns); i++) {
        g_autoptr(GError) error = NULL;
        /* 13 wide: rows end mid-byte for 1, 2 and 4 bits. */
        g_autoptr(GByteArray) p = palette_payload(ns[i], 13, 3, ns[i], 0);
        deflateReset(&s.zs);
        g_assert_true(send_payload(&s, 13, 3, p->data, p->len,
                                   CRP_RECT_FLAG_STREAM_RESET, &error));
        g_assert_no_error(error);
        pixman_image_t *fb = crp_decoder_get_image(s.dec);
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 13; x++) {
                guint idx = (guint)(y * 13 + x) % ns[i];
                g_assert_cmphex(ct_get_pixel(fb, 1 + x, 2 + y), ==,
                                (idx * 3) << 16 | (idx * 2) << 8 | idx);
            }
        }
    }
    sender_finish(&s);
}

static void
test_palette_stream(void)
{
    Sender s;
    sender_init(&s);
    g_autoptr(GError) error = NULL;

    /* A good rect, then a second one on the same stream. */
    g_autoptr(GByteArray) good = palette_payload(3, 10, 4, 3, 0);
    g_assert_true(send_payload(&s, 10, 4, good->data, good->len,
                               CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_no_error(error);
    pixman_image_t *fb = crp_decoder_get_image(s.dec);
    g_assert_cmphex(ct_get_pixel(fb, 1, 2), ==, 0x000000);
    g_assert_cmphex(ct_get_pixel(fb, 2, 2), ==, 0x030201);
    g_assert_cmphex(ct_get_pixel(fb, 3, 2), ==, 0x060402);
    g_assert_true(send_payload(&s, 10, 4, good->data, good->len, 0, &error));
    g_assert_no_error(error);

    /* One byte too few, one too many, an index past the palette (3
     * colours use 2 bits, so index 3 fits the packing but not the palette). */
    g_autoptr(GByteArray) few = palette_payload(3, 10, 4, 3, -1);
    expect_codec_error(&s, 10, 4, few);
    g_autoptr(GByteArray) many = palette_payload(3, 10, 4, 3, 1);
    expect_codec_error(&s, 10, 4, many);
    g_autoptr(GByteArray) bad_index = palette_payload(3, 10, 4, 4, 0);
    expect_codec_error(&s, 10, 4, bad_index);
    /* The palette itself cut short. */
    g_autoptr(GByteArray) short_palette = palette_payload(200, 0, 0, 1, 0);
    g_byte_array_set_size(short_palette, 100);
    expect_codec_error(&s, 10, 4, short_palette);

    /* After failures a reset rect decodes again. */
    g_assert_true(send_payload(&s, 10, 4, good->data, good->len,
                               CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_no_error(error);
    sender_finish(&s);
}

static void
test_truecolor_stream(void)
{
    Sender s;
    sender_init(&s);
    g_autoptr(GError) error = NULL;

    guint8 good[1 + 2 * 2 * 3] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    g_assert_true(send_payload(&s, 2, 2, good, sizeof(good),
                               CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_no_error(error);
    pixman_image_t *fb = crp_decoder_get_image(s.dec);
    g_assert_cmphex(ct_get_pixel(fb, 1, 2), ==, 0x030201);
    g_assert_cmphex(ct_get_pixel(fb, 2, 3), ==, 0x0c0b0a);

    g_autoptr(GByteArray) short_tc = g_byte_array_new();
    g_byte_array_append(short_tc, good, sizeof(good) - 1);
    expect_codec_error(&s, 2, 2, short_tc);
    g_autoptr(GByteArray) long_tc = g_byte_array_new();
    g_byte_array_append(long_tc, good, sizeof(good));
    g_byte_array_append(long_tc, good, 1);
    expect_codec_error(&s, 2, 2, long_tc);

    /* A 1x1 rect whose data inflates to megabytes of zeros: stops at the
     * size the rect implies. */
    g_autoptr(GByteArray) bomb = g_byte_array_new();
    g_byte_array_set_size(bomb, 8 * 1024 * 1024);
    memset(bomb->data, 0, bomb->len);
    expect_codec_error(&s, 1, 1, bomb);

    /* Nothing at all in the chunk. */
    g_autoptr(GByteArray) empty = g_byte_array_new();
    expect_codec_error(&s, 2, 2, empty);
    sender_finish(&s);
}

static void
test_bad_bytes(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    g_autoptr(GError) error = NULL;

    /* Not zlib at all. */
    static const guint8 junk[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x11 };
    CrpRectMsg rect = { .x = 0, .y = 0, .width = 4, .height = 4,
                        .encoding = CRP_ENCODING_ZLIB, .data = { junk, sizeof(junk) } };
    g_assert_false(crp_decoder_apply_rect(dec, &rect, CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_clear_error(&error);

    /* No data. */
    rect.data = (CrpView){ NULL, 0 };
    g_assert_false(crp_decoder_apply_rect(dec, &rect, CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_clear_error(&error);

    /* A real rect cut in half, then the same rect with trailing junk. */
    g_autoptr(CrpEncoder) enc = lossless_encoder();
    pixman_image_t *img = ct_image_new(64, 64);
    ct_draw_text(img, 0, 0, 64, 64, 0, 3);
    g_autoptr(GByteArray) out = g_byte_array_new();
    crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, NULL);
    CrpMessage msg;
    g_assert_true(ct_find_rect(out, CRP_ENCODING_ZLIB, &msg));

    CrpRectMsg cut = msg.rect;
    cut.data.len /= 2;
    g_assert_false(crp_decoder_apply_rect(dec, &cut, msg.flags, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_clear_error(&error);

    g_autoptr(GByteArray) longer = g_byte_array_new();
    g_byte_array_append(longer, msg.rect.data.data, msg.rect.data.len);
    g_byte_array_append(longer, junk, sizeof(junk));
    CrpRectMsg padded = msg.rect;
    padded.data = (CrpView){ longer->data, longer->len };
    g_assert_false(crp_decoder_apply_rect(dec, &padded, msg.flags, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_clear_error(&error);

    /* Decoded whole, the rect is fine. */
    g_assert_true(crp_decoder_apply_rect(dec, &msg.rect, msg.flags, &error));
    g_assert_no_error(error);

    /* A stream the sender ended (Z_FINISH) is not a chunk of a live one. */
    z_stream zs = { 0 };
    g_assert_cmpint(deflateInit(&zs, 1), ==, Z_OK);
    guint8 payload[1 + 4 * 3] = { 0 };
    guint8 zbuf[256];
    zs.next_in = payload;
    zs.avail_in = sizeof(payload);
    zs.next_out = zbuf;
    zs.avail_out = sizeof(zbuf);
    g_assert_cmpint(deflate(&zs, Z_FINISH), ==, Z_STREAM_END);
    CrpRectMsg ended = { .x = 0, .y = 0, .width = 2, .height = 2,
                         .encoding = CRP_ENCODING_ZLIB,
                         .data = { zbuf, sizeof(zbuf) - zs.avail_out } };
    deflateEnd(&zs);
    g_assert_false(crp_decoder_apply_rect(dec, &ended, CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);

    pixman_image_unref(img);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/zlib/round-trip-frames", test_round_trip_frames);
    g_test_add_func("/zlib/reset", test_reset);
    g_test_add_func("/zlib/palette-stream", test_palette_stream);
    g_test_add_func("/zlib/palette-packing", test_palette_packing);
    g_test_add_func("/zlib/truecolor-stream", test_truecolor_stream);
    g_test_add_func("/zlib/bad-bytes", test_bad_bytes);
    return g_test_run();
}
