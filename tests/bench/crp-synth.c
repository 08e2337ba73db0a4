/*
 * crp-synth.c: synthetic screen sequences (see crp-synth.h).
 *
 * Text is drawn with pseudo-glyphs: 8x16 bitmaps derived from a hash of
 * the character, so they have the statistics of text (two colours, thin
 * strokes, repeated shapes) without needing a font.
 */
#include "crp-synth.h"

#include <math.h>
#include <string.h>

#define GLYPH_W 8
#define GLYPH_H 16

static const char *const scene_names[] = {
    [CRP_SYNTH_TERMINAL] = "terminal",
    [CRP_SYNTH_WINDOW_DRAG] = "window-drag",
    [CRP_SYNTH_VIDEO] = "video",
    [CRP_SYNTH_IDLE] = "idle",
    [CRP_SYNTH_SIDEWAYS] = "sideways",
};

const char *
crp_synth_scene_name(CrpSynthScene scene)
{
    return scene < CRP_SYNTH_N_SCENES ? scene_names[scene] : "unknown";
}

static guint32
hash32(guint32 x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* One row (8 bits) of a pseudo-glyph for character @c. Rows 0-2 and 14-15
 * are blank like real glyph cells; strokes come from the hash. */
static guint8
glyph_row(guint c, int row)
{
    if (c == ' ' || row < 3 || row > 13) {
        return 0;
    }
    guint32 h = hash32(c * 31 + (row / 2));
    return (guint8)((h & 0x7e) | ((h >> 8) & 0x18));
}

static void
draw_text(guint32 *px, int stride, int width, int height, int x, int y,
          const char *text, guint32 fg, guint32 bg)
{
    for (const char *p = text; *p; p++, x += GLYPH_W) {
        if (x + GLYPH_W > width) {
            break;
        }
        for (int row = 0; row < GLYPH_H && y + row < height; row++) {
            if (y + row < 0) {
                continue;
            }
            guint8 bits = glyph_row((guint8)*p, row);
            guint32 *dst = px + (gsize)(y + row) * stride + x;
            for (int b = 0; b < GLYPH_W; b++) {
                dst[b] = (bits & (0x80 >> b)) ? fg : bg;
            }
        }
    }
}

static void
fill(guint32 *px, int stride, int width, int height,
     int x, int y, int w, int h, guint32 color)
{
    int x0 = MAX(x, 0), y0 = MAX(y, 0);
    int x1 = MIN(x + w, width), y1 = MIN(y + h, height);
    for (int yy = y0; yy < y1; yy++) {
        for (int xx = x0; xx < x1; xx++) {
            px[(gsize)yy * stride + xx] = color;
        }
    }
}

/* A line of shell-like text for line number @n. */
static void
terminal_line(guint n, char *buf, gsize len)
{
    static const char *const words[] = {
        "drwxr-xr-x", "root", "4096", "Nov", "25", "18:26", "src", "include",
        "meson.build", "-rw-r--r--", "crp-encoder.c", "make:", "CC", "LD",
        "libcrp.a", "[OK]", "error:", "warning:", "tests/unit", "0x7f3a",
    };
    gsize pos = 0;
    guint32 h = hash32(n + 1);
    while (pos + 16 < len) {
        const char *w = words[h % G_N_ELEMENTS(words)];
        gsize wl = strlen(w);
        if (pos + wl + 1 >= len) {
            break;
        }
        memcpy(buf + pos, w, wl);
        pos += wl;
        buf[pos++] = ' ';
        h = hash32(h);
        if (h % 7 == 0) {
            break;      /* ragged line ends, like real output */
        }
    }
    buf[pos] = '\0';
}

static void
render_terminal(guint frame, guint32 *px, int stride, int width, int height)
{
    const guint32 bg = 0x1e1e1e, fg = 0xd0d0d0;
    int rows = height / GLYPH_H, cols = width / GLYPH_W;
    char line[512];

    fill(px, stride, width, height, 0, 0, width, height, bg);
    /* Frame n shows lines n .. n+rows-1: one line scrolls per frame. */
    for (int r = 0; r < rows; r++) {
        terminal_line(frame + r, line, MIN((gsize)cols + 1, sizeof(line)));
        draw_text(px, stride, width, height, 0, r * GLYPH_H, line, fg, bg);
    }
}

/* A smooth, slightly noisy "photo" wallpaper: many distinct colours. */
static guint32
wallpaper(int x, int y)
{
    int r = 40 + (x * 120) / 1920 + ((y * 60) / 1080);
    int g = 70 + (int)(50 * sin(x * 0.004) * cos(y * 0.006));
    int b = 120 + (y * 100) / 1080;
    int noise = (int)(hash32(x * 7919 + y * 104729) & 7) - 4;
    r = CLAMP(r + noise, 0, 255);
    g = CLAMP(g + noise, 0, 255);
    b = CLAMP(b + noise, 0, 255);
    return (guint32)(r << 16 | g << 8 | b);
}

/* The wallpaper is computed once per size and copied: rendering is not
 * what the benchmarks measure. */
static void
render_wallpaper(guint32 *px, int stride, int width, int height)
{
    static guint32 *cache;
    static int cache_w, cache_h;

    if (!cache || cache_w != width || cache_h != height) {
        g_free(cache);
        cache = g_new(guint32, (gsize)width * height);
        cache_w = width;
        cache_h = height;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                cache[(gsize)y * width + x] = wallpaper(x, y);
            }
        }
    }
    for (int y = 0; y < height; y++) {
        memcpy(px + (gsize)y * stride, cache + (gsize)y * width, width * 4);
    }
}

