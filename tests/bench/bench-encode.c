/*
 * bench-encode.c: encoder benchmark on synthetic 1920x1080 sequences.
 *
 * For each scene and encoder setting it encodes every frame against the
 * previous one, decodes the output into a client framebuffer exactly as a
 * client would, and reports bytes per frame, encode CPU milliseconds per
 * frame (this thread's CPU time, so a busy machine inflates it less than
 * wall time) and the PSNR of the client's picture against the server's.
 * The "raw" column is what sending every changed 64x64 tile uncompressed
 * would cost, measured in the same run: the ratio is the number to watch.
 *
 * Usage: bench-encode [--frames N] [--width W --height H] [--scene NAME]
 *        bench-encode --replay FILE [--every N] [--frames N]
 *
 * --replay encodes a recorded session instead (crp-headless
 * --record-frames FILE, lossless, e.g. of the real-desktop bench guest):
 * the same frames at the recorded times, so encoder changes can be
 * compared on real content in seconds; --every N keeps every Nth frame,
 * as a server capturing at 1/N of the recorded rate would.
 */
#include <crp/crp-decoder.h>
#include <crp/crp-encoder.h>
#include <crp/crp-error.h>
#include <crp/crp-tiles.h>
#include "crp-synth.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

typedef struct {
    const char *name;
    CrpEncoderConfig config;
} Setting;

#define ZLIB (1u << CRP_ENCODING_ZLIB)
#define ZSTD (1u << CRP_ENCODING_ZSTD)
#define JPEG (1u << CRP_ENCODING_JPEG)
#define H264 (1u << CRP_ENCODING_H264)
static const Setting settings[] = {
    { "default", { .encodings = ZLIB | ZSTD | JPEG | H264 } },
    { "no-h264", { .encodings = ZLIB | ZSTD | JPEG } },
    { "lossless", { .encodings = ZLIB | ZSTD, .lossless = TRUE } },
    { "zlib", { .encodings = ZLIB | JPEG } },
    { "zlib-lossless", { .encodings = ZLIB, .lossless = TRUE } },
};

typedef struct {
    double bytes, raw_bytes, encode_ms, max_encode_ms, psnr_sum, psnr_min;
    double seconds;             /* of guest time the frames span */
    guint frames, lossless_frames;
    CrpEncodeStats totals;
} Result;

static double
thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* PSNR over RGB of two same-size x8r8g8b8 images; INFINITY if equal. */
static double
psnr(pixman_image_t *a, pixman_image_t *b)
{
    int w = pixman_image_get_width(a), h = pixman_image_get_height(a);
    int sa = pixman_image_get_stride(a) / 4, sb = pixman_image_get_stride(b) / 4;
    const guint32 *pa = pixman_image_get_data(a), *pb = pixman_image_get_data(b);
    double se = 0;
    for (int y = 0; y < h; y++) {
        const guint32 *ra = pa + (gsize)y * sa, *rb = pb + (gsize)y * sb;
        if (memcmp(ra, rb, w * 4) == 0) {
            continue;
        }
        for (int x = 0; x < w; x++) {
            for (int sh = 0; sh < 24; sh += 8) {
                int d = (int)((ra[x] >> sh) & 0xff) - (int)((rb[x] >> sh) & 0xff);
                se += d * d;
            }
        }
    }
    if (se == 0) {
        return INFINITY;
    }
    double mse = se / ((double)w * h * 3);
    return 10 * log10(255.0 * 255.0 / mse);
}

static void
apply_all(CrpDecoder *dec, const GByteArray *out)
{
    gsize pos = 0;
    while (pos < out->len) {
        CrpMessage msg;
        g_autoptr(GError) error = NULL;
        gsize used = crp_message_decode(out->data + pos, out->len - pos, &msg, &error);
        if (!used || msg.type != CRP_MSG_RECT ||
            !crp_decoder_apply_rect(dec, &msg.rect, msg.flags, &error)) {
            g_error("bench: encoder output did not decode: %s",
                    error ? error->message : "not a RECT");
        }
        pos += used;
    }
}

