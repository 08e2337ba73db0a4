/*
 * crp-record - record from the guest microphone (or read a WAV file) and
 * report the dominant frequency
 *
 * usage: crp-record [-d SECONDS] [-D DEVICE] [-c CH] [-o OUT.wav]
 *        crp-record -i IN.wav        (analyse a file; also runs on the host)
 * Prints one "CRP-MIC t=S freq=HZ rms=R peak=P" line per second and a
 * summary "CRP-RECORD frames=N rate=R freq=HZ rms=R peak=P xruns=X" over
 * everything (FFT up to 65536 points from the middle). freq=0 is silence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "guest-tools.h"
#include "pcm.h"
#include "spectrum.h"
#include "wav.h"

static void report(const char *tag, long t, const int16_t *s, size_t frames,
                   unsigned channels, unsigned rate, size_t max_fft)
{
    CrpSpectrumResult r;

    if (crp_spectrum_analyse(s, frames, channels, rate, max_fft, &r) < 0) {
        printf("%s error out of memory\n", tag);
        return;
    }
    if (t >= 0) {
        printf("%s t=%ld freq=%.0f rms=%.4f peak=%.4f\n", tag, t, r.freq,
               r.rms, r.peak);
    } else {
        printf("%s frames=%zu rate=%u freq=%.1f rms=%.4f peak=%.4f", tag,
               frames, rate, r.freq, r.rms, r.peak);
    }
}

int crp_record_main(int argc, char **argv)
{
    const char *dev = "/dev/snd/pcmC0D0c";
    const char *in = NULL;
    const char *out = NULL;
    double seconds = 3.0;
    CrpPcmConfig cfg = { 48000, 2, 960, 8 };
    char err[256];
    int opt;

    while ((opt = getopt(argc, argv, "d:D:c:o:i:h")) != -1) {
        switch (opt) {
        case 'd': seconds = atof(optarg); break;
        case 'D': dev = optarg; break;
        case 'c': cfg.channels = (unsigned)atoi(optarg); break;
        case 'o': out = optarg; break;
        case 'i': in = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-d SECONDS] [-D DEVICE] [-c CH] "
                    "[-o OUT.wav] | -i IN.wav\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (in) {
        CrpWav wav;

        if (crp_wav_load(in, &wav, err, sizeof(err)) < 0) {
            printf("CRP-RECORD error %s\n", err);
            return 1;
        }
        for (size_t s = 0; s + wav.rate <= wav.frames; s += wav.rate) {
            report("CRP-MIC", (long)(s / wav.rate),
                   wav.samples + s * wav.channels, wav.rate, wav.channels,
                   wav.rate, 0);
        }
        report("CRP-RECORD", -1, wav.samples, wav.frames, wav.channels,
               wav.rate, 65536);
        printf(" channels=%u\n", wav.channels);
        crp_wav_finish(&wav);
        return 0;
    }

    CrpPcm *pcm = crp_pcm_open(dev, 1, &cfg, err, sizeof(err));
    if (!pcm) {
        printf("CRP-RECORD error %s\n", err);
        return 1;
    }
    size_t total = (size_t)(seconds * cfg.rate);
    int16_t *all = malloc(sizeof(int16_t) * (total + cfg.rate) * cfg.channels);
    if (!all) {
        printf("CRP-RECORD error out of memory\n");
        return 1;
    }
    size_t done = 0;
    while (done < total) {
        size_t n = cfg.rate;
        if (total - done < n) {
            n = total - done;
        }
        int rc = crp_pcm_read(pcm, all + done * cfg.channels, n);
        if (rc < 0) {
            printf("CRP-RECORD error read: %d\n", rc);
            break;
        }
        if (n == cfg.rate) {
            report("CRP-MIC", (long)(done / cfg.rate),
                   all + done * cfg.channels, n, cfg.channels, cfg.rate, 0);
        }
        done += n;
    }
    unsigned xruns = crp_pcm_xruns(pcm);
    crp_pcm_close(pcm);
    report("CRP-RECORD", -1, all, done, cfg.channels, cfg.rate, 65536);
    printf(" xruns=%u\n", xruns);

    if (out) {
        FILE *f = fopen(out, "wb");
        if (!f || crp_wav_write_header(f, cfg.rate, cfg.channels, done) < 0 ||
            fwrite(all, sizeof(int16_t) * cfg.channels, done, f) != done) {
            printf("CRP-RECORD error cannot write %s\n", out);
        }
        if (f) {
            fclose(f);
        }
    }
    free(all);
    return 0;
}
