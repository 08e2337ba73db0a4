/*
 * crp-handshake.h (private): the bytes of CRP's two handshakes.
 *
 * Display channel: Noise NNpsk0 with the ticket as pre-shared key.
 * Broker channel: Noise IK; the client knows the broker's static key (it is
 * pinned in the user's key file) and sends its own, encrypted.
 *
 *   client -> server  HELLO     "CRP" kind major minor | noise message 1
 *   server -> client  RESPONSE  0x01 | noise message 2 (status inside)
 *                  or REJECT    0x02 | u16 status | string reason (clear)
 *
 * The six HELLO prefix bytes are the Noise prologue, so a tampered version
 * fails the first MAC. docs/protocol.md has the full layout.
 */
#pragma once

#include <glib.h>
#include "crp/crp-channel.h"
#include "crypto/crp-noise.h"

#define CRP_HELLO_PREFIX_LEN 6
#define CRP_RESPONSE_ACCEPT 0x01
#define CRP_RESPONSE_REJECT 0x02
/** Handshake frames are small; anything larger is refused unread. */
#define CRP_MAX_HANDSHAKE_FRAME 1024

typedef struct {
    CrpChannelKind kind;
    CrpRole role;
    CrpNoiseState ns;
    CrpNoiseKeypair e;          /* our ephemeral key */
    CrpNoiseKeypair s;          /* our static key (broker channel) */
    guint8 re[CRP_NOISE_DHLEN]; /* peer's ephemeral */
    guint8 rs[CRP_NOISE_DHLEN]; /* peer's static (broker channel) */
    guint8 psk[CRP_NOISE_KEYLEN];   /* display channel: hash of the ticket */
    gboolean has_psk;           /* server: FALSE when no ticket is valid */
    guint32 capabilities;       /* ours, then the negotiated set */
    guint8 minor;               /* ours, then the negotiated one */
    char software[CRP_MAX_SOFTWARE + 1];
    char peer_software[CRP_MAX_SOFTWARE + 1];
    guint16 refusal;            /* client: the status the server refused with */
} CrpHandshake;

gboolean crp_handshake_init(CrpHandshake *hs, const CrpChannelConfig *config,
                            GError **error);
void crp_handshake_clear(CrpHandshake *hs);

/** Client: appends the HELLO frame payload. FALSE (CRP_ERROR_KEY_FILE)
 *  if the pinned broker key is a low-order point. */
gboolean crp_handshake_write_hello(CrpHandshake *hs, GByteArray *out,
                                   GError **error);

/**
 * Server: parses a HELLO and, if it is good, makes our ephemeral key and
 * its Diffie-Hellmans for the RESPONSE, refusing a low-order client key.
 * On failure sets @error and *@status to the code the REJECT should carry.
 */
gboolean crp_handshake_read_hello(CrpHandshake *hs, const guint8 *data,
                                  gsize len, guint16 *status, GError **error);

/** Server, after crp_handshake_read_hello() succeeded: appends a RESPONSE
 *  payload carrying @status and @message. */
void crp_handshake_write_response(CrpHandshake *hs, guint16 status,
                                  const char *message, GByteArray *out);

/** Server: appends a cleartext REJECT payload. */
void crp_handshake_write_reject(guint16 status, const char *reason,
                                GByteArray *out);

/** Client: parses a RESPONSE or REJECT. FALSE with @error if the server
 *  refused us or the response does not authenticate. */
gboolean crp_handshake_read_response(CrpHandshake *hs, const guint8 *data,
                                     gsize len, GError **error);

/** After a successful handshake: this side's sending and receiving keys. */
void crp_handshake_split(CrpHandshake *hs, guint8 send_key[CRP_NOISE_KEYLEN],
                         guint8 recv_key[CRP_NOISE_KEYLEN]);
