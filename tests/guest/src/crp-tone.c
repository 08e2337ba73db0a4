/*
 * crp-tone - play a sine tone through the guest's ALSA PCM device
 *
 * usage: crp-tone [-f HZ] [-d SECONDS] [-a AMPLITUDE] [-D DEVICE] [-c CH]
 *   -f  frequency, default 440
 *   -d  duration in seconds (fractions allowed), 0 = until killed; default 2
 *   -a  amplitude 0..1 of full scale, default 0.5
 *   -D  PCM node, default /dev/snd/pcmC0D0p
 *   -c  channels, default 2
 * Serial markers: "CRP-TONE start freq=F rate=R" and "CRP-TONE done
 * frames=N xruns=X"; exit status 1 when the device cannot be used.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "guest-tools.h"
#include "pcm.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int crp_tone_main(int argc, char **argv)
{
    const char *dev = "/dev/snd/pcmC0D0p";
    double freq = 440.0;
    double seconds = 2.0;
    double amp = 0.5;
    CrpPcmConfig cfg = { 48000, 2, 960, 8 };
    char err[256];
    int opt;

    while ((opt = getopt(argc, argv, "f:d:a:D:c:h")) != -1) {
        switch (opt) {
        case 'f': freq = atof(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'a': amp = atof(optarg); break;
        case 'D': dev = optarg; break;
        case 'c': cfg.channels = (unsigned)atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-f HZ] [-d SECONDS] [-a AMP] "
                    "[-D DEVICE] [-c CHANNELS]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    CrpPcm *pcm = crp_pcm_open(dev, 0, &cfg, err, sizeof(err));
    if (!pcm) {
        printf("CRP-TONE error %s\n", err);
        return 1;
    }
    printf("CRP-TONE start freq=%.0f rate=%u channels=%u\n", freq, cfg.rate,
           cfg.channels);

    size_t total = seconds > 0 ? (size_t)(seconds * cfg.rate) : (size_t)-1;
    int16_t *buf = malloc(sizeof(int16_t) * cfg.period_frames * cfg.channels);
    double phase = 0.0;
    double step = 2.0 * M_PI * freq / cfg.rate;
    size_t done = 0;
    int rc = 0;

    while (!stop && done < total) {
        size_t n = cfg.period_frames;
        if (total - done < n) {
            n = total - done;
        }
        for (size_t i = 0; i < n; i++) {
            int16_t v = (int16_t)lrint(sin(phase) * amp * 32767.0);
            for (unsigned c = 0; c < cfg.channels; c++) {
                buf[i * cfg.channels + c] = v;
            }
            phase += step;
            if (phase > 2.0 * M_PI) {
                phase -= 2.0 * M_PI;
            }
        }
        rc = crp_pcm_write(pcm, buf, n);
        if (rc < 0) {
            printf("CRP-TONE error write: %d\n", rc);
            break;
        }
        done += n;
    }
    printf("CRP-TONE done frames=%zu xruns=%u\n", done, crp_pcm_xruns(pcm));
    crp_pcm_close(pcm);
    free(buf);
    return rc < 0;
}
