/*
 * headless-main.c: crp-headless's options, the session and its outputs.
 *
 *   crp-headless --connect unix:/path|tcp:host:port
 *                (--ticket-file F | --ticket T | --no-ticket) [options]
 *                [--script FILE | --run 'cmd; cmd; ...']
 *   crp-headless --key KEY_FILE (--open APP [--subscribe] | --attach SESSION)
 *                [--broker ADDRESS] [options] [--script ... | --run ...]
 *   crp-headless --key KEY_FILE [--broker ADDRESS] (--script | --run) with
 *                only My files commands (files-*, sleep, quit)
 *
 * The second form goes through a broker (headless-broker.c): it logs in,
 * launches the app or gets a fresh ticket for a running session, prints
 * "session ID" on stdout and attaches through the broker's gateway.
 *
 * Without a script it runs until --timeout or until the server ends the
 * session; with one, until the script ends (then it says BYE). Outputs
 * (--screenshot, --record, --stats) are written at exit whatever the
 * outcome, since a failed run is exactly when one wants to look at them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"
#include <crp/crp-clipboard.h>
#include <crp/crp-secret-file.h>

#include <crp/crp-png.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_TIMEOUT_S 60


typedef struct {
    char *connect;
    char *key;
    char *broker;
    char *open;
    char *attach;
    gboolean subscribe;
    char *ticket;
    char *ticket_file;
    gboolean no_ticket;
    char *record;
    char *record_frames;
    char *disable;
    char *stats;
    char *screenshot;
    int timeout_s;
    char *script_file;
    char *run;
    gboolean verbose;
} Options;

static void options_clear(Options *o)
{
    g_free(o->connect);
    g_free(o->key);
    g_free(o->broker);
    g_free(o->open);
    g_free(o->attach);
    if (o->ticket) {
        memset(o->ticket, 0, strlen(o->ticket));
    }
    g_free(o->ticket);
    g_free(o->ticket_file);
    g_free(o->record);
    g_free(o->record_frames);
    g_free(o->disable);
    g_free(o->stats);
    g_free(o->screenshot);
    g_free(o->script_file);
    g_free(o->run);
}

/* The capabilities left after --disable's list. */
static gboolean offer_capabilities(const char *disable, GError **error)
{
    static const struct {
        const char *name;
        guint32 cap;
    } caps[] = {
        { "zlib", CRP_CAP_ZLIB }, { "jpeg", CRP_CAP_JPEG },
        { "zstd", CRP_CAP_ZSTD }, { "h264", CRP_CAP_H264 },
        { "audio-out", CRP_CAP_AUDIO_OUT },
        { "audio-in", CRP_CAP_AUDIO_IN }, { "cursor", CRP_CAP_CURSOR },
        { "resize", CRP_CAP_RESIZE }, { "clipboard", CRP_CAP_CLIPBOARD },
    };
    g_auto(GStrv) names = g_strsplit(disable, ",", -1);
    guint32 offer = CRP_CAP_DISPLAY_ALL;

    for (char **n = names; *n; n++) {
        gsize i = 0;
        while (i < G_N_ELEMENTS(caps) && strcmp(caps[i].name, g_strstrip(*n))) {
            i++;
        }
        if (i == G_N_ELEMENTS(caps)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--disable: no capability '%s'", *n);
            return FALSE;
        }
        offer &= ~caps[i].cap;
    }
    if (!offer) {
        /* 0 would mean "all" to the viewer. */
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--disable: a client offers at least one capability");
        return FALSE;
    }
    crp_display_link_set_capabilities(offer);
    return TRUE;
}

