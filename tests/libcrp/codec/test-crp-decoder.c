/* test-crp-decoder.c: surfaces, and every way a rect can be wrong. */
#include "codec-test-utils.h"

#include <string.h>

#define W 100
#define H 60

static void
expect_error(CrpDecoder *dec, const CrpRectMsg *rect, guint8 flags, int code)
{
    g_autoptr(GError) error = NULL;
    g_assert_false(crp_decoder_apply_rect(dec, rect, flags, &error));
    g_assert_error(error, CRP_ERROR, code);
}

static void
test_no_surface(void)
{
    g_autoptr(CrpDecoder) dec = crp_decoder_new();
    g_assert_null(crp_decoder_get_image(dec));
    static const guint8 data[16] = { 0 };

    for (guint e = CRP_ENCODING_FILL; e <= CRP_ENCODING_COPY; e++) {
        CrpRectMsg rect = { .x = 0, .y = 0, .width = 2, .height = 2,
                            .encoding = e, .data = { data, sizeof(data) } };
        expect_error(dec, &rect, 0, CRP_ERROR_PROTOCOL);
    }
}

static void
test_surface(void)
{
    g_autoptr(CrpDecoder) dec = crp_decoder_new();
    g_autoptr(GError) error = NULL;

    static const CrpSurfaceMsg bad[] = {
        { 0, 10 }, { 10, 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(crp_decoder_set_surface(dec, &bad[i], &error));
        g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
        g_clear_error(&error);
    }
    static const CrpSurfaceMsg huge[] = {
        { CRP_MAX_SURFACE_DIM + 1, 10 }, { 10, CRP_MAX_SURFACE_DIM + 1 },
        { 8192, 8192 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(huge); i++) {
        g_assert_false(crp_decoder_set_surface(dec, &huge[i], &error));
        g_assert_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE);
        g_clear_error(&error);
    }
    g_assert_null(crp_decoder_get_image(dec));

    /* A surface is black; a new one replaces it. */
    CrpSurfaceMsg s = { W, H };
    g_assert_true(crp_decoder_set_surface(dec, &s, &error));
    pixman_image_t *fb = crp_decoder_get_image(dec);
    g_assert_cmpint(pixman_image_get_width(fb), ==, W);
    g_assert_cmpint(pixman_image_get_height(fb), ==, H);
    g_assert_cmpint(pixman_image_get_format(fb), ==, PIXMAN_x8r8g8b8);
    pixman_image_t *black = ct_image_new(W, H);
    g_assert_true(ct_images_equal(fb, black));
    pixman_image_unref(black);

    CrpRectMsg fill = { .x = 50, .y = 30, .width = 50, .height = 30,
                        .encoding = CRP_ENCODING_FILL, .fill = 0x123456 };
    g_assert_true(crp_decoder_apply_rect(dec, &fill, 0, &error));
    g_assert_cmphex(ct_get_pixel(crp_decoder_get_image(dec), 99, 59), ==, 0x123456);

    /* After a smaller SURFACE the same rect is outside. */
    CrpSurfaceMsg smaller = { 60, 40 };
    g_assert_true(crp_decoder_set_surface(dec, &smaller, &error));
    expect_error(dec, &fill, 0, CRP_ERROR_PROTOCOL);
}

static void
test_outside(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    g_autofree guint8 *raw = g_malloc0(W * H * 4);
    static const struct { int x, y, w, h; } boxes[] = {
        { 0, 0, W + 1, 1 }, { 0, 0, 1, H + 1 }, { W, 0, 1, 1 }, { 0, H, 1, 1 },
        { W - 1, H - 1, 2, 1 }, { 65535, 65535, 1, 1 }, { 0, 0, 0, 1 },
        { 0, 0, 1, 0 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(boxes); i++) {
        for (guint e = CRP_ENCODING_FILL; e <= CRP_ENCODING_COPY; e++) {
            CrpRectMsg rect = {
                .x = boxes[i].x, .y = boxes[i].y,
                .width = boxes[i].w, .height = boxes[i].h, .encoding = e,
                .data = { raw, (gsize)boxes[i].w * boxes[i].h * 4 },
            };
            expect_error(dec, &rect, 0, CRP_ERROR_PROTOCOL);
        }
    }

    /* The last pixel is inside. */
    CrpRectMsg corner = { .x = W - 1, .y = H - 1, .width = 1, .height = 1,
                          .encoding = CRP_ENCODING_FILL, .fill = 0xabcdef };
    g_assert_true(crp_decoder_apply_rect(dec, &corner, 0, NULL));
    g_assert_cmphex(ct_get_pixel(crp_decoder_get_image(dec), W - 1, H - 1), ==, 0xabcdef);
}

static void
test_copy_source_outside(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    static const struct { int sx, sy; } sources[] = {
        { 91, 0 }, { 0, 51 }, { W, H }, { 65535, 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(sources); i++) {
        CrpRectMsg rect = { .x = 0, .y = 0, .width = 10, .height = 10,
                            .encoding = CRP_ENCODING_COPY,
                            .src_x = sources[i].sx, .src_y = sources[i].sy };
        expect_error(dec, &rect, 0, CRP_ERROR_PROTOCOL);
    }
    CrpRectMsg ok = { .x = 0, .y = 0, .width = 10, .height = 10,
                      .encoding = CRP_ENCODING_COPY, .src_x = 90, .src_y = 50 };
    g_assert_true(crp_decoder_apply_rect(dec, &ok, 0, NULL));
}

static void
test_raw_length(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    guint8 raw[4 * 4 * 4 + 4] = { 0 };

    CrpRectMsg rect = { .x = 1, .y = 1, .width = 4, .height = 4,
                        .encoding = CRP_ENCODING_RAW };
    rect.data = (CrpView){ raw, 4 * 4 * 4 - 1 };
    expect_error(dec, &rect, 0, CRP_ERROR_CODEC);
    rect.data = (CrpView){ raw, 4 * 4 * 4 + 4 };
    expect_error(dec, &rect, 0, CRP_ERROR_CODEC);
    rect.data = (CrpView){ NULL, 0 };
    expect_error(dec, &rect, 0, CRP_ERROR_CODEC);
    rect.data = (CrpView){ raw, 4 * 4 * 4 };
    g_assert_true(crp_decoder_apply_rect(dec, &rect, 0, NULL));

    /* On the wire, a RAW rect of the wrong length does not even decode. */
    g_autoptr(GByteArray) out = g_byte_array_new();
    CrpMessage msg = { .type = CRP_MSG_RECT };
    msg.rect = rect;
    crp_message_encode(&msg, out);
    CrpMessage got;
    g_autoptr(GError) error = NULL;
    g_assert_cmpuint(crp_message_decode(out->data, out->len - 1, &got, &error), ==, 0);
    g_assert_nonnull(error);
}

static void
test_unknown_encoding(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    static const guint8 data[4] = { 0 };
    CrpRectMsg rect = { .x = 0, .y = 0, .width = 1, .height = 1,
                        .encoding = 7, .data = { data, sizeof(data) } };
    expect_error(dec, &rect, 0, CRP_ERROR_PROTOCOL);
    rect.encoding = 255;
    expect_error(dec, &rect, 0, CRP_ERROR_PROTOCOL);
}

static void
test_truncated_messages(void)
{
    /* Every rect of a real frame, cut short or with bytes appended, either
     * fails to decode as a message or fails to apply; never crashes. */
    pixman_image_t *img = ct_image_new(W, H);
    ct_draw_text(img, 0, 0, W, 30, 0, 1);
    ct_draw_photo(img, 0, 30, W, 30, 0);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(GByteArray) out = g_byte_array_new();
    crp_encoder_encode_frame(enc, NULL, img, NULL, 0, out, NULL);

    guint failures = 0, cases = 0;
    for (gsize pos = 0; pos < out->len;) {
        CrpMessage msg;
        gsize used = crp_message_decode(out->data + pos, out->len - pos, &msg, NULL);
        g_assert_cmpuint(used, >, 0);
        if (msg.rect.encoding == CRP_ENCODING_ZLIB ||
            msg.rect.encoding == CRP_ENCODING_JPEG) {
            for (gsize keep = 1; keep < msg.rect.data.len; keep += 1 + keep / 3) {
                g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
                CrpRectMsg cut = msg.rect;
                cut.data.len = keep;
                g_autoptr(GError) error = NULL;
                cases++;
                /* ZLIB rects after the first depend on the stream before
                 * them, so a fresh decoder fails them anyway. */
                if (!crp_decoder_apply_rect(dec, &cut, msg.flags, &error)) {
                    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
                    failures++;
                }
            }
        }
        pos += used;
    }
    g_assert_cmpuint(cases, >, 10);
    g_assert_cmpuint(failures, ==, cases);
    pixman_image_unref(img);
}

static void
test_garbage(void)
{
    /* Random rects with random data: any result, but an error is always
     * PROTOCOL or CODEC, and nothing crashes. */
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    guint8 data[512];
    guint failed = 0;

    for (int i = 0; i < 2000; i++) {
        for (gsize k = 0; k < sizeof(data); k++) {
            data[k] = (guint8)g_test_rand_int();
        }
        if (i % 4 == 0) {
            data[0] = 0x78;         /* looks like a zlib header */
            data[1] = 0x01;
        } else if (i % 4 == 1) {
            data[0] = 0xff;         /* looks like a JPEG */
            data[1] = 0xd8;
        } else if (i % 4 == 2) {
            static const guint8 sps[] = { 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e };
            memcpy(data, sps, sizeof(sps));     /* looks like H.264 */
        }
        CrpRectMsg rect = {
            .x = g_test_rand_int_range(0, W + 10), .y = g_test_rand_int_range(0, H + 10),
            .width = g_test_rand_int_range(0, 40), .height = g_test_rand_int_range(0, 40),
            .encoding = g_test_rand_int_range(0, 7),
            .stream = g_test_rand_int_range(0, CRP_H264_MAX_STREAMS + 1),
            .fill = (guint32)g_test_rand_int(),
            .src_x = g_test_rand_int_range(0, W + 10),
            .src_y = g_test_rand_int_range(0, H + 10),
            .data = { data, g_test_rand_int_range(0, sizeof(data) + 1) },
        };
        g_autoptr(GError) error = NULL;
        if (!crp_decoder_apply_rect(dec, &rect, g_test_rand_int_range(0, 4), &error)) {
            g_assert_true(g_error_matches(error, CRP_ERROR, CRP_ERROR_PROTOCOL) ||
                          g_error_matches(error, CRP_ERROR, CRP_ERROR_CODEC));
            failed++;
        }
    }
    g_assert_cmpuint(failed, >, 1000);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/decoder/no-surface", test_no_surface);
    g_test_add_func("/decoder/surface", test_surface);
    g_test_add_func("/decoder/outside", test_outside);
    g_test_add_func("/decoder/copy-source-outside", test_copy_source_outside);
    g_test_add_func("/decoder/raw-length", test_raw_length);
    g_test_add_func("/decoder/unknown-encoding", test_unknown_encoding);
    g_test_add_func("/decoder/truncated-messages", test_truncated_messages);
    g_test_add_func("/decoder/garbage", test_garbage);
    return g_test_run();
}
