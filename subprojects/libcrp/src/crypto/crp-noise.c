/* crp-noise.c: Noise symmetric state on libsodium (see crp-noise.h). */
#include "crypto/crp-noise.h"

#include <string.h>

/* BLAKE2b-512, keyed when @key is non-NULL, over the concatenation a || b. */
static void
prf(guint8 out[CRP_NOISE_HASHLEN], const guint8 *key, gsize key_len,
    const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
    crypto_generichash_state s;
    crypto_generichash_init(&s, key, key_len, CRP_NOISE_HASHLEN);
    crypto_generichash_update(&s, a, a_len);
    if (b_len) {
        crypto_generichash_update(&s, b, b_len);
    }
    crypto_generichash_final(&s, out, CRP_NOISE_HASHLEN);
}

/* HKDF(ck, ikm) with keyed BLAKE2b as PRF; two or three outputs. */
static void
hkdf(const guint8 ck[CRP_NOISE_HASHLEN], const guint8 *ikm, gsize ikm_len,
     guint8 out1[CRP_NOISE_HASHLEN], guint8 out2[CRP_NOISE_HASHLEN],
     guint8 *out3)
{
    guint8 temp[CRP_NOISE_HASHLEN];
    static const guint8 one = 1, two = 2, three = 3;

    prf(temp, ck, CRP_NOISE_HASHLEN, ikm, ikm_len, NULL, 0);
    prf(out1, temp, sizeof(temp), &one, 1, NULL, 0);
    prf(out2, temp, sizeof(temp), out1, CRP_NOISE_HASHLEN, &two, 1);
    if (out3) {
        prf(out3, temp, sizeof(temp), out2, CRP_NOISE_HASHLEN, &three, 1);
    }
    sodium_memzero(temp, sizeof(temp));
}

void
crp_noise_init(CrpNoiseState *st, const char *protocol_name,
               const guint8 *prologue, gsize prologue_len)
{
    gsize name_len = strlen(protocol_name);

    memset(st, 0, sizeof(*st));
    if (name_len <= CRP_NOISE_HASHLEN) {
        memcpy(st->h, protocol_name, name_len);
    } else {
        prf(st->h, NULL, 0, (const guint8 *)protocol_name, name_len, NULL, 0);
    }
    memcpy(st->ck, st->h, CRP_NOISE_HASHLEN);
    crp_noise_mix_hash(st, prologue, prologue_len);
}

void
crp_noise_mix_hash(CrpNoiseState *st, const guint8 *data, gsize len)
{
    prf(st->h, NULL, 0, st->h, CRP_NOISE_HASHLEN, data, len);
}

void
crp_noise_mix_key(CrpNoiseState *st, const guint8 *ikm, gsize len)
{
    guint8 ck[CRP_NOISE_HASHLEN], k[CRP_NOISE_HASHLEN];

    hkdf(st->ck, ikm, len, ck, k, NULL);
    memcpy(st->ck, ck, sizeof(ck));
    memcpy(st->k, k, CRP_NOISE_KEYLEN);     /* truncated to the key size */
    st->has_key = TRUE;
    st->n = 0;
    sodium_memzero(k, sizeof(k));
}

void
crp_noise_mix_key_and_hash(CrpNoiseState *st, const guint8 *ikm, gsize len)
{
    guint8 ck[CRP_NOISE_HASHLEN], th[CRP_NOISE_HASHLEN], k[CRP_NOISE_HASHLEN];

    hkdf(st->ck, ikm, len, ck, th, k);
    memcpy(st->ck, ck, sizeof(ck));
    crp_noise_mix_hash(st, th, sizeof(th));
    memcpy(st->k, k, CRP_NOISE_KEYLEN);
    st->has_key = TRUE;
    st->n = 0;
    sodium_memzero(k, sizeof(k));
}

static void
nonce_for(guint64 n, guint8 nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES])
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (guint8)(n >> (8 * i));
    }
}

void
crp_noise_encrypt_and_hash(CrpNoiseState *st, const guint8 *plain, gsize len,
                           GByteArray *out)
{
    gsize start = out->len;

    if (!st->has_key) {
        g_byte_array_append(out, plain, len);
    } else {
        guint8 nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
        unsigned long long clen;

        nonce_for(st->n++, nonce);
        g_byte_array_set_size(out, start + len + CRP_NOISE_TAGLEN);
        crypto_aead_chacha20poly1305_ietf_encrypt(out->data + start, &clen,
                                                  plain, len,
                                                  st->h, CRP_NOISE_HASHLEN,
                                                  NULL, nonce, st->k);
    }
    crp_noise_mix_hash(st, out->data + start, out->len - start);
}

gboolean
crp_noise_decrypt_and_hash(CrpNoiseState *st, const guint8 *cipher, gsize len,
                           guint8 *plain)
{
    if (!st->has_key) {
        memmove(plain, cipher, len);
    } else {
        guint8 nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
        unsigned long long plen;

        if (len < CRP_NOISE_TAGLEN) {
            return FALSE;
        }
        nonce_for(st->n, nonce);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plen, NULL,
                                                      cipher, len,
                                                      st->h, CRP_NOISE_HASHLEN,
                                                      nonce, st->k) != 0) {
            return FALSE;
        }
        st->n++;
    }
    crp_noise_mix_hash(st, cipher, len);
    return TRUE;
}

gboolean
crp_noise_dh(guint8 out[CRP_NOISE_DHLEN], const guint8 *sec, const guint8 *pub)
{
    return crypto_scalarmult(out, sec, pub) == 0;
}

void
crp_noise_keypair_generate(CrpNoiseKeypair *kp)
{
    randombytes_buf(kp->sec, sizeof(kp->sec));
    crp_noise_keypair_from_secret(kp);
}

void
crp_noise_keypair_from_secret(CrpNoiseKeypair *kp)
{
    crypto_scalarmult_base(kp->pub, kp->sec);
}

void
crp_noise_split(CrpNoiseState *st, guint8 i2r[CRP_NOISE_KEYLEN],
                guint8 r2i[CRP_NOISE_KEYLEN])
{
    guint8 a[CRP_NOISE_HASHLEN], b[CRP_NOISE_HASHLEN];

    hkdf(st->ck, NULL, 0, a, b, NULL);
    memcpy(i2r, a, CRP_NOISE_KEYLEN);
    memcpy(r2i, b, CRP_NOISE_KEYLEN);
    sodium_memzero(a, sizeof(a));
    sodium_memzero(b, sizeof(b));
}

void
crp_noise_clear(CrpNoiseState *st)
{
    sodium_memzero(st, sizeof(*st));
}
