/*
 * crp-demo-guest - animated, audible, interactive test scene for CRP
 *
 * usage: crp-demo-guest [--tone HZ] [--amp A] [--fps N] [--fb DEV]
 *                       [--no-audio] [--no-mic] [--pointer] [--film S]
 *                       [--video WxH] [--typing]
 *
 * Screen (/dev/fb0, any 16/24/32 bpp layout): a solid background, a title,
 * a status block (last key, clicks, tone, microphone frequency, frame
 * counter) and a band with a scrolling colour gradient and a bouncing white
 * bar that changes every frame. A key press cycles the background colour;
 * a left/right/middle click draws a marker at the pointer position.
 * With --film S the band plays a film instead (a moving picture with
 * grain, what a classifier takes for video) for S seconds; then the whole
 * scene stops (nothing is drawn any more), so that what a client shows
 * can be compared with a screendump once the motion is over.
 * --video WxH adds a "video" at the right of the log: a picture panning
 * slowly, with film grain, new every frame (like filmed video, it never
 * repeats a pixel exactly, so it cannot be sent as a copy).
 * --typing: a key press only updates the status block (its first line,
 * "KEY code  KEYS n", changes with every press) and the log, as typing
 * into a terminal would, instead of recolouring the whole screen.
 * SIGUSR1 pauses and resumes the animation (band, video, log, frame
 * counter); input is still answered. "CRP-DEMO paused=1|0" says so.
 *
 * Sound: a continuous sine tone (default 440 Hz, S16 stereo 48 kHz) on
 * /dev/snd/pcmC0D0p; the microphone (/dev/snd/pcmC0D0c) is analysed once
 * per second.
 *
 * Serial console (stdout, line-buffered), one event per line:
 *   CRP-GUEST-READY mode=demo fb=WxHxBPP tone=HZ|0 mic=1|0 inputs=N
 *   CRP-KEY code=C value=0|1 bg=I
 *   CRP-CLICK button=left|right|middle x=X y=Y   (press)
 *   CRP-RELEASE button=... x=X y=Y
 *   CRP-WHEEL delta=D
 *   CRP-POINTER x=X y=Y                           (only with --pointer)
 *   CRP-MIC freq=HZ rms=R peak=P                  (freq=0: silence)
 *   CRP-DEMO ...                                   (informational)
 *   CRP-VIDEO-STOPPED frames=N                     (--video: the scene is still)
 * Missing pieces (no fb, no sound card, no tablet) are reported and
 * skipped; the program keeps running.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <linux/input.h>
#include <linux/kd.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "film.h"
#include "font.h"
#include "guest-tools.h"
#include "pcm.h"
#include "spectrum.h"

#define MAX_INPUTS 16
#define MAX_MARKS 64
#define MARK_R 10
#define LOG_MAX 64
#define BAND_H 96

typedef struct Input {
    int fd;
    char path[300];
    int abs_min[2];
    int abs_max[2];
} Input;

typedef struct Mark {
    int x, y;
    uint32_t colour;
} Mark;

typedef struct Demo {
    /* framebuffer */
    int fb_fd;
    uint8_t *fb;
    size_t fb_len;
    struct fb_var_screeninfo var;
    struct fb_fix_screeninfo fix;
    int w, h;
    uint32_t *canvas; /* XRGB8888, w*h */
    uint32_t *hues;   /* 2*w gradient row */
    double anim_t;    /* animation time: stands still while paused */
    int tty_fd;

    /* scene state */
    int bg;
    unsigned keys;
    int last_key;
    unsigned clicks;
    Mark marks[MAX_MARKS];
    int nmarks;
    unsigned long frame;
    char log[LOG_MAX][64]; /* ring of the scrolling log's lines */
    int log_next;
    int log_count;

    /* input */
    Input inputs[MAX_INPUTS];
    int ninputs;
    int px, py;
    int pending_button; /* BTN_* pressed/released in the current SYN frame */
    int pending_value;
    int moved;
    int verbose_pointer;
    int typing;             /* --typing: keys leave the background alone */

    /* --video */
    int video_w, video_h;
    uint32_t *video_tex;    /* 2w x 2h smooth picture the video pans over */
    int8_t *grain;          /* GRAIN_LEN noise values */
    unsigned long video_frame;

    /* audio */
    double tone;
    double amp;
    int no_audio, no_mic;
    char audio_state[64];

    /* --film: seconds the film plays (0: the gradient band); then the
     * scene is frozen */
    double film_s;
    int frozen;
} Demo;

static volatile sig_atomic_t quit;
static volatile sig_atomic_t pause_toggles;
static atomic_int mic_freq = -1;
/* 0 while opening, 1 running, -1 unavailable; READY waits for both. */
static atomic_int tone_state;
static atomic_int mic_state;