static gboolean parse_options(Options *o, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        /* FILENAME everywhere: taken as given, not converted from the
         * locale's charset (which fails for UTF-8 text under LANG=C). */
        { "connect", 0, 0, G_OPTION_ARG_FILENAME, &o->connect,
          "Server address: unix:/path or tcp:host:port", "ADDRESS" },
        { "key", 0, 0, G_OPTION_ARG_FILENAME, &o->key,
          "Broker mode: log in with this user key file", "FILE" },
        { "broker", 0, 0, G_OPTION_ARG_FILENAME, &o->broker,
          "Broker mode: the broker's address (default: the key file's)", "ADDRESS" },
        { "open", 0, 0, G_OPTION_ARG_FILENAME, &o->open,
          "Broker mode: launch APP and attach to it", "APP" },
        { "subscribe", 0, 0, G_OPTION_ARG_NONE, &o->subscribe,
          "Broker mode: subscribe to the app before opening it", NULL },
        { "attach", 0, 0, G_OPTION_ARG_FILENAME, &o->attach,
          "Broker mode: attach again to a running SESSION", "SESSION" },
        { "ticket", 0, 0, G_OPTION_ARG_FILENAME, &o->ticket,
          "One-time display ticket (others can see it: prefer --ticket-file)",
          "TICKET" },
        { "ticket-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ticket_file,
          "Read the ticket from FILE (mode 0600 or stricter)", "FILE" },
        { "no-ticket", 0, 0, G_OPTION_ARG_NONE, &o->no_ticket,
          "The server runs without tickets (unix sockets only)", NULL },
        { "record", 0, 0, G_OPTION_ARG_FILENAME, &o->record,
          "Record all playback audio to FILE.wav", "FILE" },
        { "record-frames", 0, 0, G_OPTION_ARG_FILENAME, &o->record_frames,
          "Record every presented frame to FILE (for bench-encode --replay)", "FILE" },
        { "disable", 0, 0, G_OPTION_ARG_STRING, &o->disable,
          "Do not offer these capabilities (zlib,jpeg,zstd,h264,audio-out,audio-in,"
          "cursor,resize,clipboard), as a simpler client would (clipboard: "
          "mute the shared clipboard)", "LIST" },
        { "stats", 0, 0, G_OPTION_ARG_FILENAME, &o->stats,
          "Write the session's statistics to FILE.json at exit", "FILE" },
        { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &o->screenshot,
          "Write the framebuffer to FILE.png at exit", "FILE" },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &o->timeout_s,
          "End after SECONDS (default 60, 0: never); an unfinished script fails", "SECONDS" },
        { "script", 0, 0, G_OPTION_ARG_FILENAME, &o->script_file,
          "Run the commands in FILE", "FILE" },
        { "run", 0, 0, G_OPTION_ARG_FILENAME, &o->run,
          "Run these ';'-separated commands", "COMMANDS" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose,
          "Log progress to stderr", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- headless CRP display client");
    int tickets;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Script commands (one per line or ';'-separated, '#' comments):\n"
        "  wait-frames N | wait-surface [W H [TIMEOUT_MS]] | sleep MS | stall MS\n"
        "  screenshot PATH\n"
        "  key KEY | keydown KEY | keyup KEY | type TEXT  (KEY: evdev code or name)\n"
        "  move X Y | click X Y [left|middle|right] | wheel DY | resize W H\n"
        "  mic PATH.wav | record-start PATH.wav | record-stop\n"
        "  wait-pixel X Y RRGGBB [TIMEOUT_MS] | wait-change X Y W H [TIMEOUT_MS]\n"
        "  wait-cursor X Y [TIMEOUT_MS] | save-cursor PATH.pam\n"
        "  expect-audio FREQ [TOLERANCE_HZ] | close-app | quit\n"
        "  clipboard-set TEXT | clipboard-fill BYTES\n"
        "  expect-clipboard TIMEOUT_MS TEXT\n"
        "  expect-clipboard-refused TIMEOUT_MS [none|too-large|off]\n"
        "  clipboard-set-png FILE | expect-clipboard-png TIMEOUT_MS FILE\n"
        "Broker mode, My files (also without --open/--attach):\n"
        "  files-list [DIR] | files-upload [--stop-after BYTES] LOCAL REMOTE\n"
        "  files-download REMOTE LOCAL | files-delete REMOTE\n"
        "  each takes --expect-error bad-request|quota-exceeded|no-such-file|\n"
        "  internal (it must be refused so) and --unchecked (send the path\n"
        "  as written, to test the broker's own checks)\n"
        "Waits time out after 10000 ms unless given; the tolerance is 10 Hz.\n"
        "type takes the rest of the command: \\n is Enter, \\; a ';'.\n"
        "\n"
        "Exit status: 0 ok, 1 usage or I/O error, 2 authentication refused,\n"
        "3 protocol error, 4 the server ended the session unexpectedly,\n"
        "5 a script expectation failed or timed out, 6 the broker refused\n"
        "(no capacity, quota, not subscribed, no such app or session).\n");
    o->timeout_s = DEFAULT_TIMEOUT_S;
    if (!g_option_context_parse(ctx, argc, argv, error)) {
        return FALSE;
    }
    tickets = (o->ticket != NULL) + (o->ticket_file != NULL) + o->no_ticket;
    if (*argc > 1) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "unexpected argument '%s'", (*argv)[1]);
    } else if (!o->connect == !o->key) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "give --connect (direct) or --key (broker mode)");
    } else if (o->key && o->open && o->attach) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "give --open APP or --attach SESSION, not both");
    } else if (o->key && !o->open && !o->attach && !o->script_file && !o->run) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "broker mode needs --open APP or --attach "
                            "SESSION, or a script of My files commands");
    } else if (o->key && tickets != 0) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "broker mode gets its ticket from the broker");
    } else if (!o->key && (o->broker || o->open || o->attach || o->subscribe)) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "--broker, --open, --attach and --subscribe need --key");
    } else if (o->subscribe && !o->open) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "--subscribe goes with --open");
    } else if (o->connect && tickets != 1) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "give exactly one of --ticket, --ticket-file, "
                            "--no-ticket");
    } else if (o->script_file && o->run) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "give --script or --run, not both");
    } else if (o->timeout_s < 0) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "--timeout must be >= 0");
    } else {
        return TRUE;
    }
    return FALSE;
}

