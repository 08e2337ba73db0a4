/*
 * crp-sound.c: see crp-sound.h.
 *
 * Playback: appsrc (live, timestamped on arrival) ! audioconvert !
 * audioresample ! sink. appsrc holds at most PLAYBACK_QUEUE_MS and drops
 * the oldest beyond that, so a stalled sink costs a glitch, never a
 * growing delay.
 *
 * Microphone: source ! audioconvert ! audioresample ! S16LE 48 kHz stereo
 * ! appsink, drained by a main-loop timer into 20 ms chunks.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-sound.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <string.h>

#define PLAYBACK_QUEUE_MS 200
#define MIC_POLL_MS 10

struct CrpSound {
    gboolean gst_ok;

    GstElement *playback;
    GstAppSrc *appsrc;
    guint playback_bus_watch;
    int playback_channels;
    gboolean playback_muted;
    gboolean playback_fake;     /* fell back to fakesink */

    GstElement *mic;
    GstAppSink *appsink;
    guint mic_bus_watch;
    guint mic_timer;
    GByteArray *mic_pending;
    gboolean mic_muted;
    gboolean mic_failed;
    CrpSoundMicFunc mic_func;
    gpointer mic_data;
};

static void mic_update(CrpSound *a);

/* TRUE if auto@element (a bin around what it chose) chose a stand-in. */
static gboolean auto_found_nothing(GstElement *element)
{
    gboolean fake = FALSE;
    GValue item = G_VALUE_INIT;

    if (!GST_IS_BIN(element)) {
        return FALSE;
    }
    GstIterator *it = gst_bin_iterate_elements(GST_BIN(element));
    while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
        GstElementFactory *factory = gst_element_get_factory(g_value_get_object(&item));
        const char *name = factory ? gst_plugin_feature_get_name(factory) : "";
        fake |= g_str_equal(name, "fakesink") || g_str_equal(name, "fakesrc") ||
                g_str_equal(name, "audiotestsrc");
        g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    return fake;
}

/* A sink or source from a gst-launch description in @env_var, or
 * @factory; NULL (and a log line) if it cannot open its device. */
