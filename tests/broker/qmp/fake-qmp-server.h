/*
 * fake-qmp-server.h: a scripted QMP server for the client tests.
 *
 * It listens on a unix socket in a fresh temporary directory and runs a
 * script in a thread of its own with blocking I/O, so a script reads
 * like the conversation it plays:
 *
 *     static void script(FakeQmpServer *s, gpointer data) {
 *         fake_qmp_handshake(s);
 *         g_autofree char *id = fake_qmp_expect(s, "query-status", NULL);
 *         fake_qmp_send(s, "{\"return\": {\"running\": true, \"status\": \"running\"}, "
 *                          "\"id\": \"%s\"}", id);
 *     }
 *
 * Assertions in a script abort the test program, as failures should.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

typedef struct FakeQmpServer FakeQmpServer;
typedef void (*FakeQmpScript)(FakeQmpServer *server, gpointer data);

/* The greeting of QEMU 10.0.13, as it sends it. */
#define FAKE_QMP_GREETING \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 13, \"minor\": 0, \"major\": 10}, " \
    "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}"

/* Starts listening (after @delay_ms, in the thread) and runs @script on
 * the first connection; the connection closes when the script returns. */
FakeQmpServer *fake_qmp_server_new(FakeQmpScript script, gpointer data, guint delay_ms);
const char *fake_qmp_server_path(FakeQmpServer *server);
/* Waits for the script to end, then removes the socket and directory. */
void fake_qmp_server_free(FakeQmpServer *server);

/* ---- for scripts ---- */

/* Sends a printf-formatted line; "\r\n" is added, as QEMU does. */
void fake_qmp_send(FakeQmpServer *server, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void fake_qmp_send_raw(FakeQmpServer *server, const void *data, gsize len);
/* Reads the next command; asserts it is @command (and has no other
 * members than execute, arguments, id). Returns its id; *arguments gets
 * its arguments (NULL if none) if asked for. */
char *fake_qmp_expect(FakeQmpServer *server, const char *command, JsonObject **arguments);
/* Greeting, then qmp_capabilities answered. */
void fake_qmp_handshake(FakeQmpServer *server);
/* Reads until the client closes; TRUE if it did within @timeout_ms
 * (anything it sends meanwhile is dropped). */
gboolean fake_qmp_wait_eof(FakeQmpServer *server, guint timeout_ms);
/* Closes the connection now (the script may go on, e.g. to wait). */
void fake_qmp_close(FakeQmpServer *server);
