/*
 * crp-headless: --record-frames FILE, the pictures of a session as the
 * client presented them, for replaying a real desktop through the encoder
 * offline (tests/bench/bench-encode --replay FILE).
 *
 * The file is a gzip stream (level 1, to keep up at 60 frames a second):
 *   "CRPFRAMES1\n"
 *   per frame: u32 width, u32 height, u64 microseconds since the first
 *   frame (when the client presented it), u32 x, y, w, h of the area that
 *   changed (the viewer's damage box), then w * h pixels, 4 bytes each,
 *   0x00RRGGBB little-endian, row after row.
 * All integers little-endian. A frame at a new size covers all of it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

struct HlFrameRecorder {
    gzFile gz;
    char *path;
    gint64 start_us;
    int width, height;
    gboolean failed;
};

HlFrameRecorder *
hl_frame_recorder_new(const char *path, GError **error)
{
    gzFile gz = gzopen(path, "wb1");

    if (!gz) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot write %s: %s", path, g_strerror(errno));
        return NULL;
    }
    HlFrameRecorder *rec = g_new0(HlFrameRecorder, 1);
    rec->gz = gz;
    rec->path = g_strdup(path);
    gzputs(gz, "CRPFRAMES1\n");
    return rec;
}

static void
put_u32(GByteArray *b, guint32 v)
{
    guint32 le = GUINT32_TO_LE(v);
    g_byte_array_append(b, (const guint8 *)&le, 4);
}

void
hl_frame_recorder_add(HlFrameRecorder *rec, pixman_image_t *image,
                      const pixman_box32_t *damage)
{
    int w = pixman_image_get_width(image), h = pixman_image_get_height(image);
    pixman_box32_t box = *damage;

    if (rec->failed) {
        return;
    }
    if (w != rec->width || h != rec->height) {
        box = (pixman_box32_t){ 0, 0, w, h };
        rec->width = w;
        rec->height = h;
    }
    box.x1 = CLAMP(box.x1, 0, w);
    box.x2 = CLAMP(box.x2, box.x1, w);
    box.y1 = CLAMP(box.y1, 0, h);
    box.y2 = CLAMP(box.y2, box.y1, h);

    gint64 now = g_get_monotonic_time();
    if (!rec->start_us) {
        rec->start_us = now;
    }
    g_autoptr(GByteArray) head = g_byte_array_sized_new(32);
    guint64 t = GUINT64_TO_LE((guint64)(now - rec->start_us));
    put_u32(head, w);
    put_u32(head, h);
    g_byte_array_append(head, (const guint8 *)&t, 8);
    put_u32(head, box.x1);
    put_u32(head, box.y1);
    put_u32(head, box.x2 - box.x1);
    put_u32(head, box.y2 - box.y1);
    gboolean ok = gzwrite(rec->gz, head->data, head->len) == (int)head->len;

    const guint8 *data = (const guint8 *)pixman_image_get_data(image);
    int stride = pixman_image_get_stride(image);
    unsigned row_len = (unsigned)(box.x2 - box.x1) * 4;
    for (int y = box.y1; y < box.y2 && ok && row_len; y++) {
        /* x8r8g8b8 in host order: little-endian on the machines we run. */
        ok = gzwrite(rec->gz, data + (gsize)y * stride + box.x1 * 4, row_len) ==
             (int)row_len;
    }
    if (!ok) {
        g_printerr("crp-headless: recording frames to %s failed; stopped\n",
                   rec->path);
        rec->failed = TRUE;
    }
}

void
hl_frame_recorder_free(HlFrameRecorder *rec)
{
    if (!rec) {
        return;
    }
    if (gzclose(rec->gz) != Z_OK && !rec->failed) {
        g_printerr("crp-headless: closing %s failed\n", rec->path);
    }
    g_free(rec->path);
    g_free(rec);
}
