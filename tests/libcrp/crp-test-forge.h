/*
 * crp-test-forge.h: handshake messages no well-behaved peer sends, for the
 * unit tests and the fuzz seeds (header-only; needs libcrp's private
 * headers on the include path).
 */
#pragma once

#include <glib.h>
#include <sodium.h>
#include <string.h>
#include <crp/crp-channel.h>
#include <crp/crp-wire.h>
#include "crypto/crp-noise.h"

/*
 * The points of small order on Curve25519, as 32-byte u-coordinates: 0, 1,
 * the two of order 8, p - 1, p and p + 1 (the last two are 0 and 1 again,
 * unreduced), and 0 and p - 1 with the unused top bit set. A Diffie-Hellman
 * with any of them gives a result the peer can predict (all zero).
 */
static const char *const crp_test_low_order_points[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};

/*
 * A display HELLO framed for the wire, as a client holding @ticket writes
 * it (docs/protocol.md 3.1), but with @e as its ephemeral public key: a
 * client that knows the ticket can send any point it likes.
 */
static inline GByteArray *
crp_test_forge_display_hello(const char *ticket, const guint8 e[CRP_NOISE_DHLEN])
{
    static const guint8 prologue[] = { 'C', 'R', 'P', 'D', 1, 0 };
    static const char context[] = "CRP display ticket v1:";
    guint8 psk[CRP_NOISE_KEYLEN];
    crypto_generichash_state h;
    CrpNoiseState ns;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(GByteArray) body = g_byte_array_new();

    crypto_generichash_init(&h, NULL, 0, sizeof(psk));
    crypto_generichash_update(&h, (const guint8 *)context, strlen(context));
    crypto_generichash_update(&h, (const guint8 *)ticket, strlen(ticket));
    crypto_generichash_final(&h, psk, sizeof(psk));

    crp_noise_init(&ns, "CRP1_NNpsk0_25519_ChaChaPoly_BLAKE2b", prologue,
                   sizeof(prologue));
    crp_noise_mix_key_and_hash(&ns, psk, sizeof(psk));
    crp_put_bytes(body, prologue, sizeof(prologue));
    crp_put_bytes(body, e, CRP_NOISE_DHLEN);
    crp_noise_mix_hash(&ns, e, CRP_NOISE_DHLEN);
    crp_noise_mix_key(&ns, e, CRP_NOISE_DHLEN);
    crp_put_u32(payload, CRP_CAP_DISPLAY_ALL);
    crp_put_str(payload, "forger");
    crp_noise_encrypt_and_hash(&ns, payload->data, payload->len, body);

    GByteArray *frame = g_byte_array_new();
    crp_put_u32(frame, body->len);
    crp_put_bytes(frame, body->data, body->len);
    return frame;
}
