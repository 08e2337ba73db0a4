/*
 * crp-qmp-parser.h: QEMU's side of a QMP connection, sans I/O.
 *
 * QMP is one JSON object per line. A CrpQmpParser is fed the bytes read
 * from the socket in any pieces, splits them into lines (partial lines
 * wait for the rest, several lines may come in one read) and parses each
 * line into a typed message: the greeting, a command's return value, a
 * command's error, or an asynchronous event.
 *
 *     crp_qmp_parser_feed(parser, buf, n);
 *     while ((t = crp_qmp_parser_next(parser, &msg, &error)) != CRP_QMP_MSG_NONE)
 *         t == CRP_QMP_MSG_INVALID ? complain(error) : handle(&msg);
 *
 * A line that is not a QMP message (malformed JSON, not an object, a
 * return without an id, an unknown shape, longer than the cap) comes out
 * as CRP_QMP_MSG_INVALID with a CRP_QMP_ERROR; the line is dropped and
 * the next one parses normally. What to do about it (the client
 * disconnects) is up to the caller.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "crp-qmp-error.h"

G_BEGIN_DECLS

/** The default cap on a line, without its newline. */
#define CRP_QMP_MAX_LINE (1024 * 1024)

/** Deepest nesting of arrays and objects accepted in a line. */
#define CRP_QMP_MAX_DEPTH 512

typedef struct CrpQmpParser CrpQmpParser;

typedef enum {
    /** The line was not a QMP message; the error says why. */
    CRP_QMP_MSG_INVALID = -1,
    /** Nothing more until more bytes are fed. */
    CRP_QMP_MSG_NONE = 0,
    /** {"QMP": {"version": ..., "capabilities": [...]}}, the first line. */
    CRP_QMP_MSG_GREETING,
    /** {"return": VALUE, "id": ID}: a command succeeded. */
    CRP_QMP_MSG_RETURN,
    /** {"error": {"class": ..., "desc": ...}, "id": ID}: a command failed. */
    CRP_QMP_MSG_ERROR,
    /** {"event": NAME, "data": {...}, "timestamp": {...}}. */
    CRP_QMP_MSG_EVENT,
} CrpQmpMessageType;

/**
 * A parsed message. Only the members of its type are set, the others are
 * 0/NULL. Strings and JSON nodes belong to the parser and stay valid
 * until the next crp_qmp_parser_next() or crp_qmp_parser_free(); take a
 * reference (json_node_ref()) or a copy to keep them longer.
 */
typedef struct {
    CrpQmpMessageType type;

    /* GREETING */
    /** QEMU's version, "qemu": {"major", "minor", "micro"}. */
    gint64 version_major;
    gint64 version_minor;
    gint64 version_micro;
    /** The distribution's package string, "" if none. */
    const char *version_package;
    /** NULL-terminated capabilities QEMU offers (e.g. "oob"). */
    const char *const *capabilities;

    /* RETURN and ERROR */
    /**
     * The id the command was sent with. Always set on RETURN; NULL on an
     * ERROR that QEMU could not tie to a command (it could not parse the
     * command at all). Ids must be JSON strings: the client sends no
     * others, so anything else is a protocol error.
     */
    const char *id;
    /** RETURN: the value, often an empty object; any JSON type. */
    JsonNode *ret;
    /** ERROR: the class ("GenericError", ...) and the human description. */
    const char *error_class;
    const char *error_desc;

    /* EVENT */
    /** The event's name, e.g. "SHUTDOWN". */
    const char *event;
    /** Its "data" member; an empty object when the event has none. */
    JsonObject *data;
    /** When QEMU emitted it (seconds and microseconds since the epoch). */
    gint64 seconds;
    gint64 microseconds;
} CrpQmpMessage;

/**
 * crp_qmp_parser_new:
 * @max_line: the longest line accepted, in bytes without the newline;
 *     0 for CRP_QMP_MAX_LINE
 *
 * Returns: (transfer full): a parser expecting the first byte of a line.
 */
CrpQmpParser *crp_qmp_parser_new(gsize max_line);

/** crp_qmp_parser_free: frees @parser; accepts NULL. */
void crp_qmp_parser_free(CrpQmpParser *parser);

/**
 * crp_qmp_parser_feed:
 * @data: bytes read from QEMU, any amount
 *
 * Queues @data's complete lines for crp_qmp_parser_next() and keeps the
 * partial line at its end. Nothing is parsed yet. A line that grows past
 * the cap is dropped as it arrives (no more than the cap is ever held
 * for it) and reported by crp_qmp_parser_next() in its place.
 */
void crp_qmp_parser_feed(CrpQmpParser *parser, const void *data, gsize len);

/**
 * crp_qmp_parser_next:
 * @msg: (out caller-allocates): the message, valid until the next call
 * @error: set when CRP_QMP_MSG_INVALID is returned
 *
 * Parses the next queued line. Blank lines are skipped; QEMU's "\r\n"
 * line ends are accepted.
 *
 * Returns: the type of the message in @msg, CRP_QMP_MSG_NONE when no
 * complete line is left, or CRP_QMP_MSG_INVALID with @error set when the
 * line was not a QMP message (the parser goes on with the next line).
 */
CrpQmpMessageType crp_qmp_parser_next(CrpQmpParser *parser, CrpQmpMessage *msg,
                                      GError **error);

/** crp_qmp_parser_buffered: bytes fed but not yet taken out as lines. */
gsize crp_qmp_parser_buffered(const CrpQmpParser *parser);

/** crp_qmp_message_type_name: "greeting", "return", ... for logs. */
const char *crp_qmp_message_type_name(CrpQmpMessageType type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpQmpParser, crp_qmp_parser_free)

G_END_DECLS
