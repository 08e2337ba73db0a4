/*
 * headless-audio.c: what we heard and what we say.
 *
 * Playback (the guest's sound) goes to up to two WAV recordings, --record
 * for the whole session and the script's record-start/record-stop window,
 * and to a mono analysis buffer for expect-audio. The microphone source
 * reads a WAV file and cuts it into the 20 ms chunks the runner paces.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"
#include "headless-spectrum.h"
#include "headless-wav.h"

#include <gio/gio.h>
#include <string.h>

#define RATE 48000
/* expect-audio looks at the last minute at most; older audio is dropped. */
#define ANALYSIS_MAX_FRAMES (60 * RATE)
#define CHUNK_FRAMES (RATE / 50)
/* Below this RMS (of 32767) we call it silence, not a tone. */
#define SILENCE_RMS 50.0

struct HlPlayback {
    HlWavWriter *all;
    HlWavWriter *window;
    gboolean window_started;
    GArray *analysis;           /* gint16 mono */
    guint64 total_frames;
};

HlPlayback *hl_playback_new(void)
{
    HlPlayback *pb = g_new0(HlPlayback, 1);
    pb->analysis = g_array_new(FALSE, FALSE, sizeof(gint16));
    return pb;
}

gboolean hl_playback_finish(HlPlayback *pb, GError **error)
{
    gboolean ok = TRUE;

    ok = hl_wav_writer_close(g_steal_pointer(&pb->window), error) && ok;
    ok = hl_wav_writer_close(g_steal_pointer(&pb->all), ok ? error : NULL) && ok;
    return ok;
}

void hl_playback_free(HlPlayback *pb)
{
    if (!pb) {
        return;
    }
    hl_playback_finish(pb, NULL);
    g_array_unref(pb->analysis);
    g_free(pb);
}

gboolean hl_playback_record_all(HlPlayback *pb, const char *path, GError **error)
{
    g_return_val_if_fail(!pb->all, FALSE);
    pb->all = hl_wav_writer_new(path, error);
    return pb->all != NULL;
}

gboolean hl_playback_window_start(HlPlayback *pb, const char *path, GError **error)
{
    if (!hl_playback_window_stop(pb, error)) {
        return FALSE;
    }
    pb->window = hl_wav_writer_new(path, error);
    if (!pb->window) {
        return FALSE;
    }
    pb->window_started = TRUE;
    g_array_set_size(pb->analysis, 0);
    return TRUE;
}

gboolean hl_playback_window_stop(HlPlayback *pb, GError **error)
{
    return hl_wav_writer_close(g_steal_pointer(&pb->window), error);
}

gboolean hl_playback_add(HlPlayback *pb, const gint16 *pcm, gsize n_frames,
                         int channels, GError **error)
{
    if (n_frames == 0) {
        return TRUE;
    }
    pb->total_frames += n_frames;
    if (pb->all && !hl_wav_writer_write(pb->all, pcm, n_frames, channels, error)) {
        return FALSE;
    }
    if (pb->window &&
        !hl_wav_writer_write(pb->window, pcm, n_frames, channels, error)) {
        return FALSE;
    }
    /* After record-stop the window is frozen for expect-audio. */
    if (pb->window_started && !pb->window) {
        return TRUE;
    }
    for (gsize i = 0; i < n_frames; i++) {
        int sum = 0;
        for (int c = 0; c < channels; c++) {
            sum += pcm[i * channels + c];
        }
        gint16 mono = sum / channels;
        g_array_append_val(pb->analysis, mono);
    }
    /* Trim in big steps so the cost stays linear. */
    if (pb->analysis->len > 2 * ANALYSIS_MAX_FRAMES) {
        g_array_remove_range(pb->analysis, 0,
                             pb->analysis->len - ANALYSIS_MAX_FRAMES);
    }
    return TRUE;
}

guint64 hl_playback_total_frames(HlPlayback *pb)
{
    return pb->total_frames;
}

gboolean hl_playback_dominant_frequency(HlPlayback *pb, double *hz,
                                        GError **error)
{
    double rms;
    const gint16 *samples = (const gint16 *)pb->analysis->data;

    if (pb->analysis->len < HL_SPECTRUM_MIN_SAMPLES) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "only %.0f ms of playback audio received%s (need %.0f ms)",
                    pb->analysis->len * 1000.0 / RATE,
                    pb->window_started ? " in the recording window" : "",
                    HL_SPECTRUM_MIN_SAMPLES * 1000.0 / RATE);
        return FALSE;
    }
    *hz = hl_spectrum_dominant(samples, pb->analysis->len, RATE, &rms);
    if (rms < SILENCE_RMS) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the playback audio is silent (RMS %.1f)", rms);
        return FALSE;
    }
    return TRUE;
}

struct HlMicSource {
    gint16 *pcm;                /* interleaved, as in the file */
    gsize n_frames, pos;
    int channels;
    gint16 chunk[CHUNK_FRAMES * 2];
};

HlMicSource *hl_mic_source_new(const char *path, GError **error)
{
    gsize n_frames;
    int channels, rate;
    g_autofree gint16 *pcm = hl_wav_read(path, &n_frames, &channels, &rate,
                                         error);
    if (!pcm) {
        return NULL;
    }
    if (rate != RATE) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: sample rate %d Hz; the microphone takes 48000 Hz "
                    "(resample it first, e.g. sox IN -r 48000 OUT)", path, rate);
        return NULL;
    }
    HlMicSource *mic = g_new0(HlMicSource, 1);
    mic->pcm = g_steal_pointer(&pcm);
    mic->n_frames = n_frames;
    mic->channels = channels;
    return mic;
}

void hl_mic_source_free(HlMicSource *mic)
{
    if (!mic) {
        return;
    }
    g_free(mic->pcm);
    g_free(mic);
}

const gint16 *hl_mic_source_next(HlMicSource *mic, int channels, gsize *n_frames)
{
    if (mic->pos >= mic->n_frames) {
        return NULL;
    }
    gsize n = MIN(CHUNK_FRAMES, mic->n_frames - mic->pos);
    const gint16 *src = mic->pcm + mic->pos * mic->channels;

    /* The Opus encoder only emits whole 20 ms frames: pad the tail.
     * Mono to stereo duplicates; stereo to mono averages. */
    memset(mic->chunk, 0, sizeof(mic->chunk));
    for (gsize i = 0; i < n; i++) {
        for (int c = 0; c < channels; c++) {
            mic->chunk[i * channels + c] =
                mic->channels == channels ? src[i * channels + c] :
                mic->channels == 1 ? src[i] :
                ((int)src[2 * i] + src[2 * i + 1]) / 2;
        }
    }
    mic->pos += n;
    *n_frames = CHUNK_FRAMES;
    return mic->chunk;
}
