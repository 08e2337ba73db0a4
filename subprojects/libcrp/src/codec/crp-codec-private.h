/*
 * crp-codec-private.h: what the files of src/codec share. Not installed.
 *
 * Pixels are handled as CrpPixels, a window onto an x8r8g8b8 (or a8r8g8b8)
 * pixman image: host-order u32s 0x??RRGGBB, the top byte ignored on read
 * and written as 0.
 */
#pragma once

#include <glib.h>
#include <pixman.h>
#include <zlib.h>
#include <zstd.h>

#include "crp/crp-message.h"
#include "crp/crp-tiles.h"

G_BEGIN_DECLS

#define CRP_PIXEL_RGB_MASK 0x00ffffffu

/** Most colours a ZLIB palette rect may carry (the count is one byte). */
#define CRP_PALETTE_MAX 255

typedef struct {
    guint32 *data;          /* top-left pixel of the window */
    gsize stride;           /* in pixels */
    int width, height;
} CrpPixels;

/** The @w x @h window at (@x, @y) of @image; the caller has clipped it. */
static inline CrpPixels
crp_pixels_from_image(pixman_image_t *image, int x, int y, int w, int h)
{
    gsize stride = (gsize)pixman_image_get_stride(image) / 4;
    guint32 *data = pixman_image_get_data(image);
    return (CrpPixels){ data + (gsize)y * stride + x, stride, w, h };
}

static inline guint32 *
crp_pixels_row(CrpPixels px, int y)
{
    return px.data + (gsize)y * px.stride;
}

/* ---- crp-pixels.c: the loops that do not compress --------------------- */

typedef struct {
    guint n;
    guint32 colours[CRP_PALETTE_MAX];   /* 0x00RRGGBB, in order of appearance */
    /* Open-addressed colour -> index table, rebuilt for every scan. */
    guint32 keys[512];
    guint8 index[512];
} CrpPalette;

/**
 * Collects the distinct colours of @px, at most @max (<= CRP_PALETTE_MAX),
 * into @pal and writes one palette index per pixel, row after row, to
 * @indices (width * height bytes). Returns the number of colours, or
 * @max + 1 as soon as there are more (@pal and @indices are then partial).
 */
guint crp_palette_scan(CrpPalette *pal, CrpPixels px, guint max,
                       guint8 *indices);

/** Writes @px as RAW rect data (B, G, R, 0 per pixel) to @out. */
void crp_raw_pack(CrpPixels px, guint8 *out);
/** Reads RAW rect data (width * height * 4 bytes) into @dst. */
void crp_raw_unpack(const guint8 *in, CrpPixels dst);

/** Sets every pixel of @dst to @rgb (0x00RRGGBB). */
void crp_pixels_fill(CrpPixels dst, guint32 rgb);

/**
 * Copies the @w x @h area at (@src_x, @src_y) of @image to (@dst_x, @dst_y),
 * as if through a temporary buffer (the areas may overlap). The caller has
 * checked both areas.
 */
void crp_pixels_copy_area(pixman_image_t *image, int src_x, int src_y,
                          int dst_x, int dst_y, int w, int h);

/* ---- crp-scroll.c: scroll detection with row hashes kept between frames */

/*
 * The row hashes an encoder computed for its last frame's new image.
 * Scroll detection hashes every row of the changed area twice, in the old
 * and in the new image; an encoder's old image is, pixel for pixel, its
 * previous call's new image (what the client shows), so those hashes are
 * kept and reused instead of hashing the same pixels again. Only whole
 * tile-column bands are kept. A stale entry can only make detection
 * propose a worse shift: every COPY is checked pixel by pixel afterwards.
 */
typedef struct {
    int width, height, nbands;
    /* [0]: of the image that is now the old one; [1]: being filled for the
     * current new image. Per band, rows [lo, hi) are valid. */
    guint64 *hashes[2];
    int *lo[2], *hi[2];
} CrpScrollCache;

void crp_scroll_cache_finish(CrpScrollCache *cache);
/** Starts a frame of @width x @height: what was hashed of the last new
 *  image becomes the old image's (if the size is unchanged). */
void crp_scroll_cache_next_frame(CrpScrollCache *cache, int width, int height);
/** Forgets everything (the old image is not the last new one). */
void crp_scroll_cache_invalidate(CrpScrollCache *cache);

