/*
 * CRP audio driver (-audiodev crp,id=snd0): the guest's sound to CRP
 * clients as Opus, and their microphones back into the guest.
 *
 * The voices run at 48 kHz, signed 16-bit, stereo whatever the options
 * say (Opus's native rate; QEMU's mixing engine converts the devices).
 * Playback is paced by the audio timer like the "none" driver, encoded
 * in 10 ms Opus packets and handed to the crp display through the
 * CrpAudioPeer registered under the audiodev's id; with no display or no
 * client attached the sound is simply dropped. Microphone packets from a
 * client are decoded into a short FIFO that the capture voice drains, a
 * jitter buffer (crpaudio-mic.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "audio.h"
#include "ui/crp-module.h"

#define AUDIO_CAP "crp"
#include "audio_int.h"

#include "crp/crp-opus.h"
#include "crpaudio-mic.h"

#define CRP_AUDIO_RATE 48000
#define CRP_AUDIO_CHANNELS 2
#define CRP_AUDIO_FRAME_MS 10

typedef struct CrpAudio {
    char *id;
    CrpAudioPeer peer;
    CrpOpusEncoder *encoder;
    CrpMic *mic;
} CrpAudio;

typedef struct CrpVoiceOut {
    HWVoiceOut hw;
    RateCtl rate;
    CrpAudio *audio;
} CrpVoiceOut;

typedef struct CrpVoiceIn {
    HWVoiceIn hw;
    RateCtl rate;
    CrpAudio *audio;
} CrpVoiceIn;

static void crp_audio_packet(const guint8 *packet, gsize len,
                             guint64 timestamp_us, gpointer opaque)
{
    CrpAudio *a = opaque;

    if (a->peer.playback_packet) {
        a->peer.playback_packet(a->peer.display_opaque, packet, len,
                                timestamp_us);
    }
}

static size_t crp_write(HWVoiceOut *hw, void *buf, size_t len)
{
    CrpVoiceOut *vo = (CrpVoiceOut *)hw;
    size_t bytes = audio_rate_get_bytes(&vo->rate, &hw->info, len);
    size_t frame = hw->info.bytes_per_frame;

    bytes -= bytes % frame;
    crp_opus_encoder_push(vo->audio->encoder, buf, bytes / frame,
                          crp_audio_packet, vo->audio, NULL);
    return bytes;
}

/* Both voices: 48 kHz s16 stereo (forced in crp_audio_init), 40 ms buffer. */
static int crp_init_voice(struct audsettings *as, struct audio_pcm_info *info,
                          size_t *samples, RateCtl *rate)
{
    if (as->freq != CRP_AUDIO_RATE || as->fmt != AUDIO_FORMAT_S16 ||
        as->nchannels != CRP_AUDIO_CHANNELS) {
        dolog("crp needs 48000 Hz s16 stereo voices\n");
        return -1;
    }
    audio_pcm_init_info(info, as);
    *samples = CRP_AUDIO_RATE * CRP_AUDIO_FRAME_MS / 1000 * 4;
    audio_rate_start(rate);
    return 0;
}

static int crp_init_out(HWVoiceOut *hw, struct audsettings *as,
                        void *drv_opaque)
{
    CrpVoiceOut *vo = (CrpVoiceOut *)hw;

    vo->audio = drv_opaque;
    return crp_init_voice(as, &hw->info, &hw->samples, &vo->rate);
}

static void crp_fini_out(HWVoiceOut *hw)
{
}

static void crp_enable_out(HWVoiceOut *hw, bool enable)
{
    CrpVoiceOut *vo = (CrpVoiceOut *)hw;
    CrpAudio *a = vo->audio;

    a->peer.playback_active = enable;
    if (enable) {
        audio_rate_start(&vo->rate);
        if (a->peer.playback_format) {
            a->peer.playback_format(a->peer.display_opaque);
        }
    }
}

static int crp_init_in(HWVoiceIn *hw, struct audsettings *as, void *drv_opaque)
{
    CrpVoiceIn *vi = (CrpVoiceIn *)hw;

    vi->audio = drv_opaque;
    return crp_init_voice(as, &hw->info, &hw->samples, &vi->rate);
}

