/*
 * pcm.c - minimal ALSA PCM client on the kernel's ioctl interface
 */
#include "pcm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sound/asound.h>

struct CrpPcm {
    int fd;
    int capture;
    unsigned channels;
    unsigned xruns;
};

static struct snd_mask *hw_mask(struct snd_pcm_hw_params *p, int param)
{
    return &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *hw_interval(struct snd_pcm_hw_params *p,
                                        int param)
{
    return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

/* Same as alsa-lib's snd_pcm_hw_params_any(): everything allowed. */
static void hw_any(struct snd_pcm_hw_params *p)
{
    memset(p, 0, sizeof(*p));
    for (int k = SNDRV_PCM_HW_PARAM_FIRST_MASK;
         k <= SNDRV_PCM_HW_PARAM_LAST_MASK; k++) {
        memset(hw_mask(p, k)->bits, 0xff, sizeof(hw_mask(p, k)->bits));
    }
    for (int k = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL;
         k <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; k++) {
        hw_interval(p, k)->min = 0;
        hw_interval(p, k)->max = UINT_MAX;
    }
    p->rmask = ~0u;
    p->info = ~0u;
}

static void hw_set_mask(struct snd_pcm_hw_params *p, int param, unsigned v)
{
    struct snd_mask *m = hw_mask(p, param);

    memset(m->bits, 0, sizeof(m->bits));
    m->bits[v >> 5] |= 1u << (v & 31);
}

static void hw_set_int(struct snd_pcm_hw_params *p, int param, unsigned v)
{
    struct snd_interval *i = hw_interval(p, param);

    i->min = v;
    i->max = v;
    i->openmin = 0;
    i->openmax = 0;
    i->integer = 1;
}

static unsigned hw_get_int(struct snd_pcm_hw_params *p, int param)
{
    return hw_interval(p, param)->min;
}

static CrpPcm *fail(CrpPcm *pcm, const char *step, char *err, size_t errlen)
{
    int e = errno;

    snprintf(err, errlen, "%s: %s", step, strerror(e));
    if (pcm) {
        close(pcm->fd);
        free(pcm);
    }
    errno = e;
    return NULL;
}

CrpPcm *crp_pcm_open(const char *path, int capture, CrpPcmConfig *cfg,
                     char *err, size_t errlen)
{
    struct snd_pcm_hw_params hw;
    struct snd_pcm_sw_params sw;
    CrpPcm *pcm;
    int ver = 0;
    int fd;

    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return fail(NULL, path, err, errlen);
    }
    pcm = calloc(1, sizeof(*pcm));
    if (!pcm) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pcm->fd = fd;
    pcm->capture = capture;
    pcm->channels = cfg->channels;

    if (ioctl(fd, SNDRV_PCM_IOCTL_PVERSION, &ver) < 0) {
        return fail(pcm, "PVERSION", err, errlen);
    }
    /* Tell the kernel which ABI we were built against; old kernels lack it. */
    ver = SNDRV_PCM_VERSION;
    (void)ioctl(fd, SNDRV_PCM_IOCTL_USER_PVERSION, &ver);

    hw_any(&hw);
    hw_set_mask(&hw, SNDRV_PCM_HW_PARAM_ACCESS,
                SNDRV_PCM_ACCESS_RW_INTERLEAVED);
    hw_set_mask(&hw, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
    hw_set_mask(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
    hw_set_int(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, cfg->channels);
    hw_set_int(&hw, SNDRV_PCM_HW_PARAM_RATE, cfg->rate);
    hw_set_int(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, cfg->period_frames);
    hw_set_int(&hw, SNDRV_PCM_HW_PARAM_PERIODS, cfg->periods);
    /* The kernel refines and then chooses any value still left open. */
    if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0) {
        return fail(pcm, "HW_PARAMS", err, errlen);
    }
    cfg->rate = hw_get_int(&hw, SNDRV_PCM_HW_PARAM_RATE);
    cfg->channels = hw_get_int(&hw, SNDRV_PCM_HW_PARAM_CHANNELS);
    cfg->period_frames = hw_get_int(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE);
    cfg->periods = hw_get_int(&hw, SNDRV_PCM_HW_PARAM_PERIODS);
    pcm->channels = cfg->channels;

    unsigned long buffer = (unsigned long)cfg->period_frames * cfg->periods;
    memset(&sw, 0, sizeof(sw));
    sw.proto = SNDRV_PCM_VERSION;
    sw.tstamp_mode = SNDRV_PCM_TSTAMP_NONE;
    sw.period_step = 1;
    sw.avail_min = cfg->period_frames;
    /*
     * Playback starts once the ring is full, so the first periods written
     * under a slow (TCG) guest do not underrun at once; capture starts on
     * the first read.
     */
    sw.start_threshold = capture ? 1 : buffer;
    sw.stop_threshold = buffer;
    if (ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sw) < 0) {
        return fail(pcm, "SW_PARAMS", err, errlen);
    }
    if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
        return fail(pcm, "PREPARE", err, errlen);
    }
    return pcm;
}

static int xfer(CrpPcm *pcm, int16_t *buf, size_t frames)
{
    unsigned long req = pcm->capture ? SNDRV_PCM_IOCTL_READI_FRAMES
                                     : SNDRV_PCM_IOCTL_WRITEI_FRAMES;

    while (frames > 0) {
        struct snd_xferi x = { .buf = buf, .frames = frames };

        if (ioctl(pcm->fd, req, &x) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            if (errno == EPIPE || errno == ESTRPIPE) {
                pcm->xruns++;
                if (ioctl(pcm->fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
                    return -errno;
                }
                continue;
            }
            return -errno;
        }
        if (x.result <= 0) {
            continue;
        }
        buf += (size_t)x.result * pcm->channels;
        frames -= (size_t)x.result;
    }
    return 0;
}

int crp_pcm_write(CrpPcm *pcm, const int16_t *buf, size_t frames)
{
    return xfer(pcm, (int16_t *)buf, frames);
}

int crp_pcm_read(CrpPcm *pcm, int16_t *buf, size_t frames)
{
    return xfer(pcm, buf, frames);
}

unsigned crp_pcm_xruns(const CrpPcm *pcm)
{
    return pcm->xruns;
}

void crp_pcm_close(CrpPcm *pcm)
{
    if (!pcm) {
        return;
    }
    if (pcm->capture) {
        (void)ioctl(pcm->fd, SNDRV_PCM_IOCTL_DROP);
    } else {
        (void)ioctl(pcm->fd, SNDRV_PCM_IOCTL_DRAIN);
    }
    close(pcm->fd);
    free(pcm);
}
