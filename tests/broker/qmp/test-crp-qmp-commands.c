/*
 * test-crp-qmp-commands.c: the typed commands: what each puts on the wire,
 * and what each makes of QEMU's replies (canned from QEMU 10.0.13 with
 * -display crp), error replies and malformed ones included.
 */
#include "crp-qmp-commands.h"
#include "fake-qmp-server.h"
#include "qmp-test-util.h"

#include <string.h>

/* query-crp with one client connected, as QEMU sent it. */
#define QUERY_CRP_ONE_CLIENT \
    "{\"enabled\": true, \"clients\": [{\"rtt-ms\": 0.12580000000000002, " \
    "\"frames-sent\": 155, \"bytes-in\": 5652, \"input-latency-ms\": 0, " \
    "\"fps\": 62.001798052143513, \"address\": \"unix:/tmp/qmpcap/crp.sock\", " \
    "\"bytes-out\": 14913, \"id\": 1, \"connected-since\": 1795635270}], " \
    "\"address\": \"unix:/tmp/qmpcap/crp.sock\"}"

static JsonNode *
json(const char *text)
{
    g_autoptr(GError) error = NULL;
    JsonNode *node = json_from_string(text, &error);
    g_assert_no_error(error);
    return node;
}

/* ---- query-crp replies ------------------------------------------------------ */

static void
test_crp_info_parse(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) node = json(QUERY_CRP_ONE_CLIENT);
    g_autoptr(CrpQmpCrpInfo) info = crp_qmp_crp_info_from_json(node, &error);

    g_assert_no_error(error);
    g_assert_nonnull(info);
    g_assert_true(info->enabled);
    g_assert_cmpstr(info->address, ==, "unix:/tmp/qmpcap/crp.sock");
    g_assert_cmpuint(info->n_clients, ==, 1);
    const CrpQmpCrpClient *c = &info->clients[0];
    g_assert_cmpint(c->id, ==, 1);
    g_assert_cmpstr(c->address, ==, "unix:/tmp/qmpcap/crp.sock");
    g_assert_cmpint(c->connected_since, ==, 1795635270);
    g_assert_cmpint(c->bytes_in, ==, 5652);
    g_assert_cmpint(c->bytes_out, ==, 14913);
    g_assert_cmpint(c->frames_sent, ==, 155);
    g_assert_cmpfloat_with_epsilon(c->fps, 62.0018, 1e-3);
    g_assert_cmpfloat_with_epsilon(c->rtt_ms, 0.1258, 1e-6);
    /* A whole 'number' comes without a fraction. */
    g_assert_cmpfloat(c->input_latency_ms, ==, 0.0);
}

static void
test_crp_info_disabled_and_empty(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) off = json("{\"enabled\": false}");
    g_autoptr(CrpQmpCrpInfo) info = crp_qmp_crp_info_from_json(off, &error);

    g_assert_no_error(error);
    g_assert_false(info->enabled);
    g_assert_null(info->address);
    g_assert_cmpuint(info->n_clients, ==, 0);

    g_autoptr(JsonNode) none = json("{\"enabled\": true, \"clients\": [], "
                                    "\"address\": \"unix:/run/crp/vm1.sock\", \"new\": 1}");
    g_autoptr(CrpQmpCrpInfo) on = crp_qmp_crp_info_from_json(none, &error);
    g_assert_no_error(error);
    g_assert_true(on->enabled);
    g_assert_cmpstr(on->address, ==, "unix:/run/crp/vm1.sock");
    g_assert_cmpuint(on->n_clients, ==, 0);
    g_assert_false(on->has_totals);

    /* The totals over every client since QEMU started (accounting). */
    g_autoptr(JsonNode) totals = json("{\"enabled\": true, \"clients\": [], "
                                      "\"address\": \"unix:/s\", \"bytes-in\": 1520, "
                                      "\"bytes-out\": 889344, \"frames-sent\": 412}");
    g_autoptr(CrpQmpCrpInfo) t = crp_qmp_crp_info_from_json(totals, &error);
    g_assert_no_error(error);
    g_assert_true(t->has_totals);
    g_assert_cmpint(t->bytes_in, ==, 1520);
    g_assert_cmpint(t->bytes_out, ==, 889344);
    g_assert_cmpint(t->frames_sent, ==, 412);
}

