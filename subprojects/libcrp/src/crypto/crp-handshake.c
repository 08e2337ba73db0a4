/* crp-handshake.c: CRP's display (NNpsk0) and broker (IK) handshakes. */
#include "crypto/crp-handshake.h"
#include "crp/crp-error.h"
#include "crp/crp-wire.h"

#include <string.h>

#define DISPLAY_PROTOCOL "CRP1_NNpsk0_25519_ChaChaPoly_BLAKE2b"
#define BROKER_PROTOCOL "CRP1_IK_25519_ChaChaPoly_BLAKE2b"
#define TICKET_CONTEXT "CRP display ticket v1:"
/* Largest plaintext payload in a handshake message (software name etc.). */
#define MAX_PAYLOAD 512

static guint8
kind_letter(CrpChannelKind kind)
{
    return kind == CRP_CHANNEL_DISPLAY ? 'D' : 'B';
}

static void
write_prologue(CrpChannelKind kind, guint8 minor, guint8 out[CRP_HELLO_PREFIX_LEN])
{
    out[0] = 'C';
    out[1] = 'R';
    out[2] = 'P';
    out[3] = kind_letter(kind);
    out[4] = CRP_PROTOCOL_MAJOR;
    out[5] = minor;
}

/* The display channel's pre-shared key: a hash of the ticket, so tickets
 * of any length and alphabet work and none is used as a key directly. */
static void
ticket_psk(const char *ticket, guint8 psk[CRP_NOISE_KEYLEN])
{
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, CRP_NOISE_KEYLEN);
    crypto_generichash_update(&s, (const guint8 *)TICKET_CONTEXT,
                              strlen(TICKET_CONTEXT));
    crypto_generichash_update(&s, (const guint8 *)ticket, strlen(ticket));
    crypto_generichash_final(&s, psk, CRP_NOISE_KEYLEN);
}

gboolean
crp_handshake_init(CrpHandshake *hs, const CrpChannelConfig *config,
                   GError **error)
{
    memset(hs, 0, sizeof(*hs));
    hs->kind = config->kind;
    hs->role = config->role;
    hs->capabilities = config->capabilities;
    hs->minor = CRP_PROTOCOL_MINOR;
    g_strlcpy(hs->software, config->software ? config->software : "libcrp",
              sizeof(hs->software));

    if (config->kind == CRP_CHANNEL_BROKER) {
        if (!config->static_secret ||
            (config->role == CRP_ROLE_CLIENT && !config->remote_static_public)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                        "broker channel needs a static key%s",
                        config->role == CRP_ROLE_CLIENT ?
                        " and the broker's public key" : "");
            return FALSE;
        }
        memcpy(hs->s.sec, config->static_secret, CRP_NOISE_DHLEN);
        crp_noise_keypair_from_secret(&hs->s);
        if (config->role == CRP_ROLE_CLIENT) {
            memcpy(hs->rs, config->remote_static_public, CRP_NOISE_DHLEN);
        }
    } else if (config->ticket) {
        ticket_psk(config->ticket, hs->psk);
        hs->has_psk = TRUE;
    } else if (config->role == CRP_ROLE_CLIENT) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "display client needs a ticket (\"\" for no-ticket mode)");
        return FALSE;
    }
    return TRUE;
}

void
crp_handshake_clear(CrpHandshake *hs)
{
    sodium_memzero(hs, sizeof(*hs));
}

/* Starts the Noise state for this channel (with @minor in the prologue)
 * and runs the pre-message and pre-shared-key steps both sides share. */
static void
start_noise(CrpHandshake *hs, guint8 minor, const guint8 *responder_static)
{
    guint8 prologue[CRP_HELLO_PREFIX_LEN];

    write_prologue(hs->kind, minor, prologue);
    if (hs->kind == CRP_CHANNEL_DISPLAY) {
        crp_noise_init(&hs->ns, DISPLAY_PROTOCOL, prologue, sizeof(prologue));
        crp_noise_mix_key_and_hash(&hs->ns, hs->psk, sizeof(hs->psk));
    } else {
        crp_noise_init(&hs->ns, BROKER_PROTOCOL, prologue, sizeof(prologue));
        crp_noise_mix_hash(&hs->ns, responder_static, CRP_NOISE_DHLEN);
    }
}

