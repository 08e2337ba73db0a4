/*
 * CRP audio: the microphone FIFO between CRP clients and the capture voice.
 *
 * Opus packets from clients are decoded into a short FIFO of 48 kHz s16
 * stereo PCM that the capture voice drains. The FIFO is a jitter buffer:
 * after running dry it gives nothing until CRP_MIC_PREFILL_MS have arrived
 * again, so that packets arriving a few milliseconds late (network, a
 * busy TCG host) do not chop the sound into 10 ms pieces with a click
 * between each; and it keeps at most CRP_MIC_MAX_MS, dropping the oldest
 * audio, so that latency cannot build up.
 *
 * Apart from crpaudio.c so that it needs nothing from QEMU's audio layer:
 * tests/fuzz/fuzz-qemu-mic.c feeds it hostile packets and reads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef AUDIO_CRPAUDIO_MIC_H
#define AUDIO_CRPAUDIO_MIC_H

#define CRP_MIC_RATE 48000
#define CRP_MIC_CHANNELS 2
#define CRP_MIC_MAX_MS 200
#define CRP_MIC_PREFILL_MS 60
#define CRP_MIC_BYTES_PER_MS (CRP_MIC_RATE / 1000 * CRP_MIC_CHANNELS * 2)

typedef struct CrpMic CrpMic;

/* NULL with @error set if the Opus decoder cannot be made. */
CrpMic *crp_mic_new(GError **error);
void crp_mic_free(CrpMic *mic);

/* Decodes one client packet onto the FIFO; a bad packet is dropped (it
 * costs its 10-20 ms, no more). */
void crp_mic_packet(CrpMic *mic, const uint8_t *packet, size_t len);

/*
 * Takes up to @bytes of PCM, whole frames of @frame_bytes, into @buf.
 * Returns how many it took: all of @bytes while primed, 0 while refilling
 * after running dry; the caller fills the rest with silence.
 */
size_t crp_mic_read(CrpMic *mic, void *buf, size_t bytes, size_t frame_bytes);

/* Bytes of PCM queued. */
size_t crp_mic_queued(CrpMic *mic);

/* Empties the FIFO; it refills before playing again (voice enabled). */
void crp_mic_reset(CrpMic *mic);

#endif /* AUDIO_CRPAUDIO_MIC_H */
