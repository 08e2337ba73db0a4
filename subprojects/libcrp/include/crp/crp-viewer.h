/*
 * crp-viewer.h: the client side of a display channel, sans I/O.
 *
 * A CrpViewer owns a display CrpChannel, a CrpDecoder (the client's
 * framebuffer), an Opus decoder and encoder, and the client's side of the
 * protocol's bookkeeping: it answers PING, acknowledges frames, numbers
 * input events and measures input-to-screen latency. The headless client
 * and the GTK client wrap it with their own I/O and presentation.
 *
 *     viewer = crp_viewer_new(&config, &error);
 *     crp_viewer_receive(viewer, buf, n);
 *     while ((ev = crp_viewer_process(viewer, &update, &error)) > CRP_VIEWER_NONE)
 *         ...;
 *     write(fd, crp_viewer_peek_output(viewer, &len), len) ...
 */
#pragma once

#include <glib.h>
#include <pixman.h>
#include "crp/crp-channel.h"

G_BEGIN_DECLS

/**
 * Output the server has not read yet (crp_viewer_peek_output()) is
 * bounded. Past CRP_VIEWER_COALESCE_OUTPUT bytes the viewer holds its
 * answers back (PONG, FRAME_ACK) and sends only the latest of each once
 * the output drains below it again: a server that floods PINGs or frames
 * without reading cannot make the client queue without bound, and a slow
 * link still gets its acknowledgements. Past CRP_VIEWER_MAX_OUTPUT bytes
 * our own input has nowhere to go: the crp_viewer_send_*() calls refuse
 * it and the viewer fails (CRP_ERROR_TOO_LARGE, "the server stopped
 * reading"), reported by the next crp_viewer_process().
 */
#define CRP_VIEWER_COALESCE_OUTPUT (64 * 1024)
#define CRP_VIEWER_MAX_OUTPUT (1024 * 1024)

typedef struct {
    /** The one-time ticket ("" for a server in no-ticket mode). */
    const char *ticket;
    /** CRP_CAP_* to offer (0 means everything this library decodes). */
    guint32 capabilities;
    /** Name and version sent in the handshake. */
    const char *software;
} CrpViewerConfig;

typedef enum {
    CRP_VIEWER_ERROR = -1,
    CRP_VIEWER_NONE = 0,
    /** The handshake completed; update.capabilities says what was agreed. */
    CRP_VIEWER_READY,
    /** The framebuffer was recreated at a new size (update.width/height). */
    CRP_VIEWER_SURFACE,
    /** A frame is complete: update.damage holds what changed since the
     *  last FRAME. The viewer acknowledges it at once unless the caller
     *  set manual acknowledgement (see crp_viewer_frame_presented()). */
    CRP_VIEWER_FRAME,
    /** The cursor's shape or position changed. */
    CRP_VIEWER_CURSOR,
    /** Decoded audio is waiting: crp_viewer_take_audio(). */
    CRP_VIEWER_AUDIO,
    /** The server said goodbye (update.status, update.reason). */
    CRP_VIEWER_CLOSED,
    /** The guest's clipboard changed: it holds update.clipboard_formats
     *  now (CRP_CLIPBOARD_* bits; 0: empty). Ask with
     *  crp_viewer_request_clipboard(). */
    CRP_VIEWER_CLIPBOARD,
    /** The answer to crp_viewer_request_clipboard() is complete:
     *  update.clipboard_status (CrpClipboardStatus) and, for OK, the
     *  content of update.clipboard_format: crp_viewer_take_clipboard(). */
    CRP_VIEWER_CLIPBOARD_DATA,
} CrpViewerEvent;

typedef struct {
    guint32 capabilities;
    int width, height;
    /** FRAME: the bounding box of everything drawn since the last FRAME. */
    pixman_box32_t damage;
    guint32 frame_id;
    /** CLOSED: the server's status and reason (valid until the next call). */
    guint16 status;
    const char *reason;
    /** CLIPBOARD: the formats the server's clipboard holds. */
    guint8 clipboard_formats;
    /** CLIPBOARD_DATA: which format, and OK or why not. */
    guint8 clipboard_format;
    guint8 clipboard_status;
} CrpViewerUpdate;

/** Rect encodings counted apart in CrpViewerStats (CrpEncoding values). */
#define CRP_VIEWER_ENCODINGS 8

/** Measured figures, for the stats overlay and for tests. */
typedef struct {
    guint64 frames;
    guint64 rects;
    /** Rects and their message bytes (header included) per CrpEncoding. */
    guint64 encoding_rects[CRP_VIEWER_ENCODINGS];
    guint64 encoding_bytes[CRP_VIEWER_ENCODINGS];
    guint64 bytes_in, bytes_out;
    /** Exponentially smoothed over recent samples, in milliseconds; 0 if
     *  none yet. Input latency is from sending an input event to the
     *  first frame the server captured after applying it. */
    double input_latency_ms;
    /** Frames per second over the last second or so. */
    double fps;
    guint64 audio_packets_in, audio_packets_out;
} CrpViewerStats;