static void
test_crp_info_malformed(void)
{
    static const struct {
        const char *json;
        const char *names;
    } cases[] = {
        { "[]", "not an object" },
        { "{}", "enabled" },
        { "{\"enabled\": 1}", "enabled" },
        { "{\"enabled\": true, \"address\": 5}", "address" },
        { "{\"enabled\": true, \"clients\": {}}", "clients" },
        { "{\"enabled\": true, \"clients\": [7]}", "not an object" },
        { "{\"enabled\": true, \"clients\": [{\"id\": 1}]}", "address" },
        { "{\"enabled\": true, \"clients\": [{\"id\": 1, \"address\": \"unix:\", "
          "\"connected-since\": 1, \"bytes-in\": \"5\", \"bytes-out\": 1, "
          "\"frames-sent\": 1, \"fps\": 1, \"rtt-ms\": 1, \"input-latency-ms\": 1}]}",
          "bytes-in" },
        { "{\"enabled\": true, \"clients\": [{\"id\": 1, \"address\": \"unix:\", "
          "\"connected-since\": 1, \"bytes-in\": 5, \"bytes-out\": 1, "
          "\"frames-sent\": 1, \"fps\": \"fast\", \"rtt-ms\": 1, \"input-latency-ms\": 1}]}",
          "fps" },
        { "{\"enabled\": true, \"clients\": [{\"id\": 1.5, \"address\": \"unix:\"}]}", "id" },
        { "{\"enabled\": true, \"bytes-in\": 1}", "bytes-out" },
        { "{\"enabled\": true, \"bytes-in\": -1, \"bytes-out\": 1, "
          "\"frames-sent\": 1}", "bytes-in" },
        { "{\"enabled\": true, \"bytes-in\": 1, \"bytes-out\": 1, "
          "\"frames-sent\": \"x\"}", "frames-sent" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) node = json(cases[i].json);
        g_test_message("%s", cases[i].json);
        g_assert_null(crp_qmp_crp_info_from_json(node, &error));
        g_assert_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
        g_assert_nonnull(strstr(error->message, cases[i].names));
    }

    g_autoptr(GError) error = NULL;
    g_assert_null(crp_qmp_crp_info_from_json(NULL, &error));
    g_assert_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
    crp_qmp_crp_info_free(NULL);
}

/* ---- BLOCK_WRITE_THRESHOLD ------------------------------------------------------- */

/* @msg is valid while @parser lives and parses nothing else. */
static void
parse_event(CrpQmpParser *parser, const char *text, CrpQmpMessage *msg)
{
    g_autoptr(GError) error = NULL;

    crp_qmp_parser_feed(parser, text, strlen(text));
    crp_qmp_parser_feed(parser, "\n", 1);
    g_assert_cmpint(crp_qmp_parser_next(parser, msg, &error), ==, CRP_QMP_MSG_EVENT);
    g_assert_no_error(error);
}