static void crp_fini_in(HWVoiceIn *hw)
{
}

static size_t crp_read(HWVoiceIn *hw, void *buf, size_t size)
{
    CrpVoiceIn *vi = (CrpVoiceIn *)hw;
    size_t bytes = audio_rate_get_bytes(&vi->rate, &hw->info, size);
    size_t have = crp_mic_read(vi->audio->mic, buf, bytes,
                               hw->info.bytes_per_frame);

    audio_pcm_info_clear_buf(&hw->info, (uint8_t *)buf + have,
                             (bytes - have) / hw->info.bytes_per_frame);
    return bytes;
}

static void crp_enable_in(HWVoiceIn *hw, bool enable)
{
    CrpVoiceIn *vi = (CrpVoiceIn *)hw;

    if (enable) {
        audio_rate_start(&vi->rate);
        crp_mic_reset(vi->audio->mic);
    }
}

/* From the display: one Opus packet of a client's microphone. */
static void crp_audio_mic_packet(void *opaque, const uint8_t *packet,
                                 size_t len)
{
    CrpAudio *a = opaque;

    crp_mic_packet(a->mic, packet, len);
}

/* Opus runs at 48 kHz: make both directions' voices match it. */
static void crp_force_format(AudiodevPerDirectionOptions *pdo)
{
    pdo->has_frequency = true;
    pdo->frequency = CRP_AUDIO_RATE;
    pdo->has_channels = true;
    pdo->channels = CRP_AUDIO_CHANNELS;
    pdo->has_format = true;
    pdo->format = AUDIO_FORMAT_S16;
}

static void *crp_audio_init(Audiodev *dev, Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    CrpAudio *a = g_new0(CrpAudio, 1);

    crp_force_format(dev->u.crp.out);
    crp_force_format(dev->u.crp.in);
    a->encoder = crp_opus_encoder_new(CRP_AUDIO_CHANNELS, CRP_AUDIO_FRAME_MS,
                                      0, &gerr);
    if (a->encoder) {
        a->mic = crp_mic_new(&gerr);
    }
    if (!a->encoder || !a->mic) {
        error_setg(errp, "crp audio: %s", gerr->message);
        crp_opus_encoder_free(a->encoder);
        g_free(a);
        return NULL;
    }
    a->id = g_strdup(dev->id);
    a->peer.channels = CRP_AUDIO_CHANNELS;
    a->peer.audio_opaque = a;
    a->peer.mic_packet = crp_audio_mic_packet;
    crp_audio_peer_register(a->id, &a->peer);
    return a;
}

static void crp_audio_fini(void *opaque)
{
    CrpAudio *a = opaque;

    crp_audio_peer_unregister(a->id);
    crp_opus_encoder_free(a->encoder);
    crp_mic_free(a->mic);
    g_free(a->id);
    g_free(a);
}

static struct audio_pcm_ops crp_pcm_ops = {
    .init_out        = crp_init_out,
    .fini_out        = crp_fini_out,
    .write           = crp_write,
    .buffer_get_free = audio_generic_buffer_get_free,
    .run_buffer_out  = audio_generic_run_buffer_out,
    .enable_out      = crp_enable_out,

    .init_in         = crp_init_in,
    .fini_in         = crp_fini_in,
    .read            = crp_read,
    .run_buffer_in   = audio_generic_run_buffer_in,
    .enable_in       = crp_enable_in,
};

static struct audio_driver crp_audio_driver = {
    .name           = "crp",
    .descr          = "CRP remote audio (Opus to and from CRP clients)",
    .init           = crp_audio_init,
    .fini           = crp_audio_fini,
    .pcm_ops        = &crp_pcm_ops,
    .max_voices_out = 1,
    .max_voices_in  = 1,
    .voice_size_out = sizeof(CrpVoiceOut),
    .voice_size_in  = sizeof(CrpVoiceIn),
};

static void register_audio_crp(void)
{
    audio_driver_register(&crp_audio_driver);
}
type_init(register_audio_crp);
