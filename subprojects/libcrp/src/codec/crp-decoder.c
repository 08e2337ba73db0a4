/*
 * crp-decoder.c: apply SURFACE and RECT messages to a client framebuffer.
 *
 * Everything a rect says is checked against the surface here, before any
 * codec runs; the codecs then check that their data decodes to exactly the
 * rect. Nothing a server sends can make this code crash or write outside
 * the framebuffer; it can only fail the rect.
 */
#include "crp/crp-decoder.h"
#include "crp/crp-error.h"
#include "codec/crp-codec-private.h"

struct CrpDecoder {
    pixman_image_t *image;
    int width, height;
    CrpZlibDecoder zlib;
    CrpZstdDecoder zstd[2];     /* text and UI, pictures */
    CrpJpegDecoder jpeg;
    CrpH264Decoder h264;
};

CrpDecoder *
crp_decoder_new(void)
{
    CrpDecoder *dec = g_new0(CrpDecoder, 1);
    crp_zlib_decoder_init(&dec->zlib);
    crp_zstd_decoder_init(&dec->zstd[0]);
    crp_zstd_decoder_init(&dec->zstd[1]);
    crp_jpeg_decoder_init(&dec->jpeg);
    crp_h264_decoder_init(&dec->h264);
    return dec;
}

void
crp_decoder_free(CrpDecoder *dec)
{
    if (!dec) {
        return;
    }
    g_clear_pointer(&dec->image, pixman_image_unref);
    crp_zlib_decoder_finish(&dec->zlib);
    crp_zstd_decoder_finish(&dec->zstd[0]);
    crp_zstd_decoder_finish(&dec->zstd[1]);
    crp_jpeg_decoder_finish(&dec->jpeg);
    crp_h264_decoder_finish(&dec->h264);
    g_free(dec);
}

gboolean
crp_decoder_set_surface(CrpDecoder *dec, const CrpSurfaceMsg *surface,
                        GError **error)
{
    g_return_val_if_fail(dec && surface, FALSE);

    if (surface->width == 0 || surface->height == 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "SURFACE of %ux%u pixels", surface->width, surface->height);
        return FALSE;
    }
    if (surface->width > CRP_MAX_SURFACE_DIM ||
        surface->height > CRP_MAX_SURFACE_DIM ||
        (guint32)surface->width * surface->height > CRP_MAX_SURFACE_PIXELS) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE,
                    "SURFACE of %ux%u pixels is too large",
                    surface->width, surface->height);
        return FALSE;
    }

    /* pixman_image_create_bits() allocates zeroed pixels: black. */
    pixman_image_t *image = pixman_image_create_bits(PIXMAN_x8r8g8b8,
                                                     surface->width,
                                                     surface->height, NULL, 0);
    if (!image) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE,
                    "cannot allocate a %ux%u framebuffer",
                    surface->width, surface->height);
        return FALSE;
    }
    g_clear_pointer(&dec->image, pixman_image_unref);
    /* Video streams belong to the surface they were started on. */
    crp_h264_decoder_end_all(&dec->h264);
    dec->image = image;
    dec->width = surface->width;
    dec->height = surface->height;
    return TRUE;
}

static gboolean
inside(const CrpDecoder *dec, int x, int y, int w, int h)
{
    return w > 0 && h > 0 && x + w <= dec->width && y + h <= dec->height;
}

gboolean
crp_decoder_apply_rect(CrpDecoder *dec, const CrpRectMsg *rect, guint8 flags,
                       GError **error)
{
    g_return_val_if_fail(dec && rect, FALSE);

    if (!dec->image) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL, "RECT before SURFACE");
        return FALSE;
    }
    if (!inside(dec, rect->x, rect->y, rect->width, rect->height)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "RECT %ux%u at %u,%u is outside the %dx%d surface",
                    rect->width, rect->height, rect->x, rect->y,
                    dec->width, dec->height);
        return FALSE;
    }

    CrpPixels dst = crp_pixels_from_image(dec->image, rect->x, rect->y,
                                          rect->width, rect->height);
    switch (rect->encoding) {
    case CRP_ENCODING_FILL:
        crp_pixels_fill(dst, rect->fill);
        return TRUE;
    case CRP_ENCODING_RAW:
        if (rect->data.len != (gsize)rect->width * rect->height * 4) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                        "RAW rect: %" G_GSIZE_FORMAT " bytes for %ux%u pixels",
                        rect->data.len, rect->width, rect->height);
            return FALSE;
        }
        crp_raw_unpack(rect->data.data, dst);
        return TRUE;
    case CRP_ENCODING_ZLIB:
        return crp_zlib_decode(&dec->zlib, rect->data,
                               (flags & CRP_RECT_FLAG_STREAM_RESET) != 0, dst, error);
    case CRP_ENCODING_ZSTD:
        return crp_zstd_decode(&dec->zstd[(flags & CRP_RECT_FLAG_PICTURE_STREAM) != 0],
                               rect->data,
                               (flags & CRP_RECT_FLAG_STREAM_RESET) != 0, dst, error);
    case CRP_ENCODING_JPEG:
        return crp_jpeg_decode(&dec->jpeg, rect->data, dst, error);
    case CRP_ENCODING_H264:
        /* As the message decoder checks; a caller may have built the rect. */
        if (rect->stream >= CRP_H264_MAX_STREAMS || rect->width % 2 || rect->height % 2 ||
            rect->width > CRP_H264_MAX_DIM || rect->height > CRP_H264_MAX_DIM ||
            (guint32)rect->width * rect->height > CRP_H264_MAX_PIXELS) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                        "H264 rect %ux%u of stream %u breaks the limits",
                        rect->width, rect->height, rect->stream);
            return FALSE;
        }
        return crp_h264_decode(&dec->h264, rect->stream, rect->data,
                               (flags & CRP_RECT_FLAG_STREAM_RESET) != 0, dst, error);
    case CRP_ENCODING_COPY:
        if (!inside(dec, rect->src_x, rect->src_y, rect->width, rect->height)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                        "COPY source %ux%u at %u,%u is outside the %dx%d surface",
                        rect->width, rect->height, rect->src_x, rect->src_y,
                        dec->width, dec->height);
            return FALSE;
        }
        crp_pixels_copy_area(dec->image, rect->src_x, rect->src_y,
                             rect->x, rect->y, rect->width, rect->height);
        return TRUE;
    default:
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "RECT with unknown encoding %u", rect->encoding);
        return FALSE;
    }
}

pixman_image_t *
crp_decoder_get_image(CrpDecoder *dec)
{
    g_return_val_if_fail(dec, NULL);
    return dec->image;
}
