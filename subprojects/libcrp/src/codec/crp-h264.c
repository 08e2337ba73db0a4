/*
 * crp-h264.c: H264 rects through openh264 (encoder and decoder).
 *
 * openh264 (BSD) was measured against x264 on the desktop bench's video
 * (docs/performance.md, "H.264 for video regions"): from 5 % fewer to 26 %
 * more bytes than x264's real-time presets at equal PSNR, about as fast,
 * and it keeps libcrp LGPL, which x264 (GPL) would not.
 *
 * The decoder does not hand openh264 anything it has not checked itself:
 * an access unit is split into its NAL units, only the types a
 * Constrained Baseline stream needs are let through, exactly one of them
 * a slice, and every SPS is read here first: profile, reference frames
 * and, above all, the picture size, which must be the rect's. So a
 * hostile stream can make openh264 allocate no more than the rect needs
 * (and the rect is capped by the message decoder), and it must yield
 * exactly one picture of exactly the rect's size, or the rect fails.
 */
#include "codec/crp-codec-private.h"
#include "crp/crp-error.h"

#include <string.h>
#include <wels/codec_api.h>

enum {
    NALU_SLICE = 1,
    NALU_IDR = 5,
    NALU_SEI = 6,
    NALU_SPS = 7,
    NALU_PPS = 8,
    NALU_AUD = 9,
};

/* An SPS or a PPS is a few dozen bytes; a larger one is not from a real
 * encoder. */
#define MAX_PARAM_BYTES 256
/* Baseline, which Constrained Baseline is with a constraint flag. */
#define PROFILE_BASELINE 66

/* ---- the encoder -------------------------------------------------------- */

/* "No limit" for openh264's rate control, which wants a number: far
 * above what any region needs at the finest QP allowed. */
#define UNLIMITED_BPS 50000000
/* The picture rates openh264 plans for. */
#define MIN_FPS 1.0f
#define MAX_FPS 30.0f

gboolean
crp_h264_encoder_init(CrpH264Encoder *e, int width, int height, int min_qp,
                      int max_qp)
{
    ISVCEncoder *enc = NULL;
    SEncParamExt p;
    int quiet = WELS_LOG_QUIET;

    memset(e, 0, sizeof(*e));
    if (WelsCreateSVCEncoder(&enc) != 0 || !enc) {
        return FALSE;
    }
    (*enc)->SetOption(enc, ENCODER_OPTION_TRACE_LEVEL, &quiet);
    (*enc)->GetDefaultParams(enc, &p);
    /*
     * Real time, one thread, one reference frame, CAVLC, one slice: a
     * Constrained Baseline stream whose every access unit is one picture,
     * shown at once. Never a skipped picture: how many pictures a link
     * gets is the server's pacing; the rate control only picks the QP,
     * the finest (@min_qp) while the link has room.
     */
    e->rated = max_qp > min_qp;
    e->bitrate = UNLIMITED_BPS;
    e->fps = MAX_FPS;
    p.iUsageType = CAMERA_VIDEO_REAL_TIME;
    p.iPicWidth = width;
    p.iPicHeight = height;
    p.fMaxFrameRate = MAX_FPS;
    p.iRCMode = e->rated ? RC_BITRATE_MODE : RC_OFF_MODE;
    p.iTargetBitrate = e->rated ? UNLIMITED_BPS : 0;
    p.iMaxBitrate = UNSPECIFIED_BIT_RATE;
    p.bEnableFrameSkip = false;
    p.uiIntraPeriod = 0;
    p.iMultipleThreadIdc = 1;
    p.iComplexityMode = LOW_COMPLEXITY;
    p.iNumRefFrame = 1;
    p.iEntropyCodingModeFlag = 0;
    p.iSpatialLayerNum = 1;
    p.iTemporalLayerNum = 1;
    p.bPrefixNalAddingCtrl = false;
    p.iMinQp = min_qp;
    p.iMaxQp = MAX(min_qp, max_qp);
    SSpatialLayerConfig *l = &p.sSpatialLayers[0];
    l->iVideoWidth = width;
    l->iVideoHeight = height;
    l->fFrameRate = MAX_FPS;
    l->iDLayerQp = min_qp;
    l->iSpatialBitrate = p.iTargetBitrate;
    l->iMaxSpatialBitrate = UNSPECIFIED_BIT_RATE;
    l->uiProfileIdc = PRO_BASELINE;
    l->sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
    /* Say what the pixels are (docs/protocol.md), for decoders that
     * convert on their own (a browser's). */
    l->bVideoSignalTypePresent = true;
    l->uiVideoFormat = 5;          /* unspecified */
    l->bFullRange = true;
    l->bColorDescriptionPresent = true;
    l->uiColorPrimaries = CP_BT709;
    l->uiTransferCharacteristics = TRC_IEC61966_2_1;
    l->uiColorMatrix = CM_SMPTE170M;
    if ((*enc)->InitializeExt(enc, &p) != cmResultSuccess) {
        WelsDestroySVCEncoder(enc);
        return FALSE;
    }
    e->enc = enc;
    e->width = width;
    e->height = height;
    crp_yuv_init(&e->yuv, width, height);
    return TRUE;
}