/**
 * crp_scroll_detect() for an encoder: @prev must be the image whose hashes
 * @cache kept (the last frame's new image). @map, if not NULL, holds the
 * tiles that differ between @prev and @cur (crp_tile_diff()); rows of
 * unchanged tiles are not hashed twice.
 */
guint crp_scroll_detect_cached(pixman_image_t *prev, pixman_image_t *cur,
                               const pixman_box32_t *area, CrpScroll *scrolls,
                               guint max_scrolls, CrpScrollCache *cache,
                               const CrpTileMap *map);

/* ---- crp-shift.c: sideways moves --------------------------------------- */

typedef struct {
    /* Where the content is now, in the new image. */
    int x, y, width, height;
    /* How far it moved right (negative: left): it was at x - dx. Its
     * source lies inside the image. */
    int dx;
} CrpShift;

/**
 * Looks for content of @prev that reappears in @cur moved sideways, within
 * the runs of tiles that @map marks changed in each tile row, leaving out
 * tiles @skip marks (NULL: none; one byte per tile like @map). Fills at
 * most @max_shifts, top to bottom, and returns how many it found; a move
 * may cover pixels it does not explain: apply it, then diff against it.
 * Frames without such moves cost a few short searches per tile row.
 */
guint crp_shift_detect(pixman_image_t *prev, pixman_image_t *cur,
                       const CrpTileMap *map, const guint8 *skip,
                       CrpShift *shifts, guint max_shifts);

/* ---- crp-payload.c: what ZLIB and ZSTD rects carry, uncompressed ------- */

/** A growable scratch buffer. */
typedef struct {
    guint8 *data;
    gsize cap;
} CrpBuffer;

void crp_buffer_finish(CrpBuffer *buf);

/** Bits per packed palette index for @n colours: 1, 2, 4 or 8. */
guint crp_palette_bits(guint n);
/** Bytes of one packed row of @width indices for @n colours. */
gsize crp_palette_row_bytes(guint n, int width);
/** Bytes of the payload of a @width x @height rect whose first byte is @n
 *  (that byte included). */
gsize crp_payload_size(guint8 n, int width, int height);

/**
 * Writes the payload of a palette rect into @buf: the @pal->n colours and
 * @width x @height indices (one byte each, row-major), packed as
 * docs/protocol.md says. Returns its length.
 */
gsize crp_payload_palette(const CrpPalette *pal, const guint8 *indices,
                          int width, int height, CrpBuffer *buf);
/** As crp_payload_palette() for a truecolor rect of @px. */
gsize crp_payload_truecolor(CrpPixels px, CrpBuffer *buf);

/**
 * A decoder's side: after the first byte @n came out of a stream, makes
 * room in @buf for the rest and returns where it goes; *@room is how many
 * bytes to let the stream write there (one more than the rest, so that a
 * stream holding too much is caught). crp_payload_end() then checks that
 * @got bytes (and no input left) are exactly right and draws them.
 */
guint8 *crp_payload_begin(CrpBuffer *buf, guint8 n, int width, int height,
                          gsize *room);
gboolean crp_payload_end(CrpBuffer *buf, gsize got, gboolean input_left,
                         CrpPixels dst, const char *what, GError **error);

/**
 * Draws a payload of exactly crp_payload_size(payload[0], ...) bytes for
 * @dst's size into @dst; fails with CRP_ERROR_CODEC on a palette index
 * out of range (@what names the encoding in the message).
 */
gboolean crp_payload_unpack(const guint8 *payload, CrpPixels dst,
                            const char *what, GError **error);

/* ---- crp-zlib.c: ZLIB rects over one persistent stream ---------------- */

typedef struct {
    z_stream zs;
    int level;
    /* The next rect starts a fresh stream (CRP_RECT_FLAG_STREAM_RESET). */
    gboolean fresh;
    guint8 *out;            /* compressed bytes of the last rect */
    gsize out_cap;
} CrpZlibEncoder;

