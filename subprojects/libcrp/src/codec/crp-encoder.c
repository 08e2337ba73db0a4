/*
 * crp-encoder.c: turn framebuffer changes into RECT messages.
 *
 * A frame goes: tile diff, scroll detection, then detection of sideways
 * moves among the tiles still changed (COPY rects first, since they read
 * the client's framebuffer as it was), a re-diff of the tiles the copies
 * wrote, then one pass over the tile rows that encodes each changed
 * tile and each lossy tile due for refinement. Lossless tiles go out as
 * they are classified; FILL and JPEG tiles are held as runs and merged
 * with the run of the same shape in the row above, then sent when a row
 * no longer extends them.
 *
 * With H264, video regions (crp-video.c) are coded before the tiles: the
 * tiles they cover are left out (a tile they cover in part sends only
 * what changed outside them), and their H264 rects go out after the
 * tiles, so that they paint over whatever a tile put in their area.
 *
 * The client's framebuffer equals @prev except in tiles marked lossy,
 * which hold an approximation until refined.
 */
#include "crp/crp-encoder.h"
#include "crp/crp-tiles.h"
#include "codec/crp-codec-private.h"

#include <string.h>

#define DEFAULT_JPEG_QUALITY 75
#define DEFAULT_ZLIB_LEVEL 1
#define DEFAULT_ZSTD_LEVEL 7
/* The text and UI stream's window: 8 MiB holds a few screens, so glyphs,
 * lines and windows seen before are found again. */
#define ZSTD_WINDOW_LOG 23
/* Pictures have little to find again, and a thorough search costs them
 * five times the time: their own stream, fast, with a small window. */
#define ZSTD_PICTURE_LEVEL 1
#define ZSTD_PICTURE_WINDOW_LOG 20
#define DEFAULT_REFINE_AFTER_US 250000
/* Measured on the desktop bench's video (docs/performance.md): a better
 * PSNR than JPEG quality 75 at a quarter of its bytes. */
#define DEFAULT_VIDEO_QP 28
/* The part of the link's bitrate video regions may take together: half
 * leaves the rest of the screen (typing, refinement) room on a slow link
 * (docs/performance.md, "H.264 quality and the link"). */
#define VIDEO_LINK_SHARE 0.5

/* Colours counted per tile; above this a tile is photo-like. Anti-aliased
 * text and UI stay well below it. */
#define SCAN_MAX_COLOURS CRP_PALETTE_MAX
/* At or below this a tile is text or UI and stays lossless even while it
 * changes every frame (a cursor, a spinner, typing). */
#define FEW_COLOURS 16
/* Tiles with at most this many colours go out as a palette; above it, as
 * truecolor. deflate's 32 KiB window favours packing (more pixels fit);
 * zstd's 8 MiB window favours truecolor, which is the same bytes wherever
 * a glyph or an icon appears, so it is found again across tiles and
 * frames -- palette indices depend on each tile's palette and are not
 * (measured on the real-desktop recordings: docs/performance.md). */
#define ZLIB_PALETTE_MAX 64
#define ZSTD_PALETTE_MAX 16
/* A tile that keeps changing is video only if it looks like a picture:
 * less than this share of its pixels equal their left neighbour (text,
 * however anti-aliased, sits on flat background). In 1/256. */
#define VIDEO_MAX_FLAT_SHARE 64
/* A tile is video once it changed this many frames in a row, each within
 * VIDEO_INTERVAL_US of the last. */
#define VIDEO_MIN_STREAK 5
#define VIDEO_INTERVAL_US 100000
/* Changed tiles below which scroll detection is not worth its pass. */
#define SCROLL_MIN_TILES 4
#define MAX_SCROLLS 8
/* Changed tiles below which looking for sideways moves is not worth it. */
#define SHIFT_MIN_TILES 2
#define MAX_SHIFTS 16
/* Pixels below which the part of a tile left to send goes out losslessly;
 * for photo-like parts (more colours than a palette holds) a quarter
 * tile: a strip of film grain costs several kilobytes lossless, every
 * frame, where a JPEG of it costs a few hundred bytes. */
#define PART_MIN_JPEG (CRP_TILE_SIZE * CRP_TILE_SIZE / 2)
#define PART_MIN_PHOTO_JPEG (CRP_TILE_SIZE * CRP_TILE_SIZE / 4)
/* Lossless photo tiles are costly (about 0.25 ms each): refine at most this
 * many per frame, so a large photo going still does not stall a frame. */
#define REFINE_MAX_TILES 32

#define JPEG_MAX_TILE_COLS (CRP_JPEG_MAX_WIDTH / CRP_TILE_SIZE)
/* Truecolor text tiles side by side in a row go out as one ZSTD rect, up
 * to this many: zstd then sees whole lines of text, not 64-pixel pieces
 * of them. On the desktop recordings (docs/performance.md) that halved
 * the document scene's bytes and cut its encoder time by a fifth (drag:
 * -14 % bytes); the terminal and the mixed scene stayed as they were.
 * Palette tiles stay one rect each: merged, a text console's two-colour
 * lines were 8 % smaller but cost a quarter more encoder time. */
#define RUN_MAX_TILES 16

typedef struct {
    gint64 last_change_us;
    guint8 lossy;           /* the client holds an approximation */
    guint8 streak;          /* frames changed in a row, quickly */
} TileState;

/* The part of a tile that differs, in pixels from its top-left corner;
 * x1 == 0: the whole tile. */
typedef struct {
    guint8 x0, y0, x1, y1;
} TilePart;

/* Truecolor text tiles of the current tile row waiting to go out as one
 * ZSTD rect (RUN_MAX_TILES). */
typedef struct {
    guint n;                /* tiles; 0: none */
    guint c0, r;            /* first tile */
    int width;              /* pixels */
} LosslessRun;

typedef enum {
    TILE_NONE,
    TILE_SENT,              /* already sent losslessly */
    TILE_FILL,
    TILE_JPEG,
} TileKind;

/* A FILL or JPEG run waiting to grow downwards. */
typedef struct {
    TileKind kind;
    guint32 fill;
    int x, y, width, height;
    guint last_row;         /* tile row that last extended it */
} Pending;

struct CrpEncoder {
    CrpEncoderConfig config;
    CrpEncoderRate rate;    /* the link's wishes (crp_encoder_set_rate()) */
    gboolean zlib_ok;
    gboolean zstd_ok;       /* lossless rects go as ZSTD, not ZLIB */
    gboolean jpeg_ok;
    gboolean send_all;

    /* Tile grid of the last frame's size. */
    int width, height;
    CrpTileMap map;
    TileState *tiles;
    guint8 *was_lossy;      /* snapshot while COPY rects move content */
    guint8 *copied;         /* tiles a COPY of this frame wrote */
    TilePart *part;         /* of tiles a sideways COPY left partly right */
    pixman_box32_t copies[MAX_SCROLLS + MAX_SHIFTS];   /* their destinations */
    guint n_copies;
    guint8 *row_kind;       /* TileKind per column of the current row */
    guint32 *row_fill;
    Pending *pending;       /* runs of the row above and this one */
    guint n_pending;

    CrpPalette palette;
    guint8 indices[CRP_TILE_SIZE * CRP_TILE_SIZE];
    guint8 raw[CRP_TILE_SIZE * CRP_TILE_SIZE * 4];
    CrpZlibEncoder zlib;
    CrpZstdEncoder zstd;        /* text and UI */
    CrpZstdEncoder zstd_pic;    /* pictures (photo, video) */
    CrpBuffer payload;      /* of the lossless rect being made */
    LosslessRun run;
    CrpJpegEncoder jpeg;
    CrpScrollCache scroll;  /* row hashes of the last frame's new image */

