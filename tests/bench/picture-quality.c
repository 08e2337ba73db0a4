/*
 * picture-quality: how close a client's picture is to the guest's screen.
 *
 *   picture-quality REFERENCE.ppm PICTURE.ppm [PICTURE.ppm ...]
 *
 * Both 8-bit binary PPMs (P6) of the same size: REFERENCE is QEMU's
 * screendump, each PICTURE what a client showed at the same moment
 * (bench-vnc-vs-crp writes them). One JSON object per PICTURE on stdout:
 *
 *   psnr_y    PSNR of the luma (BT.601: Y = 0.299 R + 0.587 G + 0.114 B,
 *             rounded to 0..255) over the whole picture, dB; Infinity if
 *             equal;
 *   psnr_rgb  PSNR over R, G and B together, dB;
 *   ssim_y    SSIM of the luma (Wang et al. 2004, constants
 *             C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2) over 8x8 windows
 *             every 4 pixels (as x264 and libvpx compute it), averaged;
 *   differing pixels whose R, G or B differ at all, and pixels in all.
 *
 * Whole-picture figures: the parts of the screen that did not change count
 * as much as the parts that did (a still desktop around a video region
 * raises the PSNR); `differing` says how much of the picture is off.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define WIN 8
#define STEP 4

typedef struct {
    int width, height;
    guint8 *rgb;        /* width * height * 3 */
    guint8 *luma;       /* width * height */
    gchar *data;
} Picture;

static void picture_free(Picture *p)
{
    if (p) {
        g_free(p->data);
        g_free(p->luma);
        g_free(p);
    }
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Picture, picture_free)

/* Next header number of a PPM: skips whitespace and '#' comments. */
static gboolean ppm_number(const gchar *d, gsize len, gsize *pos, int *out)
{
    while (*pos < len && (g_ascii_isspace(d[*pos]) || d[*pos] == '#')) {
        if (d[*pos] == '#') {
            while (*pos < len && d[*pos] != '\n') {
                ++*pos;
            }
        } else {
            ++*pos;
        }
    }
    gint64 v = 0;
    gsize start = *pos;
    while (*pos < len && g_ascii_isdigit(d[*pos]) && *pos - start < 6) {
        v = v * 10 + (d[(*pos)++] - '0');
    }
    *out = v;
    return *pos > start && *pos < len && g_ascii_isspace(d[*pos]);
}

static Picture *picture_load(const char *path, GError **error)
{
    g_autoptr(Picture) p = g_new0(Picture, 1);
    gsize len, pos = 2;
    int maxval;

    if (!g_file_get_contents(path, &p->data, &len, error)) {
        return NULL;
    }
    if (len < 2 || memcmp(p->data, "P6", 2) != 0 ||
        !ppm_number(p->data, len, &pos, &p->width) ||
        !ppm_number(p->data, len, &pos, &p->height) ||
        !ppm_number(p->data, len, &pos, &maxval) || maxval != 255 ||
        p->width < 1 || p->height < 1) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: not an 8-bit binary PPM (P6)", path);
        return NULL;
    }
    pos++;      /* exactly one whitespace byte ends the header */
    gsize n = (gsize)p->width * p->height;
    if (len - pos < n * 3) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: truncated (%zu of %zu bytes of pixels)", path,
                    len - pos, n * 3);
        return NULL;
    }
    p->rgb = (guint8 *)p->data + pos;
    p->luma = g_malloc(n);
    for (gsize i = 0; i < n; i++) {
        const guint8 *c = p->rgb + i * 3;
        p->luma[i] = (299 * c[0] + 587 * c[1] + 114 * c[2] + 500) / 1000;
    }
    return g_steal_pointer(&p);
}

static double psnr(guint64 sse, guint64 n)
{
    return sse ? 10.0 * log10(255.0 * 255.0 * n / (double)sse) : INFINITY;
}

/* JSON has no infinity; Python's json module reads "Infinity". */
static char *db(double v)
{
    return isinf(v) ? g_strdup("Infinity") : g_strdup_printf("%.3f", v);
}

static double ssim_window(const guint8 *a, const guint8 *b, int stride)
{
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    guint64 sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;

    for (int y = 0; y < WIN; y++) {
        for (int x = 0; x < WIN; x++) {
            guint va = a[y * stride + x], vb = b[y * stride + x];
            sa += va;
            sb += vb;
            saa += va * va;
            sbb += vb * vb;
            sab += va * vb;
        }
    }
    const double n = WIN * WIN;
    double ma = sa / n, mb = sb / n;
    double va = saa / n - ma * ma, vb = sbb / n - mb * mb, cov = sab / n - ma * mb;
    return ((2 * ma * mb + c1) * (2 * cov + c2)) /
           ((ma * ma + mb * mb + c1) * (va + vb + c2));
}

static void compare(const Picture *ref, const Picture *pic, const char *name)
{
    gsize n = (gsize)ref->width * ref->height;
    guint64 sse_y = 0, sse_rgb = 0, differing = 0;

    for (gsize i = 0; i < n; i++) {
        int d = ref->luma[i] - pic->luma[i];
        gboolean differs = FALSE;
        sse_y += d * d;
        for (int c = 0; c < 3; c++) {
            int e = ref->rgb[i * 3 + c] - pic->rgb[i * 3 + c];
            sse_rgb += e * e;
            differs |= e != 0;
        }
        differing += differs;
    }
    double ssim_sum = 0;
    guint64 windows = 0;
    for (int y = 0; y + WIN <= ref->height; y += STEP) {
        for (int x = 0; x + WIN <= ref->width; x += STEP) {
            gsize o = (gsize)y * ref->width + x;
            ssim_sum += ssim_window(ref->luma + o, pic->luma + o, ref->width);
            windows++;
        }
    }
    g_autofree char *quoted = g_strescape(name, NULL);
    g_autofree char *py = db(psnr(sse_y, n));
    g_autofree char *prgb = db(psnr(sse_rgb, n * 3));
    printf("{\"file\": \"%s\", \"psnr_y\": %s, \"psnr_rgb\": %s, "
           "\"ssim_y\": %.6f, \"differing\": %" G_GUINT64_FORMAT
           ", \"pixels\": %zu}\n", quoted, py, prgb,
           windows ? ssim_sum / windows : 1.0, differing, n);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;

    if (argc < 3) {
        fprintf(stderr, "usage: %s REFERENCE.ppm PICTURE.ppm [PICTURE.ppm ...]\n",
                argv[0]);
        return 1;
    }
    g_autoptr(Picture) ref = picture_load(argv[1], &error);
    if (!ref) {
        fprintf(stderr, "picture-quality: %s\n", error->message);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        g_autoptr(Picture) pic = picture_load(argv[i], &error);
        if (!pic) {
            fprintf(stderr, "picture-quality: %s\n", error->message);
            return 1;
        }
        if (pic->width != ref->width || pic->height != ref->height) {
            fprintf(stderr, "picture-quality: %s is %dx%d, %s %dx%d\n", argv[i],
                    pic->width, pic->height, argv[1], ref->width, ref->height);
            return 1;
        }
        compare(ref, pic, argv[i]);
    }
    return 0;
}