void
crp_h264_encoder_finish(CrpH264Encoder *e)
{
    ISVCEncoder *enc = e->enc;
    if (enc) {
        (*enc)->Uninitialize(enc);
        WelsDestroySVCEncoder(enc);
    }
    crp_yuv_finish(&e->yuv);
    crp_buffer_finish(&e->out);
    memset(e, 0, sizeof(*e));
}

/* TRUE when @a and @b differ by more than @fraction of @b. */
static gboolean
differs(double a, double b, double fraction)
{
    return a < b * (1 - fraction) || a > b * (1 + fraction);
}

void
crp_h264_encoder_set_bitrate(CrpH264Encoder *e, guint64 bps)
{
    ISVCEncoder *enc = e->enc;

    bps = bps ? MIN(bps, UNLIMITED_BPS) : UNLIMITED_BPS;
    /* Each change restarts openh264's rate window: not for noise. */
    if (!enc || !e->rated || !differs(bps, e->bitrate, 0.05)) {
        return;
    }
    SBitrateInfo info = { .iLayer = SPATIAL_LAYER_ALL, .iBitrate = (int)bps };
    if ((*enc)->SetOption(enc, ENCODER_OPTION_BITRATE, &info) == cmResultSuccess) {
        e->bitrate = bps;
    }
}

/*
 * In bitrate mode openh264 gives each picture bitrate / frame rate (the
 * times only drive its skipping, which is off): tell it the rate pictures
 * really come at, a moving average of their intervals. A region of the
 * guest's video often gets 10 to 25 a second; planned for 30, one at 15
 * spent a fifth less than its share (/h264/rated-stream).
 */
static void
follow_frame_rate(CrpH264Encoder *e, gint64 time_us)
{
    ISVCEncoder *enc = e->enc;
    gint64 dt = e->last_us ? time_us - e->last_us : 0;

    e->last_us = time_us;
    if (!e->rated || dt <= 0) {
        return;
    }
    /* A pause (the video stopped a while) says little about its rate. */
    dt = MIN(dt, (gint64)(G_USEC_PER_SEC / MIN_FPS));
    e->interval_us = e->interval_us > 0 ? e->interval_us * 0.875 + dt * 0.125 : dt;
    float fps = CLAMP(G_USEC_PER_SEC / e->interval_us, MIN_FPS, MAX_FPS);
    if (differs(fps, e->fps, 0.1) &&
        (*enc)->SetOption(enc, ENCODER_OPTION_FRAME_RATE, &fps) == cmResultSuccess) {
        e->fps = fps;
    }
}

CrpView
crp_h264_encode(CrpH264Encoder *e, CrpPixels px, gint64 time_us)
{
    ISVCEncoder *enc = e->enc;
    SSourcePicture pic;
    SFrameBSInfo info;

    g_assert(px.width == e->width && px.height == e->height);
    follow_frame_rate(e, time_us);
    crp_yuv_from_pixels(px, &e->yuv);
    memset(&pic, 0, sizeof(pic));
    pic.iColorFormat = videoFormatI420;
    pic.iPicWidth = e->width;
    pic.iPicHeight = e->height;
    for (int i = 0; i < 3; i++) {
        pic.iStride[i] = e->yuv.stride[i];
        pic.pData[i] = e->yuv.plane[i];
    }
    pic.uiTimeStamp = time_us / 1000;
    memset(&info, 0, sizeof(info));
    if ((*enc)->EncodeFrame(enc, &pic, &info) != cmResultSuccess ||
        info.eFrameType == videoFrameTypeSkip || info.eFrameType == videoFrameTypeInvalid) {
        return (CrpView){ NULL, 0 };
    }

    /* Every NAL of every layer, one after the other. */
    gsize len = 0;
    for (int i = 0; i < info.iLayerNum; i++) {
        for (int n = 0; n < info.sLayerInfo[i].iNalCount; n++) {
            len += info.sLayerInfo[i].pNalLengthInByte[n];
        }
    }
    if (len > e->out.cap) {
        e->out.data = g_realloc(e->out.data, len);
        e->out.cap = len;
    }
    guint8 *at = e->out.data;
    for (int i = 0; i < info.iLayerNum; i++) {
        gsize layer = 0;
        for (int n = 0; n < info.sLayerInfo[i].iNalCount; n++) {
            layer += info.sLayerInfo[i].pNalLengthInByte[n];
        }
        memcpy(at, info.sLayerInfo[i].pBsBuf, layer);
        at += layer;
    }
    return (CrpView){ e->out.data, len };
}

