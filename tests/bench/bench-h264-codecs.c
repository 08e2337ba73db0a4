/*
 * bench-h264-codecs.c: the measurement behind the choice of H.264 codec
 * (docs/performance.md, "H.264 for video regions").
 *
 * Takes the video region of a recorded session (crp-headless
 * --record-frames, e.g. the desktop bench's video scene: the pixels that
 * changed in at least a third of the frames, or --rect), and codes the
 * frames in which it changed with:
 *   - JPEG at several qualities (what CRP sent for video before H.264),
 *     in pieces of at most 512x256 as the tile encoder merges them;
 *   - openh264 and x264 in real-time settings (one thread, no B-frames,
 *     no lookahead, constant QP) at several QPs;
 * and decodes every H.264 stream with both libavcodec and openh264's
 * decoder. Reports per setting: bytes per frame, the PSNR of the decoded
 * picture against the original (RGB, the client's view), encode and
 * decode CPU milliseconds per frame on one core (this thread's CPU time,
 * RGB to YUV conversion included in encode, YUV to RGB in decode), and
 * at the end the bytes each codec needs for the PSNR of JPEG quality 75,
 * interpolated between the QPs measured.
 *
 * Built only when libx264 and libavcodec are installed (Debian:
 * libx264-dev, libavcodec-dev); neither is a dependency of CRP.
 *
 * Usage: bench-h264-codecs --replay FILE [--rect X,Y,W,H] [--frames N]
 */
#include <crp/crp-error.h>
#include "codec/crp-codec-private.h"
#include "bench-h264-x264.h"

#include <libavcodec/avcodec.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>
#include <wels/codec_api.h>
#include <zlib.h>

typedef struct {
    const char *codec;
    char setting[64];
    double bytes, psnr, enc_ms, enc_max_ms, dec_av_ms, dec_oh_ms;
    double qp;
} Row;

typedef struct {
    int x, y, w, h;
    guint n;
    guint32 **rgb;          /* n region frames, w * h each */
    gint64 *t_us;
    double seconds;
} Clip;

static double
cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- the recording ------------------------------------------------------ */

typedef struct {
    gzFile gz;
    int w, h;
    guint32 *acc;
} Rec;

static gboolean
rec_open(Rec *r, const char *path)
{
    char magic[11];
    r->gz = gzopen(path, "rb");
    if (!r->gz || gzread(r->gz, magic, 11) != 11 || memcmp(magic, "CRPFRAMES1\n", 11)) {
        g_printerr("%s is not a crp-headless --record-frames file\n", path);
        return FALSE;
    }
    return TRUE;
}

/* Applies the next frame; *@box gets its changed area. */
static gboolean
rec_next(Rec *r, pixman_box32_t *box, gint64 *t_us)
{
    guint32 head[8];
    if (gzread(r->gz, head, sizeof(head)) != sizeof(head)) {
        return FALSE;
    }
    int w = GUINT32_FROM_LE(head[0]), h = GUINT32_FROM_LE(head[1]);
    *t_us = (gint64)(((guint64)GUINT32_FROM_LE(head[3]) << 32) | GUINT32_FROM_LE(head[2]));
    int x = GUINT32_FROM_LE(head[4]), y = GUINT32_FROM_LE(head[5]);
    int bw = GUINT32_FROM_LE(head[6]), bh = GUINT32_FROM_LE(head[7]);
    if (!r->acc) {
        r->w = w;
        r->h = h;
        r->acc = g_new0(guint32, (gsize)w * h);
    }
    g_assert(w == r->w && h == r->h && x + bw <= w && y + bh <= h);
    for (int i = 0; i < bh; i++) {
        if (gzread(r->gz, r->acc + (gsize)(y + i) * w + x, bw * 4) != bw * 4) {
            return FALSE;
        }
    }
    *box = (pixman_box32_t){ x, y, x + bw, y + bh };
    return TRUE;
}

static void
rec_close(Rec *r)
{
    gzclose(r->gz);
    g_free(r->acc);
}

