/* test-crp-zstd.c: ZSTD rects over two persistent streams, and bad ones. */
#include "codec-test-utils.h"
#include "crp-test-util.h"
#include "codec/crp-codec-private.h"

#include <string.h>
#include <zstd.h>

#define W 320
#define H 200

static CrpEncoder *
zstd_encoder(gboolean lossless)
{
    return crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS | (1u << CRP_ENCODING_ZSTD),
        .lossless = lossless });
}

/* Text, photo and noise over several frames: every compressed rect is
 * ZSTD, pictures go on their own stream, and the client's picture is
 * exact throughout. */
static void
test_round_trip_frames(void)
{
    g_autoptr(CrpEncoder) enc = zstd_encoder(TRUE);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;
    CtApplied total = { 0 };

    for (int f = 0; f < 6; f++) {
        pixman_image_t *cur = ct_image_new(W, H);
        ct_fill_rect(cur, 0, 0, W, H, 0x202020);
        ct_draw_text(cur, 0, 0, 200, 120, f, 1);
        ct_draw_noise(cur, 200, 120, 120, 80, f < 3 ? 1 : f);
        ct_draw_photo(cur, 0, 150, 150, 50, f * 3);
        CrpEncodeStats st;
        CtApplied applied = { 0 };
        ct_step(enc, dec, prev, cur, f * 20000, &st, &applied);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
        g_assert_cmpuint(st.zlib, ==, 0);
        g_assert_cmpuint(st.zstd, >, 0);
        /* Each stream starts once, in the first frame. */
        g_assert_cmpuint(applied.zlib_reset, ==, f == 0 ? 2 : 0);
        total.picture += applied.picture;
        total.rects += applied.rects;
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    /* Noise is a picture; text is not. */
    g_assert_cmpuint(total.picture, >, 0);
    g_assert_cmpuint(total.picture, <, total.rects);
    pixman_image_unref(prev);
}

/* A copy of an encoder cannot continue a zstd stream: its first rects
 * restart both streams, and a decoder that followed the original decodes
 * them all the same. */
static void
test_copy_restarts_streams(void)
{
    g_autoptr(CrpEncoder) enc = zstd_encoder(TRUE);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *a = ct_image_new(W, H), *b = ct_image_new(W, H);

    ct_draw_text(a, 0, 0, W, H, 0, 1);
    ct_draw_noise(a, 0, 0, 100, 100, 3);
    ct_step(enc, dec, NULL, a, 0, NULL, NULL);

    g_autoptr(CrpEncoder) copy = crp_encoder_copy(enc);
    ct_draw_text(b, 0, 0, W, H, 7, 2);
    ct_draw_noise(b, 0, 0, 100, 100, 4);
    CtApplied applied = { 0 };
    ct_step(copy, dec, a, b, 20000, NULL, &applied);
    g_assert_cmpuint(applied.zlib_reset, ==, 2);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), b));
    pixman_image_unref(a);
    pixman_image_unref(b);
}

/* Anti-aliased text: ct_draw_text() at twice the size, averaged 2x2, so
 * glyph edges take in-between shades (a tile has dozens of colours). */
static void
draw_aa_text(pixman_image_t *dst, int first_line, guint seed)
{
    int w = pixman_image_get_width(dst), h = pixman_image_get_height(dst);
    pixman_image_t *big = ct_image_new(2 * w, 2 * h);

    ct_fill_rect(big, 0, 0, 2 * w, 2 * h, 0xf0f0f0);
    ct_draw_text(big, 0, 0, 2 * w, 2 * h, first_line, seed);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            guint32 sum[3] = { 0 };
            for (int k = 0; k < 4; k++) {
                guint32 p = ct_get_pixel(big, 2 * x + (k & 1), 2 * y + (k >> 1));
                for (int c = 0; c < 3; c++) {
                    sum[c] += (p >> (8 * c)) & 0xff;
                }
            }
            ct_set_pixel(dst, x, y, (sum[2] / 4) << 16 | (sum[1] / 4) << 8 | sum[0] / 4);
        }
    }
    pixman_image_unref(big);
}

/* With lossy allowed, anti-aliased text that changes every frame (it
 * scrolls, it is typed) stays lossless: only picture-like tiles may go
 * JPEG. (Changing tiles of more than 16 colours all went JPEG, and were
 * refined later: twice the bytes on a scrolling terminal.) */
