/*
 * test-crp-qmp-client.c: the QMP client against a scripted fake QMP
 * server on a real unix socket: negotiation, ids, errors, events,
 * connection loss, timeouts, and destroying the client from callbacks.
 */
#include "crp-qmp-client.h"
#include "fake-qmp-server.h"
#include "qmp-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
    CrpQmpClient *client;
    guint seq;
    guint ready_calls;
    GError *ready_error;
    guint ready_seq;
    guint closed_calls;
    GError *closed_error;
    guint closed_seq;
    /* "handler:EVENT" for every event handled, in order */
    GPtrArray *events;
    guint pending_in_event;
    gint64 close_requested_id;
    gboolean destroy_in_ready;
    gboolean destroy_in_closed;
    gboolean destroy_in_event;
} Fixture;

typedef struct {
    Fixture *f;
    guint calls;
    guint seq;
    GError *error;
    JsonNode *result;
    CrpQmpClient *client;
    gboolean destroy;
} Reply;

static void
fixture_init(Fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->events = g_ptr_array_new_with_free_func(g_free);
    f->close_requested_id = -1;
}

static void
fixture_clear(Fixture *f)
{
    crp_qmp_client_destroy(f->client);
    g_clear_error(&f->ready_error);
    g_clear_error(&f->closed_error);
    g_ptr_array_unref(f->events);
}

static void
reply_clear(Reply *r)
{
    g_clear_error(&r->error);
    g_clear_pointer(&r->result, json_node_unref);
}

static void
destroy_client(Fixture *f)
{
    CrpQmpClient *client = f->client;
    f->client = NULL;
    crp_qmp_client_destroy(client);
}

static void
on_ready(CrpQmpClient *client, const GError *error, gpointer user_data)
{
    Fixture *f = user_data;
    g_assert_true(client == f->client);
    f->ready_calls++;
    f->ready_seq = ++f->seq;
    f->ready_error = error ? g_error_copy(error) : NULL;
    if (f->destroy_in_ready) {
        destroy_client(f);
    }
}

static void
on_closed(CrpQmpClient *client, const GError *error, gpointer user_data)
{
    Fixture *f = user_data;
    g_assert_true(client == f->client);
    g_assert_nonnull(error);
    g_assert_false(crp_qmp_client_is_ready(client));
    f->closed_calls++;
    f->closed_seq = ++f->seq;
    f->closed_error = g_error_copy(error);
    if (f->destroy_in_closed) {
        destroy_client(f);
    }
}

static void
record_event(CrpQmpClient *client, const char *handler, const CrpQmpMessage *event,
             Fixture *f)
{
    g_assert_true(client == f->client);
    g_assert_cmpint(event->type, ==, CRP_QMP_MSG_EVENT);
    g_assert_nonnull(event->data);
    g_ptr_array_add(f->events, g_strdup_printf("%s:%s", handler, event->event));
    f->pending_in_event = crp_qmp_client_pending(client);
    f->seq++;
    if (f->destroy_in_event) {
        destroy_client(f);
    }
}

static void
on_shutdown(CrpQmpClient *client, const CrpQmpMessage *event, gpointer user_data)
{
    record_event(client, "shutdown", event, user_data);
}

static void
on_close_requested(CrpQmpClient *client, const CrpQmpMessage *event, gpointer user_data)
{
    Fixture *f = user_data;
    f->close_requested_id = json_object_get_int_member(event->data, "id");
    record_event(client, "close-requested", event, user_data);
}

static void
on_connected(CrpQmpClient *client, const CrpQmpMessage *event, gpointer user_data)
{
    record_event(client, "connected", event, user_data);
}

static void
on_stop(CrpQmpClient *client, const CrpQmpMessage *event, gpointer user_data)
{
    record_event(client, "stop", event, user_data);
}

