/* test-crp-jpeg.c: JPEG rects: quality, merging, and bad JPEGs. */
#include "codec-test-utils.h"

#include <string.h>
#include <turbojpeg.h>

#define W 320
#define H 200

static void
encode_photo(int quality, double *psnr, gsize *bytes)
{
    pixman_image_t *img = ct_image_new(W, H);
    ct_draw_photo(img, 0, 0, W, H, 0);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS, .jpeg_quality = quality });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    CrpEncodeStats st;
    CtApplied applied;
    ct_step(enc, dec, NULL, img, 0, &st, &applied);

    g_assert_cmpuint(st.jpeg, >, 0);
    g_assert_cmpuint(st.zlib + st.raw, ==, 0);
    g_assert_cmpuint(applied.lossy, ==, st.jpeg);
    *psnr = ct_psnr(crp_decoder_get_image(dec), img);
    *bytes = st.bytes;
    g_test_message("q%d: %.1f dB, %" G_GSIZE_FORMAT " bytes", quality, *psnr, *bytes);
    pixman_image_unref(img);
}

static void
test_quality(void)
{
    double psnr75, psnr30, psnr95;
    gsize bytes75, bytes30, bytes95;

    encode_photo(0, &psnr75, &bytes75);          /* the default, 75 */
    g_assert_cmpfloat(psnr75, >, 30.0);
    g_assert_cmpfloat(psnr75, <, 100.0);        /* it is lossy */
    encode_photo(30, &psnr30, &bytes30);
    encode_photo(95, &psnr95, &bytes95);
    g_assert_cmpfloat(psnr95, >, psnr30 + 3);
    g_assert_cmpuint(bytes30, <, bytes95);
    /* Uncompressed this would be W*H*4 bytes. */
    g_assert_cmpuint(bytes75 * 10, <, W * H * 4);
}

static void
test_merged_rects(void)
{
    /* A 512x256 photo is one JPEG, not 32 small ones with 32 headers. */
    pixman_image_t *img = ct_image_new(512, 256);
    ct_draw_photo(img, 0, 0, 512, 256, 5);
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(CrpDecoder) dec = ct_decoder_new(512, 256);
    CrpEncodeStats st;
    ct_step(enc, dec, NULL, img, 0, &st, NULL);
    g_assert_cmpuint(st.rects, ==, 1);
    g_assert_cmpuint(st.jpeg, ==, 1);
    g_assert_cmpfloat(ct_psnr(crp_decoder_get_image(dec), img), >, 30.0);

    /* Bigger areas are cut at 512x256. */
    pixman_image_t *big = ct_image_new(1100, 600);
    ct_draw_photo(big, 0, 0, 1100, 600, 1);
    g_autoptr(CrpEncoder) enc2 = crp_encoder_new(&(CrpEncoderConfig){
        .encodings = CT_ALL_ENCODINGS });
    g_autoptr(CrpDecoder) dec2 = ct_decoder_new(1100, 600);
    ct_step(enc2, dec2, NULL, big, 0, &st, NULL);
    g_assert_cmpuint(st.jpeg, ==, 9);
    g_assert_cmpfloat(ct_psnr(crp_decoder_get_image(dec2), big), >, 30.0);

    pixman_image_unref(img);
    pixman_image_unref(big);
}

static void
test_never_lossy(void)
{
    pixman_image_t *img = ct_image_new(W, H);
    ct_draw_photo(img, 0, 0, W, H, 0);

    static const CrpEncoderConfig configs[] = {
        { .encodings = CT_ALL_ENCODINGS, .lossless = TRUE },
        { .encodings = CT_ALL_ENCODINGS & ~(1u << CRP_ENCODING_JPEG) },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(configs); i++) {
        g_autoptr(CrpEncoder) enc = crp_encoder_new(&configs[i]);
        g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
        CrpEncodeStats st;
        CtApplied applied;
        ct_step(enc, dec, NULL, img, 0, &st, &applied);
        g_assert_cmpuint(st.jpeg, ==, 0);
        g_assert_cmpuint(applied.lossy, ==, 0);
        g_assert_cmpuint(st.zlib, >, 0);
        g_assert_true(ct_images_equal(crp_decoder_get_image(dec), img));
    }
    pixman_image_unref(img);
}

