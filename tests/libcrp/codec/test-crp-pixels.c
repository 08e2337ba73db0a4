/* test-crp-pixels.c: colour counting, palette packing, RAW, FILL and COPY. */
#include "codec-test-utils.h"
#include "codec/crp-codec-private.h"

#include <string.h>
#include <zlib.h>

#define NO_ZLIB ((1u << CRP_ENCODING_FILL) | (1u << CRP_ENCODING_RAW) | \
                 (1u << CRP_ENCODING_COPY))

static void
test_fill_merged(void)
{
    /* One colour over several tile rows and a clipped edge: one rect. */
    pixman_image_t *img = ct_image_new(300, 200);
    ct_fill_rect(img, 0, 0, 300, 200, 0x336699);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(300, 200);
    CrpEncodeStats st;
    ct_step(enc, dec, NULL, img, 0, &st, NULL);
    g_assert_cmpuint(st.rects, ==, 1);
    g_assert_cmpuint(st.fill, ==, 1);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));

    /* Two colour blocks side by side, three tiles wide each: two rects. */
    ct_fill_rect(img, 0, 0, 192, 200, 0xff0000);
    ct_fill_rect(img, 192, 0, 108, 200, 0x00ff00);
    pixman_image_t *prev = ct_image_new(300, 200);
    ct_step(enc, dec, prev, img, 1000, &st, NULL);
    g_assert_cmpuint(st.rects, ==, 2);
    g_assert_cmpuint(st.fill, ==, 2);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));

    /* A checkerboard of uniform tiles cannot merge. */
    for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 5; c++) {
            ct_fill_rect(img, c * 64, r * 64, MIN(64, 300 - c * 64),
                         MIN(64, 200 - r * 64), (r + c) % 2 ? 0xffffff : 0);
        }
    }
    ct_step(enc, dec, NULL, img, 2000, &st, NULL);
    g_assert_cmpuint(st.fill, ==, 20);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));

    pixman_image_unref(img);
    pixman_image_unref(prev);
}

static void
test_raw_round_trip(void)
{
    /* A client without ZLIB gets RAW for everything that is not uniform,
     * with the pad byte sent as 0 whatever the server's image holds. */
    pixman_image_t *img = ct_image_new(150, 70);
    ct_draw_text(img, 0, 0, 150, 35, 0, 1);
    ct_draw_noise(img, 0, 35, 150, 35, 2);
    ct_scramble_pad(img, 3);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = NO_ZLIB, .jpeg_quality = 90 });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(150, 70);
    CrpEncodeStats st;
    CtApplied applied;
    ct_step(enc, dec, NULL, img, 0, &st, &applied);
    g_assert_cmpuint(st.raw, ==, 6);
    g_assert_cmpuint(st.zlib + st.jpeg, ==, 0);
    g_assert_cmpuint(applied.lossy, ==, 0);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));

    g_autoptr(GByteArray) out = g_byte_array_new();
    crp_encoder_reset(enc);
    crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, NULL);
    CrpMessage msg;
    g_assert_true(ct_find_rect(out, CRP_ENCODING_RAW, &msg));
    g_assert_cmpuint(msg.rect.data.len, ==, msg.rect.width * msg.rect.height * 4);
    for (gsize i = 3; i < msg.rect.data.len; i += 4) {
        g_assert_cmpuint(msg.rect.data.data[i], ==, 0);
    }
    /* B, G, R order. */
    guint32 first = ct_get_pixel(img, msg.rect.x, msg.rect.y);
    g_assert_cmpuint(msg.rect.data.data[0], ==, first & 0xff);
    g_assert_cmpuint(msg.rect.data.data[1], ==, (first >> 8) & 0xff);
    g_assert_cmpuint(msg.rect.data.data[2], ==, first >> 16);

    /* The decoder ignores the pad byte it is sent. */
    guint8 raw[2 * 4] = { 1, 2, 3, 0xff, 4, 5, 6, 0x7f };
    CrpRectMsg rect = { .x = 3, .y = 4, .width = 2, .height = 1,
                        .encoding = CRP_ENCODING_RAW, .data = { raw, sizeof(raw) } };
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_decoder_apply_rect(dec, &rect, 0, &error));
    pixman_image_t *fb = crp_decoder_get_image(dec);
    guint32 *row = (guint32 *)((guint8 *)pixman_image_get_data(fb) +
                               4 * pixman_image_get_stride(fb));
    g_assert_cmphex(row[3], ==, 0x030201);
    g_assert_cmphex(row[4], ==, 0x060504);

    pixman_image_unref(img);
}

