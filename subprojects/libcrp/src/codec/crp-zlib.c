/*
 * crp-zlib.c: ZLIB rects, one persistent deflate stream per encoder and one
 * persistent inflate stream per decoder.
 *
 * Each rect is the next chunk of the stream up to a Z_SYNC_FLUSH point, so
 * later rects reuse the dictionary built by earlier ones (text repeats
 * across tiles and frames) and the receiver can inflate each rect on its
 * own. Inflated layout: u8 n; n == 0: B,G,R per pixel; else n palette
 * entries B,G,R and the indices packed crp_palette_bits(n) to a byte, most
 * significant bits first, each row starting on a byte (as in ZRLE and
 * Tight: text tiles have two colours, and eight pixels to a byte let the
 * 32 KB deflate window see eight times more of the text before).
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
    g_free(z->in);
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
        *flags |= CRP_RECT_FLAG_ZLIB_RESET;
        z->fresh = FALSE;
    }
}

guint
crp_palette_bits(guint n)
{
    return n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
}

gsize
crp_palette_row_bytes(guint n, int width)
{
    return ((gsize)width * crp_palette_bits(n) + 7) / 8;
}

/* Packs @bits-wide indices of a @width x @height rect into @out. */
static void
pack_indices(const guint8 *indices, int width, int height, guint bits,
             guint8 *out)
{
    gsize row_bytes = ((gsize)width * bits + 7) / 8;
    guint per_byte = 8 / bits;

    for (int y = 0; y < height; y++, out += row_bytes) {
        const guint8 *in = indices + (gsize)y * width;
        for (gsize b = 0; b < row_bytes; b++) {
            guint8 v = 0;
            for (guint k = 0; k < per_byte; k++) {
                gsize x = b * per_byte + k;
                v = (guint8)(v << bits) | (x < (gsize)width ? in[x] : 0);
            }
            out[b] = v;
        }
    }
}

CrpView
crp_zlib_encode_palette(CrpZlibEncoder *z, const CrpPalette *pal,
                        const guint8 *indices, int width, int height,
                        guint8 *flags)
{
    guint8 head[1 + 3 * CRP_PALETTE_MAX];
    guint bits = crp_palette_bits(pal->n);
    gsize packed_len = crp_palette_row_bytes(pal->n, width) * height;
    gsize head_len = 1 + 3 * (gsize)pal->n;

    g_assert(pal->n >= 1 && pal->n <= CRP_PALETTE_MAX);
    head[0] = (guint8)pal->n;
    for (guint i = 0; i < pal->n; i++) {
        guint32 c = pal->colours[i];
        head[1 + 3 * i] = c & 0xff;
        head[2 + 3 * i] = (c >> 8) & 0xff;
        head[3 + 3 * i] = (c >> 16) & 0xff;
    }

    if (bits < 8) {
        if (packed_len > z->in_cap) {
            z->in_cap = packed_len;
            z->in = g_realloc(z->in, packed_len);
        }
        pack_indices(indices, width, height, bits, z->in);
        indices = z->in;
    }
    begin_rect(z, flags);
    gsize produced = 0;
    deflate_chunk(z, head, head_len, Z_NO_FLUSH, &produced);
    deflate_chunk(z, indices, packed_len, Z_SYNC_FLUSH, &produced);
    return (CrpView){ z->out, produced };
}

CrpView
crp_zlib_encode_truecolor(CrpZlibEncoder *z, CrpPixels px, guint8 *flags)
{
    gsize len = 1 + (gsize)px.width * px.height * 3;
    if (len > z->in_cap) {
        z->in_cap = len;
        z->in = g_realloc(z->in, len);
    }

    guint8 *p = z->in;
    *p++ = 0;
    for (int y = 0; y < px.height; y++) {
        const guint32 *row = crp_pixels_row(px, y);
        for (int x = 0; x < px.width; x++) {
            guint32 c = row[x];
            p[0] = c & 0xff;
            p[1] = (c >> 8) & 0xff;
            p[2] = (c >> 16) & 0xff;
            p += 3;
        }
    }

    begin_rect(z, flags);
    gsize produced = 0;
    deflate_chunk(z, z->in, len, Z_SYNC_FLUSH, &produced);
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
    g_free(z->buf);
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

static gboolean
unpack_palette(const guint8 *in, guint n, CrpPixels dst, GError **error)
{
    guint32 lut[256];
    guint bits = crp_palette_bits(n);
    guint mask = (1u << bits) - 1;
    gsize row_bytes = crp_palette_row_bytes(n, dst.width);

    for (guint i = 0; i < n; i++) {
        lut[i] = in[0] | (in[1] << 8) | ((guint32)in[2] << 16);
        in += 3;
    }
    for (int y = 0; y < dst.height; y++, in += row_bytes) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            gsize bit = (gsize)x * bits;
            guint index = (in[bit / 8] >> (8 - bits - bit % 8)) & mask;
            if (G_UNLIKELY(index >= n)) {
                g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                            "ZLIB rect: palette index %u of %u colours", index, n);
                return FALSE;
            }
            row[x] = lut[index];
        }
    }
    return TRUE;
}

static void
unpack_truecolor(const guint8 *in, CrpPixels dst)
{
    for (int y = 0; y < dst.height; y++) {
        guint32 *row = crp_pixels_row(dst, y);
        for (int x = 0; x < dst.width; x++) {
            row[x] = in[0] | (in[1] << 8) | ((guint32)in[2] << 16);
            in += 3;
        }
    }
}

gboolean
crp_zlib_decode(CrpZlibDecoder *z, CrpView data, gboolean reset,
                CrpPixels dst, GError **error)
{
    gsize npixels = (gsize)dst.width * dst.height;
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

    gsize want = n == 0 ? npixels * 3
                        : 3 * (gsize)n + crp_palette_row_bytes(n, dst.width) * dst.height;
    if (want + 1 > z->cap) {
        g_free(z->buf);
        z->cap = want + 1;
        z->buf = g_malloc(z->cap);
    }
    got = inflate_into(&z->zs, z->buf, want + 1);
    if (got < 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "ZLIB rect: corrupt stream");
        return FALSE;
    }
    if ((gsize)got != want || z->zs.avail_in != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC,
                    "ZLIB rect: %s data for %dx%d pixels",
                    (gsize)got < want ? "too little" : "too much",
                    dst.width, dst.height);
        return FALSE;
    }

    if (n == 0) {
        unpack_truecolor(z->buf, dst);
        return TRUE;
    }
    return unpack_palette(z->buf, n, dst, error);
}