    /* Video regions (h264_ok). */
    gboolean h264_ok;
    CrpVideoTracker video;
    CrpH264Encoder h264[CRP_VIDEO_MAX_REGIONS];
    gboolean video_changed[CRP_VIDEO_MAX_REGIONS];
    guint8 *in_video;       /* per tile: meets a region (as of the last frame) */
    guint8 *candidate;      /* per tile: changes like video, this frame */
    guint32 *fill_stack;    /* tile indices, for finding groups of candidates */
    GByteArray *video_out;  /* this frame's H264 rects */
    guint n_video_rects;

    /* Valid during one encode call. */
    pixman_image_t *cur;
    GByteArray *out;
    CrpEncodeStats stats;
    gint64 now_us;
};

static void
zstd_init(CrpEncoder *enc)
{
    crp_zstd_encoder_init(&enc->zstd, enc->config.zstd_level, ZSTD_WINDOW_LOG);
    crp_zstd_encoder_init(&enc->zstd_pic, ZSTD_PICTURE_LEVEL, ZSTD_PICTURE_WINDOW_LOG);
    enc->zstd_pic.stream_flag = CRP_RECT_FLAG_PICTURE_STREAM;
}

CrpEncoder *
crp_encoder_new(const CrpEncoderConfig *config)
{
    CrpEncoder *enc = g_new0(CrpEncoder, 1);
    CrpEncoderConfig *c = &enc->config;

    if (config) {
        *c = *config;
    }
    c->encodings |= (1u << CRP_ENCODING_FILL) | (1u << CRP_ENCODING_RAW) |
                    (1u << CRP_ENCODING_COPY);
    c->jpeg_quality = c->jpeg_quality > 0 ? MIN(c->jpeg_quality, 100)
                                          : DEFAULT_JPEG_QUALITY;
    c->zlib_level = c->zlib_level > 0 ? MIN(c->zlib_level, 9) : DEFAULT_ZLIB_LEVEL;
    if (c->refine_after_us == 0) {
        c->refine_after_us = DEFAULT_REFINE_AFTER_US;
    }
    c->zstd_level = c->zstd_level > 0 ? MIN(c->zstd_level, ZSTD_maxCLevel())
                                      : DEFAULT_ZSTD_LEVEL;
    enc->zlib_ok = (c->encodings & (1u << CRP_ENCODING_ZLIB)) != 0;
    enc->zstd_ok = (c->encodings & (1u << CRP_ENCODING_ZSTD)) != 0;
    enc->jpeg_ok = (c->encodings & (1u << CRP_ENCODING_JPEG)) != 0 && !c->lossless;
    enc->h264_ok = (c->encodings & (1u << CRP_ENCODING_H264)) != 0 && !c->lossless;
    c->video_qp = c->video_qp > 0 ? MIN(c->video_qp, 51) : DEFAULT_VIDEO_QP;
    enc->send_all = TRUE;
    enc->video_out = g_byte_array_new();

    crp_zlib_encoder_init(&enc->zlib, c->zlib_level);
    if (enc->zstd_ok) {
        zstd_init(enc);
    }
    crp_jpeg_encoder_init(&enc->jpeg, c->jpeg_quality);
    return enc;
}

static void
video_finish(CrpEncoder *enc)
{
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        crp_h264_encoder_finish(&enc->h264[i]);
    }
}

static void
free_grid(CrpEncoder *enc)
{
    crp_tile_map_finish(&enc->map);
    g_clear_pointer(&enc->in_video, g_free);
    g_clear_pointer(&enc->candidate, g_free);
    g_clear_pointer(&enc->fill_stack, g_free);
    g_clear_pointer(&enc->tiles, g_free);
    g_clear_pointer(&enc->was_lossy, g_free);
    g_clear_pointer(&enc->copied, g_free);
    g_clear_pointer(&enc->part, g_free);
    g_clear_pointer(&enc->row_kind, g_free);
    g_clear_pointer(&enc->row_fill, g_free);
    g_clear_pointer(&enc->pending, g_free);
    enc->width = enc->height = 0;
}

void
crp_encoder_free(CrpEncoder *enc)
{
    if (!enc) {
        return;
    }
    free_grid(enc);
    crp_scroll_cache_finish(&enc->scroll);
    crp_zlib_encoder_finish(&enc->zlib);
    if (enc->zstd_ok) {
        crp_zstd_encoder_finish(&enc->zstd);
        crp_zstd_encoder_finish(&enc->zstd_pic);
    }
    crp_buffer_finish(&enc->payload);
    crp_jpeg_encoder_finish(&enc->jpeg);
    video_finish(enc);
    g_byte_array_unref(enc->video_out);
    g_free(enc);
}

void
crp_encoder_set_rate(CrpEncoder *enc, const CrpEncoderRate *rate)
{
    g_return_if_fail(enc && rate);

    enc->rate = *rate;
    /* TurboJPEG takes the quality per call: changing it costs nothing. */
    enc->jpeg.quality = rate->jpeg_quality > 0 ? MIN(rate->jpeg_quality, 100)
                                               : enc->config.jpeg_quality;
}

void
crp_encoder_get_rate(CrpEncoder *enc, CrpEncoderRate *rate)
{
    g_return_if_fail(enc && rate);
    *rate = enc->rate;
}

void
crp_encoder_reset(CrpEncoder *enc)
{
    g_return_if_fail(enc);
    crp_zlib_encoder_reset(&enc->zlib);
    if (enc->zstd_ok) {
        crp_zstd_encoder_reset(&enc->zstd);
        crp_zstd_encoder_reset(&enc->zstd_pic);
    }
    crp_scroll_cache_invalidate(&enc->scroll);
    crp_video_tracker_restart_all(&enc->video);
    enc->send_all = TRUE;
}

static void
resize_grid(CrpEncoder *enc, int width, int height)
{
    free_grid(enc);
    enc->width = width;
    enc->height = height;
    crp_tile_map_init(&enc->map, width, height);
    gsize ntiles = (gsize)enc->map.cols * enc->map.rows;
    enc->tiles = g_new0(TileState, ntiles);
    enc->was_lossy = g_new0(guint8, ntiles);
    enc->copied = g_new0(guint8, ntiles);
    enc->part = g_new0(TilePart, ntiles);
    enc->in_video = g_new0(guint8, ntiles);
    enc->candidate = g_new0(guint8, ntiles);
    enc->fill_stack = g_new(guint32, ntiles);
    enc->row_kind = g_new0(guint8, enc->map.cols);
    enc->row_fill = g_new0(guint32, enc->map.cols);
    enc->pending = g_new0(Pending, 2 * (gsize)enc->map.cols);
}

CrpEncoder *
crp_encoder_copy(CrpEncoder *src)
{
    g_return_val_if_fail(src, NULL);

    CrpEncoder *enc = g_new0(CrpEncoder, 1);
    enc->config = src->config;
    enc->zlib_ok = src->zlib_ok;
    enc->zstd_ok = src->zstd_ok;
    enc->jpeg_ok = src->jpeg_ok;
    enc->send_all = src->send_all;
    if (src->tiles) {
        /* What the client holds per tile; the rest of the grid is
         * scratch space of one call. */
        resize_grid(enc, src->width, src->height);
        gsize ntiles = (gsize)enc->map.cols * enc->map.rows;
        memcpy(enc->tiles, src->tiles, ntiles * sizeof(TileState));
        memcpy(enc->in_video, src->in_video, ntiles);
    }
    /* Regions go on where they are; their H.264 streams cannot be copied
     * and start afresh (the encoders start on their next picture). */
    enc->h264_ok = src->h264_ok;
    enc->video = src->video;
    crp_video_tracker_restart_all(&enc->video);
    enc->video_out = g_byte_array_new();
    crp_zlib_encoder_copy(&enc->zlib, &src->zlib);
    if (enc->zstd_ok) {
        /* A zstd stream cannot be copied midway: the copy's first rect
         * restarts it (STREAM_RESET), which costs bytes, not pixels. */
        zstd_init(enc);
    }
    enc->rate = src->rate;
    crp_jpeg_encoder_init(&enc->jpeg, src->jpeg.quality);
    /* The scroll cache starts empty: one frame hashes both images. */
    return enc;
}