static const uint32_t palette[] = {
    0x102040, 0x204010, 0x401010, 0x302050, 0x105050, 0x505050, 0x504010,
};
#define NPALETTE ((int)(sizeof(palette) / sizeof(palette[0])))

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

static void on_pause_signal(int sig)
{
    (void)sig;
    pause_toggles++;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- framebuffer ------------------------------------------------------ */

static int fb_open(Demo *d, const char *path)
{
    d->fb_fd = open(path, O_RDWR | O_CLOEXEC);
    if (d->fb_fd < 0) {
        printf("CRP-DEMO fb=none reason=\"%s: %s\"\n", path, strerror(errno));
        return -1;
    }
    if (ioctl(d->fb_fd, FBIOGET_VSCREENINFO, &d->var) < 0 ||
        ioctl(d->fb_fd, FBIOGET_FSCREENINFO, &d->fix) < 0) {
        printf("CRP-DEMO fb=none reason=\"FBIOGET: %s\"\n", strerror(errno));
        close(d->fb_fd);
        d->fb_fd = -1;
        return -1;
    }
    unsigned bpp = d->var.bits_per_pixel;
    if (bpp != 16 && bpp != 24 && bpp != 32) {
        printf("CRP-DEMO fb=none reason=\"unsupported bpp %u\"\n", bpp);
        close(d->fb_fd);
        d->fb_fd = -1;
        return -1;
    }
    d->fb_len = d->fix.smem_len;
    d->fb = mmap(NULL, d->fb_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                 d->fb_fd, 0);
    if (d->fb == MAP_FAILED) {
        printf("CRP-DEMO fb=none reason=\"mmap: %s\"\n", strerror(errno));
        close(d->fb_fd);
        d->fb_fd = -1;
        d->fb = NULL;
        return -1;
    }
    d->w = (int)d->var.xres;
    d->h = (int)d->var.yres;
    d->canvas = calloc((size_t)d->w * d->h, sizeof(uint32_t));
    d->hues = calloc((size_t)d->w * 2, sizeof(uint32_t));
    if (!d->canvas || !d->hues || d->w < 64 || d->h < BAND_H + 64) {
        printf("CRP-DEMO fb=none reason=\"%dx%d: too small or out of memory\"\n",
               d->w, d->h);
        free(d->canvas);
        free(d->hues);
        d->canvas = NULL;
        d->hues = NULL;
        d->w = 0;
        d->h = 0;
        munmap(d->fb, d->fb_len);
        d->fb = NULL;
        close(d->fb_fd);
        d->fb_fd = -1;
        return -1;
    }
    printf("CRP-DEMO fb=%s %dx%d bpp=%u stride=%u r=%u/%u g=%u/%u b=%u/%u\n",
           path, d->w, d->h, bpp, d->fix.line_length, d->var.red.offset,
           d->var.red.length, d->var.green.offset, d->var.green.length,
           d->var.blue.offset, d->var.blue.length);

    /* Keep fbcon (cursor blink, kernel messages) off our pixels. */
    d->tty_fd = open("/dev/tty1", O_RDWR | O_CLOEXEC);
    if (d->tty_fd >= 0 && ioctl(d->tty_fd, KDSETMODE, KD_GRAPHICS) < 0) {
        close(d->tty_fd);
        d->tty_fd = -1;
    }
    return 0;
}

static uint32_t fb_pixel(const Demo *d, uint32_t xrgb)
{
    uint32_t r = (xrgb >> 16) & 0xff, g = (xrgb >> 8) & 0xff, b = xrgb & 0xff;
    const struct fb_var_screeninfo *v = &d->var;

    return (r >> (8 - v->red.length)) << v->red.offset |
           (g >> (8 - v->green.length)) << v->green.offset |
           (b >> (8 - v->blue.length)) << v->blue.offset;
}

/* Copies a canvas rectangle to the framebuffer in its pixel format. */
static void present(Demo *d, int x, int y, int w, int h)
{
    if (!d->fb) {
        return;
    }
    if (x < 0) { w += x; x = 0; }
    if (y < 0) { h += y; y = 0; }
    if (x + w > d->w) { w = d->w - x; }
    if (y + h > d->h) { h = d->h - y; }
    if (w <= 0 || h <= 0) {
        return;
    }
    int fast = d->var.bits_per_pixel == 32 && d->var.red.offset == 16 &&
               d->var.green.offset == 8 && d->var.blue.offset == 0;
    unsigned bytes = d->var.bits_per_pixel / 8;

    for (int row = y; row < y + h; row++) {
        const uint32_t *src = d->canvas + (size_t)row * d->w + x;
        uint8_t *dst = d->fb + (size_t)(row + d->var.yoffset) *
                       d->fix.line_length + (size_t)(x + d->var.xoffset) * bytes;

        if ((size_t)(dst - d->fb) + (size_t)w * bytes > d->fb_len) {
            return;
        }
        if (fast) {
            memcpy(dst, src, (size_t)w * 4);
            continue;
        }
        for (int i = 0; i < w; i++) {
            uint32_t p = fb_pixel(d, src[i]);
            memcpy(dst + (size_t)i * bytes, &p, bytes); /* little endian */
        }
    }
}

static void fill(Demo *d, int x, int y, int w, int h, uint32_t c)
{
    if (!d->canvas) {
        return;
    }
    for (int row = y < 0 ? 0 : y; row < y + h && row < d->h; row++) {
        for (int col = x < 0 ? 0 : x; col < x + w && col < d->w; col++) {
            d->canvas[(size_t)row * d->w + col] = c;
        }
    }
}

static int text_width(const char *s, int scale)
{
    return (int)strlen(s) * (CRP_FONT_W + 1) * scale;
}

static void text(Demo *d, int x, int y, int scale, uint32_t c, const char *s)
{
    for (; *s; s++, x += (CRP_FONT_W + 1) * scale) {
        const uint8_t *g = crp_font_glyph(*s);

        for (int r = 0; r < CRP_FONT_H; r++) {
            for (int b = 0; b < CRP_FONT_W; b++) {
                if (g[r] & (0x10 >> b)) {
                    fill(d, x + b * scale, y + r * scale, scale, scale, c);
                }
            }
        }
    }
}

/* ---- scene ------------------------------------------------------------ */

#define TITLE_Y 16
#define STATUS_Y 64
#define STATUS_SCALE 3
#define STATUS_LINE (CRP_FONT_H * STATUS_SCALE + 8)
#define STATUS_LINES 5

static int band_y(const Demo *d)
{
    int y = STATUS_Y + STATUS_LINES * STATUS_LINE + 24;
    return y + BAND_H <= d->h ? y : d->h - BAND_H;
}

static void draw_mark(Demo *d, const Mark *m)
{
    for (int dy = -MARK_R; dy <= MARK_R; dy++) {
        for (int dx = -MARK_R; dx <= MARK_R; dx++) {
            int r2 = dx * dx + dy * dy;
            int ring = r2 <= MARK_R * MARK_R && r2 >= (MARK_R - 3) * (MARK_R - 3);
            int cross = (dx == 0 || dy == 0) && r2 <= (MARK_R - 4) * (MARK_R - 4);

            if (ring || cross) {
                fill(d, m->x + dx, m->y + dy, 1, 1, m->colour);
            }
        }
    }
}

static void draw_status(Demo *d, int present_it)
{
    char line[STATUS_LINES][128];
    int mf = atomic_load(&mic_freq);

    if (!d->canvas) {
        return;
    }
    snprintf(line[0], sizeof(line[0]), "KEY %d  KEYS %u", d->last_key, d->keys);
    snprintf(line[1], sizeof(line[1]), "CLICKS %u  AT %d %d", d->clicks,
             d->nmarks ? d->marks[(d->nmarks - 1)].x : -1,
             d->nmarks ? d->marks[(d->nmarks - 1)].y : -1);
    snprintf(line[2], sizeof(line[2]), "TONE %.0f HZ  %s", d->tone,
             d->audio_state);
    if (mf < 0) {
        snprintf(line[3], sizeof(line[3]), "MIC NONE");
    } else {
        snprintf(line[3], sizeof(line[3]), "MIC %d HZ", mf);
    }
    snprintf(line[4], sizeof(line[4]), "FRAME %lu", d->frame);

    int h = STATUS_LINES * STATUS_LINE;
    int w = d->w - 32;
    fill(d, 16, STATUS_Y, w, h, palette[d->bg]);
    for (int i = 0; i < STATUS_LINES; i++) {
        text(d, 16, STATUS_Y + i * STATUS_LINE, STATUS_SCALE, 0xffffff,
             line[i]);
    }
    for (int i = 0; i < d->nmarks; i++) {
        if (d->marks[i].y + MARK_R >= STATUS_Y &&
            d->marks[i].y - MARK_R < STATUS_Y + h) {
            draw_mark(d, &d->marks[i]);
        }
    }
    if (present_it) {
        present(d, 0, STATUS_Y, d->w, h);
    }
}

static uint32_t hue(double h)
{
    double r = fabs(h * 6.0 - 3.0) - 1.0;
    double g = 2.0 - fabs(h * 6.0 - 2.0);
    double b = 2.0 - fabs(h * 6.0 - 4.0);

    r = r < 0 ? 0 : r > 1 ? 1 : r;
    g = g < 0 ? 0 : g > 1 ? 1 : g;
    b = b < 0 ? 0 : b > 1 ? 1 : b;
    return (uint32_t)(r * 255) << 16 | (uint32_t)(g * 255) << 8 |
           (uint32_t)(b * 255);
}

/* The film (film.h) in the band. */
static void draw_film(Demo *d, double t)
{
    int y0 = band_y(d);

    crp_film_draw(d->canvas + (size_t)y0 * d->w, d->w, d->w, BAND_H, d->frame,
                  (unsigned)(t * 1000.0));
    present(d, 0, y0, d->w, BAND_H);
}

static void draw_band(Demo *d, double t)
{
    int y0 = band_y(d);

    if (d->film_s > 0) {
        draw_film(d, t);
        return;
    }
    int off = (int)(t * 240.0) % d->w;
    int bar_w = 24;
    double phase = fmod(t / 3.0, 2.0);
    int bar_x = (int)((phase < 1.0 ? phase : 2.0 - phase) * (d->w - bar_w));

    for (int row = 0; row < BAND_H; row++) {
        uint32_t *dst = d->canvas + (size_t)(y0 + row) * d->w;

        memcpy(dst, d->hues + off, (size_t)d->w * 4);
        for (int i = 0; i < bar_w; i++) {
            dst[bar_x + i] = 0xffffff;
        }
    }
    for (int i = 0; i < d->nmarks; i++) {
        if (d->marks[i].y + MARK_R >= y0 && d->marks[i].y - MARK_R < y0 + BAND_H) {
            draw_mark(d, &d->marks[i]);
        }
    }
    present(d, 0, y0, d->w, BAND_H);
}

/*
 * The log area scrolls up one line per entry (one a second, plus one per
 * key or click): a moving region whose pixels are an exact vertical copy,
 * the case CRP encodes as COPY.
 */
#define LOG_SCALE 2
#define LOG_LINE (CRP_FONT_H * LOG_SCALE + 6)

static void log_area(const Demo *d, int *y, int *h)
{
    *y = band_y(d) + BAND_H + 24;
    *h = d->h - 16 - *y;
    *h -= *h % LOG_LINE;
    if (*h < 0) {
        *h = 0;
    }
}

static void log_draw_line(Demo *d, int y, const char *line)
{
    /* Left of the video, if there is one. */
    fill(d, 16, y, d->w - 32 - (d->video_tex ? d->video_w + 16 : 0), LOG_LINE,
         palette[d->bg]);
    text(d, 16, y + 3, LOG_SCALE, 0xa0ffa0, line);
}

static void log_redraw_marks(Demo *d, int y0, int h)
{
    for (int i = 0; i < d->nmarks; i++) {
        if (d->marks[i].y + MARK_R >= y0 && d->marks[i].y - MARK_R < y0 + h) {
            draw_mark(d, &d->marks[i]);
        }
    }
}

static void log_draw_all(Demo *d)
{
    int y0, h;

    log_area(d, &y0, &h);
    int rows = h / LOG_LINE;
    for (int r = 0; r < rows; r++) {
        int back = rows - r; /* 1 = newest, on the bottom row */
        const char *line = "";

        if (back <= d->log_count) {
            line = d->log[(d->log_next - back + LOG_MAX) % LOG_MAX];
        }
        log_draw_line(d, y0 + r * LOG_LINE, line);
    }
    log_redraw_marks(d, y0, h);
}

static void log_add(Demo *d, const char *line)
{
    int y0, h;

    snprintf(d->log[d->log_next], sizeof(d->log[0]), "%s", line);
    d->log_next = (d->log_next + 1) % LOG_MAX;
    if (d->log_count < LOG_MAX) {
        d->log_count++;
    }
    if (!d->canvas) {
        return;
    }
    log_area(d, &y0, &h);
    if (h < LOG_LINE) {
        return;
    }
    /* Redrawn rather than memmoved, so the click marks stay where they are. */
    log_draw_all(d);
    present(d, 0, y0, d->w, h);
}

/* ---- video ------------------------------------------------------------ */

#define GRAIN_LEN 65536
#define GRAIN_AMP 6

static void video_area(const Demo *d, int *x, int *y)
{
    int ly, lh;

    log_area(d, &ly, &lh);
    *x = d->w - 16 - d->video_w;
    *y = ly;
}

static int video_init(Demo *d)
{
    int tw = 2 * d->video_w, th = 2 * d->video_h;
    uint32_t seed = 0x12345678;

    d->video_tex = malloc(sizeof(uint32_t) * tw * th);
    d->grain = malloc(GRAIN_LEN);
    if (!d->video_tex || !d->grain) {
        return -1;
    }
    /* Smooth colour fields crossing each other, with some finer ripples:
     * gradients and detail, as in filmed scenes. */
    for (int y = 0; y < th; y++) {
        for (int x = 0; x < tw; x++) {
            double a = sin(x * 0.011 + y * 0.007) + sin(y * 0.019 - x * 0.004);
            double b = sin(hypot(x - tw * 0.3, y - th * 0.6) * 0.045);
            double c = sin(x * 0.09) * sin(y * 0.07);
            int r = 128 + (int)(50 * a + 40 * b + 20 * c);
            int g = 110 + (int)(40 * a - 45 * b + 15 * c);
            int bl = 120 + (int)(-45 * a + 30 * b + 25 * c);
            r = r < 0 ? 0 : r > 255 ? 255 : r;
            g = g < 0 ? 0 : g > 255 ? 255 : g;
            bl = bl < 0 ? 0 : bl > 255 ? 255 : bl;
            d->video_tex[(size_t)y * tw + x] = (uint32_t)r << 16 | g << 8 | bl;
        }
    }
    for (int i = 0; i < GRAIN_LEN; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        d->grain[i] = (int8_t)((int)(seed % (2 * GRAIN_AMP + 1)) - GRAIN_AMP);
    }
    return 0;
}

static uint32_t add_grain(uint32_t p, int n)
{
    int r = (int)(p >> 16 & 0xff) + n;
    int g = (int)(p >> 8 & 0xff) + n;
    int b = (int)(p & 0xff) + n;

    r = r < 0 ? 0 : r > 255 ? 255 : r;
    g = g < 0 ? 0 : g > 255 ? 255 : g;
    b = b < 0 ? 0 : b > 255 ? 255 : b;
    return (uint32_t)r << 16 | g << 8 | b;
}

/* One video frame: the view pans on an ellipse over the picture, with
 * grain that differs in every frame. */
static void draw_video(Demo *d, int present_it)
{
    int vx, vy;

    if (!d->video_tex || !d->canvas) {
        return;
    }
    video_area(d, &vx, &vy);
    int tw = 2 * d->video_w;
    double a = d->video_frame * 0.02;
    int ox = (int)((0.5 + 0.45 * sin(a)) * d->video_w);
    int oy = (int)((0.5 + 0.45 * cos(a * 0.7)) * d->video_h);
    unsigned g = (unsigned)(d->video_frame * 7919u);

    for (int y = 0; y < d->video_h; y++) {
        const uint32_t *src = d->video_tex + (size_t)(oy + y) * tw + ox;
        uint32_t *dst = d->canvas + (size_t)(vy + y) * d->w + vx;
        g = g * 1103515245u + 12345u;
        unsigned base = g >> 8;
        for (int x = 0; x < d->video_w; x++) {
            dst[x] = add_grain(src[x], d->grain[(base + x) & (GRAIN_LEN - 1)]);
        }
    }
    if (present_it) {
        present(d, vx, vy, d->video_w, d->video_h);
    }
}

static void draw_all(Demo *d, double t)
{
    if (!d->canvas) {
        return;
    }
    fill(d, 0, 0, d->w, d->h, palette[d->bg]);
    text(d, 16, TITLE_Y, 4, 0xffd040, "CRP DEMO GUEST");
    text(d, d->w - 16 - text_width("PRESS A KEY OR CLICK", 2), TITLE_Y + 8, 2,
         0xc0c0c0, "PRESS A KEY OR CLICK");
    for (int i = 0; i < d->nmarks; i++) {
        draw_mark(d, &d->marks[i]);
    }
    draw_status(d, 0);
    log_draw_all(d);
    draw_video(d, 0);
    present(d, 0, 0, d->w, d->h);
    (void)t;
    draw_band(d, d->anim_t);
}

static void add_mark(Demo *d, int x, int y)
{
    static const uint32_t colours[] = { 0xffffff, 0xffff00, 0x00ffff,
                                        0xff00ff, 0xff8000, 0x00ff00 };
    Mark m = { x, y, colours[d->clicks % 6] };

    if (d->nmarks == MAX_MARKS) {
        memmove(d->marks, d->marks + 1, sizeof(Mark) * (MAX_MARKS - 1));
        d->nmarks--;
    }
    d->marks[d->nmarks++] = m;
    if (d->canvas) {
        draw_mark(d, &m);
        present(d, x - MARK_R, y - MARK_R, 2 * MARK_R + 1, 2 * MARK_R + 1);
    }
}

/* ---- input ------------------------------------------------------------ */

#define BIT(arr, n) ((arr)[(n) / (8 * sizeof(long))] >> ((n) % (8 * sizeof(long))) & 1)

static void input_scan(Demo *d)
{
    DIR *dir = opendir("/dev/input");
    struct dirent *e;

    if (!dir) {
        return;
    }
    while ((e = readdir(dir)) && d->ninputs < MAX_INPUTS) {
        char path[300];
        int known = 0;

        if (strncmp(e->d_name, "event", 5) != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
        for (int i = 0; i < d->ninputs; i++) {
            known |= strcmp(d->inputs[i].path, path) == 0;
        }
        if (known) {
            continue;
        }
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        Input *in = &d->inputs[d->ninputs++];
        unsigned long ev[1] = { 0 };
        char name[128] = "?";

        memset(in, 0, sizeof(*in));
        in->fd = fd;
        snprintf(in->path, sizeof(in->path), "%s", path);
        ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name);
        ioctl(fd, EVIOCGBIT(0, sizeof(ev)), ev);
        if (BIT(ev, EV_ABS)) {
            struct input_absinfo ai;

            for (int a = 0; a < 2; a++) {
                in->abs_max[a] = 32767;
                if (ioctl(fd, EVIOCGABS(a == 0 ? ABS_X : ABS_Y), &ai) == 0 &&
                    ai.maximum > ai.minimum) {
                    in->abs_min[a] = ai.minimum;
                    in->abs_max[a] = ai.maximum;
                }
            }
        }
        printf("CRP-DEMO input=%s name=\"%s\" key=%d abs=%d rel=%d\n", path,
               name, (int)BIT(ev, EV_KEY), (int)BIT(ev, EV_ABS),
               (int)BIT(ev, EV_REL));
    }
    closedir(dir);
}

static int scale_abs(const Input *in, int axis, int v, int size)
{
    long span = (long)in->abs_max[axis] - in->abs_min[axis];
    long s = ((long)v - in->abs_min[axis]) * (size - 1) / (span ? span : 1);

    return s < 0 ? 0 : s >= size ? size - 1 : (int)s;
}

static const char *button_name(int code)
{
    switch (code) {
    case BTN_LEFT: return "left";
    case BTN_RIGHT: return "right";
    case BTN_MIDDLE: return "middle";
    default: return NULL;
    }
}

static void input_event(Demo *d, Input *in, const struct input_event *ev,
                        double t)
{
    int w = d->w ? d->w : 1024;
    int h = d->h ? d->h : 768;

    switch (ev->type) {
    case EV_KEY:
        if (button_name(ev->code)) {
            if (ev->value != 2) {
                d->pending_button = ev->code;
                d->pending_value = ev->value;
            }
        } else if (ev->code < BTN_MISC && ev->value != 2) {
            if (ev->value == 1) {
                d->keys++;
                d->last_key = ev->code;
                if (d->typing) {
                    draw_status(d, 1);
                } else {
                    d->bg = (d->bg + 1) % NPALETTE;
                    draw_all(d, t);
                }
            }
            printf("CRP-KEY code=%d value=%d bg=%d\n", ev->code, ev->value,
                   d->bg);
            if (ev->value == 1) {
                char line[64];
                snprintf(line, sizeof(line), "KEY %d DOWN", ev->code);
                log_add(d, line);
            }
        }
        break;
    case EV_ABS:
        if (ev->code == ABS_X) {
            d->px = scale_abs(in, 0, ev->value, w);
            d->moved = 1;
        } else if (ev->code == ABS_Y) {
            d->py = scale_abs(in, 1, ev->value, h);
            d->moved = 1;
        }
        break;
    case EV_REL:
        if (ev->code == REL_WHEEL) {
            printf("CRP-WHEEL delta=%d\n", ev->value);
        }
        break;
    case EV_SYN:
        if (ev->code != SYN_REPORT) {
            break;
        }
        if (d->moved && d->verbose_pointer) {
            printf("CRP-POINTER x=%d y=%d\n", d->px, d->py);
        }
        d->moved = 0;
        if (d->pending_button) {
            const char *name = button_name(d->pending_button);

            if (d->pending_value) {
                d->clicks++;
                add_mark(d, d->px, d->py);
                draw_status(d, 1);
                printf("CRP-CLICK button=%s x=%d y=%d\n", name, d->px, d->py);
                char line[64];
                snprintf(line, sizeof(line), "CLICK %s %d %d", name, d->px,
                         d->py);
                log_add(d, line);
            } else {
                printf("CRP-RELEASE button=%s x=%d y=%d\n", name, d->px,
                       d->py);
            }
            d->pending_button = 0;
        }
        break;
    }
}

static void input_poll(Demo *d, int timeout_ms, double t)
{
    struct pollfd p[MAX_INPUTS];

    for (int i = 0; i < d->ninputs; i++) {
        p[i].fd = d->inputs[i].fd;
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    if (poll(p, (nfds_t)d->ninputs, timeout_ms) <= 0) {
        return;
    }
    for (int i = 0; i < d->ninputs; i++) {
        struct input_event ev[32];
        ssize_t n;

        if (!(p[i].revents & POLLIN)) {
            continue;
        }
        while ((n = read(p[i].fd, ev, sizeof(ev))) > 0) {
            for (size_t k = 0; k < (size_t)n / sizeof(ev[0]); k++) {
                input_event(d, &d->inputs[i], &ev[k], t);
            }
        }
    }
}

/* ---- audio ------------------------------------------------------------ */

static void *tone_thread(void *arg)
{
    Demo *d = arg;
    CrpPcmConfig cfg = { 48000, 2, 960, 8 };
    char err[160];
    CrpPcm *pcm = crp_pcm_open("/dev/snd/pcmC0D0p", 0, &cfg, err, sizeof(err));

    if (!pcm) {
        printf("CRP-DEMO tone=none reason=\"%s\"\n", err);
        snprintf(d->audio_state, sizeof(d->audio_state), "NO SOUND");
        atomic_store(&tone_state, -1);
        return NULL;
    }
    atomic_store(&tone_state, 1);
    printf("CRP-DEMO tone freq=%.0f rate=%u channels=%u period=%u periods=%u\n",
           d->tone, cfg.rate, cfg.channels, cfg.period_frames, cfg.periods);
    snprintf(d->audio_state, sizeof(d->audio_state), "PLAYING");

    int16_t *buf = malloc(sizeof(int16_t) * cfg.period_frames * cfg.channels);
    double phase = 0.0, step = 2.0 * M_PI * d->tone / cfg.rate;
    unsigned reported = 0;

    while (!quit) {
        for (unsigned i = 0; i < cfg.period_frames; i++) {
            int16_t v = (int16_t)lrint(sin(phase) * d->amp * 32767.0);

            for (unsigned c = 0; c < cfg.channels; c++) {
                buf[i * cfg.channels + c] = v;
            }
            phase += step;
            if (phase > 2.0 * M_PI) {
                phase -= 2.0 * M_PI;
            }
        }
        int rc = crp_pcm_write(pcm, buf, cfg.period_frames);
        if (rc < 0) {
            printf("CRP-DEMO tone error=%d\n", rc);
            snprintf(d->audio_state, sizeof(d->audio_state), "SOUND ERROR");
            break;
        }
        if (crp_pcm_xruns(pcm) >= reported + 50) {
            reported = crp_pcm_xruns(pcm);
            printf("CRP-DEMO tone underruns=%u\n", reported);
        }
    }
    free(buf);
    crp_pcm_close(pcm);
    return NULL;
}

static void *mic_thread(void *arg)
{
    (void)arg;
    CrpPcmConfig cfg = { 48000, 2, 960, 8 };
    char err[160];
    CrpPcm *pcm = crp_pcm_open("/dev/snd/pcmC0D0c", 1, &cfg, err, sizeof(err));

    if (!pcm) {
        printf("CRP-DEMO mic=none reason=\"%s\"\n", err);
        atomic_store(&mic_state, -1);
        return NULL;
    }
    atomic_store(&mic_state, 1);
    printf("CRP-DEMO mic rate=%u channels=%u\n", cfg.rate, cfg.channels);
    int16_t *buf = malloc(sizeof(int16_t) * cfg.rate * cfg.channels);

    while (!quit) {
        CrpSpectrumResult r;
        int rc = crp_pcm_read(pcm, buf, cfg.rate);

        if (rc < 0) {
            printf("CRP-DEMO mic error=%d\n", rc);
            break;
        }
        if (crp_spectrum_analyse(buf, cfg.rate, cfg.channels, cfg.rate, 16384,
                                 &r) == 0) {
            printf("CRP-MIC freq=%.0f rms=%.4f peak=%.4f\n", r.freq, r.rms,
                   r.peak);
            atomic_store(&mic_freq, (int)lrint(r.freq));
        }
    }
    free(buf);
    crp_pcm_close(pcm);
    return NULL;
}

/* ---- main ------------------------------------------------------------- */

int crp_demo_main(int argc, char **argv)
{
    static Demo demo;
    Demo *d = &demo;
    const char *fb_path = "/dev/fb0";
    double fps = 30.0;

    d->tone = 440.0;
    d->amp = 0.3;
    d->fb_fd = -1;
    d->tty_fd = -1;
    d->last_key = -1;
    snprintf(d->audio_state, sizeof(d->audio_state), "STARTING");
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(argv[i], "--tone") && next) {
            d->tone = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--amp") && next) {
            d->amp = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--fps") && next) {
            fps = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--fb") && next) {
            fb_path = argv[++i];
        } else if (!strcmp(argv[i], "--no-audio")) {
            d->no_audio = 1;
        } else if (!strcmp(argv[i], "--no-mic")) {
            d->no_mic = 1;
        } else if (!strcmp(argv[i], "--pointer")) {
            d->verbose_pointer = 1;
        } else if (!strcmp(argv[i], "--film") && next) {
            d->film_s = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--typing")) {
            d->typing = 1;
        } else if (!strcmp(argv[i], "--video") && next &&
                   sscanf(argv[++i], "%dx%d", &d->video_w, &d->video_h) == 2 &&
                   d->video_w > 0 && d->video_h > 0) {
            /* sized to the screen once it is open */
        } else {
            fprintf(stderr, "usage: %s [--tone HZ] [--amp A] [--fps N] "
                    "[--fb DEV] [--no-audio] [--no-mic] [--pointer] "
                    "[--film S] [--video WxH] [--typing]\n", argv[0]);
            return 2;
        }
    }
    if (fps < 1.0) {
        fps = 1.0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGUSR1, on_pause_signal);

    double t0 = now_s();
    if (fb_open(d, fb_path) == 0) {
        for (int x = 0; x < 2 * d->w; x++) {
            d->hues[x] = hue((double)(x % d->w) / d->w);
        }
        int vx, vy;
        if (d->video_w > 0) {
            video_area(d, &vx, &vy);
            if (vx < d->w / 3 || vy + d->video_h > d->h || video_init(d) < 0) {
                printf("CRP-DEMO video %dx%d does not fit; none\n",
                       d->video_w, d->video_h);
                d->video_w = d->video_h = 0;
            }
        }
    }
    input_scan(d);

    pthread_t tone_tid, mic_tid;
    int tone_started = 0, mic_started = 0;
    if (!d->no_audio && d->tone > 0) {
        tone_started = pthread_create(&tone_tid, NULL, tone_thread, d) == 0;
    } else {
        snprintf(d->audio_state, sizeof(d->audio_state), "MUTED");
    }
    if (!tone_started) {
        atomic_store(&tone_state, -1);
    }
    if (!d->no_audio && !d->no_mic) {
        mic_started = pthread_create(&mic_tid, NULL, mic_thread, d) == 0;
    }
    if (!mic_started) {
        atomic_store(&mic_state, -1);
    }

    draw_all(d, 0.0);
    /* READY tells what works, so wait (bounded) for the sound devices. */
    for (int i = 0; i < 300 && (atomic_load(&tone_state) == 0 ||
                                atomic_load(&mic_state) == 0); i++) {
        usleep(10000);
    }
    printf("CRP-GUEST-READY mode=demo fb=%dx%dx%u tone=%.0f mic=%d inputs=%d\n",
           d->w, d->h, d->fb ? d->var.bits_per_pixel : 0,
           atomic_load(&tone_state) > 0 ? d->tone : 0.0,
           atomic_load(&mic_state) > 0, d->ninputs);

    double frame_s = 1.0 / fps;
    double next = now_s();
    double rescan = next + 2.0;
    double next_log = 1.0;
    int last_mic = -2;
    char last_audio[64] = "";
    int paused = 0;
    double paused_s = 0.0, paused_at = 0.0;
    while (!quit) {
        double t = now_s();

        if (d->film_s > 0 && !d->frozen && t - t0 >= d->film_s) {
            d->frozen = 1;
            printf("CRP-VIDEO-STOPPED frames=%lu\n", d->frame);
        }
        if ((pause_toggles & 1) != paused) {
            paused = pause_toggles & 1;
            if (paused) {
                paused_at = t;
            } else {
                paused_s += t - paused_at;
                next = t;
            }
            printf("CRP-DEMO paused=%d\n", paused);
        }
        if (!paused && t >= next) {
            int mf = atomic_load(&mic_freq);

            d->frame++;
            d->anim_t = t - t0 - paused_s;
            if (d->canvas && !d->frozen) {
                draw_band(d, d->anim_t);
                d->video_frame++;
                draw_video(d, 1);
                if (d->anim_t >= next_log) {
                    char line[64];
                    if (mf < 0) {
                        snprintf(line, sizeof(line), "T %.0f FRAME %lu MIC NONE",
                                 d->anim_t, d->frame);
                    } else {
                        snprintf(line, sizeof(line), "T %.0f FRAME %lu MIC %d HZ",
                                 d->anim_t, d->frame, mf);
                    }
                    log_add(d, line);
                    next_log += 1.0;
                }
                if ((d->frame % (unsigned long)fps) == 0 || mf != last_mic ||
                    strcmp(last_audio, d->audio_state) != 0) {
                    draw_status(d, 1);
                    last_mic = mf;
                    snprintf(last_audio, sizeof(last_audio), "%s",
                             d->audio_state);
                }
            }
            next += frame_s;
            if (next < t) {
                next = t + frame_s; /* fell behind (slow TCG): don't spin */
            }
        }
        if (t >= rescan) {
            input_scan(d);
            rescan = t + 2.0;
        }
        int wait_ms = paused ? 50 : (int)((next - now_s()) * 1000.0);
        input_poll(d, wait_ms < 0 ? 0 : wait_ms, t - t0);
    }

    if (tone_started) {
        pthread_join(tone_tid, NULL);
    }
    if (mic_started) {
        pthread_cancel(mic_tid);
    }
    if (d->tty_fd >= 0) {
        ioctl(d->tty_fd, KDSETMODE, KD_TEXT);
    }
    printf("CRP-DEMO exit frames=%lu\n", d->frame);
    return 0;
}
