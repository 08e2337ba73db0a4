/*
 * crp-jpeg.c: JPEG rects through TurboJPEG, one reused handle per side.
 *
 * The framebuffer is x8r8g8b8 in host order, which TurboJPEG reads and
 * writes directly as BGRX (little-endian) or XRGB (big-endian): no pixel
 * copies on either side.
 */
#include "codec/crp-codec-private.h"
#include "crp/crp-error.h"

#include <string.h>
#include <turbojpeg.h>

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define TJ_PIXEL_FORMAT TJPF_BGRX
#else
#define TJ_PIXEL_FORMAT TJPF_XRGB
#endif

void
crp_jpeg_encoder_init(CrpJpegEncoder *j, int quality)
{
    memset(j, 0, sizeof(*j));
    j->quality = quality;
}

void
crp_jpeg_encoder_finish(CrpJpegEncoder *j)
{
    if (j->tj) {
        tjDestroy(j->tj);
    }
    tjFree(j->buf);
    memset(j, 0, sizeof(*j));
}

CrpView
crp_jpeg_encode(CrpJpegEncoder *j, CrpPixels px)
{
    static const CrpView failed = { NULL, 0 };

    g_return_val_if_fail(px.width <= CRP_JPEG_MAX_WIDTH &&
                         px.height <= CRP_JPEG_MAX_HEIGHT, failed);

    if (!j->tj) {
        j->tj = tjInitCompress();
        if (!j->tj) {
            return failed;
        }
        /* Big enough for any rect we make, so TurboJPEG never reallocates. */
        j->cap = tjBufSize(CRP_JPEG_MAX_WIDTH, CRP_JPEG_MAX_HEIGHT, TJSAMP_420);
        j->buf = tjAlloc((int)j->cap);
        if (!j->buf) {
            return failed;
        }
    }

    unsigned char *buf = j->buf;
    unsigned long size = j->cap;
    if (tjCompress2(j->tj, (const unsigned char *)px.data, px.width,
                    (int)(px.stride * 4), px.height, TJ_PIXEL_FORMAT,
                    &buf, &size, TJSAMP_420, j->quality,
                    TJFLAG_NOREALLOC) != 0) {
        return failed;
    }
    return (CrpView){ buf, size };
}

void
crp_jpeg_decoder_init(CrpJpegDecoder *j)
{
    memset(j, 0, sizeof(*j));
}

void
crp_jpeg_decoder_finish(CrpJpegDecoder *j)
{
    if (j->tj) {
        tjDestroy(j->tj);
    }
    memset(j, 0, sizeof(*j));
}

gboolean
crp_jpeg_decode(CrpJpegDecoder *j, CrpView data, CrpPixels dst, GError **error)
{
    /* TurboJPEG leaves these unset for some truncated headers. */
    int width = 0, height = 0, subsamp = -1, colorspace = -1;

    if (!j->tj) {
        j->tj = tjInitDecompress();
        if (!j->tj) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                        "JPEG rect: cannot start the decoder: %s",
                        tjGetErrorStr2(NULL));
            return FALSE;
        }
    }

    if (tjDecompressHeader3(j->tj, data.data, (unsigned long)data.len,
                            &width, &height, &subsamp, &colorspace) != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "JPEG rect: bad header: %s", tjGetErrorStr2(j->tj));
        return FALSE;
    }
    /* Checked before decoding so TurboJPEG never scales or allocates for
     * a size the rect did not promise. */
    if (width != dst.width || height != dst.height) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "JPEG rect: image is %dx%d, rect is %dx%d",
                    width, height, dst.width, dst.height);
        return FALSE;
    }
    /* Warnings (truncated or corrupt data) fail too: the rect would not be
     * fully decoded. LIMITSCANS bounds the work a crafted progressive
     * JPEG can cause. */
    if (tjDecompress2(j->tj, data.data, (unsigned long)data.len,
                      (unsigned char *)dst.data, width, (int)(dst.stride * 4),
                      height, TJ_PIXEL_FORMAT,
                      TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "JPEG rect: %s", tjGetErrorStr2(j->tj));
        return FALSE;
    }

    /* TurboJPEG writes the pad byte as 0xff; keep the framebuffer's at 0
     * like every other encoding does. */
    for (int y = 0; y < dst.height; y++) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            row[x] &= CRP_PIXEL_RGB_MASK;
        }
    }
    return TRUE;
}
