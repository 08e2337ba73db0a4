/*
 * test-broker-ws-stream.c: broker-ws-stream.c over a socketpair, the
 * other end a raw socket playing the browser.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#include "broker-ws-stream.h"

typedef struct {
    GIOStream *ws;
    int peer;                   /* the browser's end */
    GMainLoop *loop;
    GError *error;
    gboolean done;
} Fixture;

static void
fixture_init(Fixture *f)
{
    int sv[2];
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(GSocket) s = g_socket_new_from_fd(sv[0], &error);
    g_assert_no_error(error);
    g_autoptr(GSocketConnection) conn =
        g_socket_connection_factory_create_connection(s);
    f->ws = broker_ws_stream_new(G_IO_STREAM(conn));
    f->peer = sv[1];
    f->loop = g_main_loop_new(NULL, FALSE);
}

static void
fixture_clear(Fixture *f)
{
    g_clear_object(&f->ws);
    if (f->peer >= 0) {
        close(f->peer);
    }
    g_clear_error(&f->error);
    g_main_loop_unref(f->loop);
}

static void
run_for(Fixture *f, guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* A masked client frame. */
static void
peer_send(Fixture *f, guint8 first, const char *payload, gsize len)
{
    guint8 buf[256];
    const guint8 mask[4] = { 0x11, 0x22, 0x33, 0x44 };
    gsize n = 0;

    g_assert_cmpuint(len, <, 126);
    buf[n++] = first;
    buf[n++] = 0x80 | len;
    memcpy(buf + n, mask, 4);
    n += 4;
    for (gsize i = 0; i < len; i++) {
        buf[n++] = payload[i] ^ mask[i & 3];
    }
    g_assert_cmpint(write(f->peer, buf, n), ==, n);
}

static void
on_read(GObject *source, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res,
                                          &f->error);
    g_assert_cmpint(n, >=, 0);
    f->done = TRUE;
    g_object_set_data(G_OBJECT(source), "n", GSIZE_TO_POINTER(n));
}

/* Message boundaries mean nothing; pings are answered in between. */
static void
test_byte_stream(void)
{
    Fixture f = { 0 };
    char buf[64] = { 0 };
    GInputStream *in;
    guint8 pong[64];

    fixture_init(&f);
    in = g_io_stream_get_input_stream(f.ws);
    peer_send(&f, 0x02, "hel", 3);              /* binary, not final */
    peer_send(&f, 0x89, "pi", 2);               /* ping in between */
    peer_send(&f, 0x80, "lo", 2);               /* continuation, final */
    gsize got = 0;
    while (got < 5) {
        f.done = FALSE;
        g_input_stream_read_async(in, buf + got, sizeof buf - got,
                                  G_PRIORITY_DEFAULT, NULL, on_read, &f);
        while (!f.done) {
            g_main_context_iteration(NULL, TRUE);
        }
        got += GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(in), "n"));
    }
    g_assert_cmpstr(buf, ==, "hello");
    run_for(&f, 50);
    g_assert_cmpint(read(f.peer, pong, sizeof pong), ==, 4);
    g_assert_cmpmem(pong, 4, "\x8a\x02pi", 4);
    fixture_clear(&f);
}

static void
on_written_then_close(GObject *source, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;

    g_assert_false(g_output_stream_write_all_finish(G_OUTPUT_STREAM(source),
                                                    res, NULL, &f->error));
    /* What BrokerConnection does on a failed write: close at once, from
     * inside the callback (queueing a Close frame). */
    g_io_stream_close(f->ws, NULL, NULL);
    f->done = TRUE;
}

/*
 * The browser vanishes while a write waits for room and the owner closes
 * the stream from the failed write's callback: the Close frame queued then
 * was freed while it was being written, and its completion crashed
 * (SIGSEGV in on_base_written).
 */
static void
test_write_fails_then_close(void)
{
    Fixture f = { 0 };
    gsize len = 4 << 20;
    g_autofree guint8 *big = g_malloc0(len);

    fixture_init(&f);
    g_output_stream_write_all_async(g_io_stream_get_output_stream(f.ws), big,
                                    len, G_PRIORITY_DEFAULT, NULL,
                                    on_written_then_close, &f);
    run_for(&f, 100);           /* the socket buffer fills; nobody reads */
    g_assert_false(f.done);
    close(f.peer);
    f.peer = -1;
    while (!f.done) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_nonnull(f.error);
    run_for(&f, 200);           /* what was queued meanwhile completes */
    fixture_clear(&f);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/broker-ws-stream/byte-stream", test_byte_stream);
    g_test_add_func("/broker-ws-stream/write-fails-then-close",
                    test_write_fails_then_close);
    return g_test_run();
}