/* Deliberately not sorted: the client sorts its copy. */
static const CrpQmpEventHandler handlers[] = {
    { "SHUTDOWN", on_shutdown },
    { "CRP_CLOSE_REQUESTED", on_close_requested },
    { "STOP", on_stop },
    { "CRP_CONNECTED", on_connected },
};

static void
on_reply(CrpQmpClient *client, JsonNode *result, const GError *error, gpointer data)
{
    Reply *r = data;
    r->calls++;
    r->seq = ++r->f->seq;
    r->client = client;
    g_assert_true((result == NULL) != (error == NULL));
    if (error) {
        g_clear_error(&r->error);
        r->error = g_error_copy(error);
    } else {
        r->result = json_node_copy(result);
    }
    if (r->destroy && r->f->client) {
        destroy_client(r->f);
    }
}

static void
fixture_connect(Fixture *f, const char *path, guint connect_timeout_ms,
                guint command_timeout_ms)
{
    CrpQmpClientConfig cfg = {
        .ready = on_ready,
        .closed = on_closed,
        .events = handlers,
        .n_events = G_N_ELEMENTS(handlers),
        .connect_timeout_ms = connect_timeout_ms,
        .command_timeout_ms = command_timeout_ms,
        .user_data = f,
    };
    f->client = crp_qmp_client_connect(path, &cfg);
    g_assert_nonnull(f->client);
    /* Nothing is called back from inside connect. */
    g_assert_cmpuint(f->ready_calls, ==, 0);
    g_assert_false(crp_qmp_client_is_ready(f->client));
}

static void
fixture_connect_ready(Fixture *f, FakeQmpServer *server, guint command_timeout_ms)
{
    fixture_connect(f, fake_qmp_server_path(server), 5000, command_timeout_ms);
    qmp_test_run_until(&f->ready_calls, 1, 5000);
    g_assert_no_error(f->ready_error);
    g_assert_true(crp_qmp_client_is_ready(f->client));
}

static JsonObject *
args_n(gint64 n)
{
    JsonObject *args = json_object_new();
    json_object_set_int_member(args, "n", n);
    return args;
}

static gint64
result_n(const Reply *r)
{
    g_assert_nonnull(r->result);
    return json_object_get_int_member(json_node_get_object(r->result), "n");
}

/* ---- negotiation ---------------------------------------------------------- */

static void
script_handshake_then_eof(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    /* Destroying the client closes its socket. */
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_handshake(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_handshake_then_eof, NULL, 0);
    Fixture f;
    guint major, minor, micro;

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    crp_qmp_client_get_version(f.client, &major, &minor, &micro);
    g_assert_cmpuint(major, ==, 10);
    g_assert_cmpuint(minor, ==, 0);
    g_assert_cmpuint(micro, ==, 13);
    g_assert_cmpuint(crp_qmp_client_pending(f.client), ==, 0);

    destroy_client(&f);
    fake_qmp_server_free(server);
    /* A destroy is no loss of connection to report. */
    g_assert_cmpuint(f.closed_calls, ==, 0);
    g_assert_cmpuint(f.ready_calls, ==, 1);
    fixture_clear(&f);
}

static void
script_refuse_capabilities(FakeQmpServer *s, gpointer data)
{
    fake_qmp_send(s, FAKE_QMP_GREETING);
    g_autofree char *id = fake_qmp_expect(s, "qmp_capabilities", NULL);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"CommandNotFound\", "
                     "\"desc\": \"no capabilities for you\"}}", id);
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_capabilities_refused(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_refuse_capabilities, NULL, 0);
    Fixture f;
    Reply r = { .f = &f };

    fixture_init(&f);
    fixture_connect(&f, fake_qmp_server_path(server), 5000, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_error(f.ready_error, CRP_QMP_ERROR, CRP_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_nonnull(strstr(f.ready_error->message, "no capabilities for you"));
    g_assert_false(crp_qmp_client_is_ready(f.client));
    /* The failure closed the connection (the script sees EOF). */
    fake_qmp_server_free(server);

    /* A dead client fails commands from the main loop. */
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r);
    g_assert_cmpuint(r.calls, ==, 0);
    qmp_test_run_until(&r.calls, 1, 1000);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);

    qmp_test_run_for(50);
    g_assert_cmpuint(f.ready_calls, ==, 1);
    g_assert_cmpuint(f.closed_calls, ==, 0);
    g_assert_cmpuint(r.calls, ==, 1);
    reply_clear(&r);
    fixture_clear(&f);
}

