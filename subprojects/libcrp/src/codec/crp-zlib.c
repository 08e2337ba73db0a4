/*
 * crp-zlib.c: ZLIB rects, one persistent deflate stream per encoder and one
 * persistent inflate stream per decoder.
 *
 * Each rect is the next chunk of the stream up to a Z_SYNC_FLUSH point, so
 * later rects reuse the dictionary built by earlier ones (text repeats
 * across tiles and frames) and the receiver can inflate each rect on its
 * own. What is inflated is a payload (crp-payload.c); packed palette
 * indices suit deflate's small window (as in ZRLE and Tight: text tiles
 * have two colours, and eight pixels to a byte let the 32 KB window see
 * eight times more of the text before).
 */
#include "codec/crp-codec-private.h"
#include "crp/crp-error.h"

#include <string.h>

#define INITIAL_OUT_CAP (64 * 1024)

void
crp_zlib_encoder_init(CrpZlibEncoder *z, int level)
{
    memset(z, 0, sizeof(*z));
    z->level = level;
    if (deflateInit(&z->zs, level) != Z_OK) {
        g_error("deflateInit failed");      /* out of memory */
    }
    z->fresh = TRUE;
    z->out_cap = INITIAL_OUT_CAP;
    z->out = g_malloc(z->out_cap);
}

void
crp_zlib_encoder_finish(CrpZlibEncoder *z)
{
    deflateEnd(&z->zs);
    g_free(z->out);
    memset(z, 0, sizeof(*z));
}

void
crp_zlib_encoder_copy(CrpZlibEncoder *dst, CrpZlibEncoder *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->level = src->level;
    dst->fresh = src->fresh;
    if (deflateCopy(&dst->zs, &src->zs) != Z_OK) {
        g_error("deflateCopy failed");      /* out of memory */
    }
    dst->out_cap = src->out_cap;
    dst->out = g_malloc(dst->out_cap);
}

void
crp_zlib_encoder_reset(CrpZlibEncoder *z)
{
    deflateReset(&z->zs);
    z->fresh = TRUE;
}

/* Feeds @len bytes to the stream, appending output at z->out + *produced. */
static void
deflate_chunk(CrpZlibEncoder *z, const guint8 *data, gsize len, int flush,
              gsize *produced)
{
    g_assert(len <= G_MAXUINT);
    z->zs.next_in = (Bytef *)data;
    z->zs.avail_in = (uInt)len;
    for (;;) {
        if (*produced == z->out_cap) {
            z->out_cap *= 2;
            z->out = g_realloc(z->out, z->out_cap);
        }
        gsize room = MIN(z->out_cap - *produced, G_MAXUINT);
        z->zs.next_out = z->out + *produced;
        z->zs.avail_out = (uInt)room;
        int ret = deflate(&z->zs, flush);
        g_assert(ret == Z_OK || ret == Z_BUF_ERROR);
        *produced += room - z->zs.avail_out;
        /* Done once all input is taken and, for a flush, nothing is left
         * pending (deflate stopped with room to spare). */
        if (z->zs.avail_in == 0 && z->zs.avail_out != 0) {
            return;
        }
    }
}

static void
begin_rect(CrpZlibEncoder *z, guint8 *flags)
{
    if (z->fresh) {
        *flags |= CRP_RECT_FLAG_STREAM_RESET;
        z->fresh = FALSE;
    }
}

CrpView
crp_zlib_encode(CrpZlibEncoder *z, const guint8 *payload, gsize len,
                guint8 *flags)
{
    gsize produced = 0;

    begin_rect(z, flags);
    deflate_chunk(z, payload, len, Z_SYNC_FLUSH, &produced);
    return (CrpView){ z->out, produced };
}

void
crp_zlib_decoder_init(CrpZlibDecoder *z)
{
    memset(z, 0, sizeof(*z));
    if (inflateInit(&z->zs) != Z_OK) {
        g_error("inflateInit failed");      /* out of memory */
    }
}

void
crp_zlib_decoder_finish(CrpZlibDecoder *z)
{
    inflateEnd(&z->zs);
    crp_buffer_finish(&z->buf);
    memset(z, 0, sizeof(*z));
}

/*
 * Inflates into @out until it is full or the input runs out. Returns the
 * bytes produced, or -1 if the stream is corrupt. The sender never ends
 * its stream, so Z_STREAM_END is corrupt too.
 */
static gssize
inflate_into(z_stream *zs, guint8 *out, gsize len)
{
    int ret;

    zs->next_out = out;
    zs->avail_out = (uInt)len;
    do {
        ret = inflate(zs, Z_SYNC_FLUSH);
    } while (ret == Z_OK && zs->avail_in > 0 && zs->avail_out > 0);

    if (ret != Z_OK && ret != Z_BUF_ERROR) {
        return -1;
    }
    return (gssize)(len - zs->avail_out);
}

gboolean
crp_zlib_decode(CrpZlibDecoder *z, CrpView data, gboolean reset,
                CrpPixels dst, GError **error)
{
    guint8 n = 0;

    if (reset) {
        inflateReset(&z->zs);
    }
    if (data.len > G_MAXUINT) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "ZLIB rect too long");
        return FALSE;
    }
    z->zs.next_in = (Bytef *)data.data;
    z->zs.avail_in = (uInt)data.len;

    /* The first byte says how many more to expect; inflate no further than
     * that plus one, which would show the rect is too long. */
    gssize got = inflate_into(&z->zs, &n, 1);
    if (got < 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "ZLIB rect: corrupt stream");
        return FALSE;
    }
    if (got == 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "ZLIB rect: no data");
        return FALSE;
    }

    gsize room;
    guint8 *rest = crp_payload_begin(&z->buf, n, dst.width, dst.height, &room);
    got = inflate_into(&z->zs, rest, room);
    if (got < 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "ZLIB rect: corrupt stream");
        return FALSE;
    }
    return crp_payload_end(&z->buf, got, z->zs.avail_in != 0, dst, "ZLIB", error);
}