typedef struct CrpViewer CrpViewer;

CrpViewer *crp_viewer_new(const CrpViewerConfig *config, GError **error);
void crp_viewer_free(CrpViewer *viewer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpViewer, crp_viewer_free)

void crp_viewer_receive(CrpViewer *viewer, const guint8 *data, gsize len);
CrpViewerEvent crp_viewer_process(CrpViewer *viewer, CrpViewerUpdate *update,
                                  GError **error);

/** Output for the server; see crp_channel_peek_output(). */
const guint8 *crp_viewer_peek_output(CrpViewer *viewer, gsize *len);
void crp_viewer_consume_output(CrpViewer *viewer, gsize n);

/** The framebuffer (NULL before the first SURFACE). */
pixman_image_t *crp_viewer_get_image(CrpViewer *viewer);

/** The cursor: shape (NULL until defined) and position. */
pixman_image_t *crp_viewer_get_cursor(CrpViewer *viewer, int *hot_x, int *hot_y);
void crp_viewer_get_pointer(CrpViewer *viewer, int *x, int *y, gboolean *visible);

/* Input. Each is queued and flushed at once; FALSE if the channel is not
 * ready or the viewer has failed (crp_viewer_get_failure(): the server
 * stopped reading, say). Coordinates are in framebuffer pixels. */
gboolean crp_viewer_send_key(CrpViewer *viewer, guint16 evdev_code, gboolean down);
gboolean crp_viewer_send_pointer(CrpViewer *viewer, int x, int y, guint32 buttons);
gboolean crp_viewer_send_wheel(CrpViewer *viewer, int dx, int dy);
gboolean crp_viewer_send_resize(CrpViewer *viewer, int width, int height);
gboolean crp_viewer_send_close_app(CrpViewer *viewer);

/** Microphone: 48 kHz interleaved s16 PCM (the server's channel count);
 *  encoded to Opus 20 ms packets and sent as AUDIO_IN. */
gboolean crp_viewer_send_audio(CrpViewer *viewer, const gint16 *pcm,
                               gsize n_samples, GError **error);

/** Takes the decoded playback audio received so far (interleaved s16 at
 *  48 kHz); *@channels is set from AUDIO_FORMAT. Free with g_free(). */
gint16 *crp_viewer_take_audio(CrpViewer *viewer, gsize *n_samples, int *channels);

/*
 * Clipboard (capability CLIPBOARD; docs/protocol.md 5.4). Our side holds
 * the content and answers the server's requests itself; content over
 * CRP_MAX_CLIPBOARD is announced and refused TOO_LARGE when asked for.
 * Large content goes out in chunks as the server reads them, so frames
 * keep flowing and the output stays under CRP_VIEWER_MAX_OUTPUT.
 */

/** Our clipboard holds @text (UTF-8, no NUL) and/or @png now (either may
 *  be NULL; both NULL: it is empty): tells the server (CLIPBOARD_GRAB).
 *  FALSE with @error if the clipboard was not agreed, the viewer is muted
 *  or has failed, or the text is not UTF-8. */
gboolean crp_viewer_set_clipboard(CrpViewer *viewer, GBytes *text, GBytes *png,
                                  GError **error);
/** Asks for @format (CRP_CLIPBOARD_TEXT or _PNG) of the server's
 *  clipboard; the answer comes as CRP_VIEWER_CLIPBOARD_DATA. FALSE if the
 *  server's clipboard does not hold it (or as crp_viewer_set_clipboard()). */
gboolean crp_viewer_request_clipboard(CrpViewer *viewer, guint8 format,
                                      GError **error);
/** The content of the last OK CRP_VIEWER_CLIPBOARD_DATA (the caller's;
 *  NULL if none is waiting). */
GBytes *crp_viewer_take_clipboard(CrpViewer *viewer, guint8 *format);
/** Muted, the viewer neither reports the server's clipboard nor sends
 *  ours: it answers requests OFF. */
void crp_viewer_set_clipboard_muted(CrpViewer *viewer, gboolean muted);

/** With manual acknowledgement a FRAME is acknowledged only when the
 *  caller reports it presented (GTK: after drawing), so the server's flow
 *  control sees the client's real pace. */
void crp_viewer_set_manual_ack(CrpViewer *viewer, gboolean manual);
void crp_viewer_frame_presented(CrpViewer *viewer, guint32 frame_id);

/** Why the viewer failed (what crp_viewer_process() reports from then on),
 *  or NULL while it has not. */
const GError *crp_viewer_get_failure(CrpViewer *viewer);

/** Says goodbye (BYE in the final record). */
void crp_viewer_close(CrpViewer *viewer, const char *reason);

void crp_viewer_get_stats(CrpViewer *viewer, CrpViewerStats *stats);

G_END_DECLS