/*
 * --ticket T puts the ticket in /proc/PID/cmdline, which every local user
 * can read (ps shows it). Once the options are parsed, blank it there: the
 * strings of the original argv are that memory. It stays visible from
 * exec until now, which is why --ticket-file is the way to pass it.
 */
static void scrub_ticket_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *value = NULL;

        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strcmp(argv[i], "--ticket") == 0 && i + 1 < argc) {
            value = argv[++i];
        } else if (g_str_has_prefix(argv[i], "--ticket=")) {
            value = argv[i] + strlen("--ticket=");
        }
        if (value) {
            memset(value, 0, strlen(value));
        }
    }
}

/*
 * Ends the session with @code (the first call wins): says goodbye to the
 * server, then the main loop ends. @fmt NULL for a quiet success.
 */
static void G_GNUC_PRINTF(3, 4)
app_finish(HlApp *app, int code, const char *fmt, ...)
{
    va_list ap;

    if (app->finishing) {
        return;
    }
    app->finishing = TRUE;
    app->exit_code = code;
    if (fmt) {
        va_start(ap, fmt);
        app->exit_message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    if (app->runner) {
        hl_runner_stop(app->runner);
    }
    hl_log("finishing (exit %d)", code);
    if (!app->conn) {
        /* Still in the broker phase: nothing to say goodbye on. */
        g_main_loop_quit(app->loop);
        return;
    }
    crp_display_link_close(app->conn, code == HL_EXIT_OK ? "done" :
                                   app->exit_message);
}

/* Hands the viewer's decoded playback to app->playback; returns the
 * server's channel count (from AUDIO_FORMAT). */
static int app_pump_audio(HlApp *app)
{
    g_autoptr(GError) error = NULL;
    gsize n;
    int channels;

    if (!app->conn) {
        return 0;
    }
    g_autofree gint16 *pcm =
        crp_viewer_take_audio(crp_display_link_get_viewer(app->conn), &n, &channels);

    if (!hl_playback_add(app->playback, pcm, n, channels, &error)) {
        app_finish(app, HL_EXIT_ERROR, "%s", error->message);
    }
    return channels;
}

static void on_runner_finish(HlApp *app, int code, const char *message)
{
    app_finish(app, code, message ? "%s" : NULL, message);
}

static const HlRunnerEvents runner_events = {
    .finish = on_runner_finish,
    .pump_audio = app_pump_audio,
};

static void on_ready(gpointer data, guint32 capabilities)
{
    HlApp *app = data;

    app->capabilities = capabilities;
    hl_log("session ready, capabilities 0x%02x", capabilities);
    if (app->runner) {
        hl_runner_start(app->runner);
    }
}

static void on_surface(gpointer data, int width, int height)
{
    HlApp *app = data;

    hl_log("surface %dx%d", width, height);
    app->width = width;
    app->height = height;
    if (app->runner) {
        hl_runner_poll(app->runner);
    }
}

static void on_frame(gpointer data, const CrpViewerUpdate *update)
{
    HlApp *app = data;

    app->frames++;
    if (app->frames_rec) {
        hl_frame_recorder_add(app->frames_rec,
                              crp_viewer_get_image(crp_display_link_get_viewer(app->conn)),
                              &update->damage);
    }
    if (app->runner) {
        hl_runner_poll(app->runner);
    }
}

static void on_audio(gpointer data)
{
    HlApp *app = data;

    app_pump_audio(app);
}

static void on_ended(gpointer data, int code, gboolean server_bye,
                     const char *message)
{
    HlApp *app = data;

    if (!app->finishing) {
        app->finishing = TRUE;
        /* Without a script, the server ending the session is the normal
         * end of a run, as long as it did not blame us. */
        if (code == HL_EXIT_CLOSED && server_bye && !app->runner) {
            code = HL_EXIT_OK;
        }
        app->exit_code = code;
        app->exit_message = g_strdup(message);
        if (app->runner) {
            hl_runner_stop(app->runner);
        }
    }
    g_main_loop_quit(app->loop);
}

static gboolean on_timeout(gpointer data)
{
    HlApp *app = data;

    app->timeout_id = 0;
    if (app->runner) {
        g_autofree char *what = hl_runner_describe(app->runner);
        app_finish(app, HL_EXIT_SCRIPT, "timed out: the script did not "
                      "finish within --timeout%s%s", what ? "; waiting at " : "",
                      what ? what : "");
    } else if (!app->capabilities && !app->frames) {
        app_finish(app, HL_EXIT_ERROR, "timed out before the session started");
    } else {
        hl_log("--timeout reached");
        app_finish(app, HL_EXIT_OK, NULL);
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
    HlApp *app = data;

    if (app->runner && !hl_runner_done(app->runner)) {
        app_finish(app, HL_EXIT_SCRIPT, "interrupted before the script finished");
    } else {
        app_finish(app, HL_EXIT_OK, NULL);
    }
    return G_SOURCE_CONTINUE;
}

static void append_double(GString *s, const char *name, double v, gboolean last)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_string_append_printf(s, "  \"%s\": %s%s\n", name,
                           g_ascii_formatd(buf, sizeof(buf), "%.3f", v),
                           last ? "" : ",");
}

static gboolean write_stats(HlApp *app, const char *path, double duration_s,
                            GError **error)
{
    CrpViewerStats st = { 0 };
    GString *s = g_string_new("{\n");

    if (app->conn) {
        crp_viewer_get_stats(crp_display_link_get_viewer(app->conn), &st);
    }
    if (app->session_id) {
        g_autofree char *id = g_strescape(app->session_id, NULL);
        g_string_append_printf(s, "  \"session\": \"%s\",\n", id);
    }
#define U64(name, v) \
    g_string_append_printf(s, "  \"%s\": %" G_GUINT64_FORMAT ",\n", name, (guint64)(v))
    U64("frames", st.frames);
    U64("rects", st.rects);
    U64("bytes_in", st.bytes_in);
    U64("bytes_out", st.bytes_out);
    U64("audio_packets_in", st.audio_packets_in);
    U64("audio_packets_out", st.audio_packets_out);
    U64("audio_frames_received", hl_playback_total_frames(app->playback));
    U64("width", app->width);
    U64("height", app->height);
    U64("capabilities", app->capabilities);
    U64("exit_code", app->exit_code);
#undef U64
    /* Rects and their bytes per encoding (CrpEncoding order), to see
     * what a scene went out as. */
    static const char *const encodings[CRP_VIEWER_ENCODINGS] = {
        "fill", "raw", "zlib", "jpeg", "copy", "zstd", "h264", "other",
    };
    g_string_append(s, "  \"encodings\": {");
    for (int i = 0; i < CRP_VIEWER_ENCODINGS; i++) {
        g_string_append_printf(s, "%s\"%s\": [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]",
                               i ? ", " : "", encodings[i], st.encoding_rects[i],
                               st.encoding_bytes[i]);
    }
    g_string_append(s, "},\n");
    append_double(s, "input_latency_ms", st.input_latency_ms, FALSE);
    append_double(s, "fps", st.fps, FALSE);
    append_double(s, "duration_s", duration_s, TRUE);
    g_string_append(s, "}\n");
    gboolean ok = g_file_set_contents(path, s->str, s->len, error);
    g_string_free(s, TRUE);
    return ok;
}

static gboolean write_screenshot(HlApp *app, const char *path, GError **error)
{
    pixman_image_t *img = app->conn ?
        crp_viewer_get_image(crp_display_link_get_viewer(app->conn)) : NULL;

    if (!img) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "no screenshot written to %s: no SURFACE was received", path);
        return FALSE;
    }
    g_autoptr(GBytes) png = crp_png_encode(img);
    return g_file_set_contents(path, g_bytes_get_data(png, NULL),
                               g_bytes_get_size(png), error);
}

