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
#include <sys/file.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

/* How long shutdown waits for clients to read their BYE. */
#define BROKER_SHUTDOWN_WAIT_MS 3000
#define FAILURE_WINDOW_US (60 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------------ */
/* Failed-login rate limiter: per peer, failures in the last minute. */

static GArray *
failures_of(BrokerServer *server, const char *peer, gboolean create)
{
    GArray *times = g_hash_table_lookup(server->failures, peer);
    gint64 now = g_get_monotonic_time();

    if (!times && create) {
        times = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_hash_table_insert(server->failures, g_strdup(peer), times);
    }
    if (times) {
        guint old = 0;
        while (old < times->len &&
               now - g_array_index(times, gint64, old) >= FAILURE_WINDOW_US) {
            old++;
        }
        g_array_remove_range(times, 0, old);
    }
    return times;
}

gboolean
broker_server_rate_limited(BrokerServer *server, const char *peer)
{
    guint max = server->config->max_failures_per_minute;
    GArray *times;

    if (max == 0) {
        return FALSE;
    }
    times = failures_of(server, peer, FALSE);
    if (times && times->len == 0) {
        g_hash_table_remove(server->failures, peer);
        return FALSE;
    }
    return times && times->len >= max;
}

void
broker_server_record_failure(BrokerServer *server, const char *peer)
{
    gint64 now = g_get_monotonic_time();
    GArray *times;

    if (server->config->max_failures_per_minute == 0) {
        return;
    }
    times = failures_of(server, peer, TRUE);
    /* Enough to decide; a flood does not grow the table without bound. */
    if (times->len < server->config->max_failures_per_minute + 1) {
        g_array_append_val(times, now);
    }
}

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

static gboolean
on_incoming(GSocketService *service, GSocketConnection *conn,
            GObject *source, gpointer data)
{
    BrokerServer *server = data;
    BrokerConnection *c;

    if (server->stopping) {
        return TRUE;
    }
    c = broker_connection_new(server, conn);
    if (c) {
        server->connections = g_list_prepend(server->connections, c);
    }
    return TRUE;
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
    g_socket_service_stop(server->service);
    g_socket_listener_close(G_SOCKET_LISTENER(server->service));
    if (server->unix_path) {
        g_unlink(server->unix_path);
    }
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

static gboolean
listen_on(BrokerServer *server, GError **error)
{
    g_autoptr(CrpBrokerAddress) address = NULL;
    g_autoptr(GSocketAddress) sockaddr = NULL;
    g_autoptr(GSocketAddress) effective = NULL;
    GSocketListener *listener = G_SOCKET_LISTENER(server->service);

    address = crp_broker_address_parse(server->config->listen, error);
    if (!address) {
        g_prefix_error(error, "listen address %s: ", server->config->listen);
        return FALSE;
    }
    if (address->kind == CRP_BROKER_ADDRESS_UNIX) {
        struct stat st;
        /* A socket left by an earlier run: replace it. Anything else at
         * that path is not ours to remove. */
        if (lstat(address->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            g_unlink(address->path);
        }
        sockaddr = g_unix_socket_address_new(address->path);
        server->unix_path = g_strdup(address->path);
    } else {
        g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(address->host);
        if (!ip) {
            g_autoptr(GResolver) resolver = g_resolver_get_default();
            GList *ips = g_resolver_lookup_by_name(resolver, address->host,
                                                   NULL, error);
            if (!ips) {
                g_prefix_error(error, "listen address %s: ",
                               server->config->listen);
                return FALSE;
            }
            ip = g_object_ref(ips->data);
            g_resolver_free_addresses(ips);
        }
        sockaddr = g_inet_socket_address_new(ip, address->port);
    }
    if (!g_socket_listener_add_address(listener, sockaddr, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                       &effective, error)) {
        g_prefix_error(error, "cannot listen on %s: ", server->config->listen);
        g_clear_pointer(&server->unix_path, g_free);
        return FALSE;
    }
    /* Like a TCP port, the socket is open to every local user: the
     * handshake (Noise IK with the user's key) is the access control. The
     * directory holding it can restrict it further. */
    if (server->unix_path && g_chmod(server->unix_path, 0666) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot chmod %s: %s", server->unix_path, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

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
    server->service = g_socket_service_new();
    if (!listen_on(server, error)) {
        return FALSE;
    }
    g_signal_connect(server->service, "incoming", G_CALLBACK(on_incoming),
                     server);
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
    if (server->service) {
        g_socket_service_stop(server->service);
        g_socket_listener_close(G_SOCKET_LISTENER(server->service));
        g_clear_object(&server->service);
    }
    if (server->unix_path) {
        g_unlink(server->unix_path);
        g_clear_pointer(&server->unix_path, g_free);
    }
    g_clear_pointer(&server->store, crp_store_free);
    if (server->lock_fd > 0) {
        close(server->lock_fd);
        server->lock_fd = 0;
    }
    g_clear_pointer(&server->key, crp_broker_key_free);
    g_clear_pointer(&server->config, crp_broker_config_free);
    g_clear_pointer(&server->failures, g_hash_table_unref);
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

    server.failures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify)g_array_unref);
    server.loop = g_main_loop_new(NULL, FALSE);
    if (!setup(&server, config_path, &error)) {
        g_printerr("crp-broker: %s\n", error->message);
        server_clear(&server);
        return 1;
    }
    g_unix_signal_add(SIGTERM, on_signal, &server);
    g_unix_signal_add(SIGINT, on_signal, &server);
    g_socket_service_start(server.service);
    broker_message("event=listening address=%s store=%s", server.config->listen,
                   server.config->database_url);

    g_main_loop_run(server.loop);

    broker_message("event=stopped");
    server_clear(&server);
    return 0;
}