static void
draw_window(guint32 *px, int stride, int width, int height, int wx, int wy,
            int ww, int wh)
{
    char text[128];
    fill(px, stride, width, height, wx, wy, ww, wh, 0xf4f4f4);
    fill(px, stride, width, height, wx, wy, ww, 28, 0x3a5f9e);
    draw_text(px, stride, width, height, wx + 10, wy + 6, "Files - Documents",
              0xffffff, 0x3a5f9e);
    for (int line = 0; line < (wh - 40) / 20; line++) {
        terminal_line(line * 13, text, 70);
        draw_text(px, stride, width, height, wx + 12, wy + 36 + line * 20, text,
                  0x202020, 0xf4f4f4);
    }
    fill(px, stride, width, height, wx, wy + wh - 1, ww, 1, 0x888888);
    fill(px, stride, width, height, wx + ww - 1, wy, 1, wh, 0x888888);
}

static void
render_window_drag(guint frame, guint32 *px, int stride, int width, int height)
{
    render_wallpaper(px, stride, width, height);
    /* Dragged diagonally, 12 px right and 6 px down per frame, bouncing. */
    int span_x = MAX(width - 640, 1), span_y = MAX(height - 480, 1);
    int x = (int)((frame * 12) % (2 * span_x));
    int y = (int)((100 + frame * 6) % (2 * span_y));
    x = x < span_x ? x : 2 * span_x - x;
    y = y < span_y ? y : 2 * span_y - y;
    draw_window(px, stride, width, height, x, y, 640, 480);
}

static void
render_desktop(guint32 *px, int stride, int width, int height)
{
    render_wallpaper(px, stride, width, height);
    draw_window(px, stride, width, height, 200, 150, 900, 600);
}

