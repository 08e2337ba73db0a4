/*
 * crp-clipboard.h: clipboard content over CLIPBOARD_DATA, both ends.
 *
 * Content goes out in chunks (CrpClipboardOut): a chunk fits any record,
 * and a sender can pace them so frames and input keep flowing while a
 * large image crosses. The receiver puts the chunks of the answer it
 * waits for back together (CrpClipboardIn), checks that they come in
 * order and that the content is what its format says, and hands it over
 * once complete. Both are sans I/O: the viewer and ui-crp own the
 * sending and the receiving.
 *
 *     out = crp_clipboard_out_new(serial, CRP_CLIPBOARD_TEXT, bytes);
 *     while (crp_clipboard_out_next(out, &msg)) send(&msg);
 *
 *     crp_clipboard_in_expect(in, serial, CRP_CLIPBOARD_TEXT);
 *     ... for each CLIPBOARD_DATA:
 *     if (crp_clipboard_in_feed(in, &m->clipboard_data, &error) == CRP_CLIPBOARD_IN_DONE)
 *         status = crp_clipboard_in_take(in, &content);
 */
#pragma once

#include <glib.h>
#include "crp/crp-message.h"

G_BEGIN_DECLS

/** Bytes of content per CLIPBOARD_DATA that libcrp sends: 16 MiB is 64
 *  messages, and one never holds a frame back for long. */
#define CRP_CLIPBOARD_CHUNK (256 * 1024)

/** A name for a CRP_CLIPBOARD_* format ("text", "png"; "?" otherwise). */
const char *crp_clipboard_format_name(guint8 format);
/** A name for a CrpClipboardStatus ("ok", "none", "too large", "off"). */
const char *crp_clipboard_status_name(guint8 status);

typedef struct CrpClipboardOut CrpClipboardOut;

/**
 * The answer to a CLIPBOARD_REQUEST for @format of the content grabbed as
 * @serial: @content (a reference is taken), or, for NULL, the refusal
 * NONE. Content larger than CRP_MAX_CLIPBOARD is refused TOO_LARGE.
 */
CrpClipboardOut *crp_clipboard_out_new(guint32 serial, guint8 format,
                                       GBytes *content);
/** The refusal @status (not OK) of a request for @format of @serial. */
CrpClipboardOut *crp_clipboard_out_new_refusal(guint32 serial, guint8 format,
                                               CrpClipboardStatus status);
void crp_clipboard_out_free(CrpClipboardOut *out);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpClipboardOut, crp_clipboard_out_free)

/** Fills @msg with the next CLIPBOARD_DATA (borrowing from the content,
 *  valid until the next call or the free); FALSE once all went out. */
gboolean crp_clipboard_out_next(CrpClipboardOut *out, CrpMessage *msg);

typedef struct CrpClipboardIn CrpClipboardIn;

typedef enum {
    CRP_CLIPBOARD_IN_ERROR = -1,
    /** Not the answer awaited (no request, or an older one): dropped. */
    CRP_CLIPBOARD_IN_IGNORED = 0,
    /** A chunk was kept; more are to come. */
    CRP_CLIPBOARD_IN_MORE,
    /** The answer is complete: crp_clipboard_in_take(). */
    CRP_CLIPBOARD_IN_DONE,
} CrpClipboardInResult;

CrpClipboardIn *crp_clipboard_in_new(void);
void crp_clipboard_in_free(CrpClipboardIn *in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpClipboardIn, crp_clipboard_in_free)

/** We asked for @format of @serial: its answer is awaited now (and any
 *  earlier one's chunks are dropped). */
void crp_clipboard_in_expect(CrpClipboardIn *in, guint32 serial, guint8 format);
/** Whether an answer is awaited, and which. */
gboolean crp_clipboard_in_pending(CrpClipboardIn *in, guint32 *serial,
                                  guint8 *format);

/**
 * Takes one CLIPBOARD_DATA. A chunk out of order (not where the last one
 * ended, or a different total), text that is not UTF-8 or holds a NUL,
 * or a PNG without the PNG signature is an error (CRP_ERROR_PROTOCOL):
 * the peer broke the protocol.
 */
CrpClipboardInResult crp_clipboard_in_feed(CrpClipboardIn *in,
                                           const CrpClipboardDataMsg *data,
                                           GError **error);

/** After DONE: the answer's status, its format in *@format, and for OK
 *  the content in *@content (the caller's; NULL otherwise). Nothing is
 *  awaited any more. */
CrpClipboardStatus crp_clipboard_in_take(CrpClipboardIn *in, guint8 *format,
                                         GBytes **content);

G_END_DECLS