static void
test_changing_text_stays_lossless(void)
{
    g_autoptr(CrpEncoder) enc = zstd_encoder(FALSE);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    pixman_image_t *prev = NULL;

    for (int f = 0; f < 12; f++) {
        pixman_image_t *cur = ct_image_new(W, H);
        draw_aa_text(cur, f * 13, 5);
        CrpEncodeStats st;
        ct_step(enc, dec, prev, cur, f * 16667, &st, NULL);
        g_assert_cmpuint(st.jpeg, ==, 0);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), cur));
        if (f == 0) {
            /* Anti-aliased indeed: more colours than a text tile had. */
            CrpPalette pal;
            guint8 idx[64 * 64];
            CrpPixels px = crp_pixels_from_image(cur, 0, 0, 64, 64);
            g_assert_cmpuint(crp_palette_scan(&pal, px, 255, idx), >, 16);
        }
        g_clear_pointer(&prev, pixman_image_unref);
        prev = cur;
    }
    pixman_image_unref(prev);
}

/* Truecolor text tiles side by side go out as one rect, at most 16 tiles
 * wide; a picture tile (its own stream) and a palette tile go alone and
 * end the run. (Each 64-pixel tile was a rect of its own: zstd saw text
 * lines in pieces.) */
static void
test_text_tiles_merged(void)
{
    const int w = 20 * 64, h = 128;
    g_autoptr(CrpEncoder) enc = zstd_encoder(TRUE);
    g_autoptr(CrpDecoder) dec = ct_decoder_new(w, h);
    g_autoptr(GByteArray) out = g_byte_array_new();
    pixman_image_t *img = ct_image_new(w, h);

    /* Stripes of 20 colours: more than a palette of 16, flat along rows,
     * so not a picture. */
    for (int y = 0; y < h; y++) {
        ct_fill_rect(img, 0, y, w, 1, 0x406080 + (guint32)(y % 20) * 0x030201);
    }
    ct_draw_noise(img, 5 * 64, 0, 64, 64, 7);
    for (int y = 0; y < 64; y++) {
        for (int x = 0; x < 64; x++) {
            ct_set_pixel(img, 9 * 64 + x, y, (x ^ y) & 4 ? 0xffffff : 0x000000);
        }
    }
    crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, NULL);

    /* x, y, width, picture stream; all 64 high. */
    static const int want[][4] = {
        { 0, 0, 320, 0 }, { 320, 0, 64, 1 }, { 384, 0, 192, 0 },
        { 576, 0, 64, 0 }, { 640, 0, 640, 0 },
        { 0, 64, 1024, 0 }, { 1024, 64, 256, 0 },
    };
    gboolean seen[G_N_ELEMENTS(want)] = { FALSE };
    guint n = 0;
    for (gsize pos = 0; pos < out->len;) {
        CrpMessage msg;
        gsize used = crp_message_decode(out->data + pos, out->len - pos, &msg, NULL);
        g_assert_cmpuint(used, >, 0);
        pos += used;
        g_assert_cmpuint(msg.rect.encoding, ==, CRP_ENCODING_ZSTD);
        gboolean found = FALSE;
        for (gsize i = 0; i < G_N_ELEMENTS(want) && !found; i++) {
            found = !seen[i] && msg.rect.x == want[i][0] && msg.rect.y == want[i][1] &&
                    msg.rect.width == want[i][2] && msg.rect.height == 64 &&
                    !!(msg.flags & CRP_RECT_FLAG_PICTURE_STREAM) == want[i][3];
            seen[i] |= found;
        }
        if (!found) {
            g_error("unexpected rect %d,%d %dx%d flags %#x", msg.rect.x, msg.rect.y,
                    msg.rect.width, msg.rect.height, msg.flags);
        }
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(want));
    ct_apply(dec, out, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));
    pixman_image_unref(img);
}

/* ---- hand-made streams ----------------------------------------------- */

static gboolean
apply_zstd(CrpDecoder *dec, int w, int h, const guint8 *data, gsize len,
           guint8 flags, GError **error)
{
    CrpRectMsg rect = { .x = 1, .y = 2, .width = w, .height = h,
                        .encoding = CRP_ENCODING_ZSTD, .data = { data, len } };
    return crp_decoder_apply_rect(dec, &rect, flags, error);
}

/* Compresses @payload as the next flushed piece of @cctx's stream. */
static GByteArray *
zstd_piece(ZSTD_CCtx *cctx, const guint8 *payload, gsize len)
{
    GByteArray *out = g_byte_array_sized_new(ZSTD_compressBound(len) + 64);
    ZSTD_inBuffer in = { payload, len, 0 };
    size_t left;
    g_byte_array_set_size(out, ZSTD_compressBound(len) + 64);
    ZSTD_outBuffer o = { out->data, out->len, 0 };
    do {
        left = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_flush);
        g_assert_false(ZSTD_isError(left));
    } while (left > 0);
    g_byte_array_set_size(out, o.pos);
    return out;
}

/* docs/protocol.md's golden ZSTD rect: a 1x1 truecolor payload
 * (00 cc bb aa) as one zstd frame (made with the zstd command). */
