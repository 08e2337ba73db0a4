/*
 * crp-qmp-client.h: an asynchronous QMP client on the GLib main loop.
 *
 * The broker holds one CrpQmpClient per QEMU it runs. The client connects
 * to QEMU's QMP unix socket, reads the greeting, negotiates capabilities,
 * then runs commands (each with a unique id; replies may come back in any
 * order) and hands QMP events to the handlers its owner registered.
 * Framing and parsing are crp-qmp-parser.h's; the typed commands are in
 * crp-qmp-commands.h, one small function each.
 *
 *     static const CrpQmpEventHandler events[] = {
 *         { "CRP_CLOSE_REQUESTED", on_close_requested },
 *         { "SHUTDOWN", on_shutdown },
 *     };
 *     CrpQmpClientConfig cfg = {
 *         .ready = on_ready, .closed = on_qemu_gone,
 *         .events = events, .n_events = G_N_ELEMENTS(events),
 *         .connect_timeout_ms = 10000, .command_timeout_ms = 5000,
 *         .user_data = session,
 *     };
 *     session->qmp = crp_qmp_client_connect("/run/crp/vm1/qmp.sock", &cfg);
 *
 * Callbacks run from the thread-default main context of the thread that
 * called crp_qmp_client_connect(); use the client from that thread only.
 *
 * Every callback may destroy the client, including the one running: the
 * client notices and touches nothing afterwards.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "crp-qmp-parser.h"

G_BEGIN_DECLS

typedef struct CrpQmpClient CrpQmpClient;

/**
 * CrpQmpReadyFunc:
 * @error: NULL once commands may be run; otherwise why the client could
 *     not connect or negotiate (G_IO_ERROR_TIMED_OUT when the connect
 *     timeout passed first). After an error the client is dead: destroy it.
 */
typedef void (*CrpQmpReadyFunc)(CrpQmpClient *client, const GError *error,
                                gpointer user_data);

/**
 * CrpQmpClosedFunc:
 * @error: why the connection ended: QEMU closed it (it quit or died), a
 *     socket error, or QEMU sent something that is not QMP
 *     (CRP_QMP_ERROR_PROTOCOL, CRP_QMP_ERROR_TOO_LARGE).
 *
 * Called once, only after a successful ready, when the connection is
 * lost. Commands still pending have already failed by then.
 */
typedef void (*CrpQmpClosedFunc)(CrpQmpClient *client, const GError *error,
                                 gpointer user_data);

/**
 * CrpQmpEventFunc:
 * @event: a CRP_QMP_MSG_EVENT: event->event, event->data (never NULL),
 *     the timestamp. Valid during the call only.
 */
typedef void (*CrpQmpEventFunc)(CrpQmpClient *client, const CrpQmpMessage *event,
                                gpointer user_data);

/**
 * CrpQmpReplyFunc:
 * @result: on success the command's "return" value (borrowed: valid during
 *     the call only); NULL on error
 * @error: NULL on success; CRP_QMP_ERROR with the class's code and QEMU's
 *     description when QEMU refused the command; G_IO_ERROR_TIMED_OUT,
 *     G_IO_ERROR_CONNECTION_CLOSED (connection lost), G_IO_ERROR_CANCELLED
 *     (the client was destroyed) or G_IO_ERROR_NOT_CONNECTED otherwise
 * @user_data: what was given to crp_qmp_client_execute()
 */
typedef void (*CrpQmpReplyFunc)(CrpQmpClient *client, JsonNode *result,
                                const GError *error, gpointer user_data);

/** One row of the owner's event table. */
typedef struct {
    /** The QMP event name, e.g. "CRP_CLOSE_REQUESTED". Unique in a table. */
    const char *name;
    CrpQmpEventFunc func;
} CrpQmpEventHandler;

typedef struct {
    /** Called once when the client is ready or has failed to get there. */
    CrpQmpReadyFunc ready;
    /** Called once when a ready connection is lost (see CrpQmpClosedFunc). */
    CrpQmpClosedFunc closed;
    /**
     * Handlers by event name, in any order: the client keeps a sorted copy
     * and finds handlers by binary search. Events without a handler are
     * ignored.
     */
    const CrpQmpEventHandler *events;
    gsize n_events;
    /**
     * Time allowed from crp_qmp_client_connect() to ready, in ms. While it
     * runs, a socket that does not exist yet or refuses connections is
     * retried (QEMU creates it shortly after it starts). 0: try once and
     * wait for the greeting without a limit.
     */
    guint connect_timeout_ms;
    /** Time allowed for each command's reply, in ms; 0: no limit. A reply
     *  arriving after its command timed out is ignored. */
    guint command_timeout_ms;
    /** Passed to ready, closed and the event handlers. */
    gpointer user_data;
} CrpQmpClientConfig;

/**
 * crp_qmp_client_connect:
 * @socket_path: QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off)
 * @config: callbacks and limits; copied, as is its event table (the
 *     names must outlive the client)
 *
 * Starts connecting; config->ready tells how it went. Nothing is called
 * back before this returns.
 *
 * Returns: (transfer full): the client; free with crp_qmp_client_destroy().
 */
CrpQmpClient *crp_qmp_client_connect(const char *socket_path,
                                     const CrpQmpClientConfig *config);

/**
 * crp_qmp_client_destroy:
 *
 * Closes the connection and frees @client; accepts NULL. Commands still
 * pending are called back, from inside this function, with
 * G_IO_ERROR_CANCELLED; ready, closed and event handlers are not called
 * any more. Safe from inside any of the client's callbacks.
 */
void crp_qmp_client_destroy(CrpQmpClient *client);

/** crp_qmp_client_is_ready: TRUE between a successful ready and a loss. */
gboolean crp_qmp_client_is_ready(const CrpQmpClient *client);

/**
 * crp_qmp_client_get_version:
 *
 * QEMU's version from the greeting; all 0 before it arrived.
 */
void crp_qmp_client_get_version(const CrpQmpClient *client, guint *major,
                                guint *minor, guint *micro);

/**
 * crp_qmp_client_execute:
 * @command: the QMP command, e.g. "query-status"
 * @arguments: (nullable): its arguments; borrowed, not modified
 * @callback: called exactly once with the reply or an error, never from
 *     inside this function
 *
 * Sends @command with an id of its own. If the client is not ready
 * (still connecting, or the connection was lost), @callback gets
 * G_IO_ERROR_NOT_CONNECTED or G_IO_ERROR_CONNECTION_CLOSED from the main
 * loop.
 */
void crp_qmp_client_execute(CrpQmpClient *client, const char *command,
                            JsonObject *arguments, CrpQmpReplyFunc callback,
                            gpointer user_data);

/** crp_qmp_client_pending: commands sent and not answered yet. */
guint crp_qmp_client_pending(const CrpQmpClient *client);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpQmpClient, crp_qmp_client_destroy)

G_END_DECLS
