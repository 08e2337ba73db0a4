/*
 * bench-broker-client: the client side of tests/bench/bench-broker.
 *
 *     bench-broker-client KEY_FILE ADDRESS LOGINS OPS
 *
 * Logs in LOGINS times one after another (a full Noise IK handshake each,
 * through crp-client's own broker client), then runs OPS catalog requests
 * (CATALOG_LIST, MY_APPS, SUBSCRIBE + UNSUBSCRIBE, in turn) one at a time
 * on one connection, and prints JSON: logins per second and per-request
 * latency percentiles. Wall-clock time: the machine is shared, so compare
 * runs side by side, not across days.
 */
#include <stdio.h>
#include <stdlib.h>
#include "crp-broker-client.h"

typedef struct {
    GMainLoop *loop;
    const char *key, *address;
    int logins_left, ops_left, op;
    gint64 t0, op_start;
    double login_s;
    GArray *latencies_us[3];        /* catalog, my apps, subscribe pair */
    CrpBrokerClient *client;
    GError *error;
} Bench;

static void next_login(Bench *b);
static void next_op(Bench *b);

static void
fail(Bench *b, GError *error)
{
    b->error = error;
    g_main_loop_quit(b->loop);
}

static void
op_done(Bench *b)
{
    gint64 dt = g_get_monotonic_time() - b->op_start;
    g_array_append_val(b->latencies_us[b->op % 3], dt);
    b->op++;
    next_op(b);
}

static void
on_list(GObject *src, GAsyncResult *res, gpointer data)
{
    Bench *b = data;
    GError *error = NULL;
    GPtrArray *apps = crp_broker_client_list_apps_finish(b->client, res, &error);

    if (!apps) {
        fail(b, error);
        return;
    }
    g_ptr_array_unref(apps);
    op_done(b);
}

static void
on_unsubscribed(GObject *src, GAsyncResult *res, gpointer data)
{
    Bench *b = data;
    GError *error = NULL;

    if (!crp_broker_client_subscribe_finish(b->client, res, &error)) {
        fail(b, error);
        return;
    }
    op_done(b);
}

static void
on_subscribed(GObject *src, GAsyncResult *res, gpointer data)
{
    Bench *b = data;
    GError *error = NULL;

    if (!crp_broker_client_subscribe_finish(b->client, res, &error)) {
        fail(b, error);
        return;
    }
    crp_broker_client_subscribe_async(b->client, "app-1", FALSE, NULL,
                                      on_unsubscribed, b);
}

static void
next_op(Bench *b)
{
    if (b->ops_left-- == 0) {
        g_main_loop_quit(b->loop);
        return;
    }
    b->op_start = g_get_monotonic_time();
    switch (b->op % 3) {
    case 0:
        crp_broker_client_list_apps_async(b->client, FALSE, NULL, on_list, b);
        break;
    case 1:
        crp_broker_client_list_apps_async(b->client, TRUE, NULL, on_list, b);
        break;
    default:
        crp_broker_client_subscribe_async(b->client, "app-1", TRUE, NULL,
                                          on_subscribed, b);
        break;
    }
}

static void
on_logged_in(GObject *src, GAsyncResult *res, gpointer data)
{
    Bench *b = data;
    GError *error = NULL;
    CrpBrokerClient *client = crp_broker_client_connect_finish(res, &error);

    if (!client) {
        fail(b, error);
        return;
    }
    if (--b->logins_left > 0) {
        crp_broker_client_free(client);
        next_login(b);
        return;
    }
    b->login_s = (g_get_monotonic_time() - b->t0) / 1e6;
    b->client = client;
    next_op(b);
}

static void
next_login(Bench *b)
{
    crp_broker_client_connect_async(b->key, b->address, NULL, on_logged_in, b);
}

static int
cmp_i64(const void *x, const void *y)
{
    gint64 a = *(const gint64 *)x, c = *(const gint64 *)y;
    return (a > c) - (a < c);
}

static double
percentile_ms(GArray *a, double p)
{
    if (a->len == 0) {
        return 0;
    }
    qsort(a->data, a->len, sizeof(gint64), cmp_i64);
    guint i = MIN((guint)(p * a->len), a->len - 1);
    return g_array_index(a, gint64, i) / 1000.0;
}

int
main(int argc, char **argv)
{
    static const char *const names[] = { "catalog_list", "my_apps",
                                         "subscribe_unsubscribe" };
    Bench b = { 0 };
    int logins;

    if (argc != 5) {
        fprintf(stderr, "usage: %s KEY_FILE ADDRESS LOGINS OPS\n", argv[0]);
        return 2;
    }
    b.key = argv[1];
    b.address = argv[2];
    logins = b.logins_left = MAX(atoi(argv[3]), 1);
    b.ops_left = MAX(atoi(argv[4]), 0);
    for (int i = 0; i < 3; i++) {
        b.latencies_us[i] = g_array_new(FALSE, FALSE, sizeof(gint64));
    }
    b.loop = g_main_loop_new(NULL, FALSE);
    b.t0 = g_get_monotonic_time();
    next_login(&b);
    g_main_loop_run(b.loop);
    if (b.error) {
        fprintf(stderr, "bench-broker-client: %s\n", b.error->message);
        return 1;
    }
    printf("{\n  \"logins\": %d,\n  \"logins_per_s\": %.1f,\n", logins,
           logins / b.login_s);
    for (int i = 0; i < 3; i++) {
        printf("  \"%s\": { \"n\": %u, \"p50_ms\": %.3f, \"p99_ms\": %.3f }%s\n",
               names[i], b.latencies_us[i]->len,
               percentile_ms(b.latencies_us[i], 0.50),
               percentile_ms(b.latencies_us[i], 0.99), i < 2 ? "," : "");
        g_array_unref(b.latencies_us[i]);
    }
    printf("}\n");
    crp_broker_client_free(b.client);
    g_main_loop_unref(b.loop);
    return 0;
}