/* Writes the outputs; a failure only sets the exit code if all was well. */
static void write_outputs(HlApp *app, const Options *o)
{
    double duration_s = hl_log_elapsed_s();
    GError *error = NULL;

    app_pump_audio(app);
    if (!hl_playback_finish(app->playback, &error) ||
        (o->screenshot && !write_screenshot(app, o->screenshot, &error)) ||
        (o->stats && !write_stats(app, o->stats, duration_s, &error))) {
        g_printerr("crp-headless: %s\n", error->message);
        g_clear_error(&error);
        if (app->exit_code == HL_EXIT_OK) {
            app->exit_code = HL_EXIT_ERROR;
        }
    }
}

/* Asks for @format of the server's clipboard (one answer at a time). */
static void request_clipboard(HlApp *app, guint8 format)
{
    CrpViewer *v = crp_display_link_get_viewer(app->conn);
    g_autoptr(GError) error = NULL;

    if (!crp_viewer_request_clipboard(v, format, &error)) {
        hl_log("cannot ask for the server's clipboard: %s", error->message);
        return;
    }
    crp_display_link_flush(app->conn);
}

/* The server's clipboard holds something new: its text, then its image,
 * are fetched at once, for the script's expect-clipboard(-png). */
static void on_clipboard(gpointer data, guint8 formats)
{
    HlApp *app = data;

    hl_log("server clipboard: formats 0x%02x", formats);
    app->clipboard_formats = formats;
    g_clear_pointer(&app->clipboard_text, g_free);
    g_clear_pointer(&app->clipboard_png, g_bytes_unref);
    if (formats & CRP_CLIPBOARD_TEXT) {
        request_clipboard(app, CRP_CLIPBOARD_TEXT);
    } else if (formats & CRP_CLIPBOARD_PNG) {
        request_clipboard(app, CRP_CLIPBOARD_PNG);
    }
}