void crp_zlib_encoder_init(CrpZlibEncoder *z, int level);
void crp_zlib_encoder_finish(CrpZlibEncoder *z);
/** Restarts the stream: the next rect carries CRP_RECT_FLAG_STREAM_RESET. */
void crp_zlib_encoder_reset(CrpZlibEncoder *z);
/** Initialises @dst as a copy of @src: the same stream at the same point
 *  (deflateCopy), so either can continue it. */
void crp_zlib_encoder_copy(CrpZlibEncoder *dst, CrpZlibEncoder *src);

/**
 * Compresses one rect's @payload (crp-payload.c) as the next piece of the
 * stream. Returns the rect data (valid until the next call) and ORs the
 * rect flags it needs into @flags.
 */
CrpView crp_zlib_encode(CrpZlibEncoder *z, const guint8 *payload, gsize len,
                        guint8 *flags);

typedef struct {
    z_stream zs;
    CrpBuffer buf;          /* inflated bytes of one rect */
} CrpZlibDecoder;

void crp_zlib_decoder_init(CrpZlibDecoder *z);
void crp_zlib_decoder_finish(CrpZlibDecoder *z);

/**
 * Inflates one ZLIB rect's @data (after resetting the stream if @reset)
 * into @dst. Fails with CRP_ERROR_CODEC unless it yields exactly the
 * bytes @dst's size and the palette size imply, with valid indices.
 */
gboolean crp_zlib_decode(CrpZlibDecoder *z, CrpView data, gboolean reset,
                         CrpPixels dst, GError **error);

/* ---- crp-zstd.c: ZSTD rects over one persistent stream ---------------- */

typedef struct {
    ZSTD_CCtx *cctx;
    int level, window_log;
    guint8 stream_flag;     /* 0, or CRP_RECT_FLAG_PICTURE_STREAM */
    gboolean fresh;         /* the next rect restarts the stream */
    CrpBuffer out;          /* compressed bytes of the last rect */
} CrpZstdEncoder;

/** @window_log at most CRP_ZSTD_MAX_WINDOW_LOG. Rects of the picture
 *  stream: set z->stream_flag to CRP_RECT_FLAG_PICTURE_STREAM. */
void crp_zstd_encoder_init(CrpZstdEncoder *z, int level, int window_log);
void crp_zstd_encoder_finish(CrpZstdEncoder *z);
/** Restarts the stream: the next rect carries CRP_RECT_FLAG_STREAM_RESET.
 *  (A zstd stream cannot be copied midway: a copy of an encoder restarts
 *  its stream this way, which costs bytes, never pixels.) */
void crp_zstd_encoder_reset(CrpZstdEncoder *z);
/** As crp_zlib_encode(). */
CrpView crp_zstd_encode(CrpZstdEncoder *z, const guint8 *payload, gsize len,
                        guint8 *flags);

typedef struct {
    ZSTD_DCtx *dctx;
    CrpBuffer buf;          /* decompressed bytes of one rect */
} CrpZstdDecoder;

void crp_zstd_decoder_init(CrpZstdDecoder *z);
void crp_zstd_decoder_finish(CrpZstdDecoder *z);
/** As crp_zlib_decode() for a ZSTD rect of one of the sender's two zstd
 *  streams (one decoder each); a stream whose window is larger than
 *  CRP_ZSTD_MAX_WINDOW_LOG allows is an error, not an allocation. */
gboolean crp_zstd_decode(CrpZstdDecoder *z, CrpView data, gboolean reset,
                         CrpPixels dst, GError **error);

/* ---- crp-yuv.c: pixels to and from YUV 4:2:0 ------------------------- */

/** An I420 picture: one allocation, planes Y, U, V (U and V at half the
 *  width and height). */
typedef struct {
    guint8 *data;
    guint8 *plane[3];
    int stride[3];
    int width, height;
} CrpYuv;

/** Allocates @yuv for an even @width x @height. */
void crp_yuv_init(CrpYuv *yuv, int width, int height);
void crp_yuv_finish(CrpYuv *yuv);
/** Converts @px (the size of @yuv) to BT.601 full-range YUV 4:2:0. */
void crp_yuv_from_pixels(CrpPixels px, CrpYuv *yuv);
/** The inverse, from the planes of a decoded picture at least @dst's
 *  size (the chroma planes at half of it, rounded up). */
void crp_yuv_to_pixels(const guint8 *const plane[3], const int stride[3],
                       CrpPixels dst);