/* ---- where frames come from ------------------------------------------ */

typedef struct {
    /* Synthetic: a scene rendered frame by frame at 60 per second. */
    CrpSynthScene scene;
    /* Replay: a crp-headless --record-frames file. */
    gzFile gz;
    pixman_image_t *acc;        /* the recorded picture so far */
    guint every;
    guint frame;
} Source;

static gboolean
read_exact(gzFile gz, void *buf, unsigned len)
{
    return gzread(gz, buf, len) == (int)len;
}

/* Applies the next recorded frame to src->acc; FALSE at the end. */
static gboolean
replay_one(Source *src, pixman_region32_t *damage, gint64 *t_us)
{
    guint32 head[8];
    if (!read_exact(src->gz, head, sizeof(head))) {
        return FALSE;
    }
    int w = GUINT32_FROM_LE(head[0]), h = GUINT32_FROM_LE(head[1]);
    *t_us = (gint64)GUINT64_FROM_LE(((guint64)head[3] << 32) | head[2]);
    int x = GUINT32_FROM_LE(head[4]), y = GUINT32_FROM_LE(head[5]);
    int bw = GUINT32_FROM_LE(head[6]), bh = GUINT32_FROM_LE(head[7]);
    if (w < 1 || h < 1 || w > CRP_MAX_SURFACE_DIM || h > CRP_MAX_SURFACE_DIM ||
        x + bw > w || y + bh > h) {
        g_error("bench: corrupt recording");
    }
    if (!src->acc || pixman_image_get_width(src->acc) != w ||
        pixman_image_get_height(src->acc) != h) {
        if (src->acc) {
            g_error("bench: the recording changes size; record one mode");
        }
        src->acc = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
    }
    guint8 *data = (guint8 *)pixman_image_get_data(src->acc);
    int stride = pixman_image_get_stride(src->acc);
    for (int r = 0; r < bh; r++) {
        if (!read_exact(src->gz, data + (gsize)(y + r) * stride + x * 4, bw * 4)) {
            g_error("bench: truncated recording");
        }
    }
    pixman_region32_union_rect(damage, damage, x, y, bw, bh);
    return TRUE;
}

/*
 * Puts the next frame into @cur and what changed since the last one into
 * @damage (NULL: unknown, look everywhere); FALSE when there is none.
 */
static gboolean
source_next(Source *src, pixman_image_t *cur, pixman_region32_t *damage,
            gint64 *t_us)
{
    if (!src->gz) {
        crp_synth_render(src->scene, src->frame++, cur);
        *t_us = (gint64)src->frame * 16667;
        pixman_region32_reset(damage, &(pixman_box32_t){
            0, 0, pixman_image_get_width(cur), pixman_image_get_height(cur) });
        return TRUE;
    }
    pixman_region32_clear(damage);
    for (guint i = 0; i < (src->frame ? src->every : 1); i++) {
        if (!replay_one(src, damage, t_us)) {
            return FALSE;
        }
    }
    src->frame++;
    pixman_image_composite32(PIXMAN_OP_SRC, src->acc, NULL, cur, 0, 0, 0, 0, 0, 0,
                             pixman_image_get_width(cur), pixman_image_get_height(cur));
    return TRUE;
}

static gboolean
source_open(Source *src, const char *replay, guint every, int *width, int *height)
{
    if (!replay) {
        return TRUE;
    }
    char magic[11];
    src->gz = gzopen(replay, "rb");
    src->every = MAX(every, 1);
    if (!src->gz || !read_exact(src->gz, magic, sizeof(magic)) ||
        memcmp(magic, "CRPFRAMES1\n", sizeof(magic)) != 0) {
        g_printerr("bench: %s is not a crp-headless --record-frames file\n", replay);
        return FALSE;
    }
    /* The size comes from the first frame. */
    guint32 head[2];
    z_off_t at = gztell(src->gz);
    if (!read_exact(src->gz, head, sizeof(head))) {
        return FALSE;
    }
    *width = GUINT32_FROM_LE(head[0]);
    *height = GUINT32_FROM_LE(head[1]);
    gzseek(src->gz, at, SEEK_SET);
    return TRUE;
}

