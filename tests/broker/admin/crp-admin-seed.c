/*
 * crp-admin-seed.c: puts rows into a broker store through the store API,
 * for test-crp-admin.py (what the daemon would write: sessions, overlays,
 * usage). One operation per run:
 *
 *   crp-admin-seed DB session ID USER APP STATE STARTED
 *       creates a session (vcpus and memory from the app) started at
 *       STARTED (Unix seconds), then moves it to STATE (starting, running,
 *       closing)
 *   crp-admin-seed DB close ID ENDED
 *   crp-admin-seed DB overlay PATH USER APP BYTES
 *   crp-admin-seed DB usage SESSION USER APP STARTED ENDED VCPU_S MIB_S
 *       BYTES_IN BYTES_OUT FRAMES
 *   crp-admin-seed DB login PUBLIC_KEY_BASE64
 *       prints the daemon's login check for the key: ok, unknown-key or
 *       key-revoked
 *
 * Exits 0 on success, 1 with the store's message on failure.
 */
#include "crp-store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gint64 fixed_now;

static gint64
fixed_clock(gpointer data)
{
    return fixed_now;
}

static guint64
num(const char *text)
{
    guint64 v = 0;
    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64, &v, NULL)) {
        fprintf(stderr, "crp-admin-seed: '%s' is not a number\n", text);
        exit(2);
    }
    return v;
}

static CrpStoreSessionState
state(const char *name)
{
    if (g_str_equal(name, "starting")) {
        return CRP_STORE_SESSION_STARTING;
    } else if (g_str_equal(name, "running")) {
        return CRP_STORE_SESSION_RUNNING;
    } else if (g_str_equal(name, "closing")) {
        return CRP_STORE_SESSION_CLOSING;
    }
    fprintf(stderr, "crp-admin-seed: bad state '%s'\n", name);
    exit(2);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStore) store = NULL;
    gboolean ok = FALSE;

    if (argc < 3) {
        fprintf(stderr, "usage: crp-admin-seed DB OPERATION ARGS...\n");
        return 2;
    }
    store = crp_store_open(argv[1], &error);
    if (!store) {
        fprintf(stderr, "crp-admin-seed: %s\n", error->message);
        return 1;
    }
    const char *op = argv[2];
    char **a = argv + 3;
    int n = argc - 3;

    if (g_str_equal(op, "session") && n == 5) {
        CrpStoreSession init = { .id = a[0], .user = a[1], .app = a[2] };
        fixed_now = (gint64)num(a[4]);
        crp_store_set_clock(store, fixed_clock, NULL);
        g_autoptr(CrpStoreSession) s = crp_store_session_create(store, &init,
                                                                &error);
        ok = s && crp_store_session_set_state(store, a[0], state(a[3]),
                                              &error);
    } else if (g_str_equal(op, "close") && n == 2) {
        ok = crp_store_session_close(store, a[0], (gint64)num(a[1]), &error);
    } else if (g_str_equal(op, "overlay") && n == 4) {
        ok = crp_store_overlay_set(store, a[0], a[1], a[2], num(a[3]), &error);
    } else if (g_str_equal(op, "usage") && n == 10) {
        CrpStoreUsage u = {
            .session_id = a[0], .user = a[1], .app = a[2],
            .started = (gint64)num(a[3]), .ended = (gint64)num(a[4]),
            .vcpu_seconds = num(a[5]), .mib_seconds = num(a[6]),
            .bytes_in = num(a[7]), .bytes_out = num(a[8]), .frames = num(a[9]),
        };
        u.duration_s = (guint64)(u.ended - u.started);
        ok = crp_store_usage_add(store, &u, NULL, &error);
    } else if (g_str_equal(op, "login") && n == 1) {
        gsize len = 0;
        g_autofree guint8 *key = g_base64_decode(a[0], &len);
        CrpStoreLogin result;
        if (len != CRP_STORE_KEY_LEN) {
            fprintf(stderr, "crp-admin-seed: not a 32-byte key\n");
            return 2;
        }
        ok = crp_store_user_get_by_key(store, key, &result, NULL, &error);
        if (ok) {
            printf("%s\n", result == CRP_STORE_LOGIN_OK ? "ok"
                          : result == CRP_STORE_LOGIN_UNKNOWN_KEY
                              ? "unknown-key" : "key-revoked");
        }
    } else {
        fprintf(stderr, "crp-admin-seed: bad operation or argument count\n");
        return 2;
    }
    if (!ok) {
        fprintf(stderr, "crp-admin-seed: %s\n", error->message);
        return 1;
    }
    return 0;
}