/* ---- crp-h264.c: H264 rects through openh264 ------------------------- */

/* The coarsest quantiser the rate control may pick: past it a picture
 * is mush, and fewer pictures (pacing) serve a slow link better. */
#define CRP_H264_MAX_QP 40

typedef struct {
    gpointer enc;           /* ISVCEncoder *; NULL: not started */
    int width, height;
    gboolean rated;         /* openh264's rate control picks the QP */
    guint64 bitrate;        /* what it aims at now (bits per second) */
    float fps;              /* the picture rate it plans for */
    gint64 last_us;         /* the last picture's time */
    double interval_us;     /* moving average of the time between pictures */
    CrpYuv yuv;
    CrpBuffer out;          /* the last rect's data */
} CrpH264Encoder;

/**
 * Starts a stream of @width x @height pictures (even, at least 16); its
 * first picture is an IDR with the SPS and PPS, so the first rect carries
 * CRP_RECT_FLAG_STREAM_RESET. With @max_qp == @min_qp every picture has
 * that QP; above it, openh264's rate control picks each picture's QP in
 * [@min_qp, @max_qp] to stay under the bitrate of
 * crp_h264_encoder_set_bitrate() (none set: every picture at @min_qp, as
 * far as the content allows). FALSE if openh264 refused (@e is then
 * finished).
 */
gboolean crp_h264_encoder_init(CrpH264Encoder *e, int width, int height,
                               int min_qp, int max_qp);
void crp_h264_encoder_finish(CrpH264Encoder *e);
/** The bits per second a rated stream should stay under from the next
 *  picture on (0: no limit); changes of a few percent are ignored. */
void crp_h264_encoder_set_bitrate(CrpH264Encoder *e, guint64 bps);
/**
 * Codes @px (the stream's size) as the next picture, taken at @time_us
 * (monotonic: the rate control plans for the pictures' real rate).
 * Returns its access unit (Annex B), valid until the next call, or an
 * empty view if openh264 failed.
 */
CrpView crp_h264_encode(CrpH264Encoder *e, CrpPixels px, gint64 time_us);

/**
 * Checks an access unit without decoding it: Annex B NAL units of the
 * types docs/protocol.md allows, exactly one slice, every SPS Baseline
 * with at most CRP_H264_MAX_REF_FRAMES for @width x @height pictures,
 * every PPS CAVLC with one slice group,
 * and with @reset an SPS, a PPS and an IDR slice.
 */
gboolean crp_h264_check_au(CrpView au, gboolean reset, int width, int height,
                           GError **error);

typedef struct {
    gpointer dec;           /* ISVCDecoder *; NULL: no stream */
    int width, height;
} CrpH264Stream;

typedef struct {
    CrpH264Stream streams[CRP_H264_MAX_STREAMS];
} CrpH264Decoder;

void crp_h264_decoder_init(CrpH264Decoder *d);
void crp_h264_decoder_finish(CrpH264Decoder *d);
/** Ends every stream (a new SURFACE). */
void crp_h264_decoder_end_all(CrpH264Decoder *d);
/**
 * Decodes the access unit @au (the rect's data after its stream number)
 * of stream @stream into @dst, starting the stream afresh if @reset.
 * Fails with CRP_ERROR_CODEC unless it is a checked access unit
 * (crp_h264_check_au()) of a started stream of @dst's size that yields
 * exactly one picture, and with CRP_ERROR_TOO_LARGE if starting it would
 * take the live streams past CRP_H264_MAX_PIXELS. A stream that failed
 * is over.
 */
gboolean crp_h264_decode(CrpH264Decoder *d, guint stream, CrpView au,
                         gboolean reset, CrpPixels dst, GError **error);

/* ---- crp-video.c: video regions --------------------------------------- */

/* At most this many regions at once (each an H.264 encoder). */
#define CRP_VIDEO_MAX_REGIONS 3
/* Boxes of picture-like change looked at per frame. */
#define CRP_VIDEO_MAX_OBSERVATIONS 16
/* Smaller boxes are no video worth a stream (JPEG tiles serve them). */
#define CRP_VIDEO_MIN_SIDE 64
#define CRP_VIDEO_MIN_AREA (128 * 128)
/* A region ends once nothing in it changed for this long... */
#define CRP_VIDEO_END_AFTER_US 500000
/* ...and shrinks to what changed over this long, if much smaller. */
#define CRP_VIDEO_SHRINK_AFTER_US 2000000