static void
render_video(guint frame, guint32 *px, int stride, int width, int height)
{
    render_desktop(px, stride, width, height);
    /* A moving plasma with grain: every pixel changes every frame. */
    int vx = MIN(1200, width - 640), vy = MIN(300, height - 360);
    double t = frame * 0.08;
    for (int y = 0; y < 360 && vy + y < height; y++) {
        for (int x = 0; x < 640 && vx + x < width; x++) {
            double v = sin(x * 0.02 + t) + sin(y * 0.03 - t * 1.3) +
                       sin((x + y) * 0.015 + t * 0.7);
            int grain = (int)(hash32(x * 31 + y * 8191 + frame * 65537) & 15) - 8;
            int r = CLAMP((int)(128 + 60 * v) + grain, 0, 255);
            int g = CLAMP((int)(100 + 40 * sin(v + t)) + grain, 0, 255);
            int b = CLAMP((int)(90 + 50 * cos(v * 1.5)) + grain, 0, 255);
            px[(gsize)(vy + y) * stride + vx + x] = (guint32)(r << 16 | g << 8 | b);
        }
    }
}

static void
render_idle(guint frame, guint32 *px, int stride, int width, int height)
{
    render_desktop(px, stride, width, height);
    /* A text cursor in the window blinking every 30 frames (0.5 s at 60 Hz). */
    if ((frame / 30) % 2 == 0) {
        fill(px, stride, width, height, 212 + 8 * 40, 186 + 20 * 5, 2, 16, 0x000000);
    }
}

/* Like the demo guest (tests/guest): a full-width band of a hue gradient
 * scrolling left 8 px a frame with a white bar bouncing across it, and
 * below it a window dragged right and back 12 px a frame over the photo
 * wallpaper. */
static void
render_sideways(guint frame, guint32 *px, int stride, int width, int height)
{
    const int band_y = 233, band_h = 96, bar_w = 24;

    render_wallpaper(px, stride, width, height);
    fill(px, stride, width, height, 0, 0, width, band_y + band_h + 24, 0x203040);
    int off = (int)((frame * 8) % (guint)width);
    int span = MAX(width - bar_w, 1);
    int bar = (int)((frame * 20) % (2 * (guint)span));
    bar = bar < span ? bar : 2 * span - bar;
    for (int row = 0; row < band_h && band_y + row < height; row++) {
        guint32 *dst = px + (gsize)(band_y + row) * stride;
        for (int x = 0; x < width; x++) {
            double h = (double)((x + off) % width) / width;
            double r = CLAMP(fabs(h * 6.0 - 3.0) - 1.0, 0.0, 1.0);
            double g = CLAMP(2.0 - fabs(h * 6.0 - 2.0), 0.0, 1.0);
            double b = CLAMP(2.0 - fabs(h * 6.0 - 4.0), 0.0, 1.0);
            dst[x] = (guint32)(r * 255) << 16 | (guint32)(g * 255) << 8 |
                     (guint32)(b * 255);
        }
        for (int i = 0; i < bar_w && bar + i < width; i++) {
            dst[bar + i] = 0xffffff;
        }
    }

    int wy = band_y + band_h + 60;
    int wspan = MAX(width - 640, 1);
    int wx = (int)((frame * 12) % (2 * (guint)wspan));
    wx = wx < wspan ? wx : 2 * wspan - wx;
    draw_window(px, stride, width, height, wx, wy, 640, MIN(480, height - wy));
}

void
crp_synth_render(CrpSynthScene scene, guint frame, pixman_image_t *image)
{
    guint32 *px = pixman_image_get_data(image);
    int stride = pixman_image_get_stride(image) / 4;
    int width = pixman_image_get_width(image);
    int height = pixman_image_get_height(image);

    switch (scene) {
    case CRP_SYNTH_TERMINAL:
        render_terminal(frame, px, stride, width, height);
        break;
    case CRP_SYNTH_WINDOW_DRAG:
        render_window_drag(frame, px, stride, width, height);
        break;
    case CRP_SYNTH_VIDEO:
        render_video(frame, px, stride, width, height);
        break;
    case CRP_SYNTH_SIDEWAYS:
        render_sideways(frame, px, stride, width, height);
        break;
    case CRP_SYNTH_IDLE:
    default:
        render_idle(frame, px, stride, width, height);
        break;
    }
}