/* The region: pixels that changed in at least a third of the frames. */
static gboolean
find_region(const char *path, Clip *clip)
{
    Rec r = { 0 };
    guint16 *count = NULL;
    guint32 *last = NULL;
    guint frames = 0;
    pixman_box32_t box;
    gint64 t;

    if (!rec_open(&r, path)) {
        return FALSE;
    }
    while (rec_next(&r, &box, &t)) {
        gsize n = (gsize)r.w * r.h;
        if (!count) {
            count = g_new0(guint16, n);
            last = g_memdup2(r.acc, n * 4);
        }
        for (int y = box.y1; y < box.y2; y++) {
            for (int x = box.x1; x < box.x2; x++) {
                gsize i = (gsize)y * r.w + x;
                if ((r.acc[i] ^ last[i]) & 0xffffff) {
                    count[i]++;
                    last[i] = r.acc[i];
                }
            }
        }
        frames++;
    }
    int x1 = r.w, y1 = r.h, x2 = 0, y2 = 0;
    for (int y = 0; y < r.h; y++) {
        for (int x = 0; x < r.w; x++) {
            if (count[(gsize)y * r.w + x] * 3 >= frames) {
                x1 = MIN(x1, x);
                y1 = MIN(y1, y);
                x2 = MAX(x2, x + 1);
                y2 = MAX(y2, y + 1);
            }
        }
    }
    g_free(count);
    g_free(last);
    rec_close(&r);
    if (x2 <= x1) {
        return FALSE;
    }
    clip->x = x1 & ~1;
    clip->y = y1 & ~1;
    clip->w = ((x2 - clip->x) + 1) & ~1;
    clip->h = ((y2 - clip->y) + 1) & ~1;
    return TRUE;
}

/* The region of every frame in which it changed. */
static void
load_clip(const char *path, Clip *clip, guint max)
{
    Rec r = { 0 };
    pixman_box32_t box;
    gint64 t, t0 = -1;
    GPtrArray *frames = g_ptr_array_new();
    GArray *times = g_array_new(FALSE, FALSE, sizeof(gint64));
    gsize n = (gsize)clip->w * clip->h;
    guint32 *prev = NULL;

    rec_open(&r, path);
    while (frames->len < max && rec_next(&r, &box, &t)) {
        g_assert(clip->x + clip->w <= r.w && clip->y + clip->h <= r.h);
        guint32 *f = g_new(guint32, n);
        for (int y = 0; y < clip->h; y++) {
            memcpy(f + (gsize)y * clip->w, r.acc + (gsize)(clip->y + y) * r.w + clip->x,
                   clip->w * 4);
        }
        if (prev && memcmp(prev, f, n * 4) == 0) {
            g_free(f);
            continue;
        }
        t0 = t0 < 0 ? t : t0;
        g_ptr_array_add(frames, f);
        g_array_append_val(times, t);
        prev = f;
    }
    rec_close(&r);
    clip->n = frames->len;
    clip->rgb = (guint32 **)g_ptr_array_free(frames, FALSE);
    clip->t_us = (gint64 *)g_array_free(times, FALSE);
    clip->seconds = (clip->t_us[clip->n - 1] - t0) / 1e6;
}

static CrpPixels
clip_pixels(const Clip *clip, guint32 *data)
{
    return (CrpPixels){ data, clip->w, clip->w, clip->h };
}

static double
psnr_rgb(const guint32 *a, const guint32 *b, gsize n)
{
    double se = 0;
    for (gsize i = 0; i < n; i++) {
        for (int sh = 0; sh < 24; sh += 8) {
            int d = (int)((a[i] >> sh) & 0xff) - (int)((b[i] >> sh) & 0xff);
            se += d * d;
        }
    }
    return se == 0 ? 99.0 : 10 * log10(255.0 * 255.0 * n * 3 / se);
}

/* ---- JPEG --------------------------------------------------------------- */