typedef struct {
    gboolean active;
    pixman_box32_t box;     /* even width and height */
    guint8 stream;          /* its wire stream number */
    /* Its stream starts afresh with the next picture: new, resized, or
     * the encoder was copied or reset. */
    gboolean restart;
    gint64 started_us, last_change_us;
    pixman_box32_t seen;    /* picture-like change since seen_since_us */
    gint64 seen_since_us;
    /* Picture-like change that met it this frame and the last. */
    pixman_box32_t obs_now, obs_last;
} CrpVideoRegion;

/** An area a region gave back to tiles, and when it last changed. */
typedef struct {
    pixman_box32_t box;
    gint64 last_change_us;
} CrpVideoReturned;

typedef struct {
    int width, height;      /* the surface */
    CrpVideoRegion regions[CRP_VIDEO_MAX_REGIONS];
    /* The largest picture each wire stream may still decode at a client. */
    int stream_width[CRP_H264_MAX_STREAMS], stream_height[CRP_H264_MAX_STREAMS];
    /* What the last update gave back. */
    CrpVideoReturned returned[CRP_VIDEO_MAX_REGIONS * (CRP_VIDEO_MAX_OBSERVATIONS + 3)];
    guint n_returned;
} CrpVideoTracker;

/** No regions, for a @width x @height surface that every client just got
 *  (a SURFACE ended all their streams). */
void crp_video_tracker_init(CrpVideoTracker *t, int width, int height);
/**
 * One frame at @now_us: @obs are the boxes of picture-like change seen
 * (at most CRP_VIDEO_MAX_OBSERVATIONS are looked at), @changed (NULL:
 * none) says per region whether any of its pixels changed. Regions start,
 * grow, move, shrink and end (see crp-video.c); t->returned lists what
 * they gave back.
 */
void crp_video_tracker_update(CrpVideoTracker *t, const pixman_box32_t *obs,
                              guint n_obs, const gboolean *changed,
                              gint64 now_us);
/** Ends region @i (its encoder failed); adds to t->returned. */
void crp_video_tracker_end(CrpVideoTracker *t, guint i);
/** Every region's stream starts afresh (a copied or reset encoder). */
void crp_video_tracker_restart_all(CrpVideoTracker *t);
/** Region @i's picture went out: a restart is done. */
void crp_video_tracker_sent(CrpVideoTracker *t, guint i);
/** When the first region ends if nothing changes, or -1 if none. */
gint64 crp_video_tracker_next_end_us(const CrpVideoTracker *t);

/* ---- crp-jpeg.c: JPEG rects through TurboJPEG ------------------------- */

/* Largest JPEG rect the encoder makes; bounds its output buffer. */
#define CRP_JPEG_MAX_WIDTH 512
#define CRP_JPEG_MAX_HEIGHT 256

typedef struct {
    void *tj;               /* tjhandle, made on first use */
    int quality;
    guint8 *buf;
    gulong cap;
} CrpJpegEncoder;

void crp_jpeg_encoder_init(CrpJpegEncoder *j, int quality);
void crp_jpeg_encoder_finish(CrpJpegEncoder *j);

/**
 * Compresses @px (at most CRP_JPEG_MAX_WIDTH x CRP_JPEG_MAX_HEIGHT).
 * Returns the JPEG (valid until the next call), or an empty view if
 * TurboJPEG failed.
 */
CrpView crp_jpeg_encode(CrpJpegEncoder *j, CrpPixels px);

typedef struct {
    void *tj;               /* tjhandle, made on first use */
} CrpJpegDecoder;

void crp_jpeg_decoder_init(CrpJpegDecoder *j);
void crp_jpeg_decoder_finish(CrpJpegDecoder *j);

/**
 * Decodes @data into @dst. Fails with CRP_ERROR_CODEC unless it is a whole
 * JPEG of exactly @dst's size.
 */
gboolean crp_jpeg_decode(CrpJpegDecoder *j, CrpView data, CrpPixels dst,
                         GError **error);

G_END_DECLS
