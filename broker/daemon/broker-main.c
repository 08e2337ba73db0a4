/*
 * broker-main.c: crp-broker, the CRP broker daemon.
 *
 *     crp-broker [--config FILE]
 *
 * Reads the configuration (crp-broker.conf), loads or creates the broker
 * key, opens the state store, listens on [broker] listen and serves broker
 * channels (login, catalog, subscriptions, sessions) until SIGTERM or
 * SIGINT, when it stops listening, says BYE (SHUTDOWN) to every client and
 * exits 0. Logs are key=value lines through GLib's log handler (journald
 * under systemd); they never hold keys or tickets.
 */
#include "broker.h"
#include "broker-connection.h"
#include "broker-gateway.h"
#include "broker-listener.h"
#include "broker-web.h"
#include "broker-peers.h"
#include "broker-requests.h"
#include "broker-sessions.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <unistd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

/* How long shutdown waits for clients to read their BYE. */
#define BROKER_SHUTDOWN_WAIT_MS 3000
#define FAILURE_WINDOW_US (60 * G_USEC_PER_SEC)
/* Addresses remembered for their failed logins alone (a few hundred bytes
 * each): beyond, the oldest are forgotten. */
#define MAX_REMEMBERED_PEERS 10000
/* File descriptors kept for what is not a client connection: the store,
 * sessions' QMP and display sockets, QEMU's pipes, attached clients. */
#define FD_RESERVE 256
/* How often the store is asked whether the logged-in keys still log in. */
#define KEYS_WATCH_MS 2000

/* The process: what broker-main.c alone uses, around the server the
 * other parts share. */
typedef struct {
    BrokerServer server;
    BrokerListener *listener;
    BrokerWeb *web;               /* [web]; NULL when off */
    BrokerPeers *peers;           /* limits per source address */
    BrokerConnectionContext *conns;
    GMainLoop *loop;
    gboolean stopping;
    int lock_fd;                  /* flock on STATE/broker.lock, or 0 */
    guint keys_watch;
} BrokerDaemon;

/* ------------------------------------------------------------------------ */
/* Connections' events */

static void
on_request(BrokerConnection *c, const CrpMessage *msg, gpointer data)
{
    BrokerDaemon *d = data;

    broker_handle_request(&d->server, c, msg);
}

static void
on_attach(BrokerConnection *c, guint32 request_id, const char *session_id,
          gpointer data)
{
    BrokerDaemon *d = data;

    broker_gateway_attach(d->server.gateway, c, request_id, session_id);
}

static void
on_connection_done(BrokerConnection *c, gpointer data)
{
    BrokerDaemon *d = data;

    broker_registry_remove(d->server.connections, broker_connection_id(c));
    if (d->stopping && broker_registry_count(d->server.connections) == 0) {
        g_main_loop_quit(d->loop);
    }
}

static const BrokerConnectionEvents connection_events = {
    .request = on_request,
    .attach = on_attach,
    .done = on_connection_done,
};

/* ------------------------------------------------------------------------ */
/* Keys withdrawn under live connections */

static guint
key_hash(gconstpointer key)
{
    guint h;

    memcpy(&h, key, sizeof h);      /* a public key: already uniform */
    return h;
}

static gboolean
key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, CRP_KEY_BYTES) == 0;
}

/* Answers within one check of all keys, cached. */
typedef struct {
    CrpStore *store;
    GHashTable *verdicts;         /* key -> whether it still logs in */
} KeyCheck;

/* Whether @key (CRP_KEY_BYTES) still logs in. A store failure counts as
 * valid. */
static gboolean
key_valid(const guint8 *key, gpointer data)
{
    KeyCheck *check = data;
    g_autoptr(GError) error = NULL;
    gpointer verdict;
    CrpStoreLogin result;

    if (g_hash_table_lookup_extended(check->verdicts, key, NULL, &verdict)) {
        return GPOINTER_TO_INT(verdict);
    }
    if (!crp_store_user_get_by_key(check->store, key, &result, NULL,
                                   &error)) {
        broker_warning("event=store-error request=key-check error=\"%s\"",
                       error->message);
        result = CRP_STORE_LOGIN_OK;    /* no one is cut off for that */
    }
    g_hash_table_insert(check->verdicts, g_memdup2(key, CRP_KEY_BYTES),
                        GINT_TO_POINTER(result == CRP_STORE_LOGIN_OK));
    return result == CRP_STORE_LOGIN_OK;
}

/* Ends the connections and attached displays of keys that no longer log
 * in (rotated or revoked by crp-admin). */