static void
test_write_threshold_event(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage event;
    /* As QEMU 10.0.13 sent it when the test guest wrote to its disk. */
    parse_event(parser,
        "{\"timestamp\": {\"seconds\": 1796293349, \"microseconds\": 937088}, "
        "\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"node-name\": "
        "\"crp-overlay-file\", \"write-threshold\": 1048576, \"amount-exceeded\": 327680}}",
        &event);
    CrpQmpWriteThreshold wt = { 0 };

    g_assert_true(crp_qmp_write_threshold_from_event(&event, &wt, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(wt.node_name, ==, "crp-overlay-file");
    g_assert_cmpuint(wt.amount_exceeded, ==, 327680);
    g_assert_cmpuint(wt.write_threshold, ==, 1048576);

    static const char *const bad[] = {
        "{\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"amount-exceeded\": 1, "
        "\"write-threshold\": 2}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}",
        "{\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"node-name\": \"n\", "
        "\"amount-exceeded\": \"1\", \"write-threshold\": 2}, "
        "\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}",
        "{\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"node-name\": \"n\", "
        "\"amount-exceeded\": 1, \"write-threshold\": -2}, "
        "\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}",
        "{\"event\": \"BLOCK_WRITE_THRESHOLD\", "
        "\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        CrpQmpMessage m;
        g_test_message("%s", bad[i]);
        parse_event(parser, bad[i], &m);
        g_assert_false(crp_qmp_write_threshold_from_event(&m, &wt, &e));
        g_assert_error(e, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
    }
}

/* ---- BLOCK_IO_ERROR --------------------------------------------------------------- */

static void
test_block_io_error_event(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage event;
    CrpQmpBlockIoError e = { 0 };

    /* As QEMU 10.0.13 sent it when the guest wrote past its overlay's cap. */
    parse_event(parser,
        "{\"timestamp\": {\"seconds\": 1796294094, \"microseconds\": 586866}, "
        "\"event\": \"BLOCK_IO_ERROR\", \"data\": {\"device\": \"\", \"nospace\": true, "
        "\"node-name\": \"crp-overlay\", \"qom-path\": "
        "\"/machine/peripheral-anon/device[0]/virtio-backend\", \"reason\": "
        "\"No space left on device\", \"operation\": \"write\", \"action\": \"stop\"}}",
        &event);
    g_assert_true(crp_qmp_block_io_error_from_event(&event, &e, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(e.node_name, ==, "crp-overlay");
    g_assert_cmpstr(e.operation, ==, "write");
    g_assert_cmpstr(e.action, ==, "stop");
    g_assert_true(e.nospace);
    g_assert_cmpstr(e.reason, ==, "No space left on device");

    /* node-name and nospace are optional. */
    parse_event(parser,
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": "
        "\"BLOCK_IO_ERROR\", \"data\": {\"device\": \"ide0-hd0\", \"reason\": "
        "\"Input/output error\", \"operation\": \"read\", \"action\": \"report\"}}",
        &event);
    g_assert_true(crp_qmp_block_io_error_from_event(&event, &e, &error));
    g_assert_null(e.node_name);
    g_assert_false(e.nospace);
    g_assert_cmpstr(e.action, ==, "report");

    parse_event(parser,
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": "
        "\"BLOCK_IO_ERROR\", \"data\": {\"device\": \"\", \"nospace\": \"yes\", "
        "\"reason\": \"x\", \"operation\": \"write\", \"action\": \"stop\"}}",
        &event);
    g_assert_false(crp_qmp_block_io_error_from_event(&event, &e, &error));
    g_assert_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
    g_clear_error(&error);
    parse_event(parser,
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": "
        "\"BLOCK_IO_ERROR\", \"data\": {\"device\": \"\", \"reason\": \"x\", "
        "\"operation\": \"write\"}}",
        &event);
    g_assert_false(crp_qmp_block_io_error_from_event(&event, &e, &error));
    g_assert_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);
}

/* ---- every command, through a fake QEMU ----------------------------------------- */

static void
expect_args(FakeQmpServer *s, const char *command, const char *args_json, char **id)
{
    g_autoptr(JsonObject) args = NULL;
    *id = fake_qmp_expect(s, command, &args);
    if (!args_json) {
        g_assert_null(args);
        return;
    }
    g_assert_nonnull(args);
    g_autoptr(JsonNode) got = json_node_init_object(json_node_alloc(), args);
    g_autoptr(JsonNode) want = json(args_json);
    if (!json_node_equal(got, want)) {
        g_autofree char *text = json_to_string(got, FALSE);
        g_error("%s: arguments %s, expected %s", command, text, args_json);
    }
}

#define REPLY_OK "{\"return\": {}, \"id\": \"%s\"}"
#define EVENT(name) "{\"timestamp\": {\"seconds\": 1795635253, \"microseconds\": 700181}, " \
                    "\"event\": \"" name "\"}"

static void
script_all_commands(FakeQmpServer *s, gpointer data)
{
    char *id;

    fake_qmp_handshake(s);

    expect_args(s, "query-status", NULL, &id);
    fake_qmp_send(s, "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": \"%s\"}", id);
    g_free(id);
    expect_args(s, "query-status", NULL, &id);
    fake_qmp_send(s, "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": \"%s\"}", id);
    g_free(id);
    expect_args(s, "query-status", NULL, &id);
    fake_qmp_send(s, "{\"return\": {\"status\": 5, \"running\": true}, \"id\": \"%s\"}", id);
    g_free(id);

    expect_args(s, "query-crp", NULL, &id);
    fake_qmp_send(s, "{\"return\": " QUERY_CRP_ONE_CLIENT ", \"id\": \"%s\"}", id);
    g_free(id);
    expect_args(s, "query-crp", NULL, &id);
    fake_qmp_send(s, "{\"return\": {\"enabled\": \"yes\"}, \"id\": \"%s\"}", id);
    g_free(id);

    expect_args(s, "crp-set-ticket",
                "{\"ticket\": \"k3Xq9\", \"expires\": 60, \"connected\": \"disconnect\"}", &id);
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);
    expect_args(s, "crp-set-ticket", "{\"ticket\": \"t\", \"connected\": \"keep\"}", &id);
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);
    expect_args(s, "crp-set-ticket", "{\"ticket\": \"\"}", &id);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"GenericError\", "
                     "\"desc\": \"the ticket must not be empty\"}}", id);
    g_free(id);

    expect_args(s, "crp-disconnect", "{\"id\": 7}", &id);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"GenericError\", "
                     "\"desc\": \"no crp client with id 7\"}}", id);
    g_free(id);
    expect_args(s, "crp-disconnect", NULL, &id);
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);

    expect_args(s, "stop", NULL, &id);
    fake_qmp_send(s, EVENT("STOP"));
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);
    expect_args(s, "cont", NULL, &id);
    fake_qmp_send(s, EVENT("RESUME"));
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);

    expect_args(s, "block-set-write-threshold",
                "{\"node-name\": \"crp-overlay-file\", \"write-threshold\": 4194304}", &id);
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);
    /* As QEMU 10.0.13 answers a node it does not have. */
    expect_args(s, "block-set-write-threshold",
                "{\"node-name\": \"nope\", \"write-threshold\": 0}", &id);
    fake_qmp_send(s, "{\"id\": \"%s\", \"error\": {\"class\": \"GenericError\", "
                     "\"desc\": \"Device 'nope' not found\"}}", id);
    g_free(id);

    expect_args(s, "system_powerdown", NULL, &id);
    fake_qmp_send(s, EVENT("POWERDOWN"));
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);

    /* quit: the event, the reply, then QEMU is gone. */
    expect_args(s, "quit", NULL, &id);
    fake_qmp_send(s, "{\"timestamp\": {\"seconds\": 1795635255, \"microseconds\": 905755}, "
                     "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, "
                     "\"reason\": \"host-qmp-quit\"}}");
    fake_qmp_send(s, REPLY_OK, id);
    g_free(id);
}

