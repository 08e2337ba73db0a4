/* fake-qmp-server.c: see fake-qmp-server.h. */
#include "fake-qmp-server.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>

struct FakeQmpServer {
    char *dir;
    char *path;
    guint delay_ms;
    FakeQmpScript script;
    gpointer data;
    GThread *thread;
    GSocket *listener;
    GSocket *conn;
    GString *in;
};

static void
server_listen(FakeQmpServer *s)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketAddress) address = g_unix_socket_address_new(s->path);

    s->listener = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_DEFAULT, &error);
    g_assert_no_error(error);
    g_assert_true(g_socket_bind(s->listener, address, FALSE, &error));
    g_assert_no_error(error);
    g_assert_true(g_socket_listen(s->listener, &error));
    g_assert_no_error(error);
}

static gpointer
server_thread(gpointer data)
{
    FakeQmpServer *s = data;
    g_autoptr(GError) error = NULL;

    if (s->delay_ms) {
        g_usleep(s->delay_ms * 1000);
        server_listen(s);
    }
    g_socket_set_timeout(s->listener, 10);
    s->conn = g_socket_accept(s->listener, NULL, &error);
    g_assert_no_error(error);
    g_socket_set_timeout(s->conn, 10);
    s->script(s, s->data);
    fake_qmp_close(s);
    return NULL;
}

FakeQmpServer *
fake_qmp_server_new(FakeQmpScript script, gpointer data, guint delay_ms)
{
    FakeQmpServer *s = g_new0(FakeQmpServer, 1);
    g_autoptr(GError) error = NULL;

    s->dir = g_dir_make_tmp("crp-qmp-test-XXXXXX", &error);
    g_assert_no_error(error);
    s->path = g_build_filename(s->dir, "qmp.sock", NULL);
    s->delay_ms = delay_ms;
    s->script = script;
    s->data = data;
    s->in = g_string_new(NULL);
    if (!delay_ms) {
        server_listen(s);
    }
    s->thread = g_thread_new("fake-qmp", server_thread, s);
    return s;
}

const char *
fake_qmp_server_path(FakeQmpServer *s)
{
    return s->path;
}

void
fake_qmp_server_free(FakeQmpServer *s)
{
    g_thread_join(s->thread);
    if (s->listener) {
        g_socket_close(s->listener, NULL);
        g_object_unref(s->listener);
    }
    g_unlink(s->path);
    g_rmdir(s->dir);
    g_string_free(s->in, TRUE);
    g_free(s->path);
    g_free(s->dir);
    g_free(s);
}

void
fake_qmp_send_raw(FakeQmpServer *s, const void *data, gsize len)
{
    g_autoptr(GError) error = NULL;
    const char *p = data;

    while (len > 0) {
        gssize n = g_socket_send(s->conn, p, len, NULL, &error);
        g_assert_no_error(error);
        p += n;
        len -= (gsize)n;
    }
}

void
fake_qmp_send(FakeQmpServer *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *full = g_strconcat(line, "\r\n", NULL);
    fake_qmp_send_raw(s, full, strlen(full));
}

/* The next line the client sent, NULL at end of stream. */
static char *
read_line(FakeQmpServer *s)
{
    for (;;) {
        char *nl = memchr(s->in->str, '\n', s->in->len);
        if (nl) {
            gsize len = (gsize)(nl - s->in->str);
            char *line = g_strndup(s->in->str, len);
            g_string_erase(s->in, 0, (gssize)len + 1);
            return line;
        }
        char buf[4096];
        g_autoptr(GError) error = NULL;
        gssize n = g_socket_receive(s->conn, buf, sizeof(buf), NULL, &error);
        g_assert_no_error(error);
        if (n == 0) {
            return NULL;
        }
        g_string_append_len(s->in, buf, n);
    }
}

char *
fake_qmp_expect(FakeQmpServer *s, const char *command, JsonObject **arguments)
{
    g_autofree char *line = read_line(s);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;

    g_assert_nonnull(line);
    g_assert_true(json_parser_load_from_data(parser, line, -1, &error));
    g_assert_no_error(error);
    JsonNode *root = json_parser_get_root(parser);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
    JsonObject *obj = json_node_get_object(root);
    g_assert_cmpstr(json_object_get_string_member(obj, "execute"), ==, command);
    g_assert_true(json_object_has_member(obj, "id"));
    guint members = 2;
    JsonNode *args = json_object_get_member(obj, "arguments");
    if (args) {
        g_assert_true(JSON_NODE_HOLDS_OBJECT(args));
        members++;
    }
    g_assert_cmpuint(json_object_get_size(obj), ==, members);
    if (arguments) {
        *arguments = args ? json_object_ref(json_node_get_object(args)) : NULL;
    } else {
        g_assert_null(args);
    }
    return g_strdup(json_object_get_string_member(obj, "id"));
}

void
fake_qmp_handshake(FakeQmpServer *s)
{
    fake_qmp_send(s, FAKE_QMP_GREETING);
    g_autofree char *id = fake_qmp_expect(s, "qmp_capabilities", NULL);
    fake_qmp_send(s, "{\"return\": {}, \"id\": \"%s\"}", id);
}

gboolean
fake_qmp_wait_eof(FakeQmpServer *s, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    if (!s->conn) {
        return TRUE;
    }
    while (g_get_monotonic_time() < deadline) {
        char buf[4096];
        g_autoptr(GError) error = NULL;
        if (!g_socket_condition_timed_wait(s->conn, G_IO_IN,
                                           deadline - g_get_monotonic_time(), NULL, NULL)) {
            return FALSE;
        }
        gssize n = g_socket_receive(s->conn, buf, sizeof(buf), NULL, &error);
        if (n <= 0) {
            return TRUE;
        }
    }
    return FALSE;
}

void
fake_qmp_close(FakeQmpServer *s)
{
    if (s->conn) {
        g_socket_close(s->conn, NULL);
        g_clear_object(&s->conn);
    }
}