static gboolean
on_keys_watch(gpointer data)
{
    BrokerDaemon *d = data;
    g_autoptr(GHashTable) verdicts = g_hash_table_new_full(key_hash,
                                                           key_equal, g_free,
                                                           NULL);
    KeyCheck check = { d->server.store, verdicts };
    /* Closing may finish a connection at once: walk a copy. */
    GList *copy = broker_registry_list(d->server.connections);

    for (GList *l = copy; l; l = l->next) {
        const guint8 *key = broker_connection_key(l->data);
        if (key && !key_valid(key, &check)) {
            broker_connection_withdraw_key(l->data);
        }
    }
    g_list_free(copy);
    broker_gateway_check_keys(d->server.gateway, key_valid, &check);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Accepting */

static void
on_incoming(GSocketConnection *conn, gpointer data)
{
    BrokerDaemon *d = data;
    BrokerConnection *c;

    if (d->stopping) {
        return;
    }
    c = broker_connection_new(d->conns, conn);
    if (c) {
        broker_registry_add(d->server.connections, broker_connection_id(c),
                            c);
    }
}

/* A WebSocket from the web listener: a broker connection like the others,
 * counted with its address's other connections. */
static void
on_web_incoming(GIOStream *stream, const char *peer_ip, gpointer data)
{
    BrokerDaemon *d = data;
    BrokerConnection *c;

    if (d->stopping) {
        g_io_stream_close(stream, NULL, NULL);
        return;
    }
    c = broker_connection_new_stream(d->conns, stream, peer_ip);
    if (c) {
        broker_registry_add(d->server.connections, broker_connection_id(c),
                            c);
    }
}

/* A connection is a file descriptor: make the soft limit the hard one,
 * and say so if the caps need more than that. */
static void
raise_fd_limit(const CrpBrokerConfig *config)
{
    struct rlimit rl;
    guint64 need = (guint64)config->max_connections + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (config->max_connections == 0 ||
        (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)) {
        broker_warning("event=fd-limit limit=%" G_GUINT64_FORMAT
                       " max_connections=%u reserve=%u", (guint64)rl.rlim_cur,
                       config->max_connections, FD_RESERVE);
    }
}

static gboolean
on_shutdown_timeout(gpointer data)
{
    BrokerDaemon *d = data;

    broker_message("event=shutdown-timeout clients=%u",
                   broker_registry_count(d->server.connections));
    g_main_loop_quit(d->loop);
    return G_SOURCE_REMOVE;
}

static gboolean
on_signal(gpointer data)
{
    BrokerDaemon *d = data;
    GList *copy;

    if (d->stopping) {
        return G_SOURCE_CONTINUE;
    }
    d->stopping = TRUE;
    g_clear_pointer(&d->web, broker_web_free);
    broker_message("event=shutdown clients=%u",
                   broker_registry_count(d->server.connections));
    g_clear_pointer(&d->listener, broker_listener_free);
    if (broker_registry_count(d->server.connections) == 0) {
        g_main_loop_quit(d->loop);
        return G_SOURCE_CONTINUE;
    }
    /* Closing may finish a connection at once: walk a copy. */
    copy = broker_registry_list(d->server.connections);
    for (GList *l = copy; l; l = l->next) {
        broker_connection_close(l->data, CRP_STATUS_SHUTDOWN,
                                "the broker is shutting down");
    }
    g_list_free(copy);
    g_timeout_add(BROKER_SHUTDOWN_WAIT_MS, on_shutdown_timeout, d);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Setup */

/* One broker per state directory: a second one would take over the
 * first one's socket and fight it for the same VMs. */
static gboolean
lock_state_dir(BrokerDaemon *d, GError **error)
{
    const char *state_dir = d->server.config->state_dir;
    g_autofree char *path = g_build_filename(state_dir, "broker.lock", NULL);
    int fd = g_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    e == EWOULDBLOCK
                        ? "another crp-broker is running on the state "
                          "directory %s"
                        : "cannot lock the state directory %s: %s",
                    state_dir, g_strerror(e));
        return FALSE;
    }
    d->lock_fd = fd;            /* held until exit */
    return TRUE;
}