/* ---- emitting rects --------------------------------------------------- */

static void
emit(CrpEncoder *enc, const CrpRectMsg *rect, guint8 flags)
{
    CrpMessage msg = { .type = CRP_MSG_RECT, .flags = flags };
    msg.rect = *rect;
    crp_message_encode(&msg, enc->out);

    enc->stats.rects++;
    switch ((CrpEncoding)rect->encoding) {
    case CRP_ENCODING_FILL:
        enc->stats.fill++;
        break;
    case CRP_ENCODING_RAW:
        enc->stats.raw++;
        break;
    case CRP_ENCODING_ZLIB:
        enc->stats.zlib++;
        break;
    case CRP_ENCODING_ZSTD:
        enc->stats.zstd++;
        break;
    case CRP_ENCODING_JPEG:
        enc->stats.jpeg++;
        break;
    case CRP_ENCODING_COPY:
        enc->stats.copy++;
        break;
    case CRP_ENCODING_H264:
        enc->stats.h264++;
        break;
    }
}

static CrpRectMsg
rect_at(int x, int y, int w, int h, CrpEncoding encoding)
{
    return (CrpRectMsg){ .x = x, .y = y, .width = w, .height = h,
                         .encoding = encoding };
}

static void
emit_fill(CrpEncoder *enc, int x, int y, int w, int h, guint32 rgb)
{
    CrpRectMsg rect = rect_at(x, y, w, h, CRP_ENCODING_FILL);
    rect.fill = rgb & CRP_PIXEL_RGB_MASK;
    emit(enc, &rect, 0);
}

/* Whether a tile that keeps changing looks like video: a picture, not
 * text or UI (see VIDEO_MAX_FLAT_SHARE). */
static gboolean
looks_like_video(CrpPixels px)
{
    guint total = (guint)MAX(px.width - 1, 0) * (guint)px.height;
    guint flat = 0;

    if (total == 0) {
        return FALSE;
    }
    /* Text says so within its first rows (a quarter of its pixels flat):
     * every changed tile of scrolling text is asked, every frame, so stop
     * there instead of reading the whole tile. */
    for (int y = 0; y < px.height; y++) {
        const guint32 *row = crp_pixels_row(px, y);
        for (int x = 1; x < px.width; x++) {
            flat += !((row[x] ^ row[x - 1]) & CRP_PIXEL_RGB_MASK);
        }
        if (flat * 256 >= total * VIDEO_MAX_FLAT_SHARE) {
            return FALSE;
        }
    }
    return TRUE;
}

/* Compresses the @len bytes of enc->payload, the payload of a rect of @px
 * at (@x, @y), on @stream and sends it. */
static void
emit_zstd(CrpEncoder *enc, CrpZstdEncoder *stream, int x, int y, CrpPixels px,
          gsize len)
{
    guint8 flags = 0;
    CrpRectMsg rect = rect_at(x, y, px.width, px.height, CRP_ENCODING_ZSTD);
    rect.data = crp_zstd_encode(stream, enc->payload.data, len, &flags);
    emit(enc, &rect, flags);
}

/* Sends the pending run of truecolor tiles, if any. */
static void
run_flush(CrpEncoder *enc)
{
    LosslessRun *run = &enc->run;

    if (run->n == 0) {
        return;
    }
    int x = (int)run->c0 * CRP_TILE_SIZE, y = (int)run->r * CRP_TILE_SIZE;
    CrpPixels px = crp_pixels_from_image(enc->cur, x, y, run->width,
                                         MIN(CRP_TILE_SIZE, enc->height - y));
    emit_zstd(enc, &enc->zstd, x, y, px, crp_payload_truecolor(px, &enc->payload));
    run->n = 0;
}

/* Adds truecolor text tile (@c, @r), @width pixels wide, to the pending
 * run, after sending the run if the tile does not continue it. */
static void
run_add(CrpEncoder *enc, guint c, guint r, int width)
{
    LosslessRun *run = &enc->run;

    if (run->n > 0 &&
        (run->r != r || run->c0 + run->n != c || run->n == RUN_MAX_TILES)) {
        run_flush(enc);
    }
    if (run->n == 0) {
        *run = (LosslessRun){ .c0 = c, .r = r };
    }
    run->width += width;
    run->n++;
}

/* Whether @px, with @ncolours, goes on the picture stream (ZSTD). */
static gboolean
is_picture(CrpPixels px, guint ncolours)
{
    return ncolours > ZSTD_PALETTE_MAX &&
           (ncolours > SCAN_MAX_COLOURS || looks_like_video(px));
}

/* Sends @px, at (@x, @y), losslessly; enc->palette and enc->indices hold
 * its scan, which found @ncolours (SCAN_MAX_COLOURS + 1: more); @picture:
 * is_picture(). */
static void
emit_lossless(CrpEncoder *enc, int x, int y, CrpPixels px, guint ncolours,
              gboolean picture)
{
    CrpRectMsg rect;
    guint8 flags = 0;

    if (!enc->zlib_ok && !enc->zstd_ok) {
        rect = rect_at(x, y, px.width, px.height, CRP_ENCODING_RAW);
        crp_raw_pack(px, enc->raw);
        rect.data = (CrpView){ enc->raw, (gsize)px.width * px.height * 4 };
        emit(enc, &rect, 0);
        return;
    }
    gsize len = ncolours <= (enc->zstd_ok ? ZSTD_PALETTE_MAX : ZLIB_PALETTE_MAX)
        ? crp_payload_palette(&enc->palette, enc->indices, px.width, px.height,
                              &enc->payload)
        : crp_payload_truecolor(px, &enc->payload);
    if (enc->zstd_ok) {
        emit_zstd(enc, picture ? &enc->zstd_pic : &enc->zstd, x, y, px, len);
        return;
    }
    rect = rect_at(x, y, px.width, px.height, CRP_ENCODING_ZLIB);
    rect.data = crp_zlib_encode(&enc->zlib, enc->payload.data, len, &flags);
    emit(enc, &rect, flags);
}


/* ---- tiles ------------------------------------------------------------ */

static void
tile_box(CrpEncoder *enc, guint c, guint r, int *x, int *y, int *w, int *h)
{
    *x = (int)c * CRP_TILE_SIZE;
    *y = (int)r * CRP_TILE_SIZE;
    *w = MIN(CRP_TILE_SIZE, enc->width - *x);
    *h = MIN(CRP_TILE_SIZE, enc->height - *y);
}

/*
 * Sends tile (@c, @r) if it is best sent alone; otherwise says FILL (with
 * its colour in @fill) or JPEG, for the caller to merge with neighbours.
 */
static TileKind
encode_tile(CrpEncoder *enc, guint c, guint r, gboolean lossy_ok,
            gboolean video, guint32 *fill)
{
    int x, y, w, h;
    tile_box(enc, c, r, &x, &y, &w, &h);
    CrpPixels px = crp_pixels_from_image(enc->cur, x, y, w, h);

    guint n = crp_palette_scan(&enc->palette, px, SCAN_MAX_COLOURS, enc->indices);
    if (n == 1) {
        *fill = enc->palette.colours[0];
        return TILE_FILL;
    }
    if (lossy_ok && (n > SCAN_MAX_COLOURS ||
                     (video && n > FEW_COLOURS && looks_like_video(px)))) {
        return TILE_JPEG;
    }
    gboolean picture = enc->zstd_ok && is_picture(px, n);
    if (enc->zstd_ok && !picture && n > ZSTD_PALETTE_MAX) {
        run_add(enc, c, r, px.width);
    } else {
        emit_lossless(enc, x, y, px, n, picture);
    }
    return TILE_SENT;
}

static void emit_jpeg(CrpEncoder *enc, const Pending *p);

