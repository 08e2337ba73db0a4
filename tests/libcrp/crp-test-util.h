/*
 * crp-test-util.h: helpers shared by the unit tests (header-only).
 */
#pragma once

#include <glib.h>
#include <sodium.h>
#include <string.h>

/* Parses a hex string (spaces and newlines ignored) into a new GBytes. */
static inline GBytes *
crp_test_hex(const char *hex)
{
    GByteArray *out = g_byte_array_new();
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (g_ascii_isspace(*p)) {
            continue;
        }
        int v = g_ascii_xdigit_value(*p);
        g_assert_cmpint(v, >=, 0);
        if (hi < 0) {
            hi = v;
        } else {
            guint8 b = (guint8)(hi << 4 | v);
            g_byte_array_append(out, &b, 1);
            hi = -1;
        }
    }
    g_assert_cmpint(hi, ==, -1);
    return g_byte_array_free_to_bytes(out);
}

static inline char *
crp_test_to_hex(const guint8 *data, gsize len)
{
    GString *s = g_string_new(NULL);
    for (gsize i = 0; i < len; i++) {
        g_string_append_printf(s, "%02x", data[i]);
    }
    return g_string_free(s, FALSE);
}

/*
 * A deterministic libsodium RNG for golden vectors: BLAKE2b of a counter.
 * Install with crp_test_use_deterministic_rng() before the first
 * libsodium use (libsodium fixes its RNG at sodium_init()).
 */
static guint64 crp_test_rng_counter;

static inline void
crp_test_rng_buf(void *const buf, const size_t size)
{
    guint8 *out = buf;
    size_t done = 0;
    while (done < size) {
        guint8 block[64], ctr[8];
        for (int i = 0; i < 8; i++) {
            ctr[i] = (guint8)(crp_test_rng_counter >> (8 * i));
        }
        crp_test_rng_counter++;
        crypto_generichash(block, sizeof(block), ctr, sizeof(ctr),
                           (const guint8 *)"crp-test-rng", 12);
        size_t n = MIN(sizeof(block), size - done);
        memcpy(out + done, block, n);
        done += n;
    }
}

static inline uint32_t
crp_test_rng_random(void)
{
    uint32_t v;
    crp_test_rng_buf(&v, sizeof(v));
    return v;
}

static inline const char *
crp_test_rng_name(void)
{
    return "crp-test-deterministic";
}

static inline void
crp_test_rng_reset(void)
{
    crp_test_rng_counter = 0;
}

static inline void
crp_test_use_deterministic_rng(void)
{
    static randombytes_implementation impl = {
        .implementation_name = crp_test_rng_name,
        .random = crp_test_rng_random,
        .buf = crp_test_rng_buf,
    };
    g_assert_cmpint(randombytes_set_implementation(&impl), ==, 0);
    g_assert_cmpint(sodium_init(), >=, 0);
}