static void
script_no_greeting(FakeQmpServer *s, gpointer data)
{
    fake_qmp_send(s, "{\"return\": {}, \"id\": \"crp-1\"}");
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_not_a_greeting(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_no_greeting, NULL, 0);
    Fixture f;

    fixture_init(&f);
    fixture_connect(&f, fake_qmp_server_path(server), 5000, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_error(f.ready_error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
    fake_qmp_server_free(server);
    fixture_clear(&f);
}

static void
script_silent(FakeQmpServer *s, gpointer data)
{
    /* Accepts, says nothing; the client gives up and closes. */
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_greeting_timeout(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_silent, NULL, 0);
    Fixture f;
    gint64 start = g_get_monotonic_time();

    fixture_init(&f);
    fixture_connect(&f, fake_qmp_server_path(server), 200, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_error(f.ready_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_nonnull(strstr(f.ready_error->message, "greeting"));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 200 * 1000);
    fake_qmp_server_free(server);
    fixture_clear(&f);
}

static void
test_connect_retry(void)
{
    /* The socket appears only after 300 ms, as when QEMU is starting. */
    FakeQmpServer *server = fake_qmp_server_new(script_handshake_then_eof, NULL, 300);
    Fixture f;

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    destroy_client(&f);
    fake_qmp_server_free(server);
    fixture_clear(&f);
}

static void
test_connect_timeout(void)
{
    g_autofree char *dir = g_dir_make_tmp("crp-qmp-test-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "nobody.sock", NULL);
    Fixture f;
    gint64 start = g_get_monotonic_time();

    fixture_init(&f);
    fixture_connect(&f, path, 200, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_error(f.ready_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_nonnull(strstr(f.ready_error->message, path));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 200 * 1000);
    fixture_clear(&f);

    /* Without a timeout: one try, the error as it is. */
    fixture_init(&f);
    fixture_connect(&f, path, 0, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_error(f.ready_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    fixture_clear(&f);
    g_rmdir(dir);
}

static void
test_execute_before_ready(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_handshake_then_eof, NULL, 0);
    Fixture f;
    Reply r = { .f = &f };

    fixture_init(&f);
    fixture_connect(&f, fake_qmp_server_path(server), 5000, 0);
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r);
    g_assert_cmpuint(r.calls, ==, 0);
    qmp_test_run_until(&r.calls, 1, 5000);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_no_error(f.ready_error);
    destroy_client(&f);
    fake_qmp_server_free(server);
    g_assert_cmpuint(r.calls, ==, 1);
    reply_clear(&r);
    fixture_clear(&f);
}

/* ---- commands --------------------------------------------------------------- */

static void
script_out_of_order(FakeQmpServer *s, gpointer data)
{
    char *ids[3];
    gint64 ns[3];

    fake_qmp_handshake(s);
    for (int i = 0; i < 3; i++) {
        g_autoptr(JsonObject) args = NULL;
        ids[i] = fake_qmp_expect(s, "echo", &args);
        ns[i] = json_object_get_int_member(args, "n");
        for (int j = 0; j < i; j++) {
            g_assert_cmpstr(ids[i], !=, ids[j]);
        }
    }
    /* Third, first, second; the last two in one write. */
    fake_qmp_send(s, "{\"return\": {\"n\": %" G_GINT64_FORMAT "}, \"id\": \"%s\"}", ns[2], ids[2]);
    g_autofree char *two = g_strdup_printf(
        "{\"return\": {\"n\": %" G_GINT64_FORMAT "}, \"id\": \"%s\"}\r\n"
        "{\"id\": \"%s\", \"return\": {\"n\": %" G_GINT64_FORMAT "}}\r\n",
        ns[0], ids[0], ids[1], ns[1]);
    fake_qmp_send_raw(s, two, strlen(two));
    for (int i = 0; i < 3; i++) {
        g_free(ids[i]);
    }
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_out_of_order(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_out_of_order, NULL, 0);
    Fixture f;
    Reply r[3] = { { .f = &f }, { .f = &f }, { .f = &f } };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    for (int i = 0; i < 3; i++) {
        g_autoptr(JsonObject) args = args_n(100 + i);
        crp_qmp_client_execute(f.client, "echo", args, on_reply, &r[i]);
        /* The arguments are the caller's still, untouched. */
        g_assert_cmpuint(json_object_get_size(args), ==, 1);
    }
    g_assert_cmpuint(crp_qmp_client_pending(f.client), ==, 3);
    qmp_test_run_until(&r[1].calls, 1, 5000);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        g_assert_no_error(r[i].error);
        g_assert_cmpint(result_n(&r[i]), ==, 100 + i);
    }
    g_assert_cmpuint(r[2].seq, <, r[0].seq);
    g_assert_cmpuint(r[0].seq, <, r[1].seq);
    g_assert_cmpuint(crp_qmp_client_pending(f.client), ==, 0);

    destroy_client(&f);
    fake_qmp_server_free(server);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        reply_clear(&r[i]);
    }
    fixture_clear(&f);
}

static void
script_errors(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_autofree char *a = fake_qmp_expect(s, "crp-set-ticket", NULL);
    g_autofree char *b = fake_qmp_expect(s, "query-pid", NULL);
    g_autofree char *c = fake_qmp_expect(s, "future", NULL);
    g_autofree char *d = fake_qmp_expect(s, "query-status", NULL);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"GenericError\", "
                     "\"desc\": \"the ticket must not be empty\"}}", a);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"CommandNotFound\", "
                     "\"desc\": \"The command query-pid has not been found\"}}", b);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"FutureError\", "
                     "\"desc\": \"later\"}}", c);
    fake_qmp_send(s, "{\"return\": {\"running\": true, \"status\": \"running\"}, \"id\": \"%s\"}", d);
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_error_replies(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_errors, NULL, 0);
    Fixture f;
    Reply r[4] = { { .f = &f }, { .f = &f }, { .f = &f }, { .f = &f } };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    crp_qmp_client_execute(f.client, "crp-set-ticket", NULL, on_reply, &r[0]);
    crp_qmp_client_execute(f.client, "query-pid", NULL, on_reply, &r[1]);
    crp_qmp_client_execute(f.client, "future", NULL, on_reply, &r[2]);
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r[3]);
    qmp_test_run_until(&r[3].calls, 1, 5000);

    g_assert_error(r[0].error, CRP_QMP_ERROR, CRP_QMP_ERROR_GENERIC);
    g_assert_cmpstr(r[0].error->message, ==, "the ticket must not be empty");
    g_assert_error(r[1].error, CRP_QMP_ERROR, CRP_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_error(r[2].error, CRP_QMP_ERROR, CRP_QMP_ERROR_OTHER_CLASS);
    g_assert_no_error(r[3].error);
    /* An error reply is the command's failure, not the connection's. */
    g_assert_true(crp_qmp_client_is_ready(f.client));
    g_assert_cmpuint(f.closed_calls, ==, 0);

    destroy_client(&f);
    fake_qmp_server_free(server);
    for (int i = 0; i < 4; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        g_assert_true((r[i].result != NULL) == (i == 3));
        reply_clear(&r[i]);
    }
    fixture_clear(&f);
}

