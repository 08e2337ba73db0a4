/*
 * pcm.h - minimal ALSA PCM client on the kernel's ioctl interface
 *
 * The guest programs are linked statically and there is no alsa-lib in a
 * static build, so they talk to /dev/snd/pcmC*D*{p,c} directly: HW_PARAMS
 * with a hand-built mask/interval set, SW_PARAMS, PREPARE and
 * WRITEI/READI_FRAMES. Only interleaved S16_LE is supported, which is all the
 * QEMU HDA codec (hda-duplex/hda-output/hda-micro) needs.
 */
#ifndef CRP_GUEST_PCM_H
#define CRP_GUEST_PCM_H

#include <stddef.h>
#include <stdint.h>

typedef struct CrpPcm CrpPcm;

typedef struct CrpPcmConfig {
    unsigned rate;          /* frames per second, e.g. 48000 */
    unsigned channels;      /* 1 or 2 */
    unsigned period_frames; /* frames per period; HDA wants bytes % 128 == 0 */
    unsigned periods;       /* periods per ring buffer, >= 2 */
} CrpPcmConfig;

/**
 * crp_pcm_open:
 * @path: device node, e.g. "/dev/snd/pcmC0D0p" or "/dev/snd/pcmC0D0c"
 * @capture: 0 for playback, 1 for capture
 * @cfg: requested configuration; on success it holds what the kernel chose
 * @err: on failure receives a short "step: strerror" message
 *
 * Opens and configures the device (blocking I/O). Returns NULL on failure.
 */
CrpPcm *crp_pcm_open(const char *path, int capture, CrpPcmConfig *cfg,
                     char *err, size_t errlen);

/**
 * crp_pcm_write:
 * Writes exactly @frames interleaved frames, blocking. An underrun is
 * recovered (PREPARE and retry) and counted. Returns 0 or -errno.
 */
int crp_pcm_write(CrpPcm *pcm, const int16_t *buf, size_t frames);

/**
 * crp_pcm_read:
 * Reads exactly @frames interleaved frames, blocking. An overrun is
 * recovered and counted. Returns 0 or -errno.
 */
int crp_pcm_read(CrpPcm *pcm, int16_t *buf, size_t frames);

/** Number of under-/overruns recovered so far. */
unsigned crp_pcm_xruns(const CrpPcm *pcm);

/** Stops the stream (drain for playback) and closes it. Accepts NULL. */
void crp_pcm_close(CrpPcm *pcm);

#endif