/*
 * Sends @part of tile (@c, @r) alone: the rest of the tile is right
 * already (a COPY brought it). Returns TRUE if it went out lossy.
 */
static gboolean
encode_part(CrpEncoder *enc, guint c, guint r, TilePart part,
            gboolean lossy_ok, gboolean video)
{
    int x = (int)c * CRP_TILE_SIZE + part.x0, y = (int)r * CRP_TILE_SIZE + part.y0;
    CrpPixels px = crp_pixels_from_image(enc->cur, x, y, part.x1 - part.x0,
                                         part.y1 - part.y0);

    guint n = crp_palette_scan(&enc->palette, px, SCAN_MAX_COLOURS, enc->indices);
    if (n == 1) {
        emit_fill(enc, x, y, px.width, px.height, enc->palette.colours[0]);
        return FALSE;
    }
    /* A JPEG's headers outweigh a narrow strip, which would then be
     * refined all the same. */
    int area = px.width * px.height;
    if (lossy_ok &&
        ((n > SCAN_MAX_COLOURS && area >= PART_MIN_PHOTO_JPEG) ||
         (area >= PART_MIN_JPEG && video && n > FEW_COLOURS &&
          looks_like_video(px)))) {
        Pending p = { TILE_JPEG, 0, x, y, px.width, px.height, r };
        emit_jpeg(enc, &p);
        return TRUE;
    }
    emit_lossless(enc, x, y, px, n, enc->zstd_ok && is_picture(px, n));
    return FALSE;
}

static void
emit_jpeg(CrpEncoder *enc, const Pending *p)
{
    CrpPixels px = crp_pixels_from_image(enc->cur, p->x, p->y, p->width, p->height);
    CrpView jpeg = crp_jpeg_encode(&enc->jpeg, px);

    if (jpeg.len > 0) {
        CrpRectMsg rect = rect_at(p->x, p->y, p->width, p->height,
                                  CRP_ENCODING_JPEG);
        rect.data = jpeg;
        emit(enc, &rect, CRP_RECT_FLAG_LOSSY);
        return;
    }

    /* TurboJPEG failed (out of memory): send the tiles losslessly. */
    guint c0 = p->x / CRP_TILE_SIZE, r0 = p->y / CRP_TILE_SIZE;
    guint c1 = (p->x + p->width - 1) / CRP_TILE_SIZE;
    guint r1 = (p->y + p->height - 1) / CRP_TILE_SIZE;
    for (guint r = r0; r <= r1; r++) {
        for (guint c = c0; c <= c1; c++) {
            guint32 fill;
            enc->tiles[(gsize)r * enc->map.cols + c].lossy = FALSE;
            if (encode_tile(enc, c, r, FALSE, FALSE, &fill) == TILE_FILL) {
                int x, y, w, h;
                tile_box(enc, c, r, &x, &y, &w, &h);
                emit_fill(enc, x, y, w, h, fill);
            }
        }
    }
    run_flush(enc);
}

static void
emit_pending(CrpEncoder *enc, const Pending *p)
{
    if (p->kind == TILE_FILL) {
        emit_fill(enc, p->x, p->y, p->width, p->height, p->fill);
    } else {
        emit_jpeg(enc, p);
    }
}

/* Extends the pending run of the same shape that ends just above, or
 * starts a new one. */
static void
add_run(CrpEncoder *enc, TileKind kind, guint32 fill, guint c0, guint c1,
        guint r)
{
    int x = (int)c0 * CRP_TILE_SIZE;
    int y = (int)r * CRP_TILE_SIZE;
    int w = MIN((int)c1 * CRP_TILE_SIZE, enc->width) - x;
    int h = MIN(CRP_TILE_SIZE, enc->height - y);

    for (guint i = 0; i < enc->n_pending; i++) {
        Pending *p = &enc->pending[i];
        if (p->kind == kind && p->x == x && p->width == w && p->y + p->height == y &&
            (kind == TILE_FILL ? p->fill == fill
                               : p->height + h <= CRP_JPEG_MAX_HEIGHT)) {
            p->height += h;
            p->last_row = r;
            return;
        }
    }
    g_assert(enc->n_pending < 2 * enc->map.cols);
    enc->pending[enc->n_pending++] = (Pending){ kind, fill, x, y, w, h, r };
}

/* Sends pending runs that tile row @r did not extend (all if @all). */
static void
flush_pending(CrpEncoder *enc, guint r, gboolean all)
{
    guint kept = 0;
    for (guint i = 0; i < enc->n_pending; i++) {
        if (all || enc->pending[i].last_row != r) {
            emit_pending(enc, &enc->pending[i]);
        } else {
            enc->pending[kept++] = enc->pending[i];
        }
    }
    enc->n_pending = kept;
}

static void
merge_row(CrpEncoder *enc, guint r)
{
    const guint8 *kind = enc->row_kind;
    const guint32 *fill = enc->row_fill;
    guint cols = enc->map.cols;

    for (guint c = 0; c < cols;) {
        if (kind[c] != TILE_FILL && kind[c] != TILE_JPEG) {
            c++;
            continue;
        }
        guint e = c + 1;
        while (e < cols && kind[e] == kind[c] &&
               (kind[c] == TILE_FILL ? fill[e] == fill[c]
                                     : e - c < JPEG_MAX_TILE_COLS)) {
            e++;
        }
        add_run(enc, kind[c], fill[c], c, e, r);
        c = e;
    }
    flush_pending(enc, r, FALSE);
}

/* Counts how many frames in a row each changed tile changed (quickly):
 * five make it video. */
static void
update_streaks(CrpEncoder *enc, gboolean whole)
{
    gsize ntiles = (gsize)enc->map.cols * enc->map.rows;
    gint64 now = enc->now_us;

    for (gsize t = 0; t < ntiles; t++) {
        TileState *st = &enc->tiles[t];
        if (!enc->map.changed[t]) {
            continue;
        }
        if (whole) {
            st->streak = 0;
        } else if (st->streak > 0 && now - st->last_change_us <= VIDEO_INTERVAL_US) {
            st->streak = MIN(st->streak + 1, G_MAXUINT8);
        } else {
            st->streak = 1;
        }
        st->last_change_us = now;
    }
}

/* Encodes every changed tile and every lossy tile due for refinement
 * (outside video regions: they are refined once they end). */
static void
encode_tiles(CrpEncoder *enc)
{
    guint cols = enc->map.cols;
    gint64 now = enc->now_us;
    /* Refinement is bounded in tiles (time) and, on a slow link, in bytes:
     * a picture going still must not hold the link for seconds. One tile
     * goes whatever its size, so refinement always progresses. */
    gsize refine_budget = enc->rate.refine_bytes;
    gsize refine_used = 0;

    for (guint r = 0; r < enc->map.rows; r++) {
        for (guint c = 0; c < cols; c++) {
            gsize t = (gsize)r * cols + c;
            TileState *st = &enc->tiles[t];
            TileKind kind = TILE_NONE;

            if (enc->map.changed[t]) {
                TilePart part = enc->part[t];
                if (part.x1 != 0) {
                    /* recheck_shift_row() set st->lossy for the rest. */
                    enc->part[t] = (TilePart){ 0 };
                    st->lossy |= encode_part(enc, c, r, part, enc->jpeg_ok,
                                             st->streak >= VIDEO_MIN_STREAK);
                    kind = TILE_SENT;
                } else {
                    kind = encode_tile(enc, c, r, enc->jpeg_ok,
                                       st->streak >= VIDEO_MIN_STREAK,
                                       &enc->row_fill[c]);
                    st->lossy = kind == TILE_JPEG;
                }
                st->last_change_us = now;
            } else if (st->lossy && !enc->in_video[t] &&
                       enc->stats.refined < REFINE_MAX_TILES &&
                       (refine_budget == 0 || refine_used < refine_budget) &&
                       now - st->last_change_us >= (gint64)enc->config.refine_after_us) {
                gsize before = enc->out->len;
                kind = encode_tile(enc, c, r, FALSE, FALSE, &enc->row_fill[c]);
                refine_used += enc->out->len - before;
                st->lossy = FALSE;
                enc->stats.refined++;
            }
            enc->row_kind[c] = kind;
        }
        run_flush(enc);
        merge_row(enc, r);
    }
    flush_pending(enc, 0, TRUE);
}