/* ---- events ---------------------------------------------------------------- */

static void
script_events_while_pending(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_autofree char *id = fake_qmp_expect(s, "query-status", NULL);
    fake_qmp_send(s, "{\"timestamp\": {\"seconds\": 1795635255, \"microseconds\": 905755}, "
                     "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, "
                     "\"reason\": \"host-qmp-quit\"}}");
    fake_qmp_send(s, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
                     "\"event\": \"NOBODY_LISTENS\", \"data\": {\"x\": 1}}");
    fake_qmp_send(s, "{\"timestamp\": {\"seconds\": 1795635273, \"microseconds\": 309199}, "
                     "\"event\": \"CRP_CLOSE_REQUESTED\", \"data\": {\"id\": 3}}");
    fake_qmp_send(s, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}");
    fake_qmp_send(s, "{\"return\": {\"running\": false, \"status\": \"paused\"}, \"id\": \"%s\"}", id);
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_events_while_pending(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_events_while_pending, NULL, 0);
    Fixture f;
    Reply r = { .f = &f };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r);
    qmp_test_run_until(&r.calls, 1, 5000);

    g_assert_cmpuint(f.events->len, ==, 3);
    g_assert_cmpstr(f.events->pdata[0], ==, "shutdown:SHUTDOWN");
    g_assert_cmpstr(f.events->pdata[1], ==, "close-requested:CRP_CLOSE_REQUESTED");
    g_assert_cmpstr(f.events->pdata[2], ==, "stop:STOP");
    g_assert_cmpint(f.close_requested_id, ==, 3);
    /* The command was still pending while the events were handled, and
     * its reply came after them. */
    g_assert_cmpuint(f.pending_in_event, ==, 1);
    g_assert_cmpuint(r.seq, ==, f.seq);
    g_assert_no_error(r.error);

    destroy_client(&f);
    fake_qmp_server_free(server);
    reply_clear(&r);
    fixture_clear(&f);
}

