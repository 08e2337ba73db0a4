/*
 * crp-display-link.h: the display channel of a CRP client.
 *
 * A CrpViewer (libcrp, sans-I/O) on a socket: connects (or takes a
 * stream the broker attached), runs the display handshake, feeds the
 * viewer every byte and writes what it queues, and reports through the
 * events its owner gives. crp-headless and crp-client both run their
 * sessions on it. Everything runs in the thread-default GLib main
 * context of whoever creates it; nothing here is thread-safe.
 *
 *     static const CrpDisplayLinkEvents events = {
 *         .ready = on_ready, .frame = on_frame, .ended = on_ended, ...
 *     };
 *     link = crp_display_link_new("unix:/run/vm.sock", ticket, &events,
 *                                 me, &error);
 *     ... crp_viewer_send_key(crp_display_link_get_viewer(link), ...);
 *     crp_display_link_flush(link);
 *     ... crp_display_link_close(link, "done");   // ended() follows
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <crp/crp-viewer.h>

G_BEGIN_DECLS

/* How a link ended (the ended() event's @code). crp-headless exits with
 * these numbers, so they are stable. */
typedef enum {
    CRP_DISPLAY_LINK_OK = 0,
    /** A local problem: the address, the socket, our own write. */
    CRP_DISPLAY_LINK_ERROR = 1,
    /** The server refused us: wrong, expired or used ticket, or no room. */
    CRP_DISPLAY_LINK_AUTH = 2,
    /** The server broke the protocol, or says we did. */
    CRP_DISPLAY_LINK_PROTOCOL = 3,
    /** The server ended the session while we still needed it. */
    CRP_DISPLAY_LINK_CLOSED = 4,
} CrpDisplayLinkEnd;

typedef struct CrpDisplayLink CrpDisplayLink;

typedef struct {
    void (*ready)(gpointer data, guint32 capabilities);
    void (*surface)(gpointer data, int width, int height);
    void (*frame)(gpointer data, const CrpViewerUpdate *update);
    /** Decoded playback is waiting in the viewer (crp_viewer_take_audio). */
    void (*audio)(gpointer data);
    /** The cursor's shape or position changed (crp_viewer_get_cursor,
     *  crp_viewer_get_pointer); optional. */
    void (*cursor)(gpointer data);
    /** The server's clipboard holds @formats now (CRP_CLIPBOARD_* bits;
     *  crp_viewer_request_clipboard() asks for one); optional. */
    void (*clipboard)(gpointer data, guint8 formats);
    /** The answer to a clipboard request: @status, and for OK the content
     *  in crp_viewer_take_clipboard(); optional. */
    void (*clipboard_data)(gpointer data, guint8 format, guint8 status);
    /** Something worth a line in a verbose log (connected, a failed
     *  write, a slow farewell); optional. */
    void (*log)(gpointer data, const char *message);
    /**
     * The connection is over; called exactly once. @code is a
     * CrpDisplayLinkEnd,
     * @server_bye TRUE when the server closed its stream cleanly, and
     * @message says why (NULL after crp_display_link_close()).
     */
    void (*ended)(gpointer data, int code, gboolean server_bye,
                  const char *message);
} CrpDisplayLinkEvents;

/**
 * Starts connecting to @address ("unix:/path" or "tcp:host:port") and
 * runs the display handshake with @ticket ("" for no-ticket mode). Fails
 * only on a malformed address; everything later arrives as ended().
 */
CrpDisplayLink *crp_display_link_new(const char *address, const char *ticket,
                                     const CrpDisplayLinkEvents *events,
                                     gpointer data, GError **error);
/**
 * The same over a connection that is already open: one attached through
 * a broker (the display handshake starts at once). @label names it in
 * messages. Takes its own reference to @stream.
 */
CrpDisplayLink *crp_display_link_new_for_stream(GIOStream *stream,
                                                const char *label,
                                                const char *ticket,
                                                const CrpDisplayLinkEvents *events,
                                                gpointer data, GError **error);
void crp_display_link_free(CrpDisplayLink *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpDisplayLink, crp_display_link_free)

CrpViewer *crp_display_link_get_viewer(CrpDisplayLink *conn);

/** The name and version later connections send in the handshake
 *  ("crp VERSION" unless set; @name must stay valid). */
void crp_display_link_set_software(const char *name);

/** The CRP_CAP_* later connections offer (0, the default: everything the
 *  viewer decodes); tests use fewer to act as a simpler client. */
void crp_display_link_set_capabilities(guint32 capabilities);

/** Writes what the viewer has queued; call after each crp_viewer_send_*(). */
void crp_display_link_flush(CrpDisplayLink *conn);

/** Says goodbye (BYE) if the session is up, then ends; ended() follows. */
void crp_display_link_close(CrpDisplayLink *conn, const char *reason);

/* Stops (or resumes) reading from the socket: a client that is stuck or
 * slow, as the server sees it. */
void crp_display_link_set_reading(CrpDisplayLink *conn, gboolean reading);

G_END_DECLS