#define N_SLOTS 16

typedef struct {
    guint ready;
    guint closed;
    guint seq;
    guint closed_seq;
    guint shutdown_seq;
    guint calls;
    /* one slot per command, in the order sent */
    GError *errors[N_SLOTS];
    guint seqs[N_SLOTS];
    gboolean running[2];
    char *status[2];
    CrpQmpCrpInfo *info;
} Run;

typedef struct {
    Run *run;
    guint slot;
} Slot;

static Slot *
slot(Run *run, guint i)
{
    static Slot slots[N_SLOTS];
    slots[i].run = run;
    slots[i].slot = i;
    return &slots[i];
}

static void
record(Slot *s, const GError *error)
{
    Run *run = s->run;
    g_assert_cmpuint(run->seqs[s->slot], ==, 0);
    run->seqs[s->slot] = ++run->seq;
    run->errors[s->slot] = error ? g_error_copy(error) : NULL;
    run->calls++;
}

static void
on_done(CrpQmpClient *client, const GError *error, gpointer data)
{
    record(data, error);
}

static void
on_status(CrpQmpClient *client, gboolean running, const char *status,
          const GError *error, gpointer data)
{
    Slot *s = data;
    record(s, error);
    if (s->slot < 2) {
        s->run->running[s->slot] = running;
        s->run->status[s->slot] = g_strdup(status);
    } else {
        g_assert_null(status);
    }
}