static void on_clipboard_data(gpointer data, guint8 format, guint8 status)
{
    HlApp *app = data;
    guint8 got_format;
    g_autoptr(GBytes) content =
        crp_viewer_take_clipboard(crp_display_link_get_viewer(app->conn),
                                  &got_format);

    hl_log("server clipboard %s: %s, %" G_GSIZE_FORMAT " bytes",
           crp_clipboard_format_name(format), crp_clipboard_status_name(status),
           content ? g_bytes_get_size(content) : 0);
    app->clipboard_refused = status;
    if (format == CRP_CLIPBOARD_TEXT) {
        g_clear_pointer(&app->clipboard_text, g_free);
        if (content) {
            gsize len;
            const char *text = g_bytes_get_data(content, &len);
            /* UTF-8 without NUL: libcrp checked it. */
            app->clipboard_text = g_strndup(text, len);
        }
        if (app->clipboard_formats & CRP_CLIPBOARD_PNG) {
            request_clipboard(app, CRP_CLIPBOARD_PNG);
        }
    } else {
        /* A PNG: libcrp checked its signature. */
        g_clear_pointer(&app->clipboard_png, g_bytes_unref);
        app->clipboard_png = g_steal_pointer(&content);
    }
    if (app->runner) {
        hl_runner_poll(app->runner);
    }
}