/* The inflated payload of the first ZLIB rect of @out (own inflater: the
 * rect is the first of a fresh stream). */
static GByteArray *
first_zlib_payload(GByteArray *out)
{
    CrpMessage msg;
    g_assert_true(ct_find_rect(out, CRP_ENCODING_ZLIB, &msg));
    g_assert_true(msg.flags & CRP_RECT_FLAG_STREAM_RESET);
    z_stream zs = { 0 };
    g_assert_cmpint(inflateInit(&zs), ==, Z_OK);
    GByteArray *payload = g_byte_array_sized_new(64 * 64 * 3 + 1);
    g_byte_array_set_size(payload, 64 * 64 * 3 + 1);
    zs.next_in = (Bytef *)msg.rect.data.data;
    zs.avail_in = msg.rect.data.len;
    zs.next_out = payload->data;
    zs.avail_out = payload->len;
    int ret = inflate(&zs, Z_SYNC_FLUSH);
    g_assert_true(ret == Z_OK || ret == Z_BUF_ERROR);
    g_assert_cmpuint(zs.avail_in, ==, 0);
    g_byte_array_set_size(payload, payload->len - zs.avail_out);
    inflateEnd(&zs);
    return payload;
}

static void
test_palette_counts(void)
{
    static const guint colours[] = { 2, 5, 16, 64, 65, 300 };

    for (gsize i = 0; i < G_N_ELEMENTS(colours); i++) {
        guint k = colours[i];
        pixman_image_t *img = ct_image_new(64, 64);
        for (int p = 0; p < 64 * 64; p++) {
            guint which = (guint)p % k;
            ct_set_pixel(img, p % 64, p / 64, 0x010203 * (which + 1) + which);
        }
        g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
            .encodings = CT_ALL_ENCODINGS, .lossless = TRUE });
        g_autoptr(GByteArray) out = g_byte_array_new();
        crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, NULL);
        g_autoptr(GByteArray) payload = first_zlib_payload(out);

        if (k <= 64) {
            /* n, n colours (B, G, R, in order of appearance), indices
             * packed 1/2/4/8 bits each (64 pixels a row: whole bytes). */
            guint bits = k <= 2 ? 1 : k <= 4 ? 2 : k <= 16 ? 4 : 8;
            g_assert_cmpuint(payload->data[0], ==, k);
            g_assert_cmpuint(payload->len, ==, 1 + 3 * k + 64 * 64 * bits / 8);
            guint32 second = 0x010203 * 2 + 1;
            g_assert_cmpuint(payload->data[4], ==, second & 0xff);
            g_assert_cmpuint(payload->data[5], ==, (second >> 8) & 0xff);
            g_assert_cmpuint(payload->data[6], ==, second >> 16);
            /* Pixels 0, 1, 2 ... have indices 0, 1, 2 ...: the first
             * packed byte holds index 0 then index 1, high bits first. */
            guint8 first = payload->data[1 + 3 * k];
            g_assert_cmpuint(bits == 8 ? payload->data[1 + 3 * k + 1]
                                       : (guint)(first >> (8 - 2 * bits)) & ((1u << bits) - 1),
                             ==, 1);
        } else {
            /* Too many colours for a palette: truecolor. */
            g_assert_cmpuint(payload->data[0], ==, 0);
            g_assert_cmpuint(payload->len, ==, 1 + 64 * 64 * 3);
        }
        pixman_image_unref(img);
    }
}

static CrpRectMsg
copy_rect(int x, int y, int w, int h, int sx, int sy)
{
    return (CrpRectMsg){ .x = x, .y = y, .width = w, .height = h,
                         .encoding = CRP_ENCODING_COPY, .src_x = sx, .src_y = sy };
}