static void
on_crp_info(CrpQmpClient *client, const CrpQmpCrpInfo *info, const GError *error,
            gpointer data)
{
    Slot *s = data;
    record(s, error);
    g_assert_true((info == NULL) == (error != NULL));
    if (info) {
        g_assert_null(s->run->info);
        s->run->info = g_new0(CrpQmpCrpInfo, 1);
        s->run->info->enabled = info->enabled;
        s->run->info->address = g_strdup(info->address);
        s->run->info->n_clients = info->n_clients;
        s->run->info->clients = g_memdup2(info->clients, sizeof(*info->clients) * MAX(info->n_clients, 1));
        for (guint i = 0; i < info->n_clients; i++) {
            s->run->info->clients[i].address = g_strdup(info->clients[i].address);
        }
    }
}

static void
on_ready(CrpQmpClient *client, const GError *error, gpointer data)
{
    Run *run = data;
    g_assert_no_error(error);
    run->ready++;
}

static void
on_closed(CrpQmpClient *client, const GError *error, gpointer data)
{
    Run *run = data;
    run->closed++;
    run->closed_seq = ++run->seq;
}

static void
on_shutdown(CrpQmpClient *client, const CrpQmpMessage *event, gpointer data)
{
    Run *run = data;
    g_assert_cmpstr(json_object_get_string_member(event->data, "reason"), ==, "host-qmp-quit");
    run->shutdown_seq = ++run->seq;
}

