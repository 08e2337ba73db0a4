/*
 * broker-listener.c: crp-broker's listening socket (see the header).
 *
 * Not a GSocketService: on a failed accept it warns and accepts again at
 * once, so a broker out of file descriptors, with a connection waiting,
 * spins at 100% CPU and fills its log with "Too many open files".
 */
#define _GNU_SOURCE     /* accept4() */
#include "broker-listener.h"
#include "broker-log.h"
#include "crp-broker-config.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

/* Connections accepted per main loop turn: the others get their turn. */
#define ACCEPT_BATCH 64
/* How long accepting rests after running out of resources. */
#define ACCEPT_PAUSE_MS 250
/* Connections the kernel holds for us while we are busy or paused. */
#define LISTEN_BACKLOG 512

struct _BrokerListener {
    GSocket *socket;
    char *address;
    char *unix_path;            /* to unlink at the end, or NULL */
    BrokerAcceptFunc func;
    gpointer data;
    GSource *source;            /* watching the socket; NULL when paused */
    guint pause_timer;
    gint64 paused_since;        /* monotonic us; 0: not paused */
};

static gboolean on_incoming(GSocket *socket, GIOCondition condition,
                            gpointer data);

static void
watch(BrokerListener *l)
{
    l->source = g_socket_create_source(l->socket, G_IO_IN, NULL);
    g_source_set_callback(l->source, G_SOURCE_FUNC(on_incoming), l, NULL);
    g_source_attach(l->source, NULL);
}

static gboolean
on_resume(gpointer data)
{
    BrokerListener *l = data;

    l->pause_timer = 0;
    watch(l);
    return G_SOURCE_REMOVE;
}

static gboolean
on_incoming(GSocket *socket, GIOCondition condition, gpointer data)
{
    BrokerListener *l = data;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        g_autoptr(GError) error = NULL;
        int fd = accept4(g_socket_get_fd(l->socket), NULL, NULL,
                         SOCK_CLOEXEC);

        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                if (l->paused_since) {
                    /* Caught up with what waited: the episode is over. */
                    broker_message("event=accept-resumed address=%s "
                                   "paused_ms=%" G_GINT64_FORMAT, l->address,
                                   (g_get_monotonic_time() - l->paused_since)
                                       / 1000);
                    l->paused_since = 0;
                }
                break;
            }
            if (e == EINTR || e == ECONNABORTED || e == EPROTO ||
                e == EPERM) {
                continue;       /* that connection is gone; the next one */
            }
            if (!l->paused_since) {
                l->paused_since = g_get_monotonic_time();
                broker_warning("event=accept-paused address=%s error=\"%s\"",
                               l->address, g_strerror(e));
            }
            g_source_unref(g_steal_pointer(&l->source));
            l->pause_timer = g_timeout_add(ACCEPT_PAUSE_MS, on_resume, l);
            return G_SOURCE_REMOVE;
        }
        g_autoptr(GSocket) s = g_socket_new_from_fd(fd, &error);
        if (!s) {
            close(fd);
            broker_warning("event=accept-failed error=\"%s\"", error->message);
            continue;
        }
        g_autoptr(GSocketConnection) conn =
            g_socket_connection_factory_create_connection(s);
        l->func(conn, l->data);
    }
    return G_SOURCE_CONTINUE;
}

GSocketAddress *
broker_listener_resolve(const CrpBrokerAddress *address, GError **error)
{
    g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(address->host);

    if (!ip) {
        g_autoptr(GResolver) resolver = g_resolver_get_default();
        GList *ips = g_resolver_lookup_by_name(resolver, address->host, NULL,
                                               error);
        if (!ips) {
            return NULL;
        }
        ip = g_object_ref(ips->data);
        g_resolver_free_addresses(ips);
    }
    return g_inet_socket_address_new(ip, address->port);
}

static gboolean
bind_and_listen(BrokerListener *l, GError **error)
{
    g_autoptr(CrpBrokerAddress) address = NULL;
    g_autoptr(GSocketAddress) sockaddr = NULL;

    address = crp_broker_address_parse(l->address, error);
    if (!address) {
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
    } else {
        sockaddr = broker_listener_resolve(address, error);
        if (!sockaddr) {
            return FALSE;
        }
    }
    l->socket = g_socket_new(g_socket_address_get_family(sockaddr),
                             G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                             error);
    if (!l->socket ||
        !g_socket_bind(l->socket, sockaddr,
                       address->kind == CRP_BROKER_ADDRESS_TCP, error)) {
        return FALSE;
    }
    if (address->kind == CRP_BROKER_ADDRESS_UNIX) {
        l->unix_path = g_strdup(address->path);
        /* Like a TCP port, the socket is open to every local user: the
         * handshake (Noise IK with the user's key) is the access control.
         * The directory holding it can restrict it further. */
        if (g_chmod(l->unix_path, 0666) < 0) {
            int e = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                        "cannot chmod %s: %s", l->unix_path, g_strerror(e));
            return FALSE;
        }
    }
    g_socket_set_listen_backlog(l->socket, LISTEN_BACKLOG);
    return g_socket_listen(l->socket, error);
}

BrokerListener *
broker_listener_new(const char *address, BrokerAcceptFunc func, gpointer data,
                    GError **error)
{
    g_autoptr(BrokerListener) l = g_new0(BrokerListener, 1);

    l->address = g_strdup(address);
    l->func = func;
    l->data = data;
    if (!bind_and_listen(l, error)) {
        g_prefix_error(error, "cannot listen on %s: ", address);
        return NULL;
    }
    return g_steal_pointer(&l);
}

void
broker_listener_start(BrokerListener *l)
{
    if (!l->source && !l->pause_timer) {
        watch(l);
    }
}

void
broker_listener_free(BrokerListener *l)
{
    if (!l) {
        return;
    }
    if (l->source) {
        g_source_destroy(l->source);
        g_source_unref(l->source);
    }
    g_clear_handle_id(&l->pause_timer, g_source_remove);
    if (l->socket) {
        g_socket_close(l->socket, NULL);
        g_object_unref(l->socket);
    }
    if (l->unix_path) {
        g_unlink(l->unix_path);
    }
    g_free(l->unix_path);
    g_free(l->address);
    g_free(l);
}