static void on_link_log(gpointer data, const char *message)
{
    hl_log("%s", message);
}

static const CrpDisplayLinkEvents connection_events = {
    .log = on_link_log,
    .ready = on_ready,
    .surface = on_surface,
    .frame = on_frame,
    .audio = on_audio,
    .clipboard = on_clipboard,
    .clipboard_data = on_clipboard_data,
    .ended = on_ended,
};

/* Broker mode: the gateway handed us the VM's display channel. */
static void on_broker_attached(HlApp *app, GIOStream *stream,
                               const char *ticket, const GError *error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *label = NULL;

    if (error) {
        app_finish(app, hl_broker_exit_code(error), "%s", error->message);
        return;
    }
    if (!stream) {
        /* Logged in, nothing to open: the script runs My files commands. */
        app->capabilities = 0;
        hl_runner_start(app->runner);
        return;
    }
    label = g_strdup_printf("session %s (through the broker)", app->session_id);
    app->conn = crp_display_link_new_for_stream(stream, label, ticket,
                                                &connection_events, app, &local);
    if (!app->conn) {
        app_finish(app, HL_EXIT_ERROR, "%s", local->message);
    }
}

/* My files commands need the broker; without --open or --attach there is
 * no display for the others. */
static gboolean check_script_mode(const HlScript *script, const Options *o,
                                  GError **error)
{
    for (guint i = 0; i < script->n_commands; i++) {
        const HlCommand *c = &script->commands[i];
        gboolean display = hl_command_needs_display(c->type);
        if (!o->key && !display && c->type != HL_CMD_SLEEP &&
            c->type != HL_CMD_QUIT) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "script %s: %s needs broker mode (--key)", c->where,
                        c->source);
            return FALSE;
        }
        if (o->key && !o->open && !o->attach && display) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "script %s: %s needs a display session (--open or "
                        "--attach)", c->where, c->source);
            return FALSE;
        }
    }
    return TRUE;
}

static int usage_error(const GError *error)
{
    g_printerr("crp-headless: %s\nTry crp-headless --help\n", error->message);
    return HL_EXIT_ERROR;
}

