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

/* ------------------------------------------------------------------------ */
/* Connections and shutdown */

void
broker_server_connection_done(BrokerServer *server, BrokerConnection *c)
{
    server->connections = g_list_remove(server->connections, c);
    if (server->stopping && !server->connections) {
        g_main_loop_quit(server->loop);
    }
}

BrokerConnection *
broker_server_find_connection(BrokerServer *server, guint id)
{
    for (GList *l = server->connections; l; l = l->next) {
        if (broker_connection_id(l->data) == id) {
            return l->data;
        }
    }
    return NULL;
}

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

gboolean
broker_server_key_valid(BrokerServer *server, const guint8 *key,
                        GHashTable *verdicts)
{
    g_autoptr(GError) error = NULL;
    gpointer verdict;
    CrpStoreLogin result;

    if (g_hash_table_lookup_extended(verdicts, key, NULL, &verdict)) {
        return GPOINTER_TO_INT(verdict);
    }
    if (!crp_store_user_get_by_key(server->store, key, &result, NULL,
                                   &error)) {
        broker_warning("event=store-error request=key-check error=\"%s\"",
                       error->message);
        result = CRP_STORE_LOGIN_OK;    /* no one is cut off for that */
    }
    g_hash_table_insert(verdicts, g_memdup2(key, CRP_KEY_BYTES),
                        GINT_TO_POINTER(result == CRP_STORE_LOGIN_OK));
    return result == CRP_STORE_LOGIN_OK;
}

void
broker_server_check_keys(BrokerServer *server)
{
    g_autoptr(GHashTable) verdicts = g_hash_table_new_full(key_hash,
                                                           key_equal, g_free,
                                                           NULL);
    /* Closing may finish a connection at once: walk a copy. */
    GList *copy = g_list_copy(server->connections);

    for (GList *l = copy; l; l = l->next) {
        const guint8 *key = broker_connection_key(l->data);
        if (key && !broker_server_key_valid(server, key, verdicts)) {
            broker_connection_withdraw_key(l->data);
        }
    }
    g_list_free(copy);
    broker_gateway_check_keys(server, verdicts);
}

/* ------------------------------------------------------------------------ */
/* Accepting */

static void
on_incoming(GSocketConnection *conn, gpointer data)
{
    BrokerServer *server = data;
    BrokerConnection *c;

    if (server->stopping) {
        return;
    }
    c = broker_connection_new(server, conn);
    if (c) {
        server->connections = g_list_prepend(server->connections, c);
    }
}

/* A connection is a file descriptor: make the soft limit the hard one,
 * and say so if the caps need more than that. */
static void
raise_fd_limit(BrokerServer *server)
{
    struct rlimit rl;
    guint64 need = (guint64)server->config->max_connections + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (server->config->max_connections == 0 ||
        (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)) {
        broker_warning("event=fd-limit limit=%" G_GUINT64_FORMAT
                       " max_connections=%u reserve=%u", (guint64)rl.rlim_cur,
                       server->config->max_connections, FD_RESERVE);
    }
}

static gboolean
on_shutdown_timeout(gpointer data)
{
    BrokerServer *server = data;

    broker_message("event=shutdown-timeout clients=%u",
                   g_list_length(server->connections));
    g_main_loop_quit(server->loop);
    return G_SOURCE_REMOVE;
}

static gboolean
on_signal(gpointer data)
{
    BrokerServer *server = data;
    GList *copy;

    if (server->stopping) {
        return G_SOURCE_CONTINUE;
    }
    server->stopping = TRUE;
    broker_message("event=shutdown clients=%u",
                   g_list_length(server->connections));
    g_clear_pointer(&server->listener, broker_listener_free);
    if (!server->connections) {
        g_main_loop_quit(server->loop);
        return G_SOURCE_CONTINUE;
    }
    /* Closing may finish a connection at once: walk a copy. */
    copy = g_list_copy(server->connections);
    for (GList *l = copy; l; l = l->next) {
        broker_connection_close(l->data, CRP_STATUS_SHUTDOWN,
                                "the broker is shutting down");
    }
    g_list_free(copy);
    g_timeout_add(BROKER_SHUTDOWN_WAIT_MS, on_shutdown_timeout, server);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Setup */

/* One broker per state directory: a second one would take over the
 * first one's socket and fight it for the same VMs. */
static gboolean
lock_state_dir(BrokerServer *server, GError **error)
{
    g_autofree char *path = g_build_filename(server->config->state_dir,
                                             "broker.lock", NULL);
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
                    server->config->state_dir, g_strerror(e));
        return FALSE;
    }
    server->lock_fd = fd;       /* held until exit */
    return TRUE;
}

static gboolean
setup(BrokerServer *server, const char *config_path, GError **error)
{
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
    if (!lock_state_dir(server, error)) {
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
    server->peers = broker_peers_new(&limits);
    raise_fd_limit(server);
    server->listener = broker_listener_new(server->config->listen, on_incoming,
                                           server, error);
    if (!server->listener) {
        return FALSE;
    }
    return broker_sessions_start(server, error);
}

static void
server_clear(BrokerServer *server)
{
    GList *copy = g_list_copy(server->connections);

    /* Connections still open after the shutdown wait: just drop them. */
    g_list_free(server->connections);
    server->connections = NULL;
    server->stopping = FALSE;
    for (GList *l = copy; l; l = l->next) {
        broker_connection_free(l->data);
    }
    g_list_free(copy);
    broker_sessions_stop(server);
    g_clear_pointer(&server->splices, g_list_free);
    g_clear_pointer(&server->listener, broker_listener_free);
    g_clear_pointer(&server->store, crp_store_free);
    if (server->lock_fd > 0) {
        close(server->lock_fd);
        server->lock_fd = 0;
    }
    g_clear_pointer(&server->key, crp_broker_key_free);
    g_clear_pointer(&server->config, crp_broker_config_free);
    g_clear_pointer(&server->peers, broker_peers_free);
    for (guint i = 0; i < G_N_ELEMENTS(server->refusals); i++) {
        g_clear_pointer(&server->refusals[i], g_bytes_unref);
    }
    g_clear_pointer(&server->loop, g_main_loop_unref);
}

int
main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean version = FALSE;
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) context = NULL;
    BrokerServer server = { 0 };
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

    server.loop = g_main_loop_new(NULL, FALSE);
    if (!setup(&server, config_path, &error)) {
        g_printerr("crp-broker: %s\n", error->message);
        server_clear(&server);
        return 1;
    }
    g_unix_signal_add(SIGTERM, on_signal, &server);
    g_unix_signal_add(SIGINT, on_signal, &server);
    broker_listener_start(server.listener);
    broker_message("event=listening address=%s store=%s", server.config->listen,
                   server.config->database_url);

    g_main_loop_run(server.loop);

    broker_message("event=stopped");
    server_clear(&server);
    return 0;
}