/* ---- losing the connection ---------------------------------------------------- */

static void
script_close_mid_command(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_free(fake_qmp_expect(s, "query-status", NULL));
    g_free(fake_qmp_expect(s, "query-crp", NULL));
    /* QEMU dies: the script ends and the connection closes. */
}

static void
test_server_closes_mid_command(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_close_mid_command, NULL, 0);
    Fixture f;
    Reply r[3] = { { .f = &f }, { .f = &f }, { .f = &f } };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r[0]);
    crp_qmp_client_execute(f.client, "query-crp", NULL, on_reply, &r[1]);
    qmp_test_run_until(&f.closed_calls, 1, 5000);
    fake_qmp_server_free(server);

    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        g_assert_error(r[i].error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
        /* Failed before the owner heard of the loss, oldest first. */
        g_assert_cmpuint(r[i].seq, <, f.closed_seq);
    }
    g_assert_cmpuint(r[0].seq, <, r[1].seq);
    g_assert_error(f.closed_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_assert_false(crp_qmp_client_is_ready(f.client));
    g_assert_cmpuint(crp_qmp_client_pending(f.client), ==, 0);

    /* Later commands fail too, from the main loop. */
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r[2]);
    g_assert_cmpuint(r[2].calls, ==, 0);
    qmp_test_run_until(&r[2].calls, 1, 1000);
    g_assert_error(r[2].error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);

    qmp_test_run_for(50);
    g_assert_cmpuint(f.closed_calls, ==, 1);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        reply_clear(&r[i]);
    }
    fixture_clear(&f);
}

static void
script_garbage(FakeQmpServer *s, gpointer data)
{
    const char *garbage = data;

    fake_qmp_handshake(s);
    g_free(fake_qmp_expect(s, "query-status", NULL));
    fake_qmp_send(s, "%s", garbage);
    /* The client hangs up on it. */
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
check_garbage_disconnects(const char *garbage, const char *expect)
{
    FakeQmpServer *server = fake_qmp_server_new(script_garbage, (gpointer)garbage, 0);
    Fixture f;
    Reply r = { .f = &f };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r);
    qmp_test_run_until(&f.closed_calls, 1, 5000);
    fake_qmp_server_free(server);

    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_assert_error(f.closed_error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(f.closed_error->message, expect));
    g_assert_nonnull(strstr(r.error->message, expect));
    reply_clear(&r);
    fixture_clear(&f);
}