/* ---- checking an access unit -------------------------------------------- */

typedef struct {
    const guint8 *data;
    gsize len;              /* bytes, emulation prevention removed */
    gsize pos;              /* in bits */
    gboolean overrun;
} BitReader;

static guint32
read_bits(BitReader *b, int n)
{
    guint32 v = 0;
    for (int i = 0; i < n; i++) {
        if (b->pos >= b->len * 8) {
            b->overrun = TRUE;
            return 0;
        }
        v = v << 1 | ((b->data[b->pos / 8] >> (7 - b->pos % 8)) & 1);
        b->pos++;
    }
    return v;
}

/* ue(v); anything above 2^31 - 2 is an overrun. */
static guint32
read_ue(BitReader *b)
{
    int zeros = 0;
    while (!b->overrun && read_bits(b, 1) == 0) {
        if (++zeros > 31) {
            b->overrun = TRUE;
            return 0;
        }
    }
    if (zeros == 0) {
        return 0;
    }
    return (1u << zeros) - 1 + read_bits(b, zeros);
}

static gboolean
fail_au(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
fail_au(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "H264 rect: %s", msg);
    return FALSE;
}

/* The payload of the parameter set @nal (its header byte included) into
 * @rbsp (MAX_PARAM_BYTES), emulation prevention bytes (00 00 03) dropped;
 * its length, or 0 if it is too long. */
static gsize
param_rbsp(const guint8 *nal, gsize len, guint8 *rbsp)
{
    gsize n = 0;

    if (len > MAX_PARAM_BYTES) {
        return 0;
    }
    for (gsize i = 1, zeros = 0; i < len; i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        rbsp[n++] = nal[i];
    }
    return n;
}

/* Reads the SPS in @nal (its header byte included) and checks it against
 * what CRP allows and the rect's @width x @height. */
