/* codec-test-utils.h: images, pipelines and checks shared by the codec tests. */
#pragma once

#include <crp/crp-decoder.h>
#include <crp/crp-encoder.h>
#include <crp/crp-error.h>
#include <crp/crp-message.h>
#include <crp/crp-tiles.h>

#define CT_ALL_ENCODINGS ((1u << CRP_ENCODING_FILL) | (1u << CRP_ENCODING_RAW) | \
                          (1u << CRP_ENCODING_ZLIB) | (1u << CRP_ENCODING_JPEG) | \
                          (1u << CRP_ENCODING_COPY))

/** Rects applied by ct_apply(), per encoding, and flags seen. */
typedef struct {
    guint rects;
    guint by_encoding[8];
    guint lossy;            /* rects with CRP_RECT_FLAG_LOSSY */
    guint zlib_reset;       /* rects with CRP_RECT_FLAG_STREAM_RESET */
    guint picture;          /* rects with CRP_RECT_FLAG_PICTURE_STREAM */
    guint h264_reset;       /* H264 rects with CRP_RECT_FLAG_STREAM_RESET */
    pixman_box32_t h264_box;    /* where the last H264 rect was */
} CtApplied;

/** A 32-bit integer hash (for noise that tests can repeat). */
guint32 ct_mix(guint32 v);
pixman_image_t *ct_image_new(int width, int height);
pixman_image_t *ct_image_copy(pixman_image_t *image);
void ct_set_pixel(pixman_image_t *image, int x, int y, guint32 rgb);
guint32 ct_get_pixel(pixman_image_t *image, int x, int y);
void ct_fill_rect(pixman_image_t *image, int x, int y, int w, int h, guint32 rgb);

/** Lines of pseudo-text (16-pixel lines, 8-pixel glyphs, a few colours);
 *  line @first_line of the text sits at row @y; lines differ by seed. */
void ct_draw_text(pixman_image_t *image, int x, int y, int w, int h,
                  int first_line, guint seed);
/** Smooth, many-coloured content (gradients and waves), photo-like. */
void ct_draw_photo(pixman_image_t *image, int x, int y, int w, int h, int phase);
/** Random pixels (every pixel its own colour, near enough). */
void ct_draw_noise(pixman_image_t *image, int x, int y, int w, int h, guint seed);

/** Sets random garbage in the ignored top byte of every pixel. */
void ct_scramble_pad(pixman_image_t *image, guint seed);

/** A decoder with a surface of @width x @height. */
CrpDecoder *ct_decoder_new(int width, int height);

/** Decodes every message in @out and applies the RECTs, asserting that all
 *  succeed; adds to @applied if not NULL. */
void ct_apply(CrpDecoder *dec, GByteArray *out, CtApplied *applied);

/** Encodes @cur against @prev and applies the result to @dec. */
void ct_step(CrpEncoder *enc, CrpDecoder *dec, pixman_image_t *prev,
             pixman_image_t *cur, gint64 now_us, CrpEncodeStats *stats,
             CtApplied *applied);

/** TRUE if the RGB of every pixel is equal. */
gboolean ct_images_equal(pixman_image_t *a, pixman_image_t *b);
/** Peak signal-to-noise ratio over R, G and B, in dB (1000 if equal). */
double ct_psnr(pixman_image_t *a, pixman_image_t *b);

/** Deflates @len bytes into @out as one chunk of @strm, ending in a
 *  Z_SYNC_FLUSH (the test side of a sender's persistent stream). */
struct z_stream_s;
void ct_deflate_chunk(struct z_stream_s *strm, const guint8 *data, gsize len,
                      GByteArray *out);

/** Finds the first RECT of @encoding in @out; FALSE if none. */
gboolean ct_find_rect(GByteArray *out, CrpEncoding encoding, CrpMessage *msg);