static void
test_garbage_disconnects(void)
{
    check_garbage_disconnects("{\"return\": {}, \"id\"", "malformed");
    check_garbage_disconnects("[\"not\", \"an\", \"object\"]", "not a JSON object");
    /* QEMU could not read one of our commands: which one is unknown. */
    check_garbage_disconnects("{\"error\": {\"class\": \"GenericError\", "
                              "\"desc\": \"QMP input must be a JSON object\"}}",
                              "QMP input must be a JSON object");
    check_garbage_disconnects(FAKE_QMP_GREETING, "second greeting");
}

/* ---- timeouts ---------------------------------------------------------------- */

static void
script_slow(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_autofree char *slow = fake_qmp_expect(s, "query-status", NULL);
    g_autofree char *fast = fake_qmp_expect(s, "echo", NULL);
    /* The late reply to the command that timed out comes first. */
    fake_qmp_send(s, "{\"return\": {\"n\": 1}, \"id\": \"%s\"}", slow);
    fake_qmp_send(s, "{\"return\": {\"n\": 2}, \"id\": \"%s\"}", fast);
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_command_timeout(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_slow, NULL, 0);
    Fixture f;
    Reply slow = { .f = &f }, fast = { .f = &f };
    gint64 start;

    fixture_init(&f);
    fixture_connect_ready(&f, server, 150);
    start = g_get_monotonic_time();
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &slow);
    qmp_test_run_until(&slow.calls, 1, 5000);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 150 * 1000);
    g_assert_error(slow.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_nonnull(strstr(slow.error->message, "query-status"));
    g_assert_cmpuint(crp_qmp_client_pending(f.client), ==, 0);

    /* The connection stays up; the late reply is dropped. */
    crp_qmp_client_execute(f.client, "echo", NULL, on_reply, &fast);
    qmp_test_run_until(&fast.calls, 1, 5000);
    g_assert_no_error(fast.error);
    g_assert_cmpint(result_n(&fast), ==, 2);
    g_assert_cmpuint(slow.calls, ==, 1);
    g_assert_true(crp_qmp_client_is_ready(f.client));

    destroy_client(&f);
    fake_qmp_server_free(server);
    reply_clear(&slow);
    reply_clear(&fast);
    fixture_clear(&f);
}

/* ---- destroying the client from callbacks --------------------------------------- */

static void
script_two_replies_and_event_at_once(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_autofree char *a = fake_qmp_expect(s, "echo", NULL);
    g_autofree char *b = fake_qmp_expect(s, "echo", NULL);
    g_free(fake_qmp_expect(s, "echo", NULL));
    g_autofree char *all = g_strdup_printf(
        "{\"return\": {\"n\": 0}, \"id\": \"%s\"}\r\n"
        "{\"return\": {\"n\": 1}, \"id\": \"%s\"}\r\n"
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n",
        a, b);
    fake_qmp_send_raw(s, all, strlen(all));
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_destroy_in_reply(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_two_replies_and_event_at_once, NULL, 0);
    Fixture f;
    Reply r[3] = { { .f = &f, .destroy = TRUE }, { .f = &f }, { .f = &f } };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 1000);
    for (int i = 0; i < 3; i++) {
        crp_qmp_client_execute(f.client, "echo", NULL, on_reply, &r[i]);
    }
    qmp_test_run_until(&r[0].calls, 1, 5000);
    g_assert_null(f.client);
    g_assert_no_error(r[0].error);
    /* The others were cancelled by the destroy, though the reply of the
     * second had arrived in the same read; the event was not handled. */
    for (int i = 1; i < 3; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        g_assert_error(r[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_cmpuint(r[i].seq, >, r[0].seq);
    }
    fake_qmp_server_free(server);
    /* Past the command timeout: nothing fires any more. */
    qmp_test_run_for(1200);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(r[i].calls, ==, 1);
        reply_clear(&r[i]);
    }
    g_assert_cmpuint(f.events->len, ==, 0);
    g_assert_cmpuint(f.closed_calls, ==, 0);
    fixture_clear(&f);
}