static void
test_commands(void)
{
    FakeQmpServer *server = fake_qmp_server_new(script_all_commands, NULL, 0);
    static const CrpQmpEventHandler events[] = { { "SHUTDOWN", on_shutdown } };
    Run run = { 0 };
    CrpQmpClientConfig cfg = {
        .ready = on_ready, .closed = on_closed,
        .events = events, .n_events = G_N_ELEMENTS(events),
        .connect_timeout_ms = 5000, .command_timeout_ms = 5000,
        .user_data = &run,
    };

    CrpQmpClient *client = crp_qmp_client_connect(fake_qmp_server_path(server), &cfg);
    qmp_test_run_until(&run.ready, 1, 5000);

    crp_qmp_query_status(client, on_status, slot(&run, 0));
    crp_qmp_query_status(client, on_status, slot(&run, 1));
    crp_qmp_query_status(client, on_status, slot(&run, 2));
    crp_qmp_query_crp(client, on_crp_info, slot(&run, 3));
    crp_qmp_query_crp(client, on_crp_info, slot(&run, 4));
    crp_qmp_crp_set_ticket(client, "k3Xq9", 60, CRP_QMP_TICKET_CONNECTED_DISCONNECT,
                           on_done, slot(&run, 5));
    crp_qmp_crp_set_ticket(client, "t", 0, CRP_QMP_TICKET_CONNECTED_KEEP, on_done, slot(&run, 6));
    crp_qmp_crp_set_ticket(client, "", 0, CRP_QMP_TICKET_CONNECTED_DEFAULT, on_done, slot(&run, 7));
    crp_qmp_crp_disconnect(client, 7, on_done, slot(&run, 8));
    crp_qmp_crp_disconnect(client, -1, on_done, slot(&run, 9));
    crp_qmp_stop(client, on_done, slot(&run, 10));
    crp_qmp_cont(client, on_done, slot(&run, 11));
    crp_qmp_block_set_write_threshold(client, "crp-overlay-file", 4 << 20, on_done,
                                      slot(&run, 12));
    crp_qmp_block_set_write_threshold(client, "nope", 0, on_done, slot(&run, 13));
    crp_qmp_system_powerdown(client, on_done, slot(&run, 14));
    crp_qmp_quit(client, on_done, slot(&run, 15));
    qmp_test_run_until(&run.closed, 1, 10000);
    fake_qmp_server_free(server);

    g_assert_cmpuint(run.calls, ==, N_SLOTS);
    for (guint i = 1; i < N_SLOTS; i++) {
        g_assert_cmpuint(run.seqs[i - 1], <, run.seqs[i]);
    }

    g_assert_no_error(run.errors[0]);
    g_assert_true(run.running[0]);
    g_assert_cmpstr(run.status[0], ==, "running");
    g_assert_no_error(run.errors[1]);
    g_assert_false(run.running[1]);
    g_assert_cmpstr(run.status[1], ==, "paused");
    g_assert_error(run.errors[2], CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);

    g_assert_no_error(run.errors[3]);
    g_assert_true(run.info->enabled);
    g_assert_cmpuint(run.info->n_clients, ==, 1);
    g_assert_cmpint(run.info->clients[0].frames_sent, ==, 155);
    g_assert_error(run.errors[4], CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL);

    g_assert_no_error(run.errors[5]);
    g_assert_no_error(run.errors[6]);
    g_assert_error(run.errors[7], CRP_QMP_ERROR, CRP_QMP_ERROR_GENERIC);
    g_assert_cmpstr(run.errors[7]->message, ==, "the ticket must not be empty");
    g_assert_error(run.errors[8], CRP_QMP_ERROR, CRP_QMP_ERROR_GENERIC);
    g_assert_no_error(run.errors[9]);
    g_assert_no_error(run.errors[10]);
    g_assert_no_error(run.errors[11]);
    g_assert_no_error(run.errors[12]);
    g_assert_error(run.errors[13], CRP_QMP_ERROR, CRP_QMP_ERROR_GENERIC);
    g_assert_cmpstr(run.errors[13]->message, ==, "Device 'nope' not found");
    g_assert_no_error(run.errors[14]);

    /* quit: SHUTDOWN, the reply, then the loss of the connection. */
    g_assert_no_error(run.errors[15]);
    g_assert_cmpuint(run.shutdown_seq, <, run.seqs[15]);
    g_assert_cmpuint(run.seqs[15], <, run.closed_seq);
    g_assert_cmpuint(run.closed, ==, 1);

    crp_qmp_client_destroy(client);
    for (guint i = 0; i < N_SLOTS; i++) {
        g_clear_error(&run.errors[i]);
    }
    g_free(run.status[0]);
    g_free(run.status[1]);
    crp_qmp_crp_info_free(run.info);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-commands/crp-info-parse", test_crp_info_parse);
    g_test_add_func("/qmp-commands/crp-info-disabled-and-empty", test_crp_info_disabled_and_empty);
    g_test_add_func("/qmp-commands/crp-info-malformed", test_crp_info_malformed);
    g_test_add_func("/qmp-commands/write-threshold-event", test_write_threshold_event);
    g_test_add_func("/qmp-commands/block-io-error-event", test_block_io_error_event);
    g_test_add_func("/qmp-commands/all", test_commands);
    return g_test_run();
}