static GstElement *make_endpoint(const char *env_var, const char *factory,
                                 gboolean is_sink)
{
    const char *desc = g_getenv(env_var);
    g_autoptr(GError) error = NULL;
    GstElement *element;

    if (desc && *desc) {
        element = gst_parse_bin_from_description(desc, TRUE, &error);
        if (!element) {
            g_message("audio: %s='%s' is not usable: %s", env_var, desc,
                      error->message);
            return NULL;
        }
    } else {
        element = gst_element_factory_make(factory, NULL);
        if (!element) {
            g_message("audio: GStreamer has no %s", factory);
            return NULL;
        }
    }
    gst_object_ref_sink(element);
    /* auto* pick their device going to READY; finding none, they quietly
     * stand in a fakesink or a silent audiotestsrc, which would send the
     * guest 50 packets of silence a second and tell the user nothing. */
    if (gst_element_set_state(element, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE ||
        (!(desc && *desc) && auto_found_nothing(element))) {
        gst_element_set_state(element, GST_STATE_NULL);
        gst_object_unref(element);
        return NULL;
    }
    return element;
}

static void stop_pipeline(GstElement **pipeline, guint *bus_watch)
{
    if (*bus_watch) {
        g_source_remove(*bus_watch);
        *bus_watch = 0;
    }
    if (*pipeline) {
        gst_element_set_state(*pipeline, GST_STATE_NULL);
        gst_clear_object(pipeline);
    }
}

/* ---- playback -------------------------------------------------------- */

static void playback_stop(CrpSound *a)
{
    stop_pipeline(&a->playback, &a->playback_bus_watch);
    a->appsrc = NULL;
    a->playback_channels = 0;
}

static gboolean playback_start(CrpSound *a, int channels);

static gboolean on_playback_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
    CrpSound *a = data;

    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        g_autoptr(GError) error = NULL;
        gst_message_parse_error(msg, &error, NULL);
        int channels = a->playback_channels;
        /* The bus watch goes with the pipeline: not ours to remove. */
        a->playback_bus_watch = 0;
        playback_stop(a);
        if (!a->playback_fake) {
            g_message("audio: playback failed (%s); the sound is discarded",
                      error->message);
            a->playback_fake = TRUE;
            playback_start(a, channels);
        }
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean playback_start(CrpSound *a, int channels)
{
    GstElement *sink = NULL;

    if (!a->playback_fake) {
        sink = make_endpoint("CRP_CLIENT_AUDIO_SINK", "autoaudiosink", TRUE);
        if (!sink) {
            g_message("audio: no sound output here; the guest's sound is discarded");
            a->playback_fake = TRUE;
        }
    }
    if (!sink) {
        sink = gst_object_ref_sink(gst_element_factory_make("fakesink", NULL));
        if (!sink) {
            return FALSE;
        }
        g_object_set(sink, "sync", FALSE, NULL);
    }
    GstElement *pipeline = gst_pipeline_new("crp-playback");
    GstElement *src = gst_element_factory_make("appsrc", NULL);
    GstElement *convert = gst_element_factory_make("audioconvert", NULL);
    GstElement *resample = gst_element_factory_make("audioresample", NULL);
    if (!src || !convert || !resample) {
        g_message("audio: GStreamer's base plugins are missing; no sound");
        gst_object_unref(sink);
        gst_object_unref(pipeline);
        a->playback_fake = TRUE;
        return FALSE;
    }
    gst_bin_add_many(GST_BIN(pipeline), src, convert, resample, sink, NULL);
    gst_object_unref(sink);     /* the bin holds it now */
    if (!gst_element_link_many(src, convert, resample, sink, NULL)) {
        g_message("audio: cannot link the playback pipeline; no sound");
        gst_object_unref(pipeline);
        return FALSE;
    }

    g_autoptr(GstCaps) caps = gst_caps_new_simple("audio/x-raw",
        "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT, CRP_AUDIO_RATE,
        "channels", G_TYPE_INT, channels, "layout", G_TYPE_STRING, "interleaved",
        NULL);
    a->appsrc = GST_APP_SRC(src);
    gst_app_src_set_caps(a->appsrc, caps);
    gst_app_src_set_stream_type(a->appsrc, GST_APP_STREAM_TYPE_STREAM);
    gst_app_src_set_max_bytes(a->appsrc,
                              (guint64)CRP_AUDIO_RATE * channels * 2 * PLAYBACK_QUEUE_MS / 1000);
    gst_app_src_set_leaky_type(a->appsrc, GST_APP_LEAKY_TYPE_DOWNSTREAM);
    g_object_set(src, "is-live", TRUE, "do-timestamp", TRUE,
                 "format", GST_FORMAT_TIME, NULL);

    GstBus *bus = gst_element_get_bus(pipeline);
    a->playback_bus_watch = gst_bus_add_watch(bus, on_playback_bus, a);
    gst_object_unref(bus);
    a->playback = pipeline;
    a->playback_channels = channels;
    if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        playback_stop(a);
        if (!a->playback_fake) {
            g_message("audio: cannot start playback; the guest's sound is discarded");
            a->playback_fake = TRUE;
            return playback_start(a, channels);
        }
        return FALSE;
    }
    return TRUE;
}

void crp_sound_play(CrpSound *a, const gint16 *pcm, gsize n_frames, int channels)
{
    if (!a->gst_ok || a->playback_muted || n_frames == 0 ||
        channels < 1 || channels > 2) {
        return;
    }
    if (a->playback && a->playback_channels != channels) {
        playback_stop(a);
    }
    if (!a->playback && !playback_start(a, channels)) {
        return;
    }
    gsize len = n_frames * channels * sizeof(gint16);
    GstBuffer *buffer = gst_buffer_new_memdup(pcm, len);
    gst_app_src_push_buffer(a->appsrc, buffer);
}

void crp_sound_set_playback_muted(CrpSound *a, gboolean muted)
{
    a->playback_muted = muted;
    if (muted) {
        /* Silence now, not after the queue drains. */
        playback_stop(a);
    }
}

/* ---- microphone ------------------------------------------------------ */

static void mic_stop(CrpSound *a)
{
    g_clear_handle_id(&a->mic_timer, g_source_remove);
    stop_pipeline(&a->mic, &a->mic_bus_watch);
    a->appsink = NULL;
    if (a->mic_pending) {
        g_byte_array_set_size(a->mic_pending, 0);
    }
}