/* ---- scrolling -------------------------------------------------------- */

static gboolean
rgb_differs(const guint32 *a, const guint32 *b, int n)
{
    if (memcmp(a, b, (gsize)n * 4) == 0) {
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        if ((a[i] ^ b[i]) & CRP_PIXEL_RGB_MASK) {
            return TRUE;
        }
    }
    return FALSE;
}

/*
 * Re-diffs the tiles of row @r that @s writes against @prev with @s
 * applied, and carries lossy state along with the content it moved.
 * Row-major like crp_tile_diff(): reading a tile column-wise costs a TLB
 * miss per pixel row.
 */
static void
recheck_tile_row(CrpEncoder *enc, pixman_image_t *prev, const CrpScroll *s,
                 guint r)
{
    guint cols = enc->map.cols;
    guint c0 = s->x / CRP_TILE_SIZE;
    guint c1 = (s->x + s->width - 1) / CRP_TILE_SIZE;
    int y0 = (int)r * CRP_TILE_SIZE;
    int y1 = MIN(y0 + CRP_TILE_SIZE, enc->height);
    int cy0 = MAX(y0, s->y), cy1 = MIN(y1, s->y + s->height);
    CrpPixels old = crp_pixels_from_image(prev, 0, 0, enc->width, enc->height);
    CrpPixels now = crp_pixels_from_image(enc->cur, 0, 0, enc->width, enc->height);
    guint8 *differs = enc->row_kind;       /* free until encode_tiles() */

    memset(differs + c0, 0, c1 - c0 + 1);
    for (int y = y0; y < y1; y++) {
        int src = y >= cy0 && y < cy1 ? y - s->dy : y;
        const guint32 *a = crp_pixels_row(old, src);
        const guint32 *b = crp_pixels_row(now, y);
        int sx = (int)c0 * CRP_TILE_SIZE;
        int sn = MIN((int)(c1 + 1) * CRP_TILE_SIZE, enc->width) - sx;
        /* After a right guess the moved rows match: one memcmp a row. */
        if (memcmp(a + sx, b + sx, (gsize)sn * 4) == 0) {
            continue;
        }
        for (guint c = c0; c <= c1; c++) {
            int x = (int)c * CRP_TILE_SIZE;
            if (!differs[c] && rgb_differs(a + x, b + x, MIN(CRP_TILE_SIZE, enc->width - x))) {
                differs[c] = 1;
            }
        }
    }

    for (guint c = c0; c <= c1; c++) {
        gsize t = (gsize)r * cols + c;
        enc->map.changed[t] = differs[c];
        if (differs[c]) {
            continue;
        }
        gboolean lossy = enc->was_lossy[t];
        for (int sr = (cy0 - s->dy) / CRP_TILE_SIZE;
             sr <= (cy1 - 1 - s->dy) / CRP_TILE_SIZE; sr++) {
            lossy |= enc->was_lossy[(gsize)sr * cols + c];
        }
        if (lossy) {
            enc->tiles[t].lossy = TRUE;
            enc->tiles[t].last_change_us = enc->now_us;
        }
    }
}

/* Sends COPY rects for content that scrolled within the changed area and
 * re-diffs the tiles they write. */
static void
apply_scrolls(CrpEncoder *enc, pixman_image_t *prev, guint nchanged)
{
    guint cols = enc->map.cols, rows = enc->map.rows;
    guint c0 = cols, c1 = 0, r0 = rows, r1 = 0;

    if (nchanged < SCROLL_MIN_TILES) {
        return;
    }
    for (guint r = 0; r < rows; r++) {
        for (guint c = 0; c < cols; c++) {
            if (enc->map.changed[(gsize)r * cols + c]) {
                c0 = MIN(c0, c);
                c1 = MAX(c1, c);
                r0 = MIN(r0, r);
                r1 = MAX(r1, r);
            }
        }
    }
    if (r1 == r0) {
        return;         /* one tile row: nothing tall enough to scroll */
    }

    pixman_box32_t area = {
        (int)c0 * CRP_TILE_SIZE, (int)r0 * CRP_TILE_SIZE,
        MIN((int)(c1 + 1) * CRP_TILE_SIZE, enc->width),
        MIN((int)(r1 + 1) * CRP_TILE_SIZE, enc->height),
    };
    CrpScroll scrolls[MAX_SCROLLS];
    /* Before apply_scrolls() changes it, enc->map is exactly what differs
     * between @prev and the new image. */
    guint n = crp_scroll_detect_cached(prev, enc->cur, &area, scrolls,
                                       MAX_SCROLLS, &enc->scroll, &enc->map);
    if (n == 0) {
        return;
    }

    for (gsize t = 0; t < (gsize)cols * rows; t++) {
        enc->was_lossy[t] = enc->tiles[t].lossy;
    }
    for (guint i = 0; i < n; i++) {
        const CrpScroll *s = &scrolls[i];
        CrpRectMsg rect = rect_at(s->x, s->y, s->width, s->height,
                                  CRP_ENCODING_COPY);
        rect.src_x = s->x;
        rect.src_y = s->y - s->dy;
        emit(enc, &rect, 0);
        enc->copies[enc->n_copies++] = (pixman_box32_t){
            s->x, s->y, s->x + s->width, s->y + s->height };

        for (int r = s->y / CRP_TILE_SIZE;
             r <= (s->y + s->height - 1) / CRP_TILE_SIZE; r++) {
            recheck_tile_row(enc, prev, s, r);
        }
    }
}

/* ---- sideways moves --------------------------------------------------- */

static gboolean
boxes_meet(const pixman_box32_t *a, const pixman_box32_t *b)
{
    return a->x1 < b->x2 && b->x1 < a->x2 && a->y1 < b->y2 && b->y1 < a->y2;
}

/* Widens [*first, *last] to the pixels of @a and @b (@n each, at offset
 * @at) whose RGB differs. */
static void
diff_span(const guint32 *a, const guint32 *b, int n, int at, int *first,
          int *last)
{
    if (n <= 0 || memcmp(a, b, (gsize)n * 4) == 0) {
        return;
    }
    int i = 0, j = n - 1;
    while (i < n && !((a[i] ^ b[i]) & CRP_PIXEL_RGB_MASK)) {
        i++;
    }
    if (i == n) {
        return;
    }
    while (!((a[j] ^ b[j]) & CRP_PIXEL_RGB_MASK)) {
        j--;
    }
    *first = MIN(*first, at + i);
    *last = MAX(*last, at + j);
}

/*
 * recheck_tile_row() for a sideways move @s, which also finds the part of
 * each tile that still differs: the strip a band scrolled in, the edge a
 * window uncovered. Only that part is sent (encode_part()).
 */