/* The "e" token: in psk handshakes the ephemeral key is also mixed in. */
static void
mix_ephemeral(CrpHandshake *hs, const guint8 *pub)
{
    crp_noise_mix_hash(&hs->ns, pub, CRP_NOISE_DHLEN);
    if (hs->kind == CRP_CHANNEL_DISPLAY) {
        crp_noise_mix_key(&hs->ns, pub, CRP_NOISE_DHLEN);
    }
}

static gboolean
mix_dh(CrpHandshake *hs, const guint8 *sec, const guint8 *pub)
{
    guint8 shared[CRP_NOISE_DHLEN];
    if (!crp_noise_dh(shared, sec, pub)) {
        return FALSE;
    }
    crp_noise_mix_key(&hs->ns, shared, sizeof(shared));
    sodium_memzero(shared, sizeof(shared));
    return TRUE;
}

gboolean
crp_handshake_write_hello(CrpHandshake *hs, GByteArray *out, GError **error)
{
    guint8 prologue[CRP_HELLO_PREFIX_LEN];
    g_autoptr(GByteArray) payload = g_byte_array_new();

    start_noise(hs, hs->minor, hs->rs);
    write_prologue(hs->kind, hs->minor, prologue);
    crp_put_bytes(out, prologue, sizeof(prologue));

    crp_noise_keypair_generate(&hs->e);
    crp_put_bytes(out, hs->e.pub, CRP_NOISE_DHLEN);
    mix_ephemeral(hs, hs->e.pub);

    if (hs->kind == CRP_CHANNEL_BROKER) {
        /* Both fail only for a low-order broker key: with one, anyone
         * could compute `es` and `ss` and read what we send. */
        gboolean ok = mix_dh(hs, hs->e.sec, hs->rs);            /* es */
        crp_noise_encrypt_and_hash(&hs->ns, hs->s.pub, CRP_NOISE_DHLEN, out);
        if (!ok || !mix_dh(hs, hs->s.sec, hs->rs)) {            /* ss */
            g_set_error_literal(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                                "the broker's public key is not a usable "
                                "X25519 key (a low-order point): is the key "
                                "file damaged?");
            return FALSE;
        }
    }

    crp_put_u32(payload, hs->capabilities);
    crp_put_str(payload, hs->software);
    crp_noise_encrypt_and_hash(&hs->ns, payload->data, payload->len, out);
    return TRUE;
}

/* Reads the u32 capabilities and software name of a handshake payload. */
static gboolean
read_hello_payload(CrpHandshake *hs, const guint8 *data, gsize len)
{
    CrpReader r;
    crp_reader_init(&r, data, len);
    guint32 caps = crp_reader_u32(&r);
    CrpStr software = crp_reader_str(&r, CRP_MAX_SOFTWARE);
    if (!crp_reader_done(&r)) {
        return FALSE;
    }
    hs->capabilities &= caps;
    memcpy(hs->peer_software, software.ptr, software.len);
    hs->peer_software[software.len] = '\0';
    return TRUE;
}

/* A Diffie-Hellman with the client's key gave the all-zero result that
 * only a point of small order gives: whatever key it made would be known
 * to anyone. */
static gboolean
refuse_low_order(guint16 *status, GError **error)
{
    *status = CRP_STATUS_BAD_REQUEST;
    g_set_error_literal(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                        "HELLO carries a low-order X25519 key");
    return FALSE;
}

