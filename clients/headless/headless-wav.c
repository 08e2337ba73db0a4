/*
 * headless-wav.c: WAV reading and streaming writing (see headless-wav.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless-wav.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define WAV_HEADER_BYTES 44
#define WAV_RATE 48000
/* A RIFF size is 32 bits; stop short of it rather than write a lie. */
#define WAV_MAX_DATA (G_MAXUINT32 - WAV_HEADER_BYTES)
/* Microphone files are read whole: a few minutes at most is plenty. */
#define WAV_MAX_FILE (256u * 1024 * 1024)

struct HlWavWriter {
    FILE *file;
    char *path;
    int channels;
    guint64 data_bytes;
    gboolean full;
};

static void put_le16(guint8 *p, guint16 v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static void put_le32(guint8 *p, guint32 v)
{
    put_le16(p, v);
    put_le16(p + 2, v >> 16);
}

static guint16 get_le16(const guint8 *p)
{
    return p[0] | (guint16)p[1] << 8;
}

static guint32 get_le32(const guint8 *p)
{
    return get_le16(p) | (guint32)get_le16(p + 2) << 16;
}

static void make_header(guint8 *h, int channels, guint32 data_bytes)
{
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36 + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, 1);                        /* PCM */
    put_le16(h + 22, channels);
    put_le32(h + 24, WAV_RATE);
    put_le32(h + 28, WAV_RATE * channels * 2);  /* bytes per second */
    put_le16(h + 32, channels * 2);             /* block align */
    put_le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_bytes);
}

static gboolean io_error(GError **error, const char *what, const char *path)
{
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                "cannot %s %s: %s", what, path, g_strerror(saved));
    return FALSE;
}

HlWavWriter *hl_wav_writer_new(const char *path, GError **error)
{
    guint8 header[WAV_HEADER_BYTES];
    FILE *file = fopen(path, "wb");

    if (!file) {
        io_error(error, "create", path);
        return NULL;
    }
    make_header(header, 2, 0);
    if (fwrite(header, sizeof(header), 1, file) != 1) {
        io_error(error, "write", path);
        fclose(file);
        return NULL;
    }
    HlWavWriter *w = g_new0(HlWavWriter, 1);
    w->file = file;
    w->path = g_strdup(path);
    return w;
}

gboolean hl_wav_writer_write(HlWavWriter *w, const gint16 *pcm, gsize n_frames,
                             int channels, GError **error)
{
    if (w->channels == 0) {
        w->channels = channels;
    }
    gsize n_out = n_frames * w->channels;
    if (w->full || w->data_bytes + n_out * 2 > WAV_MAX_DATA) {
        w->full = TRUE;         /* 4 GiB of audio: the rest is dropped */
        return TRUE;
    }
    g_autofree guint8 *buf = g_malloc(n_out * 2);
    for (gsize i = 0; i < n_frames; i++) {
        for (int c = 0; c < w->channels; c++) {
            gint16 s;
            if (channels == w->channels) {
                s = pcm[i * channels + c];
            } else if (channels == 1) {
                s = pcm[i];
            } else {
                s = ((int)pcm[i * 2] + pcm[i * 2 + 1]) / 2;
            }
            put_le16(buf + (i * w->channels + c) * 2, (guint16)s);
        }
    }
    if (n_out && fwrite(buf, n_out * 2, 1, w->file) != 1) {
        return io_error(error, "write", w->path);
    }
    w->data_bytes += n_out * 2;
    return TRUE;
}

gboolean hl_wav_writer_close(HlWavWriter *w, GError **error)
{
    guint8 header[WAV_HEADER_BYTES];
    gboolean ok = TRUE;

    if (!w) {
        return TRUE;
    }
    make_header(header, w->channels ? w->channels : 2, w->data_bytes);
    if (fseek(w->file, 0, SEEK_SET) != 0 ||
        fwrite(header, sizeof(header), 1, w->file) != 1) {
        ok = io_error(error, "write", w->path);
    }
    if (fclose(w->file) != 0 && ok) {
        ok = io_error(error, "write", w->path);
    }
    g_free(w->path);
    g_free(w);
    return ok;
}

static gboolean bad_wav(GError **error, const char *path, const char *why)
{
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path, why);
    return FALSE;
}

/* WAVE_FORMAT_EXTENSIBLE carries the real format as a GUID whose first
 * two bytes are the classic format tag. */
#define WAV_FORMAT_PCM 1
#define WAV_FORMAT_EXTENSIBLE 0xfffe

gint16 *hl_wav_read(const char *path, gsize *n_frames, int *channels,
                    int *rate, GError **error)
{
    g_autofree char *contents = NULL;
    gsize len;
    const guint8 *fmt = NULL, *data = NULL;
    guint32 fmt_len = 0, data_len = 0;

    if (!g_file_get_contents(path, &contents, &len, error)) {
        return NULL;
    }
    const guint8 *p = (const guint8 *)contents;
    if (len > WAV_MAX_FILE) {
        bad_wav(error, path, "too large for a microphone file");
        return NULL;
    }
    if (len < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0) {
        bad_wav(error, path, "not a WAV file (no RIFF/WAVE header)");
        return NULL;
    }
    /* Chunks may come in any order and some writers add LIST, fact...;
     * each is padded to an even size. */
    for (gsize pos = 12; pos + 8 <= len;) {
        guint32 size = get_le32(p + pos + 4);
        gsize avail = len - pos - 8;
        if (memcmp(p + pos, "fmt ", 4) == 0 && !fmt) {
            fmt = p + pos + 8;
            fmt_len = MIN(size, avail);
        } else if (memcmp(p + pos, "data", 4) == 0 && !data) {
            /* Streamed files may leave the size at 0 or too big. */
            data = p + pos + 8;
            data_len = size && size <= avail ? size : avail;
        }
        if (size > avail) {
            break;
        }
        pos += 8 + (gsize)size + (size & 1);
    }
    if (!fmt || fmt_len < 16 || !data) {
        bad_wav(error, path, "no fmt or data chunk");
        return NULL;
    }
    guint16 format = get_le16(fmt);
    if (format == WAV_FORMAT_EXTENSIBLE && fmt_len >= 26) {
        format = get_le16(fmt + 24);
    }
    guint16 chans = get_le16(fmt + 2);
    guint32 sample_rate = get_le32(fmt + 4);
    guint16 bits = get_le16(fmt + 14);
    if (format != WAV_FORMAT_PCM || bits != 16) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: only 16-bit PCM WAV is supported (this is format %u, "
                    "%u bits)", path, format, bits);
        return NULL;
    }
    if (chans != 1 && chans != 2) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: %u channels (only mono or stereo)", path, chans);
        return NULL;
    }
    gsize frames = data_len / (2u * chans);
    gint16 *pcm = g_new(gint16, frames * chans + 1);
    for (gsize i = 0; i < frames * chans; i++) {
        pcm[i] = (gint16)get_le16(data + 2 * i);
    }
    *n_frames = frames;
    *channels = chans;
    *rate = sample_rate;
    return pcm;
}