int hl_main(int argc, char **argv)
{
    Options o = { 0 };
    g_autoptr(GError) error = NULL;
    g_autoptr(HlScript) script = NULL;
    g_autofree char *ticket = NULL;
    HlApp app = { 0 };
    int code;

    hl_log_start_clock();
    /* Parsing takes options out of argv: keep the strings to scrub. */
    int original_argc = argc;
    g_autofree char **original_argv = g_memdup2(argv, (argc + 1) * sizeof(char *));
    gboolean parsed = parse_options(&o, &argc, &argv, &error);
    scrub_ticket_args(original_argc, original_argv);
    if (!parsed) {
        code = usage_error(error);
        options_clear(&o);
        return code;
    }
    hl_log_set_verbose(o.verbose);
    crp_display_link_set_software("crp-headless " CRP_VERSION);
    if (o.ticket) {
        g_printerr("crp-headless: warning: --ticket shows the ticket to every "
                   "local user (ps, /proc) until it is read; use --ticket-file "
                   "FILE (mode 0600) instead\n");
    }

    if (o.ticket_file) {
        /* Refused if others can read it, like the project's key files. */
        ticket = crp_secret_file_read(o.ticket_file, &error);
    } else {
        ticket = g_strdup(o.ticket ? o.ticket : "");
    }
    if (!error && (o.script_file || o.run)) {
        g_autofree char *text = NULL;
        if (o.run) {
            text = g_strdup(o.run);
        } else {
            g_file_get_contents(o.script_file, &text, NULL, &error);
        }
        if (text) {
            script = hl_script_parse(text, o.run != NULL, &error);
        }
        if (script) {
            check_script_mode(script, &o, &error);
        }
    }
    app.playback = hl_playback_new();
    if (!error && o.record) {
        hl_playback_record_all(app.playback, o.record, &error);
    }
    if (!error && o.disable) {
        offer_capabilities(o.disable, &error);
    }
    if (!error && o.record_frames) {
        app.frames_rec = hl_frame_recorder_new(o.record_frames, &error);
    }
    if (!error && o.connect) {
        app.conn = crp_display_link_new(o.connect, ticket, &connection_events,
                                        &app, &error);
    }
    if (ticket) {
        memset(ticket, 0, strlen(ticket));
    }
    if (error) {
        code = usage_error(error);
        hl_playback_free(app.playback);
        hl_frame_recorder_free(app.frames_rec);
        options_clear(&o);
        return code;
    }

    app.loop = g_main_loop_new(NULL, FALSE);
    if (script) {
        app.runner = hl_runner_new(&app, g_steal_pointer(&script),
                                   &runner_events);
    }
    if (o.key) {
        HlBrokerOptions bo = {
            .key_path = o.key, .address = o.broker, .app = o.open,
            .session = o.attach, .subscribe = o.subscribe,
        };
        app.broker = hl_broker_phase_start(&app, &bo, on_broker_attached);
    }
    app.timeout_id = o.timeout_s ?
        g_timeout_add_seconds(o.timeout_s, on_timeout, &app) : 0;
    guint sigint = g_unix_signal_add(SIGINT, on_signal, &app);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &app);

    g_main_loop_run(app.loop);

    g_clear_handle_id(&app.timeout_id, g_source_remove);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    if (app.exit_message) {
        g_printerr("crp-headless: %s\n", app.exit_message);
    }
    write_outputs(&app, &o);
    code = app.exit_code;

    hl_runner_free(app.runner);
    crp_display_link_free(app.conn);
    /* After the loop: no callback of the phase can run any more. */
    hl_broker_phase_free(app.broker);
    g_free(app.session_id);
    g_free(app.clipboard_text);
    g_clear_pointer(&app.clipboard_png, g_bytes_unref);
    hl_playback_free(app.playback);
    hl_frame_recorder_free(app.frames_rec);
    g_main_loop_unref(app.loop);
    g_free(app.exit_message);
    options_clear(&o);
    return code;
}
