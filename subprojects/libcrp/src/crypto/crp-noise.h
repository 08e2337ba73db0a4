/*
 * crp-noise.h (private): the Noise framework's symmetric and handshake
 * state, restricted to what CRP's two patterns need.
 *
 * CRP follows the Noise Protocol Framework (revision 34) with
 * DH = X25519, cipher = ChaChaPoly (IETF, 96-bit nonce of four zero bytes
 * and a little-endian 64-bit counter), hash = BLAKE2b (HASHLEN 64). One
 * deliberate difference: HKDF uses keyed BLAKE2b as its PRF in place of
 * HMAC-BLAKE2b (BLAKE2b's keyed mode is a PRF by design, and libsodium
 * offers it directly). All primitives are libsodium's.
 */
#pragma once

#include <glib.h>
#include <sodium.h>

#define CRP_NOISE_HASHLEN 64
#define CRP_NOISE_KEYLEN 32
#define CRP_NOISE_DHLEN 32
#define CRP_NOISE_TAGLEN 16

typedef struct {
    guint8 ck[CRP_NOISE_HASHLEN];   /* chaining key */
    guint8 h[CRP_NOISE_HASHLEN];    /* transcript hash */
    guint8 k[CRP_NOISE_KEYLEN];
    gboolean has_key;
    guint64 n;
} CrpNoiseState;

typedef struct {
    guint8 pub[CRP_NOISE_DHLEN];
    guint8 sec[CRP_NOISE_DHLEN];
} CrpNoiseKeypair;

/** InitializeSymmetric(protocol_name), then MixHash(prologue). */
void crp_noise_init(CrpNoiseState *st, const char *protocol_name,
                    const guint8 *prologue, gsize prologue_len);
void crp_noise_mix_hash(CrpNoiseState *st, const guint8 *data, gsize len);
void crp_noise_mix_key(CrpNoiseState *st, const guint8 *ikm, gsize len);
void crp_noise_mix_key_and_hash(CrpNoiseState *st, const guint8 *ikm, gsize len);

/** EncryptAndHash: appends ciphertext (plaintext + tag once keyed). */
void crp_noise_encrypt_and_hash(CrpNoiseState *st, const guint8 *plain,
                                gsize len, GByteArray *out);
/** DecryptAndHash into @plain (len - TAGLEN bytes once keyed).
 *  Returns FALSE if the MAC fails. */
gboolean crp_noise_decrypt_and_hash(CrpNoiseState *st, const guint8 *cipher,
                                    gsize len, guint8 *plain);

/** X25519; FALSE for a low-order public key (all-zero result). */
gboolean crp_noise_dh(guint8 out[CRP_NOISE_DHLEN], const guint8 *sec,
                      const guint8 *pub);
void crp_noise_keypair_generate(CrpNoiseKeypair *kp);
/** Fills kp->pub from kp->sec. */
void crp_noise_keypair_from_secret(CrpNoiseKeypair *kp);

/** Split(): the initiator->responder and responder->initiator keys. */
void crp_noise_split(CrpNoiseState *st, guint8 i2r[CRP_NOISE_KEYLEN],
                     guint8 r2i[CRP_NOISE_KEYLEN]);

/** Wipes the state. */
void crp_noise_clear(CrpNoiseState *st);