gboolean
crp_handshake_read_hello(CrpHandshake *hs, const guint8 *data, gsize len,
                         guint16 *status, GError **error)
{
    guint8 plain[MAX_PAYLOAD];
    CrpReader r;

    *status = CRP_STATUS_BAD_REQUEST;
    crp_reader_init(&r, data, len);
    CrpView prefix = crp_reader_view(&r, CRP_HELLO_PREFIX_LEN);
    if (!crp_reader_ok(&r) || memcmp(prefix.data, "CRP", 3) != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "not a CRP client (bad HELLO magic)");
        return FALSE;
    }
    if (prefix.data[3] != kind_letter(hs->kind)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "HELLO for the %s channel reached the %s channel",
                    prefix.data[3] == 'D' ? "display" : "broker",
                    hs->kind == CRP_CHANNEL_DISPLAY ? "display" : "broker");
        return FALSE;
    }
    if (prefix.data[4] != CRP_PROTOCOL_MAJOR) {
        *status = CRP_STATUS_VERSION_UNSUPPORTED;
        g_set_error(error, CRP_ERROR, CRP_ERROR_VERSION,
                    "client speaks CRP %u.%u; this server speaks %u.x",
                    prefix.data[4], prefix.data[5], CRP_PROTOCOL_MAJOR);
        return FALSE;
    }
    guint8 client_minor = prefix.data[5];
    hs->minor = MIN(hs->minor, client_minor);
    start_noise(hs, client_minor, hs->s.pub);

    crp_reader_copy(&r, hs->re, CRP_NOISE_DHLEN);
    if (!crp_reader_ok(&r)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL, "truncated HELLO");
        return FALSE;
    }
    mix_ephemeral(hs, hs->re);

    *status = CRP_STATUS_AUTH_FAILED;
    if (hs->kind == CRP_CHANNEL_BROKER) {
        CrpView enc_s = crp_reader_view(&r, CRP_NOISE_DHLEN + CRP_NOISE_TAGLEN);
        if (!crp_reader_ok(&r)) {
            *status = CRP_STATUS_BAD_REQUEST;
            g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL, "truncated HELLO");
            return FALSE;
        }
        if (!mix_dh(hs, hs->s.sec, hs->re)) {                   /* es */
            return refuse_low_order(status, error);
        }
        if (!crp_noise_decrypt_and_hash(&hs->ns, enc_s.data, enc_s.len, hs->rs)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_AUTH,
                        "HELLO does not authenticate: the client does not hold "
                        "this broker's public key");
            return FALSE;
        }
        if (!mix_dh(hs, hs->s.sec, hs->rs)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_AUTH,
                        "client static key is invalid");
            return FALSE;
        }
    }

    CrpView enc = crp_reader_rest(&r);
    if (enc.len < CRP_NOISE_TAGLEN || enc.len - CRP_NOISE_TAGLEN > MAX_PAYLOAD) {
        *status = CRP_STATUS_BAD_REQUEST;
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "HELLO payload of %" G_GSIZE_FORMAT " bytes", enc.len);
        return FALSE;
    }
    if ((hs->kind == CRP_CHANNEL_DISPLAY && !hs->has_psk) ||
        !crp_noise_decrypt_and_hash(&hs->ns, enc.data, enc.len, plain)) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_AUTH,
                            hs->kind == CRP_CHANNEL_DISPLAY ?
                            "wrong, expired or already used ticket" :
                            "HELLO does not authenticate: the client does not "
                            "hold the secret key it presents");
        return FALSE;
    }
    if (!read_hello_payload(hs, plain, enc.len - CRP_NOISE_TAGLEN)) {
        *status = CRP_STATUS_BAD_REQUEST;
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "malformed HELLO payload");
        return FALSE;
    }

    /* The RESPONSE's `e, ee` (and the broker's `se`) now rather than in
     * crp_handshake_write_response(), so that a client that holds the
     * ticket but sends a low-order key is refused before it is authorized.
     * `se` cannot fail once `ss` passed; it is checked all the same. */
    crp_noise_keypair_generate(&hs->e);
    mix_ephemeral(hs, hs->e.pub);
    if (!mix_dh(hs, hs->e.sec, hs->re) ||                       /* ee */
        (hs->kind == CRP_CHANNEL_BROKER && !mix_dh(hs, hs->e.sec, hs->rs))) {
        return refuse_low_order(status, error);
    }
    *status = CRP_STATUS_OK;
    return TRUE;
}

void
crp_handshake_write_response(CrpHandshake *hs, guint16 status,
                             const char *message, GByteArray *out)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();

    /* e, ee (and se) were mixed when the HELLO was read. */
    crp_put_u8(out, CRP_RESPONSE_ACCEPT);
    crp_put_bytes(out, hs->e.pub, CRP_NOISE_DHLEN);

    crp_put_u16(payload, status);
    crp_put_str_len(payload, message ? message : "",
                    message ? MIN(strlen(message), 256) : 0);
    crp_put_u8(payload, hs->minor);
    crp_put_u32(payload, status == CRP_STATUS_OK ? hs->capabilities : 0);
    crp_put_str(payload, hs->software);
    crp_noise_encrypt_and_hash(&hs->ns, payload->data, payload->len, out);
}

