/*
 * crp-client-main.c: crp-client's entry point.
 *
 *   crp-client [--key FILE] [--broker ADDRESS] [crp://broker/app]
 *                               log in to a broker, pick apps (default)
 *   crp-client --connect unix:/path|tcp:host:port --ticket-file FILE
 *                               direct mode: one VM's display, no broker
 *   crp-client --headless ...   crp-headless, for scripts (its --help)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-client.h"

#include <crp/crp-secret-file.h>
#include "crp-session-window.h"
#include "headless.h"

#include <string.h>

typedef struct {
    CrpClientOptions opts;
    int exit_code;
} Client;

/* ---- direct mode ----------------------------------------------------- */

static gboolean on_direct_disconnected(CrpSessionWindow *win, int end,
                                       const char *message, gpointer data)
{
    Client *client = data;
    /* No broker to ask for a new ticket: the window tells the user. */
    client->exit_code = 1;
    return FALSE;
}

static void start_direct(GtkApplication *app, Client *client)
{
    g_autoptr(GError) error = NULL;
    char *ticket = NULL;

    if (client->opts.ticket_file) {
        ticket = crp_secret_file_read(client->opts.ticket_file, &error);
    } else {
        ticket = g_strdup("");  /* a server in no-ticket mode (unix only) */
    }
    g_autofree char *title = g_strdup_printf("%s — CRP", client->opts.connect);
    CrpSessionWindow *win = crp_session_window_new(app, title,
                                                   !client->opts.one_to_one);
    /* Direct mode remembers a window per address. */
    crp_session_window_remember_as(win, client->opts.connect);
    g_signal_connect(win, "disconnected", G_CALLBACK(on_direct_disconnected), client);
    if (!ticket || !crp_session_window_connect(win, client->opts.connect, ticket, &error)) {
        client->exit_code = 1;
        crp_session_window_fail(win, ticket ? "Cannot connect" : "Cannot read the ticket",
                                error->message);
    }
    if (client->opts.fullscreen) {
        gtk_window_fullscreen(GTK_WINDOW(win));
    }
    crp_secret_free(ticket);
}

/* ---- application ----------------------------------------------------- */

static void on_activate(GtkApplication *app, gpointer data)
{
    Client *client = data;

    if (client->opts.connect) {
        start_direct(app, client);
    } else {
        crp_client_start_broker(app, &client->opts);
    }
}

static gboolean parse_options(int *argc, char ***argv, CrpClientOptions *o,
                              GError **error)
{
    GOptionEntry entries[] = {
        { "connect", 0, 0, G_OPTION_ARG_STRING, &o->connect,
          "Direct mode: the VM's display address", "unix:/PATH|tcp:HOST:PORT" },
        { "ticket-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ticket_file,
          "Direct mode: the file holding the one-time ticket (mode 0600)", "FILE" },
        { "key", 0, 0, G_OPTION_ARG_FILENAME, &o->key_file,
          "The user key file (remembered for next time)", "FILE" },
        { "broker", 0, 0, G_OPTION_ARG_STRING, &o->broker,
          "The broker's address, instead of the key file's", "ADDRESS" },
        { "one-to-one", 0, 0, G_OPTION_ARG_NONE, &o->one_to_one,
          "Show the guest's screen 1:1 rather than scaled to the window", NULL },
        { "fullscreen", 0, 0, G_OPTION_ARG_NONE, &o->fullscreen,
          "Open the session fullscreen", NULL },
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->uris,
          NULL, "[crp://BROKER/APP]" },
        { NULL },
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_option_context_set_summary(context,
        "Open apps streamed from virtual machines.\n\n"
        "With --headless as the first option, runs crp-headless (see "
        "crp-client --headless --help).");
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, error)) {
        return FALSE;
    }
    if (o->ticket_file && !o->connect) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--ticket-file goes with --connect");
        return FALSE;
    }
    if (o->uris && o->uris[0] && o->uris[1]) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "one crp:// link at a time");
        return FALSE;
    }
    if (o->uris && o->uris[0] && o->connect) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "a crp:// link is for broker mode, not --connect");
        return FALSE;
    }
    return TRUE;
}

static void options_clear(CrpClientOptions *o)
{
    g_free(o->connect);
    g_free(o->ticket_file);
    g_free(o->key_file);
    g_free(o->broker);
    g_strfreev(o->uris);
}

int main(int argc, char **argv)
{
    /* --headless anywhere: the whole of crp-headless, without GTK. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--headless") == 0) {
            memmove(&argv[i], &argv[i + 1], (argc - i) * sizeof(char *));
            return hl_main(argc - 1, argv);
        }
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }

    Client client = { 0 };
    g_autoptr(GError) error = NULL;
    crp_display_link_set_software("crp-client " CRP_VERSION);
    if (!parse_options(&argc, &argv, &client.opts, &error)) {
        g_printerr("crp-client: %s\n", error->message);
        options_clear(&client.opts);
        return 1;
    }
    g_set_application_name("CRP");
    /* NON_UNIQUE: every invocation is its own client (sessions, tests). */
    g_autoptr(GtkApplication) app = gtk_application_new(CRP_CLIENT_APP_ID,
                                                        G_APPLICATION_NON_UNIQUE);
    g_signal_connect(app, "activate", G_CALLBACK(on_activate), &client);
    char *no_args[] = { argv[0], NULL };
    int status = g_application_run(G_APPLICATION(app), 1, no_args);
    options_clear(&client.opts);
    return status ? status : client.exit_code;
}