static void
recheck_shift_row(CrpEncoder *enc, pixman_image_t *prev, const CrpShift *s,
                  guint r)
{
    guint cols = enc->map.cols;
    guint c0 = s->x / CRP_TILE_SIZE;
    guint c1 = (s->x + s->width - 1) / CRP_TILE_SIZE;
    int y0 = (int)r * CRP_TILE_SIZE;
    int y1 = MIN(y0 + CRP_TILE_SIZE, enc->height);
    CrpPixels old = crp_pixels_from_image(prev, 0, 0, enc->width, enc->height);
    CrpPixels now = crp_pixels_from_image(enc->cur, 0, 0, enc->width, enc->height);
    int px0[CRP_MAX_SURFACE_DIM / CRP_TILE_SIZE + 1];
    int px1[CRP_MAX_SURFACE_DIM / CRP_TILE_SIZE + 1];
    int py0[CRP_MAX_SURFACE_DIM / CRP_TILE_SIZE + 1];
    int py1[CRP_MAX_SURFACE_DIM / CRP_TILE_SIZE + 1];

    for (guint c = c0; c <= c1; c++) {
        px0[c] = py0[c] = G_MAXINT;
        px1[c] = py1[c] = -1;
    }
    for (int y = y0; y < y1; y++) {
        gboolean moved = y >= s->y && y < s->y + s->height;
        const guint32 *a = crp_pixels_row(old, y);
        const guint32 *b = crp_pixels_row(now, y);
        for (guint c = c0; c <= c1; c++) {
            int x = (int)c * CRP_TILE_SIZE;
            int x2 = MIN(x + CRP_TILE_SIZE, enc->width);
            int m1 = moved ? CLAMP(s->x, x, x2) : x2;
            int m2 = moved ? CLAMP(s->x + s->width, m1, x2) : x2;
            int first = G_MAXINT, last = -1;
            diff_span(a + x, b + x, m1 - x, x, &first, &last);
            diff_span(a + m1 - s->dx, b + m1, m2 - m1, m1, &first, &last);
            diff_span(a + m2, b + m2, x2 - m2, m2, &first, &last);
            if (last >= 0) {
                px0[c] = MIN(px0[c], first);
                px1[c] = MAX(px1[c], last);
                py0[c] = MIN(py0[c], y);
                py1[c] = y;
            }
        }
    }

    for (guint c = c0; c <= c1; c++) {
        gsize t = (gsize)r * cols + c;
        int x = (int)c * CRP_TILE_SIZE;
        gboolean differs = py1[c] >= 0;
        enc->map.changed[t] = differs;
        enc->copied[t] = 1;

        int mx1 = MAX(x, s->x) - s->dx;
        int mx2 = MIN(x + CRP_TILE_SIZE, s->x + s->width) - s->dx;
        gboolean lossy = enc->was_lossy[t];
        for (int sc = mx1 / CRP_TILE_SIZE; sc <= (mx2 - 1) / CRP_TILE_SIZE; sc++) {
            lossy |= enc->was_lossy[(gsize)r * cols + sc];
        }
        if (differs) {
            /* The rest of the tile keeps what the client holds. */
            enc->part[t] = (TilePart){ px0[c] - x, py0[c] - y0,
                                       px1[c] + 1 - x, py1[c] + 1 - y0 };
            enc->tiles[t].lossy = lossy;
        } else if (lossy) {
            enc->tiles[t].lossy = TRUE;
            enc->tiles[t].last_change_us = enc->now_us;
        }
    }
}

/* Sends COPY rects for content that moved sideways among the tiles still
 * changed after apply_scrolls(), and re-diffs the tiles they write. */
static void
apply_shifts(CrpEncoder *enc, pixman_image_t *prev)
{
    guint cols = enc->map.cols;
    gsize ntiles = (gsize)cols * enc->map.rows;
    guint nchanged = 0;

    for (gsize t = 0; t < ntiles && nchanged < SHIFT_MIN_TILES; t++) {
        nchanged += enc->map.changed[t];
    }
    if (nchanged < SHIFT_MIN_TILES) {
        return;
    }
    /* A tile a scroll wrote is left alone: its re-diff assumed no other
     * COPY writes it. */
    memset(enc->copied, 0, ntiles);
    for (guint i = 0; i < enc->n_copies; i++) {
        const pixman_box32_t *b = &enc->copies[i];
        for (int r = b->y1 / CRP_TILE_SIZE; r <= (b->y2 - 1) / CRP_TILE_SIZE; r++) {
            memset(enc->copied + (gsize)r * cols + b->x1 / CRP_TILE_SIZE, 1,
                   (b->x2 - 1) / CRP_TILE_SIZE - b->x1 / CRP_TILE_SIZE + 1);
        }
    }

    CrpShift shifts[MAX_SHIFTS];
    guint n = crp_shift_detect(prev, enc->cur, &enc->map, enc->copied, shifts,
                               MAX_SHIFTS);
    if (n == 0) {
        return;
    }

    for (gsize t = 0; t < ntiles; t++) {
        enc->was_lossy[t] = enc->tiles[t].lossy;
    }
    for (guint i = 0; i < n; i++) {
        const CrpShift *s = &shifts[i];
        pixman_box32_t src = { s->x - s->dx, s->y, s->x - s->dx + s->width,
                               s->y + s->height };
        /* Each COPY reads what the ones before it wrote: the source must
         * still be what @prev holds. */
        gboolean overwritten = FALSE;
        for (guint j = 0; j < enc->n_copies && !overwritten; j++) {
            overwritten = boxes_meet(&src, &enc->copies[j]);
        }
        if (overwritten) {
            continue;
        }

        CrpRectMsg rect = rect_at(s->x, s->y, s->width, s->height,
                                  CRP_ENCODING_COPY);
        rect.src_x = src.x1;
        rect.src_y = src.y1;
        emit(enc, &rect, 0);
        enc->copies[enc->n_copies++] = (pixman_box32_t){
            s->x, s->y, s->x + s->width, s->y + s->height };

        for (int r = s->y / CRP_TILE_SIZE;
             r <= (s->y + s->height - 1) / CRP_TILE_SIZE; r++) {
            recheck_shift_row(enc, prev, s, r);
        }
    }
}

/* ---- video regions ----------------------------------------------------- */

static pixman_box32_t
tile_rect(CrpEncoder *enc, gsize t)
{
    int x, y, w, h;
    tile_box(enc, t % enc->map.cols, t / enc->map.cols, &x, &y, &w, &h);
    return (pixman_box32_t){ x, y, x + w, y + h };
}

static gboolean
box_is_empty(const pixman_box32_t *b)
{
    return b->x2 <= b->x1 || b->y2 <= b->y1;
}

static pixman_box32_t
box_intersect(const pixman_box32_t *a, const pixman_box32_t *b)
{
    return (pixman_box32_t){ MAX(a->x1, b->x1), MAX(a->y1, b->y1),
                             MIN(a->x2, b->x2), MIN(a->y2, b->y2) };
}

/*
 * Widens @box (empty: nothing yet) to the pixels of @area that differ
 * between @prev and the new image; TRUE if any does. With @any, returns
 * at the first difference (@box is then not widened).
 */
static gboolean
diff_box(CrpEncoder *enc, pixman_image_t *prev, const pixman_box32_t *area,
         pixman_box32_t *box, gboolean any)
{
    CrpPixels old = crp_pixels_from_image(prev, 0, 0, enc->width, enc->height);
    CrpPixels now = crp_pixels_from_image(enc->cur, 0, 0, enc->width, enc->height);
    gboolean found = FALSE;

    for (int y = area->y1; y < area->y2; y++) {
        int first = G_MAXINT, last = -1;
        diff_span(crp_pixels_row(old, y) + area->x1, crp_pixels_row(now, y) + area->x1,
                  area->x2 - area->x1, area->x1, &first, &last);
        if (last < 0) {
            continue;
        }
        if (any) {
            return TRUE;
        }
        pixman_box32_t row = { first, y, last + 1, y + 1 };
        *box = box_is_empty(box) ? row : (pixman_box32_t){
            MIN(box->x1, row.x1), MIN(box->y1, row.y1),
            MAX(box->x2, row.x2), MAX(box->y2, row.y2) };
        found = TRUE;
    }
    return found;
}

