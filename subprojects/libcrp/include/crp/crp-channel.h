/*
 * crp-channel.h: one CRP connection, sans I/O.
 *
 * A CrpChannel runs the handshake (display: ticket as pre-shared key;
 * broker: mutual static keys), then carries messages in an encrypted,
 * authenticated XChaCha20-Poly1305 secretstream per direction. It never
 * touches a socket: the caller feeds it received bytes, pulls typed events
 * out, queues messages and writes whatever output the channel has.
 *
 *     crp_channel_receive(ch, buf, n);
 *     while ((t = crp_channel_next_event(ch, &ev, &error)) > CRP_EVENT_NONE)
 *         handle(&ev);
 *     write(fd, crp_channel_peek_output(ch, &len), len) ...
 *
 * When next_event() returns CRP_EVENT_ERROR the channel is dead; any
 * farewell (a BYE, or a REJECT during the handshake) has been queued as
 * output, so flush it and close the connection.
 */
#pragma once

#include <glib.h>
#include "crp/crp-message.h"

G_BEGIN_DECLS

#define CRP_PROTOCOL_MAJOR 1
#define CRP_PROTOCOL_MINOR 0

#define CRP_KEY_BYTES 32

/* Display channel capabilities, negotiated as the intersection of both
 * sides' masks. FILL, RAW and COPY rects need no capability. */
#define CRP_CAP_ZLIB      (1u << 0)
#define CRP_CAP_JPEG      (1u << 1)
#define CRP_CAP_AUDIO_OUT (1u << 2)
#define CRP_CAP_AUDIO_IN  (1u << 3)
#define CRP_CAP_CURSOR    (1u << 4)
#define CRP_CAP_RESIZE    (1u << 5)
#define CRP_CAP_ZSTD      (1u << 6)
#define CRP_CAP_H264      (1u << 7)
#define CRP_CAP_CLIPBOARD (1u << 8)
#define CRP_CAP_DISPLAY_ALL 0x1ffu

/* Broker channel capabilities. */
/** The broker serves My files (FILE_LIST, UPLOAD_*, DOWNLOAD, FILE_DELETE). */
#define CRP_CAP_BROKER_FILES (1u << 0)

/** Longest software name sent in the handshake. */
#define CRP_MAX_SOFTWARE 64

typedef struct {
    CrpChannelKind kind;
    CrpRole role;
    /**
     * Display channel: the one-time ticket. The client's is the one it was
     * handed; the server's is the one currently valid, NULL if none is
     * (then every client is refused). "" is the explicit no-ticket mode.
     */
    const char *ticket;
    /** Broker channel: this side's static X25519 secret key (the user's on
     *  the client, the broker's on the server). */
    const guint8 *static_secret;
    /** Broker channel, client: the broker public key pinned in the key file. */
    const guint8 *remote_static_public;
    /** CRP_CAP_* this side supports. */
    guint32 capabilities;
    /** Name and version sent in the handshake, e.g. "crp-client 0.1". */
    const char *software;
} CrpChannelConfig;

typedef enum {
    CRP_EVENT_ERROR = -1,
    /** Nothing more until more input arrives. */
    CRP_EVENT_NONE = 0,
    /** Server: the client proved its ticket or key; decide with
     *  crp_channel_authorize() before anything else happens. */
    CRP_EVENT_AUTHORIZE,
    /** The handshake completed; messages may flow. */
    CRP_EVENT_READY,
    /** event.message holds a message; its views stay valid until the next
     *  crp_channel_next_event() or crp_channel_free(). */
    CRP_EVENT_MESSAGE,
    /** The peer ended its stream cleanly. Bytes after its final record are
     *  not CRP records of this channel: see crp_channel_steal_input(). */
    CRP_EVENT_CLOSED,
} CrpEventType;