/* A real JPEG of @w x @h, made by the test itself. */
static GBytes *
make_jpeg(int w, int h)
{
    pixman_image_t *img = ct_image_new(w, h);
    ct_draw_photo(img, 0, 0, w, h, 2);
    tjhandle tj = tjInitCompress();
    unsigned char *buf = NULL;
    unsigned long size = 0;
    g_assert_cmpint(tjCompress2(tj, (unsigned char *)pixman_image_get_data(img), w,
                                pixman_image_get_stride(img), h, TJPF_BGRX,
                                &buf, &size, TJSAMP_420, 80, 0), ==, 0);
    GBytes *bytes = g_bytes_new(buf, size);
    tjFree(buf);
    tjDestroy(tj);
    pixman_image_unref(img);
    return bytes;
}

static gboolean
apply_jpeg(CrpDecoder *dec, int w, int h, const guint8 *data, gsize len,
           GError **error)
{
    CrpRectMsg rect = { .x = 8, .y = 8, .width = w, .height = h,
                        .encoding = CRP_ENCODING_JPEG, .data = { data, len } };
    return crp_decoder_apply_rect(dec, &rect, CRP_RECT_FLAG_LOSSY, error);
}

static void
expect_codec_error(CrpDecoder *dec, int w, int h, const guint8 *data, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_assert_false(apply_jpeg(dec, w, h, data, len, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
}

static void
test_bad_jpegs(void)
{
    g_autoptr(CrpDecoder) dec = ct_decoder_new(W, H);
    g_autoptr(GBytes) jpeg = make_jpeg(96, 80);
    gsize len;
    const guint8 *data = g_bytes_get_data(jpeg, &len);
    g_autoptr(GError) error = NULL;

    /* The good one decodes, pad byte cleared. */
    g_assert_true(apply_jpeg(dec, 96, 80, data, len, &error));
    g_assert_no_error(error);
    pixman_image_t *fb = crp_decoder_get_image(dec);
    g_assert_cmphex(((guint32 *)pixman_image_get_data(fb))[8 * W + 8] >> 24, ==, 0);
    g_assert_cmphex(ct_get_pixel(fb, 8, 8), !=, 0);

    /* Wrong size either way, even when it would fit. */
    expect_codec_error(dec, 95, 80, data, len);
    expect_codec_error(dec, 96, 81, data, len);
    expect_codec_error(dec, 48, 40, data, len);

    /* Truncated anywhere. */
    for (gsize cut = 1; cut < len; cut += len / 7) {
        expect_codec_error(dec, 96, 80, data, cut);
    }
    expect_codec_error(dec, 96, 80, data, 0);

    /* Not a JPEG. */
    g_autofree guint8 *bad = g_memdup2(data, len);
    bad[0] = 0;
    expect_codec_error(dec, 96, 80, bad, len);

    /* An end-of-image marker in the middle of the scan. */
    memcpy(bad, data, len);
    bad[len / 2] = 0xff;
    bad[len / 2 + 1] = 0xd9;
    expect_codec_error(dec, 96, 80, bad, len);

    /* Random damage must never crash, and fails only with CODEC. */
    for (guint i = 0; i < 200; i++) {
        memcpy(bad, data, len);
        for (int k = 0; k < 4; k++) {
            bad[g_test_rand_int_range(2, (gint32)len)] = (guint8)g_test_rand_int();
        }
        g_autoptr(GError) e = NULL;
        if (!apply_jpeg(dec, 96, 80, bad, len, &e)) {
            g_assert_error(e, CRP_ERROR, CRP_ERROR_CODEC);
        }
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/jpeg/quality", test_quality);
    g_test_add_func("/jpeg/merged-rects", test_merged_rects);
    g_test_add_func("/jpeg/never-lossy", test_never_lossy);
    g_test_add_func("/jpeg/bad-jpegs", test_bad_jpegs);
    return g_test_run();
}