static gboolean
meets_copy(CrpEncoder *enc, const pixman_box32_t *b)
{
    for (guint i = 0; i < enc->n_copies; i++) {
        if (boxes_meet(b, &enc->copies[i])) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Whether the changed part @b of a tile looks like a picture (as
 * looks_like_video(), along the columns of a strip too narrow for rows). */
static gboolean
changes_like_video(CrpEncoder *enc, const pixman_box32_t *b)
{
    int w = b->x2 - b->x1, h = b->y2 - b->y1;
    CrpPixels px = crp_pixels_from_image(enc->cur, b->x1, b->y1, w, h);

    if (w >= 4) {
        return looks_like_video(px);
    }
    guint flat = 0, total = 0;
    for (int y = 1; y < h; y++) {
        const guint32 *row = crp_pixels_row(px, y), *up = crp_pixels_row(px, y - 1);
        for (int x = 0; x < w; x++) {
            flat += !((row[x] ^ up[x]) & CRP_PIXEL_RGB_MASK);
        }
        total += w;
    }
    return total > 0 && flat * 256 < total * VIDEO_MAX_FLAT_SHARE;
}

/*
 * The boxes of picture-like change of this frame: per group of tiles
 * (4-connected) that changed like video for VIDEO_MIN_STREAK frames and
 * look like a picture, the pixels that changed in those tiles and the
 * ring of tiles around them (where a video's edge may fall in tiles that
 * are mostly something else).
 */
static guint
find_video_boxes(CrpEncoder *enc, pixman_image_t *prev, pixman_box32_t *obs)
{
    guint cols = enc->map.cols, rows = enc->map.rows;
    gsize ntiles = (gsize)cols * rows;
    guint8 *cand = enc->candidate;
    guint n = 0;

    for (gsize t = 0; t < ntiles; t++) {
        cand[t] = 0;
        if (enc->map.changed[t] && enc->tiles[t].streak >= VIDEO_MIN_STREAK) {
            pixman_box32_t b = tile_rect(enc, t);
            cand[t] = looks_like_video(crp_pixels_from_image(
                enc->cur, b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1));
        }
    }
    for (gsize t = 0; t < ntiles && n < CRP_VIDEO_MAX_OBSERVATIONS; t++) {
        if (cand[t] != 1) {
            continue;
        }
        guint c0 = cols, c1 = 0, r0 = rows, r1 = 0;
        gsize top = 0;
        enc->fill_stack[top++] = t;
        cand[t] = 2;
        while (top > 0) {
            gsize u = enc->fill_stack[--top];
            guint c = u % cols, r = u / cols;
            c0 = MIN(c0, c);
            c1 = MAX(c1, c);
            r0 = MIN(r0, r);
            r1 = MAX(r1, r);
            gsize next[4] = { c > 0 ? u - 1 : u, c + 1 < cols ? u + 1 : u,
                              r > 0 ? u - cols : u, r + 1 < rows ? u + cols : u };
            for (int i = 0; i < 4; i++) {
                if (cand[next[i]] == 1) {
                    cand[next[i]] = 2;
                    enc->fill_stack[top++] = next[i];
                }
            }
        }
        c0 = c0 > 0 ? c0 - 1 : 0;
        r0 = r0 > 0 ? r0 - 1 : 0;
        c1 = MIN(c1 + 1, cols - 1);
        r1 = MIN(r1 + 1, rows - 1);
        pixman_box32_t box = { 0 };
        gboolean any = FALSE;
        for (guint r = r0; r <= r1; r++) {
            for (guint c = c0; c <= c1; c++) {
                gsize u = (gsize)r * cols + c;
                if (!enc->map.changed[u]) {
                    continue;
                }
                pixman_box32_t tb = tile_rect(enc, u), part = { 0 };
                if (cand[u] == 2) {
                    any |= diff_box(enc, prev, &tb, &box, FALSE);
                } else if (diff_box(enc, prev, &tb, &part, FALSE) &&
                           changes_like_video(enc, &part)) {
                    /* Around the group: only change that looks like the
                     * video's edge, not text changing beside it. */
                    box = any ? (pixman_box32_t){
                        MIN(box.x1, part.x1), MIN(box.y1, part.y1),
                        MAX(box.x2, part.x2), MAX(box.y2, part.y2) } : part;
                    any = TRUE;
                }
            }
        }
        if (any) {
            obs[n++] = box;
        }
    }
    return n;
}

/* Whether anything in @box differs from what the client holds. */
static gboolean
region_changed(CrpEncoder *enc, pixman_image_t *prev, const pixman_box32_t *box)
{
    guint cols = enc->map.cols;

    if (meets_copy(enc, box)) {
        return TRUE;
    }
    for (int r = box->y1 / CRP_TILE_SIZE; r <= (box->y2 - 1) / CRP_TILE_SIZE; r++) {
        for (int c = box->x1 / CRP_TILE_SIZE; c <= (box->x2 - 1) / CRP_TILE_SIZE; c++) {
            gsize t = (gsize)r * cols + c;
            pixman_box32_t tb = tile_rect(enc, t);
            pixman_box32_t in = box_intersect(&tb, box);
            if (enc->map.changed[t] && diff_box(enc, prev, &in, NULL, TRUE)) {
                return TRUE;
            }
        }
    }
    return FALSE;
}

/*
 * The bits per second a video region may spend (0: no limit): its part
 * of VIDEO_LINK_SHARE of what the link carries, shared among the regions
 * by area.
 */
static guint64
region_bitrate(CrpEncoder *enc, const pixman_box32_t *box)
{
    const CrpVideoTracker *vt = &enc->video;
    guint64 area = 0, total = 0;

    if (!enc->rate.target_bps) {
        return 0;
    }
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        const pixman_box32_t *b = &vt->regions[i].box;
        if (vt->regions[i].active) {
            total += (guint64)(b->x2 - b->x1) * (b->y2 - b->y1);
        }
    }
    area = (guint64)(box->x2 - box->x1) * (box->y2 - box->y1);
    return MAX(1, enc->rate.target_bps * VIDEO_LINK_SHARE * area / MAX(total, area));
}

/*
 * Tracks the video regions through this frame and codes the pictures of
 * those that changed (or start afresh) into enc->video_out; what the
 * regions gave back is marked lossy, to be refined as tiles. @prev is
 * NULL for a whole frame.
 */
static void
video_encode(CrpEncoder *enc, pixman_image_t *prev)
{
    CrpVideoTracker *vt = &enc->video;
    pixman_box32_t obs[CRP_VIDEO_MAX_OBSERVATIONS];
    guint n_obs = 0;

    g_byte_array_set_size(enc->video_out, 0);
    enc->n_video_rects = 0;
    if (!prev) {
        crp_video_tracker_restart_all(vt);
    }
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        const CrpVideoRegion *r = &vt->regions[i];
        enc->video_changed[i] = r->active &&
                                (!prev || region_changed(enc, prev, &r->box));
    }
    if (prev) {
        n_obs = find_video_boxes(enc, prev, obs);
    }
    crp_video_tracker_update(vt, obs, n_obs, enc->video_changed, enc->now_us);

    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        CrpVideoRegion *r = &vt->regions[i];
        CrpH264Encoder *h = &enc->h264[i];
        if (!r->active) {
            crp_h264_encoder_finish(h);
            continue;
        }
        if (!r->restart && !enc->video_changed[i]) {
            continue;
        }
        int w = r->box.x2 - r->box.x1, hh = r->box.y2 - r->box.y1;
        gboolean restart = r->restart || !h->enc;
        if (restart) {
            crp_h264_encoder_finish(h);
        }
        CrpView au = { NULL, 0 };
        if (!restart ||
            crp_h264_encoder_init(h, w, hh, enc->config.video_qp, CRP_H264_MAX_QP)) {
            crp_h264_encoder_set_bitrate(h, region_bitrate(enc, &r->box));
            au = crp_h264_encode(h, crp_pixels_from_image(enc->cur, r->box.x1, r->box.y1,
                                                          w, hh),
                                 enc->now_us);
        }
        /* 10: the RECT's fields and the stream number. */
        if (au.len == 0 || au.len > CRP_MAX_MESSAGE_BODY - 10) {
            /* openh264 failed (or made a picture no message holds): the
             * area goes back to tiles this very frame. */
            crp_h264_encoder_finish(h);
            crp_video_tracker_end(vt, i);
            continue;
        }
        CrpMessage msg = {
            .type = CRP_MSG_RECT,
            .flags = CRP_RECT_FLAG_LOSSY | (restart ? CRP_RECT_FLAG_STREAM_RESET : 0),
        };
        msg.rect = rect_at(r->box.x1, r->box.y1, w, hh, CRP_ENCODING_H264);
        msg.rect.stream = r->stream;
        msg.rect.data = au;
        crp_message_encode(&msg, enc->video_out);
        enc->n_video_rects++;
        crp_video_tracker_sent(vt, i);
    }

    for (guint k = 0; k < vt->n_returned; k++) {
        const pixman_box32_t *b = &vt->returned[k].box;
        for (int r = b->y1 / CRP_TILE_SIZE; r <= (b->y2 - 1) / CRP_TILE_SIZE; r++) {
            for (int c = b->x1 / CRP_TILE_SIZE; c <= (b->x2 - 1) / CRP_TILE_SIZE; c++) {
                enc->tiles[(gsize)r * enc->map.cols + c].lossy = TRUE;
            }
        }
    }
}

