/* crp-error.h: the GError domain every libcrp function reports in. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_ERROR (crp_error_quark())
GQuark crp_error_quark(void);

typedef enum {
    /** Malformed bytes: bad framing, unknown type, truncated body. */
    CRP_ERROR_PROTOCOL,
    /** A length or dimension above its hard cap. */
    CRP_ERROR_TOO_LARGE,
    /** A MAC failed: wrong ticket, wrong key, tampered or replayed record. */
    CRP_ERROR_AUTH,
    /** The peer speaks a protocol major version we do not. */
    CRP_ERROR_VERSION,
    /** The peer refused the handshake (the message says why). */
    CRP_ERROR_REJECTED,
    /** The stream was closed (final record seen); nothing more may follow. */
    CRP_ERROR_CLOSED,
    /** Compressed pixel or audio data did not decode. */
    CRP_ERROR_CODEC,
    /** A call made in the wrong state (a bug in the caller). */
    CRP_ERROR_STATE,
    /** A key file is malformed, unreadable or readable by others. */
    CRP_ERROR_KEY_FILE,
} CrpErrorCode;

G_END_DECLS