static Row
run_jpeg(const Clip *clip, int quality)
{
    Row row = { "JPEG (TurboJPEG)" };
    tjhandle tj = tjInitCompress(), dj = tjInitDecompress();
    guint32 *out = g_new(guint32, (gsize)clip->w * clip->h);

    g_snprintf(row.setting, sizeof(row.setting), "quality %d, 4:2:0, 512x256 pieces", quality);
    row.qp = quality;
    for (guint f = 0; f < clip->n; f++) {
        double t0 = cpu_ms();
        gsize bytes = 0;
        for (int y = 0; y < clip->h; y += CRP_JPEG_MAX_HEIGHT) {
            for (int x = 0; x < clip->w; x += CRP_JPEG_MAX_WIDTH) {
                int w = MIN(CRP_JPEG_MAX_WIDTH, clip->w - x);
                int h = MIN(CRP_JPEG_MAX_HEIGHT, clip->h - y);
                guint8 *jpeg = NULL;
                unsigned long len = 0;
                tjCompress2(tj, (guint8 *)(clip->rgb[f] + (gsize)y * clip->w + x), w,
                            clip->w * 4, h, TJPF_BGRX, &jpeg, &len, TJSAMP_420, quality,
                            TJFLAG_FASTDCT);
                bytes += len;
                double d0 = cpu_ms();
                tjDecompress2(dj, jpeg, len, (guint8 *)(out + (gsize)y * clip->w + x), w,
                              clip->w * 4, h, TJPF_BGRX, TJFLAG_FASTDCT);
                row.dec_av_ms += cpu_ms() - d0;
                t0 += cpu_ms() - d0;
                tjFree(jpeg);
            }
        }
        double ms = cpu_ms() - t0;
        row.enc_ms += ms;
        row.enc_max_ms = MAX(row.enc_max_ms, ms);
        row.bytes += bytes;
        row.psnr += psnr_rgb(clip->rgb[f], out, (gsize)clip->w * clip->h);
    }
    tjDestroy(tj);
    tjDestroy(dj);
    g_free(out);
    return row;
}

/* ---- decoders ----------------------------------------------------------- */

typedef struct {
    AVCodecContext *av;
    AVPacket *pkt;
    AVFrame *frame;
    ISVCDecoder *oh;
    guint8 *padded;
} Decoders;

static void
decoders_init(Decoders *d)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    d->av = avcodec_alloc_context3(codec);
    d->av->thread_count = 1;
    d->av->flags |= AV_CODEC_FLAG_LOW_DELAY;
    g_assert(avcodec_open2(d->av, codec, NULL) == 0);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();

    SDecodingParam p = { 0 };
    p.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
    p.eEcActiveIdc = ERROR_CON_DISABLE;
    g_assert(WelsCreateDecoder(&d->oh) == 0);
    g_assert((*d->oh)->Initialize(d->oh, &p) == 0);
}

static void
decoders_finish(Decoders *d)
{
    avcodec_free_context(&d->av);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    (*d->oh)->Uninitialize(d->oh);
    WelsDestroyDecoder(d->oh);
    g_free(d->padded);
}

/* Decodes one access unit with both; the pictures must be equal (H.264
 * decoding is exact). Converts libavcodec's to @out. */
