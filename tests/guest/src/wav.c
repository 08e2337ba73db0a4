/*
 * wav.c - just enough RIFF/WAVE for the guest tools and host-side checks
 */
#include "wav.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int bad(char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "%s: %s", path, why);
    return -1;
}

int crp_wav_load(const char *path, CrpWav *wav, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    FILE *f;

    memset(wav, 0, sizeof(*wav));
    f = fopen(path, "rb");
    if (!f) {
        return bad(err, errlen, path, strerror(errno));
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return bad(err, errlen, path, "out of memory");
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0) {
            break;
        }
        len += got;
    }
    fclose(f);

    int rc = -1;
    if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) {
        bad(err, errlen, path, "not a RIFF/WAVE file");
        goto out;
    }
    unsigned fmt_tag = 0;
    unsigned bits = 0;
    size_t pos = 12;
    const uint8_t *data = NULL;
    size_t data_len = 0;
    while (pos + 8 <= len) {
        const uint8_t *id = buf + pos;
        size_t sz = le32(buf + pos + 4);
        size_t body = pos + 8;

        if (!memcmp(id, "fmt ", 4) && sz >= 16 && body + 16 <= len) {
            fmt_tag = le16(buf + body);
            wav->channels = le16(buf + body + 2);
            wav->rate = le32(buf + body + 4);
            bits = le16(buf + body + 14);
            if (fmt_tag == 0xfffe && sz >= 26 && body + 26 <= len) {
                fmt_tag = le16(buf + body + 24); /* WAVE_FORMAT_EXTENSIBLE */
            }
        } else if (!memcmp(id, "data", 4)) {
            data = buf + body;
            data_len = len - body;
            if (sz != 0 && sz <= data_len) {
                data_len = sz;
            }
            break;
        }
        pos = body + sz + (sz & 1);
    }
    if (!data || wav->channels == 0 || wav->rate == 0) {
        bad(err, errlen, path, "no fmt or data chunk");
        goto out;
    }
    if (!((fmt_tag == 1 && (bits == 16 || bits == 32)) ||
          (fmt_tag == 3 && bits == 32))) {
        bad(err, errlen, path, "only 16/32-bit PCM or 32-bit float");
        goto out;
    }
    size_t bytes = bits / 8;
    wav->frames = data_len / (bytes * wav->channels);
    wav->samples = malloc((wav->frames * wav->channels + 1) * sizeof(int16_t));
    if (!wav->samples) {
        bad(err, errlen, path, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < wav->frames * wav->channels; i++) {
        const uint8_t *p = data + i * bytes;
        int32_t v;

        if (bits == 16) {
            v = (int16_t)le16(p);
        } else if (fmt_tag == 1) {
            v = (int32_t)le32(p) >> 16;
        } else {
            uint32_t u = le32(p);
            float fl;
            memcpy(&fl, &u, sizeof(fl));
            v = (int32_t)(fl * 32767.0f);
            v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
        wav->samples[i] = (int16_t)v;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

void crp_wav_finish(CrpWav *wav)
{
    free(wav->samples);
    wav->samples = NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

int crp_wav_write_header(FILE *f, unsigned rate, unsigned channels,
                         size_t frames)
{
    uint8_t h[44];
    uint32_t data = (uint32_t)(frames * channels * 2);

    memcpy(h, "RIFF", 4);
    put32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    h[20] = 1; /* PCM */
    h[21] = 0;
    h[22] = (uint8_t)channels;
    h[23] = 0;
    put32(h + 24, rate);
    put32(h + 28, rate * channels * 2);
    h[32] = (uint8_t)(channels * 2);
    h[33] = 0;
    h[34] = 16;
    h[35] = 0;
    memcpy(h + 36, "data", 4);
    put32(h + 40, data);
    if (fseek(f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof(h), f) != sizeof(h)) {
        return -1;
    }
    return fseek(f, 0, SEEK_END);
}