static void
script_event_then_wait(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_autofree char *id = fake_qmp_expect(s, "query-status", NULL);
    g_autofree char *two = g_strdup_printf(
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"SHUTDOWN\"}\r\n"
        "{\"return\": {}, \"id\": \"%s\"}\r\n", id);
    fake_qmp_send_raw(s, two, strlen(two));
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_destroy_in_event(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_event_then_wait, NULL, 0);
    Fixture f;
    Reply r = { .f = &f };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    f.destroy_in_event = TRUE;
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r);
    qmp_test_run_until(&f.events->len, 1, 5000);
    g_assert_null(f.client);
    /* Its reply, right behind the event, never got to it. */
    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    fake_qmp_server_free(server);
    qmp_test_run_for(50);
    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_cmpuint(f.events->len, ==, 1);
    g_assert_cmpuint(f.closed_calls, ==, 0);
    reply_clear(&r);
    fixture_clear(&f);
}

static void
script_handshake_then_close(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_free(fake_qmp_expect(s, "query-status", NULL));
}

static void
test_destroy_in_closed(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_handshake_then_close, NULL, 0);
    Fixture f;
    Reply r = { .f = &f };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    f.destroy_in_closed = TRUE;
    crp_qmp_client_execute(f.client, "query-status", NULL, on_reply, &r);
    qmp_test_run_until(&f.closed_calls, 1, 5000);
    g_assert_null(f.client);
    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    fake_qmp_server_free(server);
    qmp_test_run_for(50);
    g_assert_cmpuint(f.closed_calls, ==, 1);
    g_assert_cmpuint(r.calls, ==, 1);
    reply_clear(&r);
    fixture_clear(&f);
}

