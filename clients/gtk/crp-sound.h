/*
 * crp-sound.h: the session's sound through GStreamer: the guest's
 * playback to the speakers, the microphone to the guest.
 *
 * Both ends are whatever autoaudiosink/autoaudiosrc find (PipeWire,
 * PulseAudio, ALSA). A machine with no sound device still runs sessions:
 * playback then goes to a fakesink and the microphone stays off, each
 * said once in the log. CRP_CLIENT_AUDIO_SINK and CRP_CLIENT_MIC_SOURCE
 * (gst-launch descriptions, e.g. "audiotestsrc freq=1000 is-live=true")
 * replace the automatic choice, for tests and unusual setups.
 *
 * Everything happens on the main loop; GStreamer's own threads never call
 * back into the session.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* 48 kHz, 20 ms: the chunk size crp_viewer_send_audio() packs into one
 * Opus packet. */
#define CRP_AUDIO_RATE 48000
#define CRP_AUDIO_MIC_CHUNK_FRAMES 960

typedef struct CrpSound CrpSound;

/** Called with each 20 ms microphone chunk: CRP_AUDIO_MIC_CHUNK_FRAMES
 *  frames of 48 kHz interleaved s16 stereo. */
typedef void (*CrpSoundMicFunc)(gpointer data, const gint16 *pcm, gsize n_frames);

/** Nothing starts until there is audio to play or the microphone is on. */
CrpSound *crp_sound_new(void);
void crp_sound_free(CrpSound *audio);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpSound, crp_sound_free)

/** Queues @n_frames frames of 48 kHz interleaved s16 with @channels
 *  channels (1 or 2) for playback; dropped while muted. */
void crp_sound_play(CrpSound *audio, const gint16 *pcm, gsize n_frames,
                    int channels);
void crp_sound_set_playback_muted(CrpSound *audio, gboolean muted);

/** Where microphone chunks go; the microphone runs while @func is set and
 *  the microphone is not muted. */
void crp_sound_set_mic_func(CrpSound *audio, CrpSoundMicFunc func, gpointer data);
void crp_sound_set_mic_muted(CrpSound *audio, gboolean muted);

/** FALSE once the microphone failed to start (no device). */
gboolean crp_sound_mic_available(CrpSound *audio);

G_END_DECLS
