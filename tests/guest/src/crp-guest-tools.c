/*
 * crp-guest-tools - multi-call entry point, and the small crp-mixer program
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-tools.h"
#include "mixer.h"

/*
 * crp-mixer [-q] [-c CARD]: every Switch on, every Volume to maximum (the
 * guest's /init runs it once the sound card is there).
 */
int crp_mixer_main(int argc, char **argv)
{
    int card = 0;
    int quiet = 0;
    int opt;

    while ((opt = getopt(argc, argv, "qc:")) != -1) {
        switch (opt) {
        case 'q': quiet = 1; break;
        case 'c': card = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-q] [-c CARD]\n", argv[0]);
            return 2;
        }
    }
    int n = crp_mixer_open_all(card, quiet ? NULL : stdout);
    if (n < 0) {
        printf("CRP-MIXER error card=%d: %s\n", card, strerror(-n));
        return 1;
    }
    printf("CRP-MIXER card=%d controls=%d\n", card, n);
    return 0;
}

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} programs[] = {
    { "crp-demo-guest", crp_demo_main },
    { "crp-tone", crp_tone_main },
    { "crp-record", crp_record_main },
    { "crp-mixer", crp_mixer_main },
    { "crp-drm", crp_drm_main },
    { "crp-vbe", crp_vbe_main },
    { "crp-vdagent", crp_vdagent_main },
};

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
            if (!strcmp(self, programs[i].name)) {
                return programs[i].main(argc, argv);
            }
        }
        if (argc < 2) {
            break;
        }
        /* crp-guest-tools PROGRAM ARGS... */
        argc--;
        argv++;
        self = argv[0];
    }
    fprintf(stderr, "usage: crp-guest-tools PROGRAM [ARGS]; programs:");
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        fprintf(stderr, " %s", programs[i].name);
    }
    fprintf(stderr, "\n");
    return 2;
}