static gboolean
check_sps(const guint8 *nal, gsize len, int width, int height, GError **error)
{
    guint8 rbsp[MAX_PARAM_BYTES];
    gsize n = param_rbsp(nal, len, rbsp);

    if (n == 0) {
        return fail_au(error, "an SPS of %" G_GSIZE_FORMAT " bytes", len);
    }
    BitReader b = { rbsp, n, 0, FALSE };
    guint32 profile = read_bits(&b, 8);
    read_bits(&b, 8);                       /* constraint flags */
    read_bits(&b, 8);                       /* level */
    guint32 id = read_ue(&b);
    if (profile != PROFILE_BASELINE) {
        return fail_au(error, "profile %u, not (Constrained) Baseline", profile);
    }
    guint32 log2_frame_num = read_ue(&b);
    guint32 poc_type = read_ue(&b);
    if (poc_type == 0) {
        if (read_ue(&b) > 12) {
            return fail_au(error, "an SPS with a bad picture order count");
        }
    } else if (poc_type == 1) {
        read_bits(&b, 1);
        read_ue(&b);                        /* two se(v), read as ue(v) */
        read_ue(&b);
        guint32 cycle = read_ue(&b);
        if (cycle > 255) {
            return fail_au(error, "an SPS with a bad picture order count");
        }
        for (guint32 i = 0; i < cycle && !b.overrun; i++) {
            read_ue(&b);
        }
    } else if (poc_type != 2) {
        return fail_au(error, "an SPS with a bad picture order count");
    }
    guint32 refs = read_ue(&b);
    read_bits(&b, 1);                       /* gaps in frame_num allowed */
    guint32 mbs_w = read_ue(&b) + 1;
    guint32 mbs_h = read_ue(&b) + 1;
    if (!read_bits(&b, 1) && !b.overrun) {
        return fail_au(error, "an SPS with interlaced pictures");
    }
    read_bits(&b, 1);                       /* direct_8x8_inference */
    guint32 crop[4] = { 0 };
    if (read_bits(&b, 1)) {
        for (int i = 0; i < 4; i++) {
            crop[i] = read_ue(&b);
        }
    }
    if (b.overrun || id > 31 || log2_frame_num > 12) {
        return fail_au(error, "a malformed SPS");
    }
    if (refs > CRP_H264_MAX_REF_FRAMES) {
        return fail_au(error, "an SPS with %u reference frames (at most %d)", refs,
                       CRP_H264_MAX_REF_FRAMES);
    }
    /* Cropping counts in pairs of pixels (4:2:0, frames). */
    gint64 w = (gint64)mbs_w * 16 - 2 * ((gint64)crop[0] + crop[1]);
    gint64 h = (gint64)mbs_h * 16 - 2 * ((gint64)crop[2] + crop[3]);
    if (w != width || h != height) {
        return fail_au(error, "an SPS for %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                       " pictures in a %dx%d rect", w, h, width, height);
    }
    /* The coded picture, which openh264 allocates its frames for, must be
     * the rect rounded up to macroblocks, cropped at the right and bottom
     * only: a crop of up to half the coded size (which openh264 accepts)
     * would let a 64x64 rect cost a decoder of 9 million pixels. */
    if (crop[0] || crop[2] || mbs_w != ((guint32)width + 15) / 16 ||
        mbs_h != ((guint32)height + 15) / 16) {
        return fail_au(error, "an SPS coding %ux%u macroblocks for a %dx%d rect",
                       mbs_w, mbs_h, width, height);
    }
    return TRUE;
}

/* Reads the start of the PPS in @nal: CAVLC and one slice group, as
 * Constrained Baseline has (openh264's decoder need not run its code for
 * slice group maps or CABAC on what a peer sends). */
static gboolean
check_pps(const guint8 *nal, gsize len, GError **error)
{
    guint8 rbsp[MAX_PARAM_BYTES];
    gsize n = param_rbsp(nal, len, rbsp);

    if (n == 0) {
        return fail_au(error, "a PPS of %" G_GSIZE_FORMAT " bytes", len);
    }
    BitReader b = { rbsp, n, 0, FALSE };
    guint32 id = read_ue(&b);
    guint32 sps_id = read_ue(&b);
    guint32 cabac = read_bits(&b, 1);
    read_bits(&b, 1);                       /* bottom_field_pic_order_in_frame */
    guint32 slice_groups = read_ue(&b) + 1;
    if (b.overrun || id > 255 || sps_id > 31) {
        return fail_au(error, "a malformed PPS");
    }
    if (cabac) {
        return fail_au(error, "a PPS with CABAC, not (Constrained) Baseline");
    }
    if (slice_groups != 1) {
        return fail_au(error, "a PPS with %u slice groups", slice_groups);
    }
    return TRUE;
}

gboolean
crp_h264_check_au(CrpView au, gboolean reset, int width, int height,
                  GError **error)
{
    const guint8 *d = au.data;
    gsize len = au.len, i = 0;
    guint slices = 0;
    gboolean sps = FALSE, pps = FALSE, idr = FALSE;

    /* Annex B: every NAL unit follows a start code 00 00 01. */
    while (i + 3 <= len && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) {
        if (d[i] != 0) {
            return fail_au(error, "no start code before byte %" G_GSIZE_FORMAT, i);
        }
        i++;
    }
    if (i + 3 > len) {
        return fail_au(error, "no NAL unit");
    }
    i += 3;
    while (i < len) {
        gsize start = i, end;
        /* The NAL ends at the next start code; zero bytes before it are
         * trailing (or the 4-byte form of the next start code). */
        while (i + 3 <= len && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) {
            i++;
        }
        if (i + 3 > len) {
            i = end = len;
        } else {
            end = i;
            i += 3;
        }
        while (end > start && d[end - 1] == 0) {
            end--;
        }
        if (end == start) {
            return fail_au(error, "an empty NAL unit");
        }
        guint8 head = d[start];
        guint type = head & 0x1f;
        if (head & 0x80) {
            return fail_au(error, "a NAL unit with its forbidden bit set");
        }
        switch (type) {
        case NALU_SLICE:
        case NALU_IDR:
            slices++;
            idr |= type == NALU_IDR;
            break;
        case NALU_SPS:
            if (!check_sps(d + start, end - start, width, height, error)) {
                return FALSE;
            }
            sps = TRUE;
            break;
        case NALU_PPS:
            if (!check_pps(d + start, end - start, error)) {
                return FALSE;
            }
            pps = TRUE;
            break;
        case NALU_SEI:
        case NALU_AUD:
            break;
        default:
            return fail_au(error, "a NAL unit of type %u", type);
        }
    }
    if (slices != 1) {
        return fail_au(error, "%u slices (one picture is one slice)", slices);
    }
    if (reset && !(sps && pps && idr)) {
        return fail_au(error, "a stream that does not start with SPS, PPS and IDR");
    }
    return TRUE;
}

/* ---- the decoder -------------------------------------------------------- */

void
crp_h264_decoder_init(CrpH264Decoder *d)
{
    memset(d, 0, sizeof(*d));
}

static void
stream_end(CrpH264Stream *s)
{
    ISVCDecoder *dec = s->dec;
    if (dec) {
        (*dec)->Uninitialize(dec);
        WelsDestroyDecoder(dec);
    }
    memset(s, 0, sizeof(*s));
}

void
crp_h264_decoder_end_all(CrpH264Decoder *d)
{
    for (int i = 0; i < CRP_H264_MAX_STREAMS; i++) {
        stream_end(&d->streams[i]);
    }
}

void
crp_h264_decoder_finish(CrpH264Decoder *d)
{
    crp_h264_decoder_end_all(d);
}

static gboolean
stream_start(CrpH264Decoder *d, guint n, int width, int height, GError **error)
{
    CrpH264Stream *s = &d->streams[n];
    gsize others = 0;

    stream_end(s);
    for (int i = 0; i < CRP_H264_MAX_STREAMS; i++) {
        others += (gsize)d->streams[i].width * d->streams[i].height;
    }
    if (others + (gsize)width * height > CRP_H264_MAX_PIXELS) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE,
                    "H264 rect: stream %u of %dx%d would take the live streams "
                    "past %u pixels", n, width, height, CRP_H264_MAX_PIXELS);
        return FALSE;
    }

    ISVCDecoder *dec = NULL;
    SDecodingParam p;
    int quiet = WELS_LOG_QUIET;
    if (WelsCreateDecoder(&dec) != 0 || !dec) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "H264: no decoder");
        return FALSE;
    }
    (*dec)->SetOption(dec, DECODER_OPTION_TRACE_LEVEL, &quiet);
    memset(&p, 0, sizeof(p));
    p.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
    /* A picture that does not decode is an error, never a guess. */
    p.eEcActiveIdc = ERROR_CON_DISABLE;
    if ((*dec)->Initialize(dec, &p) != cmResultSuccess) {
        WelsDestroyDecoder(dec);
        g_set_error(error, CRP_ERROR, CRP_ERROR_CODEC, "H264: no decoder");
        return FALSE;
    }
    s->dec = dec;
    s->width = width;
    s->height = height;
    return TRUE;
}

