/*
 * crp-encoder.h: turn framebuffer changes into RECT messages.
 *
 * One encoder serves one outgoing zlib stream, so every client fed from
 * the same encoder output must have received all of it (or the encoder is
 * reset, which flags the next zlib rect with CRP_RECT_FLAG_STREAM_RESET).
 * Per tile it picks: FILL for uniform tiles, COPY for content that moved
 * vertically (scrolls) or sideways (a band scrolling across, a window
 * dragged sideways; then only the part of a tile the COPY did not bring is
 * sent), ZSTD (or ZLIB) for text/UI tiles, lossless,
 * JPEG for photo-like or fast-changing tiles (unless lossless), and
 * refines lossy tiles losslessly once they have been still for a while.
 * With H264, regions that keep changing like video become H.264 streams
 * (at most a few; the rest of the screen stays tiles), refined losslessly
 * as tiles once they stop.
 *
 * Not thread-safe: use one encoder from one thread at a time.
 */
#pragma once

#include <glib.h>
#include <pixman.h>
#include "crp/crp-message.h"

G_BEGIN_DECLS

typedef struct {
    /** Mask of (1 << CrpEncoding) the client accepts. FILL, RAW and COPY
     *  are always accepted; ZLIB, JPEG, ZSTD and H264 only if set here. */
    guint32 encodings;
    /** JPEG quality, 1..100 (0 means the default, 75). */
    int jpeg_quality;
    /** Never send lossy content. */
    gboolean lossless;
    /** zlib level 1..9 (0 means the default, 1). */
    int zlib_level;
    /** zstd level (0 means the default, 7), used when @encodings has
     *  ZSTD: then lossless rects are ZSTD rather than ZLIB. */
    int zstd_level;
    /** Re-send lossy tiles losslessly after this long unchanged
     *  (0 means the default, 250 ms). */
    guint32 refine_after_us;
    /** The finest H.264 quantiser of video regions, 1..51, lower is
     *  better (0 means the default, 28), when @encodings has H264 and not
     *  @lossless: what a region gets while the link has room; under the
     *  rate's @target_bps (crp_encoder_set_rate()) openh264's rate control
     *  coarsens it, up to QP 40. */
    int video_qp;
} CrpEncoderConfig;

/** Statistics of the last encode call, for logs, QMP and benchmarks. */
typedef struct {
    guint rects;
    guint fill, raw, zlib, zstd, jpeg, copy, h264;
    guint refined;              /* lossy tiles re-sent losslessly */
    gsize bytes;                /* encoded message bytes appended */
} CrpEncodeStats;

/**
 * How the link wants frames made: the server's rate control
 * (crp-rate.h) sets it per encoder, from the client's link, and it holds
 * from the next frame on. Zero fields mean "no limit" / "as configured".
 */
typedef struct {
    /** JPEG quality, 1..100 (0: the configured one). */
    int jpeg_quality;
    /** The most bytes of lossless refinement in one frame; at least one
     *  tile is refined when any is due (0: no limit beyond the tile cap). */
    gsize refine_bytes;
    /** Bits per second the encoder's output should stay under (0: no
     *  limit known). Tiles do not use it (their size follows
     *  @jpeg_quality); video regions share half of it, by
     *  area, as the bitrate of their H.264 streams. */
    guint64 target_bps;
} CrpEncoderRate;

typedef struct CrpEncoder CrpEncoder;

CrpEncoder *crp_encoder_new(const CrpEncoderConfig *config);
void crp_encoder_free(CrpEncoder *enc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpEncoder, crp_encoder_free)

/**
 * A second encoder at the same point as @enc: the same zlib stream, the
 * same idea of what the client holds. Clients that received the same
 * output share one encoder; when one of them falls behind, it continues
 * on a copy at its own pace without a full refresh. (zstd and H.264
 * streams cannot be copied midway: the copy starts them afresh, flagged
 * STREAM_RESET, which costs bytes, never pixels.)
 */
CrpEncoder *crp_encoder_copy(CrpEncoder *enc);

/** Sets how frames are made from now on (see CrpEncoderRate); a copy
 *  (crp_encoder_copy()) starts with its original's. */
void crp_encoder_set_rate(CrpEncoder *enc, const CrpEncoderRate *rate);
/** The rate last set (all zero: none). */
void crp_encoder_get_rate(CrpEncoder *enc, CrpEncoderRate *rate);

/** Forgets all history: the next frame is sent whole, zlib starts afresh. */
void crp_encoder_reset(CrpEncoder *enc);

/**
 * Appends encoded RECT messages (crp_message_encode() format) for what
 * differs between @prev and @cur to @out; @prev NULL (or of another size)
 * sends all of @cur. @damage limits where to look (NULL: everywhere).
 * @now_us is a monotonic time used for refinement. A call with nothing
 * changed may still emit refinements. Returns the number of rects.
 *
 * @prev is expected to hold what the previous call's @cur held (what the
 * client shows now): scroll detection reuses the row hashes it computed
 * for that image. Any other @prev is still encoded exactly (every COPY is
 * checked pixel by pixel), but may find fewer scrolls until the next
 * frame; crp_encoder_reset() forgets the hashes.
 */
guint crp_encoder_encode_frame(CrpEncoder *enc, pixman_image_t *prev,
                               pixman_image_t *cur,
                               const pixman_region32_t *damage,
                               gint64 now_us, GByteArray *out,
                               CrpEncodeStats *stats);

/**
 * When lossy content next becomes due for refinement, on the @now_us clock
 * of crp_encoder_encode_frame(), or -1 if the client holds none. A server
 * with nothing new to send calls crp_encoder_encode_frame() (with @prev
 * equal to @cur) at that time; a due time in the past means refinements
 * are queued (each call refines a bounded number of tiles).
 */
gint64 crp_encoder_next_refine_us(CrpEncoder *enc);

G_END_DECLS