static void
source_close(Source *src)
{
    if (src->gz) {
        gzclose(src->gz);
    }
    g_clear_pointer(&src->acc, pixman_image_unref);
    *src = (Source){ .scene = src->scene };
}

static Result
run(Source *src, const Setting *setting, int width, int height,
    guint frames)
{
    Result res = { .psnr_min = INFINITY };
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&setting->config);
    g_autoptr(CrpDecoder) dec = crp_decoder_new();
    g_autoptr(GByteArray) out = g_byte_array_new();
    pixman_image_t *prev = pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, 0);
    pixman_image_t *cur = pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, 0);
    CrpSurfaceMsg surface = { width, height };
    CrpTileMap map;
    g_autoptr(GError) error = NULL;

    if (!crp_decoder_set_surface(dec, &surface, &error)) {
        g_error("bench: %s", error->message);
    }
    crp_tile_map_init(&map, width, height);

    /* Frame 0 is the initial full update, refined until exact: steady
     * state is what is measured, so this warm-up is not counted. */
    pixman_region32_t damage;
    pixman_region32_init(&damage);
    gint64 now_us = 0, t_us = 0, t0_us;
    if (!source_next(src, cur, &damage, &t_us)) {
        g_error("bench: no frames");
    }
    t0_us = t_us;
    crp_encoder_encode_frame(enc, NULL, cur, NULL, now_us, out, NULL);
    apply_all(dec, out);
    for (gint64 due; (due = crp_encoder_next_refine_us(enc)) >= 0;) {
        now_us = MAX(now_us + 16667, due);
        g_byte_array_set_size(out, 0);
        crp_encoder_encode_frame(enc, cur, cur, NULL, now_us, out, NULL);
        apply_all(dec, out);
    }

    /* The recorded times run on from the end of the warm-up. */
    gint64 offset_us = now_us - t0_us;
    for (guint f = 1; f <= frames; f++) {
        pixman_image_t *tmp = prev;
        prev = cur;
        cur = tmp;
        if (!source_next(src, cur, &damage, &t_us)) {
            /* The recording ended: measure what there was. */
            cur = prev;
            prev = tmp;
            break;
        }
        now_us = MAX(now_us + 1, t_us + offset_us);

        memset(map.changed, 0, map.cols * map.rows);
        guint changed_tiles = crp_tile_diff(prev, cur, &damage, &map);

        CrpEncodeStats stats = { 0 };
        g_byte_array_set_size(out, 0);
        double t0 = thread_cpu_ms();
        crp_encoder_encode_frame(enc, prev, cur, &damage, now_us, out, &stats);
        double ms = thread_cpu_ms() - t0;

        apply_all(dec, out);
        double p = psnr(cur, crp_decoder_get_image(dec));
        res.bytes += out->len;
        res.raw_bytes += changed_tiles * (double)(CRP_TILE_SIZE * CRP_TILE_SIZE * 4);
        res.encode_ms += ms;
        res.max_encode_ms = MAX(res.max_encode_ms, ms);
        if (isinf(p)) {
            res.lossless_frames++;
        } else {
            res.psnr_sum += p;
            res.psnr_min = MIN(res.psnr_min, p);
        }
        res.totals.fill += stats.fill;
        res.totals.raw += stats.raw;
        res.totals.zlib += stats.zlib + stats.zstd;
        res.totals.jpeg += stats.jpeg;
        res.totals.copy += stats.copy;
        res.totals.h264 += stats.h264;
        res.totals.refined += stats.refined;
        res.frames++;
    }
    res.seconds = (now_us - offset_us - t0_us) / 1e6;
    pixman_region32_fini(&damage);
    crp_tile_map_finish(&map);
    pixman_image_unref(prev);
    pixman_image_unref(cur);
    return res;
}