gboolean
crp_h264_decode(CrpH264Decoder *d, guint stream, CrpView au, gboolean reset,
                CrpPixels dst, GError **error)
{
    g_return_val_if_fail(stream < CRP_H264_MAX_STREAMS, FALSE);
    CrpH264Stream *s = &d->streams[stream];

    if (!crp_h264_check_au(au, reset, dst.width, dst.height, error)) {
        return FALSE;
    }
    if (reset) {
        if (!stream_start(d, stream, dst.width, dst.height, error)) {
            return FALSE;
        }
    } else if (!s->dec) {
        return fail_au(error, "stream %u was never started (no STREAM_RESET)", stream);
    } else if (s->width != dst.width || s->height != dst.height) {
        return fail_au(error, "%dx%d for stream %u of %dx%d pictures", dst.width,
                       dst.height, stream, s->width, s->height);
    }

    ISVCDecoder *dec = s->dec;
    guint8 *planes[3] = { NULL, NULL, NULL };
    SBufferInfo info;
    memset(&info, 0, sizeof(info));
    DECODING_STATE st = (*dec)->DecodeFrameNoDelay(dec, au.data, (int)au.len,
                                                   planes, &info);
    if (st != dsErrorFree || info.iBufferStatus != 1 || !planes[0]) {
        /* What the decoder holds now is not what the server's encoder
         * holds: the stream is over. */
        stream_end(s);
        return fail_au(error, "the picture does not decode (openh264 state %#x)", st);
    }
    const SSysMEMBuffer *buf = &info.UsrData.sSystemBuffer;
    if (buf->iWidth != dst.width || buf->iHeight != dst.height) {
        stream_end(s);
        return fail_au(error, "a %dx%d picture in a %dx%d rect", buf->iWidth,
                       buf->iHeight, dst.width, dst.height);
    }
    const guint8 *const p[3] = { planes[0], planes[1], planes[2] };
    const int stride[3] = { buf->iStride[0], buf->iStride[1], buf->iStride[1] };
    crp_yuv_to_pixels(p, stride, dst);
    return TRUE;
}