typedef struct {
    CrpEventType type;
    CrpMessage message;
    /** MESSAGE: its size on the wire (header included), for statistics. */
    gsize message_len;
    /** AUTHORIZE and READY: what the handshake settled. */
    guint32 capabilities;
    guint8 peer_minor;
    char peer_software[CRP_MAX_SOFTWARE + 1];
    /** AUTHORIZE and READY on the broker server: the client's static key. */
    guint8 peer_static_public[CRP_KEY_BYTES];
} CrpEvent;

typedef struct CrpChannel CrpChannel;

/** Fails on an incomplete config (e.g. broker channel without keys). */
CrpChannel *crp_channel_new(const CrpChannelConfig *config, GError **error);
void crp_channel_free(CrpChannel *ch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpChannel, crp_channel_free)

/** Client: queues the handshake's first message. Fails (CRP_ERROR_KEY_FILE)
 *  on a broker key no handshake could be safe with (a low-order point). */
gboolean crp_channel_start(CrpChannel *ch, GError **error);

/** Appends received bytes; they are parsed by crp_channel_next_event(). */
void crp_channel_receive(CrpChannel *ch, const guint8 *data, gsize len);

/** Returns the next event (also stored in @event), CRP_EVENT_NONE when
 *  more input is needed, or CRP_EVENT_ERROR with @error set. */
CrpEventType crp_channel_next_event(CrpChannel *ch, CrpEvent *event,
                                    GError **error);

/**
 * Server, after CRP_EVENT_AUTHORIZE: accepts the client (@status
 * CRP_STATUS_OK) or refuses it with a CrpStatus and a message that the
 * client receives authenticated. After a refusal the channel is finished:
 * flush the output and close.
 */
gboolean crp_channel_authorize(CrpChannel *ch, guint16 status,
                               const char *message, GError **error);

/** Queues @msg; it goes out at the next crp_channel_flush(). */
gboolean crp_channel_send(CrpChannel *ch, const CrpMessage *msg,
                          GError **error);

/** Queues already encoded messages (e.g. a CrpEncoder's output): all of
 *  them, or none if any header is malformed or not allowed. */
gboolean crp_channel_send_encoded(CrpChannel *ch, const guint8 *data,
                                  gsize len, GError **error);

/** Seals what was queued into encrypted records (as few as fit). */
void crp_channel_flush(CrpChannel *ch);
/**
 * Ends this direction without a BYE: what was queued is sealed as the
 * stream's final record. For the ATTACH hand-over (protocol section 7):
 * the client's ATTACH and the broker's OK each travel in a final record,
 * and the connection's next bytes belong to the display channel.
 */
gboolean crp_channel_finish(CrpChannel *ch, GError **error);

/**
 * Queues a BYE with @status and @reason in the stream's final record and
 * flushes. During the handshake a server queues a rejection instead and a
 * client simply gives up. After this nothing more can be sent.
 */
void crp_channel_close(CrpChannel *ch, guint16 status, const char *reason);

/** Output waiting to be written, and marking it written. */
const guint8 *crp_channel_peek_output(CrpChannel *ch, gsize *len);
void crp_channel_consume_output(CrpChannel *ch, gsize n);
gsize crp_channel_output_pending(CrpChannel *ch);

/** Client: the status (CrpStatus) the server refused the handshake with,
 *  from its REJECT or its authenticated RESPONSE; CRP_STATUS_OK if none. */
guint16 crp_channel_get_refusal(CrpChannel *ch);
/** TRUE once the handshake completed and until the stream ends. */
gboolean crp_channel_is_ready(CrpChannel *ch);
/** TRUE once this side has sent its final record. */
gboolean crp_channel_is_closed(CrpChannel *ch);

/** After CRP_EVENT_CLOSED: the received bytes that followed the peer's
 *  final record (the start of a spliced display channel after ATTACH). */
GBytes *crp_channel_steal_input(CrpChannel *ch);

/** Cumulative byte counts on the wire, for statistics. */
guint64 crp_channel_bytes_in(CrpChannel *ch);
guint64 crp_channel_bytes_out(CrpChannel *ch);

G_END_DECLS