/*
 * Leaves out of the tile pass what the regions cover: tiles inside them,
 * and of a tile they cover in part, what did not change outside them.
 */
static void
video_mask(CrpEncoder *enc, pixman_image_t *prev)
{
    guint cols = enc->map.cols;
    gsize ntiles = (gsize)cols * enc->map.rows;
    pixman_region32_t covered;

    memset(enc->in_video, 0, ntiles);
    pixman_region32_init(&covered);
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        const CrpVideoRegion *v = &enc->video.regions[i];
        if (!v->active) {
            continue;
        }
        const pixman_box32_t *b = &v->box;
        pixman_region32_union_rect(&covered, &covered, b->x1, b->y1,
                                   b->x2 - b->x1, b->y2 - b->y1);
        for (int r = b->y1 / CRP_TILE_SIZE; r <= (b->y2 - 1) / CRP_TILE_SIZE; r++) {
            for (int c = b->x1 / CRP_TILE_SIZE; c <= (b->x2 - 1) / CRP_TILE_SIZE; c++) {
                enc->in_video[(gsize)r * cols + c] = 1;
            }
        }
    }

    for (gsize t = 0; t < ntiles; t++) {
        if (!enc->in_video[t]) {
            continue;
        }
        pixman_box32_t tb = tile_rect(enc, t);
        if (pixman_region32_contains_rectangle(&covered, &tb) == PIXMAN_REGION_IN) {
            enc->map.changed[t] = 0;
            enc->part[t] = (TilePart){ 0 };
            continue;
        }
        /* A COPY's re-diff is against the moved picture, not @prev: such
         * a tile goes out as the COPY logic left it. */
        if (!enc->map.changed[t] || !prev || enc->part[t].x1 != 0 || meets_copy(enc, &tb)) {
            continue;
        }
        /* What changed in each band of the tile outside the regions goes
         * now, alone (a box around all of it would take in the video). */
        pixman_region32_t outside;
        pixman_region32_init_rect(&outside, tb.x1, tb.y1, tb.x2 - tb.x1, tb.y2 - tb.y1);
        pixman_region32_subtract(&outside, &outside, &covered);
        int n;
        const pixman_box32_t *rects = pixman_region32_rectangles(&outside, &n);
        guint c = t % cols, r = t / cols;
        for (int i = 0; i < n; i++) {
            pixman_box32_t box = { 0 };
            if (diff_box(enc, prev, &rects[i], &box, FALSE)) {
                TilePart part = { box.x1 - tb.x1, box.y1 - tb.y1,
                                  box.x2 - tb.x1, box.y2 - tb.y1 };
                encode_part(enc, c, r, part, enc->jpeg_ok,
                            enc->tiles[t].streak >= VIDEO_MIN_STREAK);
            }
        }
        pixman_region32_fini(&outside);
        enc->map.changed[t] = 0;
    }
    pixman_region32_fini(&covered);
}

/* After the tiles: the regions' pictures, and what they cover is lossy. */
static void
video_emit(CrpEncoder *enc)
{
    gsize ntiles = (gsize)enc->map.cols * enc->map.rows;

    for (gsize t = 0; t < ntiles; t++) {
        if (enc->in_video[t]) {
            enc->tiles[t].lossy = TRUE;
        }
    }
    g_byte_array_append(enc->out, enc->video_out->data, enc->video_out->len);
    enc->stats.rects += enc->n_video_rects;
    enc->stats.h264 += enc->n_video_rects;
}

/* ---- frames ----------------------------------------------------------- */

gint64
crp_encoder_next_refine_us(CrpEncoder *enc)
{
    g_return_val_if_fail(enc, -1);

    gint64 next = -1;
    gsize ntiles = (gsize)enc->map.cols * enc->map.rows;
    /* Tiles under a video region wait for it to end. */
    gint64 video_end = crp_video_tracker_next_end_us(&enc->video);
    for (gsize t = 0; t < ntiles; t++) {
        if (enc->tiles[t].lossy) {
            gint64 due = enc->tiles[t].last_change_us + enc->config.refine_after_us;
            if (enc->in_video[t]) {
                due = MAX(due, video_end);
            }
            next = next < 0 ? due : MIN(next, due);
        }
    }
    return next;
}

guint
crp_encoder_encode_frame(CrpEncoder *enc, pixman_image_t *prev,
                         pixman_image_t *cur,
                         const pixman_region32_t *damage,
                         gint64 now_us, GByteArray *out,
                         CrpEncodeStats *stats)
{
    g_return_val_if_fail(enc && cur && out, 0);
    g_return_val_if_fail(PIXMAN_FORMAT_BPP(pixman_image_get_format(cur)) == 32, 0);

    int width = pixman_image_get_width(cur);
    int height = pixman_image_get_height(cur);
    g_return_val_if_fail(width <= CRP_MAX_SURFACE_DIM &&
                         height <= CRP_MAX_SURFACE_DIM, 0);

    enc->cur = cur;
    enc->out = out;
    enc->now_us = now_us;
    memset(&enc->stats, 0, sizeof(enc->stats));
    enc->n_copies = 0;
    gsize start = out->len;

    gboolean whole = enc->send_all || !prev ||
                     pixman_image_get_width(prev) != width ||
                     pixman_image_get_height(prev) != height ||
                     PIXMAN_FORMAT_BPP(pixman_image_get_format(prev)) != 32;
    if (width != enc->width || height != enc->height || !enc->tiles) {
        /* A new size: every client got a SURFACE, which ended their
         * video streams. */
        resize_grid(enc, width, height);
        video_finish(enc);
        crp_video_tracker_init(&enc->video, width, height);
        whole = TRUE;
    }

    /* @prev is normally the last call's @cur, whose row hashes the scroll
     * cache kept; after a whole frame nothing of it was hashed. */
    crp_scroll_cache_next_frame(&enc->scroll, width, height);
    gsize ntiles = (gsize)enc->map.cols * enc->map.rows;
    if (whole) {
        crp_scroll_cache_invalidate(&enc->scroll);
        memset(enc->map.changed, 1, ntiles);
        enc->send_all = FALSE;
    } else {
        memset(enc->map.changed, 0, ntiles);
        guint nchanged = crp_tile_diff(prev, cur, damage, &enc->map);
        apply_scrolls(enc, prev, nchanged);
        apply_shifts(enc, prev);
    }
    if (ntiles > 0) {
        update_streaks(enc, whole);
        if (enc->h264_ok) {
            video_encode(enc, whole ? NULL : prev);
            video_mask(enc, whole ? NULL : prev);
        }
        encode_tiles(enc);
        if (enc->h264_ok) {
            video_emit(enc);
        }
    }

    enc->stats.bytes = out->len - start;
    if (stats) {
        *stats = enc->stats;
    }
    enc->cur = NULL;
    enc->out = NULL;
    return enc->stats.rects;
}