int
main(int argc, char **argv)
{
    int frames = 120, width = 1920, height = 1080, every = 1;
    g_autofree char *only = NULL;
    g_autofree char *replay = NULL;
    g_autofree char *only_setting = NULL;
    int zstd_level = 0;
    GOptionEntry entries[] = {
        { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "frames per sequence (120)", "N" },
        { "width", 0, 0, G_OPTION_ARG_INT, &width, "width (1920)", "W" },
        { "height", 0, 0, G_OPTION_ARG_INT, &height, "height (1080)", "H" },
        { "scene", 0, 0, G_OPTION_ARG_STRING, &only, "only this scene", "NAME" },
        { "replay", 0, 0, G_OPTION_ARG_FILENAME, &replay,
          "encode a crp-headless --record-frames file instead", "FILE" },
        { "zstd-level", 0, 0, G_OPTION_ARG_INT, &zstd_level,
          "zstd level of every setting (0: the encoder's default)", "N" },
        { "setting", 0, 0, G_OPTION_ARG_STRING, &only_setting,
          "only this setting (default, lossless)", "NAME" },
        { "every", 0, 0, G_OPTION_ARG_INT, &every,
          "replay: keep every Nth recorded frame (1)", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- CRP encoder benchmark");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("%s\n", error->message);
        return 2;
    }

    Source src = { 0 };
    if (replay) {
        frames = frames == 120 ? G_MAXINT : frames;
        if (!source_open(&src, replay, every, &width, &height)) {
            return 1;
        }
        source_close(&src);
    }
    g_print("%dx%d, %s, encode time = this thread's CPU time\n\n", width, height,
            replay ? "replayed" : "synthetic scenes");
    g_print("| sequence | setting | frames | kbit/s | bytes/frame | raw tiles bytes/frame | ratio "
            "| encode ms/frame (mean) | (max) | fps on one core | PSNR dB (mean) "
            "| (min) | exact frames | rects: fill/zlib+zstd/jpeg/copy/raw/h264, refined |\n");
    g_print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (CrpSynthScene s = 0; s < CRP_SYNTH_N_SCENES; s++) {
        const char *name = replay ? g_path_get_basename(replay) : crp_synth_scene_name(s);
        if (!replay && only && strcmp(only, name) != 0) {
            continue;
        }
        for (gsize i = 0; i < G_N_ELEMENTS(settings); i++) {
            if (only_setting && strcmp(only_setting, settings[i].name) != 0) {
                continue;
            }
            src.scene = s;
            if (!source_open(&src, replay, every, &width, &height)) {
                return 1;
            }
            Setting setting = settings[i];
            setting.config.zstd_level = zstd_level;
            Result r = run(&src, &setting, width, height, frames);
            source_close(&src);
            double mean_ms = r.encode_ms / r.frames;
            guint lossy = r.frames - r.lossless_frames;
            g_autofree char *psnr_mean = lossy ? g_strdup_printf("%.1f", r.psnr_sum / lossy)
                                               : g_strdup("exact");
            g_autofree char *psnr_min = lossy ? g_strdup_printf("%.1f", r.psnr_min)
                                              : g_strdup("exact");
            g_print("| %s | %s | %u | %.0f | %.0f | %.0f | %.1f%% | %.2f | %.2f | %.0f | %s | %s "
                    "| %u/%u | %u/%u/%u/%u/%u/%u, %u |\n",
                    name, settings[i].name, r.frames,
                    r.seconds > 0 ? r.bytes * 8 / r.seconds / 1000 : 0.0,
                    r.bytes / r.frames, r.raw_bytes / r.frames,
                    r.raw_bytes > 0 ? 100.0 * r.bytes / r.raw_bytes : 0.0,
                    mean_ms, r.max_encode_ms, mean_ms > 0 ? 1000.0 / mean_ms : 0.0,
                    psnr_mean, psnr_min, r.lossless_frames, r.frames,
                    r.totals.fill, r.totals.zlib, r.totals.jpeg, r.totals.copy,
                    r.totals.raw, r.totals.h264, r.totals.refined);
        }
        if (replay) {
            break;
        }
    }
    return 0;
}