void
crp_handshake_write_reject(guint16 status, const char *reason, GByteArray *out)
{
    crp_put_u8(out, CRP_RESPONSE_REJECT);
    crp_put_u16(out, status);
    crp_put_str_len(out, reason ? reason : "", reason ? MIN(strlen(reason), 256) : 0);
}

static gboolean
read_reject(CrpHandshake *hs, const guint8 *data, gsize len, GError **error)
{
    CrpReader r;
    crp_reader_init(&r, data, len);
    crp_reader_u8(&r);
    guint16 status = crp_reader_u16(&r);
    CrpStr reason = crp_reader_str(&r, 256);
    if (!crp_reader_done(&r)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL, "malformed REJECT");
        return FALSE;
    }
    hs->refusal = status;
    g_set_error(error, CRP_ERROR,
                status == CRP_STATUS_VERSION_UNSUPPORTED ? CRP_ERROR_VERSION :
                status == CRP_STATUS_AUTH_FAILED ? CRP_ERROR_AUTH :
                CRP_ERROR_REJECTED,
                "server refused the connection: %s (%.*s)",
                crp_status_to_string(status), reason.len, reason.ptr);
    return FALSE;
}

gboolean
crp_handshake_read_response(CrpHandshake *hs, const guint8 *data, gsize len,
                            GError **error)
{
    guint8 plain[MAX_PAYLOAD];
    CrpReader r;

    crp_reader_init(&r, data, len);
    guint8 kind = crp_reader_u8(&r);
    if (kind == CRP_RESPONSE_REJECT) {
        return read_reject(hs, data, len, error);
    }
    crp_reader_copy(&r, hs->re, CRP_NOISE_DHLEN);
    CrpView enc = crp_reader_rest(&r);
    if (kind != CRP_RESPONSE_ACCEPT || !crp_reader_ok(&r) ||
        enc.len < CRP_NOISE_TAGLEN || enc.len - CRP_NOISE_TAGLEN > MAX_PAYLOAD) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "malformed handshake response");
        return FALSE;
    }
    mix_ephemeral(hs, hs->re);
    gboolean dh_ok = mix_dh(hs, hs->e.sec, hs->re);                 /* ee */
    if (hs->kind == CRP_CHANNEL_BROKER) {
        dh_ok = dh_ok && mix_dh(hs, hs->s.sec, hs->re);             /* se */
    }
    if (!dh_ok || !crp_noise_decrypt_and_hash(&hs->ns, enc.data, enc.len, plain)) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_AUTH,
                            hs->kind == CRP_CHANNEL_BROKER ?
                            "the broker's response does not authenticate: it "
                            "does not hold the key pinned in the key file" :
                            "the server's response does not authenticate");
        return FALSE;
    }

    CrpReader p;
    crp_reader_init(&p, plain, enc.len - CRP_NOISE_TAGLEN);
    guint16 status = crp_reader_u16(&p);
    CrpStr message = crp_reader_str(&p, 256);
    guint8 minor = crp_reader_u8(&p);
    guint32 caps = crp_reader_u32(&p);
    CrpStr software = crp_reader_str(&p, CRP_MAX_SOFTWARE);
    if (!crp_reader_done(&p) || minor > hs->minor) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "malformed handshake response payload");
        return FALSE;
    }
    if (status != CRP_STATUS_OK) {
        hs->refusal = status;
        g_set_error(error, CRP_ERROR,
                    status == CRP_STATUS_AUTH_FAILED ? CRP_ERROR_AUTH :
                    CRP_ERROR_REJECTED,
                    "%s%s%.*s", crp_status_to_string(status),
                    message.len ? ": " : "", message.len, message.ptr);
        return FALSE;
    }
    hs->minor = minor;
    hs->capabilities &= caps;
    memcpy(hs->peer_software, software.ptr, software.len);
    hs->peer_software[software.len] = '\0';
    return TRUE;
}

void
crp_handshake_split(CrpHandshake *hs, guint8 send_key[CRP_NOISE_KEYLEN],
                    guint8 recv_key[CRP_NOISE_KEYLEN])
{
    if (hs->role == CRP_ROLE_CLIENT) {
        crp_noise_split(&hs->ns, send_key, recv_key);
    } else {
        crp_noise_split(&hs->ns, recv_key, send_key);
    }
}