static void
test_destroy_in_ready(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_handshake_then_eof, NULL, 0);
    Fixture f;

    fixture_init(&f);
    f.destroy_in_ready = TRUE;
    fixture_connect(&f, fake_qmp_server_path(server), 5000, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_no_error(f.ready_error);
    g_assert_null(f.client);
    /* The script's wait for EOF passes: the socket was closed. */
    fake_qmp_server_free(server);
    qmp_test_run_for(50);
    g_assert_cmpuint(f.ready_calls, ==, 1);
    fixture_clear(&f);

    /* And from a failed ready. */
    g_autofree char *dir = g_dir_make_tmp("crp-qmp-test-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "nobody.sock", NULL);
    fixture_init(&f);
    f.destroy_in_ready = TRUE;
    fixture_connect(&f, path, 100, 0);
    qmp_test_run_until(&f.ready_calls, 1, 5000);
    g_assert_error(f.ready_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_null(f.client);
    qmp_test_run_for(200);
    g_assert_cmpuint(f.ready_calls, ==, 1);
    fixture_clear(&f);
    g_rmdir(dir);
}

static void
script_never_answer(FakeQmpServer *s, gpointer data)
{
    fake_qmp_handshake(s);
    g_free(fake_qmp_expect(s, "first", NULL));
    g_free(fake_qmp_expect(s, "second", NULL));
    g_assert_true(fake_qmp_wait_eof(s, 5000));
}

static void
test_destroy_in_timeout(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_never_answer, NULL, 0);
    Fixture f;
    Reply first = { .f = &f, .destroy = TRUE }, second = { .f = &f };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 100);
    crp_qmp_client_execute(f.client, "first", NULL, on_reply, &first);
    crp_qmp_client_execute(f.client, "second", NULL, on_reply, &second);
    qmp_test_run_until(&first.calls, 1, 5000);
    g_assert_error(first.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_null(f.client);
    /* The second's timer was due at the same time; it was cancelled. */
    g_assert_cmpuint(second.calls, ==, 1);
    g_assert_error(second.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    fake_qmp_server_free(server);
    qmp_test_run_for(200);
    g_assert_cmpuint(first.calls, ==, 1);
    g_assert_cmpuint(second.calls, ==, 1);
    reply_clear(&first);
    reply_clear(&second);
    fixture_clear(&f);
}

/* A cancelled callback that destroys again and runs another command. */
typedef struct {
    Reply reply;
    CrpQmpClient *client;
    Reply *more;
} Reentrant;

static void
on_reply_reenter(CrpQmpClient *client, JsonNode *result, const GError *error, gpointer data)
{
    Reentrant *re = data;
    on_reply(client, result, error, &re->reply);
    crp_qmp_client_destroy(client);
    crp_qmp_client_execute(client, "again", NULL, on_reply, re->more);
}

static void
test_destroy_reentrant(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_handshake_then_eof, NULL, 0);
    Fixture f;
    Reply more = { .f = &f }, second = { .f = &f };
    Reentrant re = { .reply = { .f = &f }, .more = &more };

    fixture_init(&f);
    fixture_connect_ready(&f, server, 0);
    crp_qmp_client_execute(f.client, "first", NULL, on_reply_reenter, &re);
    crp_qmp_client_execute(f.client, "second", NULL, on_reply, &second);
    destroy_client(&f);
    /* Everything was called back, once, inside the destroy. */
    g_assert_cmpuint(re.reply.calls, ==, 1);
    g_assert_error(re.reply.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint(second.calls, ==, 1);
    g_assert_error(second.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint(more.calls, ==, 1);
    g_assert_error(more.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint(re.reply.seq, <, second.seq);
    fake_qmp_server_free(server);
    qmp_test_run_for(50);
    g_assert_cmpuint(more.calls, ==, 1);
    reply_clear(&re.reply);
    reply_clear(&more);
    reply_clear(&second);
    fixture_clear(&f);

    crp_qmp_client_destroy(NULL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-client/handshake", test_handshake);
    g_test_add_func("/qmp-client/capabilities-refused", test_capabilities_refused);
    g_test_add_func("/qmp-client/not-a-greeting", test_not_a_greeting);
    g_test_add_func("/qmp-client/greeting-timeout", test_greeting_timeout);
    g_test_add_func("/qmp-client/connect-retry", test_connect_retry);
    g_test_add_func("/qmp-client/connect-timeout", test_connect_timeout);
    g_test_add_func("/qmp-client/execute-before-ready", test_execute_before_ready);
    g_test_add_func("/qmp-client/out-of-order", test_out_of_order);
    g_test_add_func("/qmp-client/error-replies", test_error_replies);
    g_test_add_func("/qmp-client/events-while-pending", test_events_while_pending);
    g_test_add_func("/qmp-client/server-closes-mid-command", test_server_closes_mid_command);
    g_test_add_func("/qmp-client/garbage-disconnects", test_garbage_disconnects);
    g_test_add_func("/qmp-client/command-timeout", test_command_timeout);
    g_test_add_func("/qmp-client/destroy-in-reply", test_destroy_in_reply);
    g_test_add_func("/qmp-client/destroy-in-event", test_destroy_in_event);
    g_test_add_func("/qmp-client/destroy-in-closed", test_destroy_in_closed);
    g_test_add_func("/qmp-client/destroy-in-ready", test_destroy_in_ready);
    g_test_add_func("/qmp-client/destroy-in-timeout", test_destroy_in_timeout);
    g_test_add_func("/qmp-client/destroy-reentrant", test_destroy_reentrant);
    return g_test_run();
}