static gboolean
setup(BrokerDaemon *d, const char *config_path, GError **error)
{
    BrokerServer *server = &d->server;
    g_autofree char *key_path = NULL;
    char fingerprint[CRP_BROKER_FINGERPRINT_SIZE];
    gboolean created = FALSE;

    server->config = crp_broker_config_load(config_path, error);
    if (!server->config) {
        return FALSE;
    }
    if (g_mkdir_with_parents(server->config->state_dir, 0700) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create the state directory %s: %s",
                    server->config->state_dir, g_strerror(e));
        return FALSE;
    }
    if (!lock_state_dir(d, error)) {
        return FALSE;
    }
    key_path = crp_broker_config_broker_key_path(server->config);
    server->key = crp_broker_key_load_or_create(key_path, &created, error);
    if (!server->key) {
        g_prefix_error(error, "%s: ", key_path);
        return FALSE;
    }
    crp_broker_key_fingerprint(server->key->public_key, fingerprint);
    broker_message("event=broker-key path=%s fingerprint=%s created=%s",
                   key_path, fingerprint, created ? "yes" : "no");
    server->store = crp_store_open(server->config->database_url, error);
    if (!server->store) {
        g_prefix_error(error, "%s: ", server->config->database_url);
        return FALSE;
    }
    BrokerPeersLimits limits = {
        .max_connections = server->config->max_connections,
        .max_connections_per_peer = server->config->max_connections_per_address,
        .max_handshakes = server->config->max_handshakes,
        .max_handshakes_per_peer = server->config->max_handshakes_per_address,
        .max_failures = server->config->max_failures_per_minute,
        .failure_window_us = FAILURE_WINDOW_US,
        .max_remembered = MAX_REMEMBERED_PEERS,
    };
    d->peers = broker_peers_new(&limits);
    BrokerConnectionSetup conns = {
        .config = server->config,
        .secret_key = server->key->secret_key,
        .store = server->store,
        .peers = d->peers,
        .events = &connection_events,
        .data = d,
    };
    d->conns = broker_connection_context_new(&conns);
    server->connections = broker_registry_new();
    server->gateway = broker_gateway_new(server);
    raise_fd_limit(server->config);
    d->listener = broker_listener_new(server->config->listen, on_incoming, d,
                                      error);
    if (!d->listener) {
        return FALSE;
    }
    if (server->config->web_listen) {
        d->web = broker_web_new(server->config, on_web_incoming, d, error);
        if (!d->web) {
            return FALSE;
        }
        broker_message("event=web-listening address=%s root=%s tls=%s",
                       server->config->web_listen, server->config->web_root,
                       server->config->web_certificate ? "yes" : "no");
    }
    if (!broker_sessions_start(server, error)) {
        return FALSE;
    }
    d->keys_watch = g_timeout_add(KEYS_WATCH_MS, on_keys_watch, d);
    return TRUE;
}

static void
daemon_clear(BrokerDaemon *d)
{
    BrokerServer *server = &d->server;
    GList *copy = server->connections
                      ? broker_registry_list(server->connections) : NULL;

    /*
     * Connections still open after the shutdown wait: just drop them. The
     * registry stays, empty, until the sessions and the gateway are gone:
     * stopping a VM answers the ticket requests still waiting for it, and
     * those look their connection up there (and find none).
     */
    d->stopping = FALSE;
    for (GList *l = copy; l; l = l->next) {
        broker_registry_remove(server->connections, broker_connection_id(l->data));
        broker_connection_free(l->data);
    }
    g_list_free(copy);
    g_clear_handle_id(&d->keys_watch, g_source_remove);
    broker_sessions_stop(server);
    g_clear_pointer(&server->gateway, broker_gateway_free);
    g_clear_pointer(&server->connections, broker_registry_free);
    g_clear_pointer(&d->listener, broker_listener_free);
    g_clear_pointer(&d->web, broker_web_free);
    g_clear_pointer(&d->conns, broker_connection_context_free);
    g_clear_pointer(&server->store, crp_store_free);
    if (d->lock_fd > 0) {
        close(d->lock_fd);
        d->lock_fd = 0;
    }
    g_clear_pointer(&server->key, crp_broker_key_free);
    g_clear_pointer(&server->config, crp_broker_config_free);
    g_clear_pointer(&d->peers, broker_peers_free);
    g_clear_pointer(&d->loop, g_main_loop_unref);
}

int
main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean version = FALSE;
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) context = NULL;
    BrokerDaemon d = { 0 };
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
          "Configuration file (default: $" CRP_BROKER_CONFIG_ENV ", else "
          CRP_BROKER_CONFIG_DEFAULT_PATH ")", "FILE" },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version,
          "Print the version and exit", NULL },
        { NULL },
    };

    setlocale(LC_ALL, "");
    context = g_option_context_new("- the CRP broker daemon");
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("crp-broker: %s\n", error->message);
        return 2;
    }
    if (version) {
        g_print("crp-broker %s\n", CRP_VERSION);
        return 0;
    }
    if (argc > 1) {
        g_printerr("crp-broker: unexpected argument '%s'\n", argv[1]);
        return 2;
    }

    d.loop = g_main_loop_new(NULL, FALSE);
    if (!setup(&d, config_path, &error)) {
        g_printerr("crp-broker: %s\n", error->message);
        daemon_clear(&d);
        return 1;
    }
    g_unix_signal_add(SIGTERM, on_signal, &d);
    g_unix_signal_add(SIGINT, on_signal, &d);
    broker_listener_start(d.listener);
    broker_message("event=listening address=%s store=%s",
                   d.server.config->listen, d.server.config->database_url);

    g_main_loop_run(d.loop);

    broker_message("event=stopped");
    daemon_clear(&d);
    return 0;
}