static gboolean on_mic_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
    CrpSound *a = data;

    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        g_autoptr(GError) error = NULL;
        gst_message_parse_error(msg, &error, NULL);
        g_message("audio: the microphone failed (%s); it is off", error->message);
        a->mic_bus_watch = 0;
        a->mic_failed = TRUE;
        mic_stop(a);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_mic_poll(gpointer data)
{
    CrpSound *a = data;
    const gsize chunk = CRP_AUDIO_MIC_CHUNK_FRAMES * 2 * sizeof(gint16);
    GstSample *sample;

    while (a->appsink && (sample = gst_app_sink_try_pull_sample(a->appsink, 0))) {
        GstBuffer *buffer = gst_sample_get_buffer(sample);
        GstMapInfo map;
        if (buffer && gst_buffer_map(buffer, &map, GST_MAP_READ)) {
            g_byte_array_append(a->mic_pending, map.data, map.size);
            gst_buffer_unmap(buffer, &map);
        }
        gst_sample_unref(sample);
    }
    gsize used = 0;
    while (a->mic_pending->len - used >= chunk && a->mic_func) {
        a->mic_func(a->mic_data, (const gint16 *)(a->mic_pending->data + used),
                    CRP_AUDIO_MIC_CHUNK_FRAMES);
        used += chunk;
        if (!a->mic_timer) {
            return G_SOURCE_REMOVE;     /* the callback turned it off */
        }
    }
    g_byte_array_remove_range(a->mic_pending, 0, used);
    return G_SOURCE_CONTINUE;
}

static void mic_start(CrpSound *a)
{
    GstElement *src = make_endpoint("CRP_CLIENT_MIC_SOURCE", "autoaudiosrc", FALSE);
    if (!src) {
        g_message("audio: no microphone here; it is off");
        a->mic_failed = TRUE;
        return;
    }
    GstElement *pipeline = gst_pipeline_new("crp-mic");
    GstElement *convert = gst_element_factory_make("audioconvert", NULL);
    GstElement *resample = gst_element_factory_make("audioresample", NULL);
    GstElement *sink = gst_element_factory_make("appsink", NULL);
    if (!convert || !resample || !sink) {
        g_message("audio: GStreamer's base plugins are missing; no microphone");
        gst_object_unref(src);
        gst_object_unref(pipeline);
        a->mic_failed = TRUE;
        return;
    }
    gst_bin_add_many(GST_BIN(pipeline), src, convert, resample, sink, NULL);
    gst_object_unref(src);
    g_autoptr(GstCaps) caps = gst_caps_new_simple("audio/x-raw",
        "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT, CRP_AUDIO_RATE,
        "channels", G_TYPE_INT, 2, "layout", G_TYPE_STRING, "interleaved", NULL);
    a->appsink = GST_APP_SINK(sink);
    gst_app_sink_set_caps(a->appsink, caps);
    /* At most about a second waits for the main loop; older is dropped. */
    gst_app_sink_set_max_buffers(a->appsink, 100);
    gst_app_sink_set_drop(a->appsink, TRUE);
    g_object_set(sink, "sync", FALSE, NULL);
    if (!gst_element_link_many(src, convert, resample, sink, NULL)) {
        g_message("audio: cannot link the microphone pipeline; it is off");
        gst_object_unref(pipeline);
        a->appsink = NULL;
        a->mic_failed = TRUE;
        return;
    }
    GstBus *bus = gst_element_get_bus(pipeline);
    a->mic_bus_watch = gst_bus_add_watch(bus, on_mic_bus, a);
    gst_object_unref(bus);
    a->mic = pipeline;
    if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        g_message("audio: cannot start the microphone; it is off");
        a->mic_failed = TRUE;
        mic_stop(a);
        return;
    }
    a->mic_timer = g_timeout_add(MIC_POLL_MS, on_mic_poll, a);
}

static void mic_update(CrpSound *a)
{
    gboolean want = a->gst_ok && a->mic_func && !a->mic_muted && !a->mic_failed;

    if (want && !a->mic) {
        mic_start(a);
    } else if (!want && a->mic) {
        mic_stop(a);
    }
}

void crp_sound_set_mic_func(CrpSound *a, CrpSoundMicFunc func, gpointer data)
{
    a->mic_func = func;
    a->mic_data = data;
    mic_update(a);
}

void crp_sound_set_mic_muted(CrpSound *a, gboolean muted)
{
    a->mic_muted = muted;
    mic_update(a);
}

gboolean crp_sound_mic_available(CrpSound *a)
{
    return a->gst_ok && !a->mic_failed;
}

/* ---- object ---------------------------------------------------------- */

CrpSound *crp_sound_new(void)
{
    CrpSound *a = g_new0(CrpSound, 1);
    g_autoptr(GError) error = NULL;

    a->gst_ok = gst_init_check(NULL, NULL, &error);
    if (!a->gst_ok) {
        g_message("audio: GStreamer did not start (%s); no sound", error->message);
    }
    a->mic_pending = g_byte_array_new();
    return a;
}

void crp_sound_free(CrpSound *a)
{
    if (!a) {
        return;
    }
    playback_stop(a);
    mic_stop(a);
    g_byte_array_unref(a->mic_pending);
    g_free(a);
}