static void
decode_both(Decoders *d, const Clip *clip, const guint8 *au, gsize len,
            guint32 *out, Row *row)
{
    d->padded = g_realloc(d->padded, len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(d->padded, au, len);
    memset(d->padded + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);

    double t0 = cpu_ms();
    d->pkt->data = d->padded;
    d->pkt->size = (int)len;
    g_assert(avcodec_send_packet(d->av, d->pkt) == 0);
    g_assert(avcodec_receive_frame(d->av, d->frame) == 0);
    g_assert(d->frame->width == clip->w && d->frame->height == clip->h);
    const guint8 *const planes[3] = { d->frame->data[0], d->frame->data[1], d->frame->data[2] };
    crp_yuv_to_pixels(planes, d->frame->linesize, clip_pixels(clip, out));
    row->dec_av_ms += cpu_ms() - t0;

    guint8 *yuv[3] = { 0 };
    SBufferInfo info = { 0 };
    t0 = cpu_ms();
    DECODING_STATE st = (*d->oh)->DecodeFrameNoDelay(d->oh, au, (int)len, yuv, &info);
    g_assert(st == dsErrorFree && info.iBufferStatus == 1);
    int strides[3] = { info.UsrData.sSystemBuffer.iStride[0],
                       info.UsrData.sSystemBuffer.iStride[1],
                       info.UsrData.sSystemBuffer.iStride[1] };
    guint32 *check = g_new(guint32, (gsize)clip->w * clip->h);
    const guint8 *const oplanes[3] = { yuv[0], yuv[1], yuv[2] };
    crp_yuv_to_pixels(oplanes, strides, clip_pixels(clip, check));
    row->dec_oh_ms += cpu_ms() - t0;
    g_assert(memcmp(check, out, (gsize)clip->w * clip->h * 4) == 0);
    g_free(check);
}

/* ---- openh264 ----------------------------------------------------------- */

static Row
run_openh264(const Clip *clip, int qp, EUsageType usage, ECOMPLEXITY_MODE complexity)
{
    Row row = { "openh264 2.3.1" };
    ISVCEncoder *enc;
    SEncParamExt p;
    CrpYuv yuv;
    Decoders dec = { 0 };
    guint32 *out = g_new(guint32, (gsize)clip->w * clip->h);

    g_snprintf(row.setting, sizeof(row.setting), "QP %d, %s, complexity %s", qp,
               usage == SCREEN_CONTENT_REAL_TIME ? "screen" : "camera",
               complexity == LOW_COMPLEXITY ? "low" : complexity == MEDIUM_COMPLEXITY ? "medium" : "high");
    row.qp = qp;
    g_assert(WelsCreateSVCEncoder(&enc) == 0);
    (*enc)->GetDefaultParams(enc, &p);
    p.iUsageType = usage;
    p.iPicWidth = clip->w;
    p.iPicHeight = clip->h;
    p.fMaxFrameRate = 30;
    p.iRCMode = RC_OFF_MODE;
    p.iTargetBitrate = 0;
    p.bEnableFrameSkip = false;
    p.uiIntraPeriod = 0;
    p.iMultipleThreadIdc = 1;
    p.iComplexityMode = complexity;
    p.iNumRefFrame = 1;
    p.iEntropyCodingModeFlag = 0;
    p.iSpatialLayerNum = 1;
    p.iTemporalLayerNum = 1;
    p.sSpatialLayers[0].iVideoWidth = clip->w;
    p.sSpatialLayers[0].iVideoHeight = clip->h;
    p.sSpatialLayers[0].fFrameRate = 30;
    p.sSpatialLayers[0].iDLayerQp = qp;
    p.sSpatialLayers[0].uiProfileIdc = PRO_BASELINE;
    p.sSpatialLayers[0].sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
    p.iMinQp = qp;
    p.iMaxQp = qp;
    g_assert((*enc)->InitializeExt(enc, &p) == 0);
    crp_yuv_init(&yuv, clip->w, clip->h);
    decoders_init(&dec);

    for (guint f = 0; f < clip->n; f++) {
        double t0 = cpu_ms();
        crp_yuv_from_pixels(clip_pixels(clip, clip->rgb[f]), &yuv);
        SSourcePicture pic = { 0 };
        pic.iColorFormat = videoFormatI420;
        pic.iPicWidth = clip->w;
        pic.iPicHeight = clip->h;
        for (int i = 0; i < 3; i++) {
            pic.iStride[i] = yuv.stride[i];
            pic.pData[i] = yuv.plane[i];
        }
        pic.uiTimeStamp = clip->t_us[f] / 1000;
        SFrameBSInfo info;
        memset(&info, 0, sizeof(info));
        g_assert((*enc)->EncodeFrame(enc, &pic, &info) == cmResultSuccess);
        double ms = cpu_ms() - t0;
        g_assert(info.eFrameType != videoFrameTypeSkip && info.iFrameSizeInBytes > 0);
        row.enc_ms += ms;
        row.enc_max_ms = MAX(row.enc_max_ms, ms);
        row.bytes += info.iFrameSizeInBytes;
        /* The layers' NALs lie one after the other. */
        decode_both(&dec, clip, info.sLayerInfo[0].pBsBuf, info.iFrameSizeInBytes, out, &row);
        row.psnr += psnr_rgb(clip->rgb[f], out, (gsize)clip->w * clip->h);
    }
    (*enc)->Uninitialize(enc);
    WelsDestroySVCEncoder(enc);
    crp_yuv_finish(&yuv);
    decoders_finish(&dec);
    g_free(out);
    return row;
}

/* ---- x264 --------------------------------------------------------------- */

static Row
run_x264(const Clip *clip, int qp, const char *preset)
{
    Row row = { "x264 0.164" };
    Decoders dec = { 0 };
    guint32 *out = g_new(guint32, (gsize)clip->w * clip->h);
    CrpYuv yuv;

    g_snprintf(row.setting, sizeof(row.setting), "QP %d, %s, zerolatency, baseline", qp, preset);
    row.qp = qp;
    BenchX264 *x = bench_x264_new(clip->w, clip->h, qp, preset);
    crp_yuv_init(&yuv, clip->w, clip->h);
    decoders_init(&dec);

    for (guint f = 0; f < clip->n; f++) {
        double t0 = cpu_ms();
        gsize size;
        crp_yuv_from_pixels(clip_pixels(clip, clip->rgb[f]), &yuv);
        const guint8 *au = bench_x264_encode(x, yuv.plane, yuv.stride, f, &size);
        double ms = cpu_ms() - t0;
        row.enc_ms += ms;
        row.enc_max_ms = MAX(row.enc_max_ms, ms);
        row.bytes += size;
        decode_both(&dec, clip, au, size, out, &row);
        row.psnr += psnr_rgb(clip->rgb[f], out, (gsize)clip->w * clip->h);
    }
    bench_x264_free(x);
    crp_yuv_finish(&yuv);
    decoders_finish(&dec);
    g_free(out);
    return row;
}

/* ---- report ------------------------------------------------------------- */

static void
print_row(const Clip *clip, Row *r)
{
    double n = clip->n;
    g_print("| %s | %s | %.0f | %.0f | %.2f | %.2f (%.2f) | %.2f | %.2f |\n",
            r->codec, r->setting, r->bytes / n,
            clip->seconds > 0 ? r->bytes * 8 / clip->seconds / 1000 : 0,
            r->psnr / n, r->enc_ms / n, r->enc_max_ms, r->dec_av_ms / n,
            r->dec_oh_ms / n);
}

/* Bytes per frame at @psnr, log-interpolated between the two rows of
 * @rows (one codec, QPs in order) around it; -1 if outside. */
static double
bytes_at(const Clip *clip, Row *rows, guint n, double psnr)
{
    for (guint i = 0; i + 1 < n; i++) {
        double p0 = rows[i].psnr / clip->n, p1 = rows[i + 1].psnr / clip->n;
        if ((p0 - psnr) * (p1 - psnr) <= 0 && p0 != p1) {
            double t = (psnr - p0) / (p1 - p0);
            double l0 = log(rows[i].bytes / clip->n), l1 = log(rows[i + 1].bytes / clip->n);
            return exp(l0 + t * (l1 - l0));
        }
    }
    return -1;
}

int
main(int argc, char **argv)
{
    g_autofree char *replay = NULL, *rect = NULL;
    int frames = G_MAXINT;
    GOptionEntry entries[] = {
        { "replay", 0, 0, G_OPTION_ARG_FILENAME, &replay, "recording", "FILE" },
        { "rect", 0, 0, G_OPTION_ARG_STRING, &rect, "region (default: found)", "X,Y,W,H" },
        { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "at most N frames", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- H.264 codecs on a video region");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || !replay) {
        g_printerr("%s\n", error ? error->message : "--replay FILE is required");
        return 2;
    }
    Clip clip = { 0 };
    if (rect) {
        if (sscanf(rect, "%d,%d,%d,%d", &clip.x, &clip.y, &clip.w, &clip.h) != 4 ||
            clip.w < 16 || clip.h < 16 || clip.w % 2 || clip.h % 2) {
            g_printerr("--rect X,Y,W,H with an even W, H >= 16\n");
            return 2;
        }
    } else if (!find_region(replay, &clip)) {
        g_printerr("no region changes often enough in %s\n", replay);
        return 1;
    }
    load_clip(replay, &clip, frames);
    g_print("region %dx%d at %d,%d: %u frames in which it changed, over %.1f s\n\n",
            clip.w, clip.h, clip.x, clip.y, clip.n, clip.seconds);
    g_print("| codec | setting | bytes/frame | kbit/s | PSNR dB | encode ms/frame (max) "
            "| decode ms/frame libavcodec | decode ms/frame openh264 |\n");
    g_print("|---|---|---:|---:|---:|---:|---:|---:|\n");

    static const int qualities[] = { 50, 75, 90 };
    static const int qps[] = { 20, 24, 28, 32, 36 };
    Row jpeg[G_N_ELEMENTS(qualities)];
    for (guint i = 0; i < G_N_ELEMENTS(qualities); i++) {
        jpeg[i] = run_jpeg(&clip, qualities[i]);
        g_print("| %s | %s | %.0f | %.0f | %.2f | %.2f (%.2f) | %.2f (TurboJPEG) | |\n",
                jpeg[i].codec, jpeg[i].setting, jpeg[i].bytes / clip.n,
                jpeg[i].bytes * 8 / clip.seconds / 1000, jpeg[i].psnr / clip.n,
                jpeg[i].enc_ms / clip.n, jpeg[i].enc_max_ms, jpeg[i].dec_av_ms / clip.n);
    }
    {
        /* What YUV 4:2:0 alone loses: the ceiling of every H.264 row. */
        CrpYuv yuv;
        double sum = 0;
        guint32 *out = g_new(guint32, (gsize)clip.w * clip.h);
        crp_yuv_init(&yuv, clip.w, clip.h);
        for (guint f = 0; f < clip.n; f++) {
            crp_yuv_from_pixels(clip_pixels(&clip, clip.rgb[f]), &yuv);
            crp_yuv_to_pixels((const guint8 *const *)yuv.plane, yuv.stride,
                              clip_pixels(&clip, out));
            sum += psnr_rgb(clip.rgb[f], out, (gsize)clip.w * clip.h);
        }
        g_print("| YUV 4:2:0 conversion only | BT.601 full range | | | %.2f | | | |\n",
                sum / clip.n);
        crp_yuv_finish(&yuv);
        g_free(out);
    }
    double target = jpeg[1].psnr / clip.n, jpeg_bytes = jpeg[1].bytes / clip.n;

    struct {
        const char *name;
        Row rows[G_N_ELEMENTS(qps)];
    } families[] = {
        { "openh264 camera, low complexity" }, { "openh264 camera, medium complexity" },
        { "openh264 screen, low complexity" },
        { "x264 ultrafast" }, { "x264 superfast" }, { "x264 veryfast" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(qps); i++) {
        families[0].rows[i] = run_openh264(&clip, qps[i], CAMERA_VIDEO_REAL_TIME, LOW_COMPLEXITY);
        families[1].rows[i] = run_openh264(&clip, qps[i], CAMERA_VIDEO_REAL_TIME, MEDIUM_COMPLEXITY);
        families[2].rows[i] = run_openh264(&clip, qps[i], SCREEN_CONTENT_REAL_TIME, LOW_COMPLEXITY);
        families[3].rows[i] = run_x264(&clip, qps[i], "ultrafast");
        families[4].rows[i] = run_x264(&clip, qps[i], "superfast");
        families[5].rows[i] = run_x264(&clip, qps[i], "veryfast");
    }
    for (guint f = 0; f < G_N_ELEMENTS(families); f++) {
        for (guint i = 0; i < G_N_ELEMENTS(qps); i++) {
            print_row(&clip, &families[f].rows[i]);
        }
    }

    g_print("\nAt the PSNR of JPEG quality 75 (%.2f dB, %.0f bytes/frame):\n\n", target,
            jpeg_bytes);
    g_print("| codec | bytes/frame | x JPEG 75 |\n|---|---:|---:|\n");
    for (guint f = 0; f < G_N_ELEMENTS(families); f++) {
        double b = bytes_at(&clip, families[f].rows, G_N_ELEMENTS(qps), target);
        if (b < 0) {
            g_print("| %s | outside the QPs measured | |\n", families[f].name);
        } else {
            g_print("| %s | %.0f | %.3f |\n", families[f].name, b, b / jpeg_bytes);
        }
    }
    return 0;
}
