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

/* ---- My files (protocol section 5.6, capability FILES) ---------------- */

/**
 * TRUE when the broker agreed to serve My files at login (capability
 * FILES). Without it every My files call fails with G_IO_ERROR_NOT_SUPPORTED
 * before anything is sent.
 */
gboolean crp_broker_client_has_files(CrpBrokerClient *client);

/** An entry of a My files directory (FILE_LIST). */
typedef struct {
    char *name;             /* one component, UTF-8 */
    gboolean is_dir;
    guint64 size;           /* bytes; 0 for a directory */
    guint64 mtime_ns;       /* last change, nanoseconds since 1970 */
} CrpBrokerFileEntry;

/** FILES: a directory's entries, sorted by name, and the user's storage. */
typedef struct {
    GPtrArray *entries;     /* CrpBrokerFileEntry, freed with the list */
    gboolean truncated;     /* the directory holds more than was sent */
    guint64 used_bytes;     /* what the quota counts */
    guint64 quota_bytes;    /* 0: no quota */
} CrpBrokerFileList;

void crp_broker_file_list_free(CrpBrokerFileList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpBrokerFileList, crp_broker_file_list_free)

/**
 * Progress of a transfer: @done of @total bytes are with the receiver.
 * An upload reports first where it starts (the bytes the broker already
 * holds of an interrupted upload), then after each chunk the broker
 * acknowledged; a download after each chunk written locally (and from 0
 * again when it restarts because the file changed).
 */
typedef void (*CrpBrokerFileProgressFunc)(guint64 done, guint64 total,
                                          gpointer data);

/**
 * Remote paths are relative to the top of My files ("docs/a.txt"; ""
 * the top, for listing only). A path that breaks the protocol's rules
 * (crp_file_path_check()) fails at once with CRP_STATUS_BAD_REQUEST and a
 * message naming the rule; nothing is sent.
 */

/** FILE_LIST @dir. */
void crp_broker_client_list_files_async(CrpBrokerClient *client,
                                        const char *dir,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
CrpBrokerFileList *crp_broker_client_list_files_finish(CrpBrokerClient *client,
                                                       GAsyncResult *result,
                                                       GError **error);

/**
 * Uploads the local file @local_path to @remote_path: UPLOAD_BEGIN, then
 * 1 MiB UPLOAD_DATA chunks from where the broker says, a few in flight.
 * An upload of the same path and size that was interrupted (cancelled,
 * connection lost) continues where it stopped. The file appears at
 * @remote_path only once complete. @progress (may be NULL) runs in the
 * caller's context; @progress_data must live until @callback runs.
 * Cancelling stops sending; what the broker holds stays for a resume.
 */
void crp_broker_client_upload_async(CrpBrokerClient *client,
                                    const char *local_path,
                                    const char *remote_path,
                                    CrpBrokerFileProgressFunc progress,
                                    gpointer progress_data,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
/** @resumed_from (may be NULL): the offset the broker said to start at. */
gboolean crp_broker_client_upload_finish(CrpBrokerClient *client,
                                         GAsyncResult *result,
                                         guint64 *resumed_from,
                                         GError **error);

/**
 * Downloads @remote_path into @local_path: DOWNLOAD chunks, a few in
 * flight, written to "@local_path.part" and renamed to @local_path once
 * complete (replacing it). Starts again when the file changes on the
 * broker mid-way. On failure or cancel the .part file is removed.
 */
void crp_broker_client_download_async(CrpBrokerClient *client,
                                      const char *remote_path,
                                      const char *local_path,
                                      CrpBrokerFileProgressFunc progress,
                                      gpointer progress_data,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean crp_broker_client_download_finish(CrpBrokerClient *client,
                                           GAsyncResult *result,
                                           GError **error);

/** FILE_DELETE @remote_path: a file, or an empty directory. */
void crp_broker_client_delete_file_async(CrpBrokerClient *client,
                                         const char *remote_path,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean crp_broker_client_delete_file_finish(CrpBrokerClient *client,
                                              GAsyncResult *result,
                                              GError **error);

/**
 * Tests only: send remote paths unchecked, so that a test can see the
 * broker's own refusal of a bad path (a hostile client's view).
 */
void crp_broker_client_set_check_paths(CrpBrokerClient *client,
                                       gboolean check);

G_END_DECLS