/* COPY by hand against a reference that goes through a temporary copy. */
static void
check_copy(CrpDecoder *dec, pixman_image_t *ref, CrpRectMsg rect)
{
    g_autoptr(GError) error = NULL;
    pixman_image_t *tmp = ct_image_copy(ref);
    for (int y = 0; y < rect.height; y++) {
        for (int x = 0; x < rect.width; x++) {
            ct_set_pixel(ref, rect.x + x, rect.y + y,
                         ct_get_pixel(tmp, rect.src_x + x, rect.src_y + y));
        }
    }
    pixman_image_unref(tmp);
    g_assert_true(crp_decoder_apply_rect(dec, &rect, 0, &error));
    g_assert_no_error(error);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), ref));
}

static void
test_copy_overlap(void)
{
    pixman_image_t *ref = ct_image_new(100, 80);
    ct_draw_noise(ref, 0, 0, 100, 80, 4);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS, .lossless = TRUE });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(100, 80);
    ct_step(enc, dec, NULL, ref, 0, NULL, NULL);
    g_assert_true(ct_images_equal(crp_decoder_get_image(dec), ref));

    check_copy(dec, ref, copy_rect(0, 10, 100, 60, 0, 0));    /* down */
    check_copy(dec, ref, copy_rect(0, 0, 100, 60, 0, 20));    /* up */
    check_copy(dec, ref, copy_rect(7, 5, 80, 50, 0, 5));      /* right */
    check_copy(dec, ref, copy_rect(0, 5, 80, 50, 9, 5));      /* left */
    check_copy(dec, ref, copy_rect(3, 4, 90, 70, 0, 0));      /* diagonal */
    check_copy(dec, ref, copy_rect(0, 0, 90, 70, 10, 10));
    check_copy(dec, ref, copy_rect(50, 40, 50, 40, 50, 40));  /* onto itself */
    check_copy(dec, ref, copy_rect(99, 79, 1, 1, 0, 0));      /* corner pixel */

    pixman_image_unref(ref);
}

/* Palette indices packed at 1, 2 and 4 bits for every width up to three
 * bytes' worth and a partial last byte: bit for bit what docs/protocol.md
 * says (most significant first, each row on a byte, zero padding),
 * checked against a packer written from it, and drawn back. */
static void
test_palette_packing(void)
{
    static const guint ns[] = { 2, 3, 4, 5, 16 };
    guint8 indices[25 * 3];
    CrpBuffer buf = { 0 };

    for (gsize k = 0; k < G_N_ELEMENTS(ns); k++) {
        guint n = ns[k], bits = crp_palette_bits(n);
        CrpPalette pal = { .n = n };
        for (guint i = 0; i < n; i++) {
            pal.colours[i] = ct_mix(i + 1) & 0xffffff;
        }
        for (int width = 1; width <= 25; width++) {
            int height = 3;
            for (int i = 0; i < width * height; i++) {
                indices[i] = ct_mix(i * 31 + width * 7 + n) % n;
            }
            gsize len = crp_payload_palette(&pal, indices, width, height, &buf);
            gsize row_bytes = crp_palette_row_bytes(n, width);
            g_assert_cmpuint(len, ==, 1 + 3 * n + row_bytes * height);

            const guint8 *packed = buf.data + 1 + 3 * n;
            for (int y = 0; y < height; y++) {
                for (gsize b = 0; b < row_bytes; b++) {
                    guint want = 0;
                    for (guint bit = 0; bit < 8; bit += bits) {
                        gsize x = b * 8 / bits + bit / bits;
                        want = (want << bits) |
                               (x < (gsize)width ? indices[y * width + x] : 0);
                    }
                    g_assert_cmpuint(packed[y * row_bytes + b], ==, want);
                }
            }

            pixman_image_t *img = ct_image_new(width, height);
            CrpPixels dst = crp_pixels_from_image(img, 0, 0, width, height);
            g_autoptr(GError) error = NULL;
            g_assert_true(crp_payload_unpack(buf.data, dst, "test", &error));
            g_assert_no_error(error);
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    g_assert_cmphex(ct_get_pixel(img, x, y) & 0xffffff, ==,
                                    pal.colours[indices[y * width + x]]);
                }
            }
            pixman_image_unref(img);
        }
    }
    crp_buffer_finish(&buf);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pixels/fill-merged", test_fill_merged);
    g_test_add_func("/pixels/raw-round-trip", test_raw_round_trip);
    g_test_add_func("/pixels/palette-counts", test_palette_counts);
    g_test_add_func("/pixels/palette-packing", test_palette_packing);
    g_test_add_func("/pixels/copy-overlap", test_copy_overlap);
    return g_test_run();
}