static void
test_golden_rect(void)
{
    g_autoptr(GBytes) data = crp_test_hex("28b52ffd005821000000ccbbaa");
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    g_autoptr(GError) error = NULL;
    gsize len;
    const guint8 *p = g_bytes_get_data(data, &len);

    g_assert_true(apply_zstd(dec, 1, 1, p, len, CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_no_error(error);
    g_assert_cmphex(ct_get_pixel(crp_decoder_get_image(dec), 1, 2), ==, 0xaabbcc);
}

/* A stream asking for a window past CRP_ZSTD_MAX_WINDOW_LOG (2^27 here)
 * is refused, not allocated. */
static void
test_window_too_large(void)
{
    g_autoptr(GBytes) data = crp_test_hex("28b52ffd008821000000ccbbaa");
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    g_autoptr(GError) error = NULL;
    gsize len;
    const guint8 *p = g_bytes_get_data(data, &len);

    g_assert_false(apply_zstd(dec, 1, 1, p, len, 0, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_assert_nonnull(strstr(error->message, "ZSTD"));
}

/* Too little or too much for the rect, a corrupt piece, nothing at all,
 * and a bad palette index: each a clear codec error. Pieces of one
 * stream, in order, with the two streams kept apart by the flag. */
static void
test_bad_pieces(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    guint8 truecolor[1 + 4 * 3] = { 0 };    /* a 2x2 truecolor payload */
    guint8 palette[1 + 2 * 3 + 2] = { 2, 0, 0, 0, 255, 255, 255, 0x40, 0x80 };
    GError *error = NULL;

    /* Right: 2x2 truecolor. */
    g_autoptr(GByteArray) ok = zstd_piece(cctx, truecolor, sizeof(truecolor));
    g_assert_true(apply_zstd(dec, 2, 2, ok->data, ok->len, 0, &error));
    g_assert_no_error(error);

    /* The same bytes for a 3x2 rect: too little. */
    g_autoptr(GByteArray) few = zstd_piece(cctx, truecolor, sizeof(truecolor));
    g_assert_false(apply_zstd(dec, 3, 2, few->data, few->len, 0, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_assert_nonnull(strstr(error->message, "too little"));
    g_clear_error(&error);

    /* A fresh stream from here on (the failed piece left ours unusable). */
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    g_autoptr(GByteArray) many = zstd_piece(cctx, truecolor, sizeof(truecolor));
    g_assert_false(apply_zstd(dec, 1, 2, many->data, many->len,
                              CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_nonnull(strstr(error->message, "too much"));
    g_clear_error(&error);

    /* Palette 2x2 rect, then one with index 1 of 1 colour. */
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    g_autoptr(GByteArray) pal = zstd_piece(cctx, palette, sizeof(palette));
    g_assert_true(apply_zstd(dec, 2, 2, pal->data, pal->len,
                             CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_no_error(error);
    guint8 bad_index[1 + 3 + 2] = { 1, 1, 2, 3, 0x40, 0x00 };
    g_autoptr(GByteArray) bad = zstd_piece(cctx, bad_index, sizeof(bad_index));
    g_assert_false(apply_zstd(dec, 2, 2, bad->data, bad->len, 0, &error));
    g_assert_nonnull(strstr(error->message, "palette index"));
    g_clear_error(&error);

    /* Garbage, and an empty piece. */
    guint8 junk[16];
    memset(junk, 0x5a, sizeof(junk));
    g_assert_false(apply_zstd(dec, 2, 2, junk, sizeof(junk),
                              CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_clear_error(&error);
    g_assert_false(apply_zstd(dec, 2, 2, junk, 0, CRP_RECT_FLAG_STREAM_RESET, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
    g_clear_error(&error);

    /* The picture stream is its own: a piece of a new stream there
     * decodes although the first stream is broken. */
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    g_autoptr(GByteArray) pic = zstd_piece(cctx, truecolor, sizeof(truecolor));
    g_assert_true(apply_zstd(dec, 2, 2, pic->data, pic->len,
                             CRP_RECT_FLAG_PICTURE_STREAM, &error));
    g_assert_no_error(error);
    ZSTD_freeCCtx(cctx);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/zstd/round-trip-frames", test_round_trip_frames);
    g_test_add_func("/zstd/copy-restarts-streams", test_copy_restarts_streams);
    g_test_add_func("/zstd/changing-text-stays-lossless",
                    test_changing_text_stays_lossless);
    g_test_add_func("/zstd/text-tiles-merged", test_text_tiles_merged);
    g_test_add_func("/zstd/golden-rect", test_golden_rect);
    g_test_add_func("/zstd/window-too-large", test_window_too_large);
    g_test_add_func("/zstd/bad-pieces", test_bad_pieces);
    return g_test_run();
}
