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

typedef struct {
    guint ready;
    guint closed;
    guint seq;
    guint closed_seq;
    guint shutdown_seq;
    guint calls;
    /* one slot per command, in the order sent */
    GError *errors[12];
    guint seqs[12];
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
    static Slot slots[12];
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
    crp_qmp_system_powerdown(client, on_done, slot(&run, 10));
    crp_qmp_quit(client, on_done, slot(&run, 11));
    qmp_test_run_until(&run.closed, 1, 10000);
    fake_qmp_server_free(server);

    g_assert_cmpuint(run.calls, ==, 12);
    for (guint i = 1; i < 12; i++) {
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

    /* quit: SHUTDOWN, the reply, then the loss of the connection. */
    g_assert_no_error(run.errors[11]);
    g_assert_cmpuint(run.shutdown_seq, <, run.seqs[11]);
    g_assert_cmpuint(run.seqs[11], <, run.closed_seq);
    g_assert_cmpuint(run.closed, ==, 1);

    crp_qmp_client_destroy(client);
    for (guint i = 0; i < 12; i++) {
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
    g_test_add_func("/qmp-commands/all", test_commands);
    return g_test_run();
}
