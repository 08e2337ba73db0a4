/*
 * crp-broker-client.h: the client side of the broker channel over GIO.
 *
 * One CrpBrokerClient is one logged-in broker connection (protocol
 * section 5.4): requests are asynchronous, any number may be in flight,
 * and each completes with its own reply. Attaching to a session opens a
 * second connection of its own, which after the broker's OK carries the
 * display channel end to end to the VM (section 7): hand that stream to a
 * display client together with the session's ticket.
 *
 * Errors are GErrors in CRP_BROKER_CLIENT_ERROR whose code is the
 * protocol's status (CrpStatus: NO_CAPACITY, KEY_REVOKED, ...) and whose
 * message is fit to show a user. Local problems (a key file with loose
 * permissions, an unreachable broker) come as CRP_ERROR_KEY_FILE or as
 * G_IO_ERROR with a message that says what to do.
 *
 * Runs in the thread-default main context of the caller; no threads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CRP_BROKER_CLIENT_ERROR (crp_broker_client_error_quark())
GQuark crp_broker_client_error_quark(void);

/** An app of the catalog (CATALOG_LIST, MY_APPS). */
typedef struct {
    char *name;
    char *title;
    char *description;
    guint vcpus;
    guint memory_mib;
    gboolean subscribed;
    gboolean audio;
} CrpBrokerApp;

/** A live session of the user (SESSION_LIST). */
typedef struct {
    char *id;
    char *app;
    gint64 started_unix;
    /** 1 starting, 2 running, 3 closing (protocol section 5.4). */
    int state;
} CrpBrokerSession;

/** LAUNCHED: a session and a one-time display ticket for it. */
typedef struct {
    char *session_id;
    char *ticket;
    guint expires_in_s;
} CrpBrokerTicket;

void crp_broker_app_free(CrpBrokerApp *app);
void crp_broker_session_free(CrpBrokerSession *session);
void crp_broker_ticket_free(CrpBrokerTicket *ticket);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpBrokerTicket, crp_broker_ticket_free)

#define CRP_TYPE_BROKER_CLIENT (crp_broker_client_get_type())
G_DECLARE_FINAL_TYPE(CrpBrokerClient, crp_broker_client, CRP, BROKER_CLIENT,
                     GObject)

/**
 * Reads the user key file at @key_path (refused unless mode 0600),
 * connects to the broker it names (or @address, "unix:/path" or
 * "tcp:host:port", when not NULL) and logs in. Completes once the broker
 * accepted the key, or with the reason it did not.
 */
void crp_broker_client_connect_async(const char *key_path, const char *address,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
CrpBrokerClient *crp_broker_client_connect_finish(GAsyncResult *result,
                                                  GError **error);

/** Says goodbye (BYE) and drops the caller's reference; pending requests
 *  fail with G_IO_ERROR_CANCELLED. */
void crp_broker_client_free(CrpBrokerClient *client);

/** The user id the key file names. */
const char *crp_broker_client_get_user(CrpBrokerClient *client);

/** Emitted (once) as "closed" when the broker connection ends; @error says
 *  why (NULL after crp_broker_client_free()). */
typedef void (*CrpBrokerClientClosedFunc)(gpointer data, const GError *error);
void crp_broker_client_set_closed_func(CrpBrokerClient *client,
                                       CrpBrokerClientClosedFunc func,
                                       gpointer data);

/* Requests. Each _finish returns what its reply carried. */

/** CATALOG_LIST (every app, subscribed flagged) or MY_APPS: a GPtrArray of
 *  CrpBrokerApp with its free function set. */
void crp_broker_client_list_apps_async(CrpBrokerClient *client,
                                       gboolean only_mine,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
GPtrArray *crp_broker_client_list_apps_finish(CrpBrokerClient *client,
                                              GAsyncResult *result,
                                              GError **error);

/** SUBSCRIBE (@subscribe TRUE) or UNSUBSCRIBE @app. */
void crp_broker_client_subscribe_async(CrpBrokerClient *client,
                                       const char *app, gboolean subscribe,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean crp_broker_client_subscribe_finish(CrpBrokerClient *client,
                                            GAsyncResult *result,
                                            GError **error);

/** SESSION_LIST: a GPtrArray of CrpBrokerSession. */
void crp_broker_client_list_sessions_async(CrpBrokerClient *client,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
GPtrArray *crp_broker_client_list_sessions_finish(CrpBrokerClient *client,
                                                  GAsyncResult *result,
                                                  GError **error);

/** LAUNCH @app: completes when the VM is up and its ticket set (seconds). */
void crp_broker_client_launch_async(CrpBrokerClient *client, const char *app,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
/** SESSION_TICKET @session_id: a fresh ticket to attach again. */
void crp_broker_client_renew_ticket_async(CrpBrokerClient *client,
                                          const char *session_id,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
/** Finishes launch or renew_ticket. */
CrpBrokerTicket *crp_broker_client_ticket_finish(CrpBrokerClient *client,
                                                 GAsyncResult *result,
                                                 GError **error);

/** SESSION_CLOSE @session_id: completes once the VM was told to shut down. */
void crp_broker_client_close_session_async(CrpBrokerClient *client,
                                           const char *session_id,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean crp_broker_client_close_session_finish(CrpBrokerClient *client,
                                                GAsyncResult *result,
                                                GError **error);

/**
 * ATTACH @session_id on a new connection (same key, same broker): logs in,
 * sends ATTACH in its final record and waits for OK. The stream it
 * completes with is spliced to the VM's display socket: start a display
 * handshake on it with the session's ticket.
 */
void crp_broker_client_attach_async(CrpBrokerClient *client,
                                    const char *session_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
GIOStream *crp_broker_client_attach_finish(CrpBrokerClient *client,
                                           GAsyncResult *result,
                                           GError **error);

G_END_DECLS
