/*
 * crp-zstd.c: ZSTD rects, one persistent zstd stream per encoder and one
 * per decoder.
 *
 * Like ZLIB (crp-zlib.c) each rect is the next piece of one stream up to
 * a flush, so the receiver decodes each rect on its own and later rects
 * refer back to earlier ones. What zstd adds is reach: an 8 MiB window
 * instead of deflate's 32 KiB, so the glyphs of a line of text, a scrolled
 * page or a window seen a few seconds ago are found again. On real
 * desktop recordings that makes text and UI 4 to 6 times smaller than
 * ZLIB (docs/performance.md, "Lossless coding").
 */
#include "codec/crp-codec-private.h"
#include "crp/crp-error.h"

#include <string.h>

static void
check(size_t ret, const char *what)
{
    /* Only out of memory or a bad parameter, both our bugs or fatal. */
    if (ZSTD_isError(ret)) {
        g_error("zstd %s: %s", what, ZSTD_getErrorName(ret));
    }
}

void
crp_zstd_encoder_init(CrpZstdEncoder *z, int level, int window_log)
{
    memset(z, 0, sizeof(*z));
    z->cctx = ZSTD_createCCtx();
    if (!z->cctx) {
        g_error("ZSTD_createCCtx failed");
    }
    z->level = level;
    z->window_log = window_log;
    check(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level), "level");
    check(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_windowLog, window_log), "windowLog");
    z->fresh = TRUE;
}

void
crp_zstd_encoder_finish(CrpZstdEncoder *z)
{
    ZSTD_freeCCtx(z->cctx);
    crp_buffer_finish(&z->out);
    memset(z, 0, sizeof(*z));
}

void
crp_zstd_encoder_reset(CrpZstdEncoder *z)
{
    /* Parameters stay; the next output starts a new zstd frame. */
    check(ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only), "reset");
    z->fresh = TRUE;
}

CrpView
crp_zstd_encode(CrpZstdEncoder *z, const guint8 *payload, gsize len,
                guint8 *flags)
{
    ZSTD_inBuffer in = { payload, len, 0 };
    gsize produced = 0;
    size_t left;

    if (z->fresh) {
        *flags |= CRP_RECT_FLAG_STREAM_RESET;
        z->fresh = FALSE;
    }
    *flags |= z->stream_flag;
    if (z->out.cap < ZSTD_compressBound(len)) {
        crp_buffer_finish(&z->out);
        z->out.cap = ZSTD_compressBound(len);
        z->out.data = g_malloc(z->out.cap);
    }
    do {
        ZSTD_outBuffer out = { z->out.data + produced, z->out.cap - produced, 0 };
        left = ZSTD_compressStream2(z->cctx, &out, &in, ZSTD_e_flush);
        check(left, "compress");
        produced += out.pos;
        if (left > 0 && produced == z->out.cap) {
            z->out.cap *= 2;
            z->out.data = g_realloc(z->out.data, z->out.cap);
        }
    } while (left > 0);
    return (CrpView){ z->out.data, produced };
}

void
crp_zstd_decoder_init(CrpZstdDecoder *z)
{
    memset(z, 0, sizeof(*z));
    z->dctx = ZSTD_createDCtx();
    if (!z->dctx) {
        g_error("ZSTD_createDCtx failed");
    }
    check(ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
                                 CRP_ZSTD_MAX_WINDOW_LOG), "windowLogMax");
}

void
crp_zstd_decoder_finish(CrpZstdDecoder *z)
{
    ZSTD_freeDCtx(z->dctx);
    crp_buffer_finish(&z->buf);
    memset(z, 0, sizeof(*z));
}

/* Decompresses from @in into @out (at most @len bytes). Returns the bytes
 * produced, or -1 with a zstd error in @error. */
static gssize
decompress_into(CrpZstdDecoder *z, ZSTD_inBuffer *in, guint8 *out, gsize len,
                GError **error)
{
    ZSTD_outBuffer o = { out, len, 0 };

    while (o.pos < o.size) {
        size_t before_in = in->pos, before_out = o.pos;
        size_t ret = ZSTD_decompressStream(z->dctx, &o, in);
        if (ZSTD_isError(ret)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                        "ZSTD rect: %s", ZSTD_getErrorName(ret));
            return -1;
        }
        if (in->pos == before_in && o.pos == before_out) {
            break;          /* needs more input than this rect has */
        }
    }
    return (gssize)o.pos;
}

gboolean
crp_zstd_decode(CrpZstdDecoder *z, CrpView data, gboolean reset,
                CrpPixels dst, GError **error)
{
    ZSTD_inBuffer in = { data.data, data.len, 0 };
    guint8 n = 0;

    if (reset) {
        ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
    }
    gssize got = decompress_into(z, &in, &n, 1, error);
    if (got < 0) {
        return FALSE;
    }
    if (got == 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "ZSTD rect: no data");
        return FALSE;
    }

    gsize room;
    guint8 *rest = crp_payload_begin(&z->buf, n, dst.width, dst.height, &room);
    got = decompress_into(z, &in, rest, room, error);
    if (got < 0) {
        return FALSE;
    }
    return crp_payload_end(&z->buf, got, in.pos != in.size, dst, "ZSTD", error);
}
