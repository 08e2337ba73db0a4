/*
 * wav.h - just enough RIFF/WAVE for the guest tools and host-side checks
 */
#ifndef CRP_GUEST_WAV_H
#define CRP_GUEST_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct CrpWav {
    unsigned rate;
    unsigned channels;
    size_t frames;
    int16_t *samples; /* interleaved, owned */
} CrpWav;

/**
 * crp_wav_load:
 * Reads 16-bit PCM, 32-bit PCM or 32-bit float WAV into S16. A data chunk
 * whose size was never patched (a writer killed before closing, as QEMU's
 * wav audiodev can leave it) is taken to run to the end of the file.
 * Returns 0, or -1 with a message in @err.
 */
int crp_wav_load(const char *path, CrpWav *wav, char *err, size_t errlen);

/** Frees the samples; accepts a zeroed struct. */
void crp_wav_finish(CrpWav *wav);

/**
 * crp_wav_write_header:
 * Writes a 44-byte S16 header for @frames frames at the start of @f
 * (call once with 0 before the data and again with the real count).
 */
int crp_wav_write_header(FILE *f, unsigned rate, unsigned channels,
                         size_t frames);

#endif
