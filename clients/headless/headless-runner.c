/*
 * headless-runner.c: running a script against the session.
 *
 * Commands run in order. One that waits (for frames, a pixel, a timer,
 * the end of a microphone file) leaves a check or a timer behind; the
 * session calls hl_runner_poll() whenever something arrives, and the
 * runner moves on once the check passes. A failed command ends the
 * session through its owner's finish() with the exit code that says why.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

#include <crp/crp-clipboard.h>
#include <crp/crp-png.h>
#include <stdarg.h>
#include <string.h>

/* Pause between typed characters: guests' keyboard queues are short. */
#define TYPE_INTERVAL_MS 10
#define MIC_CHUNK_MS 20
#define MIC_CHUNK_FRAMES (48000 / 1000 * MIC_CHUNK_MS)

typedef enum {
    STEP_DONE,
    STEP_WAIT,
    STEP_FAILED,
} Step;

struct HlRunner {
    HlApp *app;
    HlRunnerEvents events;
    HlScript *script;
    guint next;
    const HlCommand *cur;
    gboolean stopped, done;

    /* What the current command waits for: a check run on every poll,
     * a timer that paces or ends it, a deadline that fails it. */
    gboolean (*check)(HlRunner *r);
    guint timer, deadline;
    guint64 frames_target;
    guint32 *snapshot;          /* wait-change: the area when it started */
    GBytes *expected_png;       /* expect-clipboard-png: the file's bytes */
    const char *type_pos;
    HlMicSource *mic;
    gint64 mic_start_us;
    guint64 mic_sent;           /* frames per channel */
    HlFilesOp *files_op;        /* a files-* command in flight */
};

static void run(HlRunner *r);

/* NULL in a My files run (no display session). */
static CrpViewer *viewer(HlRunner *r)
{
    return r->app->conn ? crp_display_link_get_viewer(r->app->conn) : NULL;
}

static void clear_wait(HlRunner *r)
{
    r->check = NULL;
    g_clear_handle_id(&r->timer, g_source_remove);
    g_clear_handle_id(&r->deadline, g_source_remove);
    g_clear_pointer(&r->snapshot, g_free);
    g_clear_pointer(&r->expected_png, g_bytes_unref);
    g_clear_pointer(&r->mic, hl_mic_source_free);
    g_clear_pointer(&r->files_op, hl_files_abandon);
    r->type_pos = NULL;
}

static Step fail(HlRunner *r, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static Step fail(HlRunner *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *what = hl_runner_describe(r);

    g_autofree char *message = g_strdup_printf("script %s: %s", what, why);
    hl_runner_stop(r);
    r->events.finish(r->app, code, message);
    return STEP_FAILED;
}

/* The current command is finished: go on with the next. */
static void complete(HlRunner *r)
{
    clear_wait(r);
    r->cur = NULL;
    run(r);
}

static Step wait_for(HlRunner *r, gboolean (*check)(HlRunner *r))
{
    if (check(r)) {
        return STEP_DONE;
    }
    r->check = check;
    return STEP_WAIT;
}

/* Input goes out at once; it only fails when the session is gone, or
 * when the server stopped reading what we send. */
static Step sent(HlRunner *r, gboolean ok)
{
    if (!ok) {
        const GError *why = crp_viewer_get_failure(viewer(r));
        return fail(r, why ? HL_EXIT_PROTOCOL : HL_EXIT_CLOSED, "%s",
                    why ? why->message : "the session is not up");
    }
    crp_display_link_flush(r->app->conn);
    return STEP_DONE;
}

static gboolean get_pixel(HlRunner *r, gint64 x, gint64 y, guint32 *rgb)
{
    pixman_image_t *img = crp_viewer_get_image(viewer(r));

    if (!img || x >= pixman_image_get_width(img) ||
        y >= pixman_image_get_height(img)) {
        return FALSE;
    }
    int stride = pixman_image_get_stride(img) / 4;
    *rgb = pixman_image_get_data(img)[y * stride + x] & 0xffffff;
    return TRUE;
}

static gboolean frames_arrived(HlRunner *r)
{
    return r->app->frames >= r->frames_target;
}

static gboolean have_surface(HlRunner *r)
{
    pixman_image_t *img = crp_viewer_get_image(viewer(r));

    return img && (r->cur->n[0] == 0 ||
                   (pixman_image_get_width(img) == r->cur->n[0] &&
                    pixman_image_get_height(img) == r->cur->n[1]));
}

static gboolean cursor_at(HlRunner *r)
{
    int x, y, hx, hy;
    gboolean visible;

    crp_viewer_get_pointer(viewer(r), &x, &y, &visible);
    return visible && x == r->cur->n[0] && y == r->cur->n[1] &&
           crp_viewer_get_cursor(viewer(r), &hx, &hy) != NULL;
}

/* Cursor messages do not come through hl_runner_poll() (the session only
 * polls on surfaces, frames and audio), so wait-cursor looks itself. */
static gboolean on_cursor_tick(gpointer data)
{
    HlRunner *r = data;

    hl_runner_poll(r);
    return G_SOURCE_CONTINUE;
}

static gboolean pixel_matches(HlRunner *r)
{
    guint32 rgb;
    return get_pixel(r, r->cur->n[0], r->cur->n[1], &rgb) && rgb == r->cur->n[2];
}

/* Copies the wait-change area, or returns NULL while (part of) it is
 * outside the framebuffer. */
static guint32 *copy_area(HlRunner *r)
{
    const gint64 *n = r->cur->n;
    guint32 *area = g_new(guint32, n[2] * n[3]);

    for (gint64 y = 0; y < n[3]; y++) {
        for (gint64 x = 0; x < n[2]; x++) {
            if (!get_pixel(r, n[0] + x, n[1] + y, &area[y * n[2] + x])) {
                g_free(area);
                return NULL;
            }
        }
    }
    return area;
}

static gboolean area_changed(HlRunner *r)
{
    g_autofree guint32 *now = copy_area(r);

    if (!r->snapshot || !now) {
        return (now == NULL) != (r->snapshot == NULL);
    }
    return memcmp(now, r->snapshot,
                  r->cur->n[2] * r->cur->n[3] * sizeof(guint32)) != 0;
}

/* Our clipboard holds @text now (the server asks for it when it needs
 * it); refused when the clipboard was not agreed (muted). */
static Step clipboard_set(HlRunner *r, GBytes *text)
{
    g_autoptr(GError) error = NULL;

    if (!crp_viewer_set_clipboard(viewer(r), text, NULL, &error)) {
        return fail(r, HL_EXIT_SCRIPT, "%s", error->message);
    }
    return sent(r, TRUE);
}

static Step clipboard_fill(HlRunner *r, gint64 bytes)
{
    char *s = g_malloc(bytes);
    memset(s, 'x', bytes);
    g_autoptr(GBytes) text = g_bytes_new_take(s, bytes);
    return clipboard_set(r, text);
}

/* The PNG file at @path, or NULL with the reason in @error. Its size is
 * not checked: past CRP_MAX_CLIPBOARD it shows the cap at work. */
static GBytes *read_png(const char *path, GError **error)
{
    static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    char *data;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, error)) {
        return NULL;
    }
    if (len < sizeof(signature) || memcmp(data, signature, sizeof(signature))) {
        g_free(data);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is not a PNG image", path);
        return NULL;
    }
    return g_bytes_new_take(data, len);
}

/* Our clipboard holds the image in @path now (and no text). */
static Step clipboard_set_png(HlRunner *r, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) png = read_png(path, &error);

    if (!png) {
        return fail(r, HL_EXIT_ERROR, "%s", error->message);
    }
    if (!crp_viewer_set_clipboard(viewer(r), NULL, png, &error)) {
        return fail(r, HL_EXIT_SCRIPT, "%s", error->message);
    }
    return sent(r, TRUE);
}

static gboolean clipboard_matches(HlRunner *r)
{
    return r->app->clipboard_text &&
           strcmp(r->app->clipboard_text, r->cur->text) == 0;
}

static gboolean clipboard_png_matches(HlRunner *r)
{
    return r->app->clipboard_png &&
           g_bytes_equal(r->app->clipboard_png, r->expected_png);
}

static gboolean clipboard_refused(HlRunner *r)
{
    return r->app->clipboard_refused &&
           (!r->cur->n[1] || r->app->clipboard_refused == r->cur->n[1]);
}

static gboolean on_timer_done(gpointer data)
{
    HlRunner *r = data;
    r->timer = 0;
    crp_display_link_set_reading(r->app->conn, TRUE);   /* after a stall */
    complete(r);
    return G_SOURCE_REMOVE;
}

static gboolean on_deadline(gpointer data)
{
    HlRunner *r = data;
    const gint64 *n = r->cur->n;
    guint32 rgb;

    r->deadline = 0;
    if (r->cur->type == HL_CMD_WAIT_SURFACE) {
        pixman_image_t *img = crp_viewer_get_image(viewer(r));
        fail(r, HL_EXIT_SCRIPT, "timed out after %" G_GINT64_FORMAT " ms: the "
             "surface is %dx%d", n[2], img ? pixman_image_get_width(img) : 0,
             img ? pixman_image_get_height(img) : 0);
    } else if (r->cur->type == HL_CMD_WAIT_CURSOR) {
        int x, y;
        gboolean visible;
        crp_viewer_get_pointer(viewer(r), &x, &y, &visible);
        fail(r, HL_EXIT_SCRIPT, "timed out after %" G_GINT64_FORMAT " ms: the "
             "cursor is at (%d,%d), %s", n[2], x, y,
             visible ? "visible" : "hidden");
    } else if (r->cur->type == HL_CMD_EXPECT_CLIPBOARD ||
               r->cur->type == HL_CMD_EXPECT_CLIPBOARD_REFUSED) {
        const char *text = r->app->clipboard_text;
        gsize len = text ? strlen(text) : 0;
        fail(r, HL_EXIT_SCRIPT, "timed out after %" G_GINT64_FORMAT " ms: the "
             "server's clipboard %s%.*s%s%s%s%s", n[0],
             text ? "holds \"" : "has no text",
             (int)MIN(len, 64), text ? text : "", len > 64 ? "..." : "",
             text ? "\"" : "",
             r->app->clipboard_refused ? ", last request refused: " : "",
             r->app->clipboard_refused
             ? crp_clipboard_status_name(r->app->clipboard_refused) : "");
    } else if (r->cur->type == HL_CMD_EXPECT_CLIPBOARD_PNG) {
        GBytes *png = r->app->clipboard_png;
        g_autofree char *what = png
            ? g_strdup_printf("holds another image (%" G_GSIZE_FORMAT " bytes)",
                              g_bytes_get_size(png))
            : g_strdup("has no image");
        fail(r, HL_EXIT_SCRIPT, "timed out after %" G_GINT64_FORMAT " ms: the "
             "server's clipboard %s%s%s", n[0], what,
             r->app->clipboard_refused ? ", last request refused: " : "",
             r->app->clipboard_refused
             ? crp_clipboard_status_name(r->app->clipboard_refused) : "");
    } else if (r->cur->type == HL_CMD_WAIT_PIXEL) {
        g_autofree char *now = get_pixel(r, n[0], n[1], &rgb) ?
            g_strdup_printf("#%06x", rgb) : g_strdup("outside the framebuffer");
        fail(r, HL_EXIT_SCRIPT, "timed out after %" G_GINT64_FORMAT " ms: "
             "pixel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ") is %s, "
             "expected #%06" G_GINT64_MODIFIER "x", n[3], n[0], n[1], now, n[2]);
    } else {
        fail(r, HL_EXIT_SCRIPT, "nothing changed in %" G_GINT64_FORMAT "x%"
             G_GINT64_FORMAT " at (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
             ") within %" G_GINT64_FORMAT " ms", n[2], n[3], n[0], n[1], n[4]);
    }
    return G_SOURCE_REMOVE;
}

static gboolean type_one(HlRunner *r)
{
    CrpViewer *v = viewer(r);
    guint16 code;
    gboolean shift, ok;

    /* The parser checked that every character can be typed. */
    hl_keymap_char(g_utf8_get_char(r->type_pos), &code, &shift);
    r->type_pos = g_utf8_next_char(r->type_pos);
    ok = (!shift || crp_viewer_send_key(v, HL_KEY_LEFTSHIFT, TRUE)) &&
         crp_viewer_send_key(v, code, TRUE) &&
         crp_viewer_send_key(v, code, FALSE) &&
         (!shift || crp_viewer_send_key(v, HL_KEY_LEFTSHIFT, FALSE));
    return sent(r, ok) == STEP_DONE;
}

static gboolean on_type_tick(gpointer data)
{
    HlRunner *r = data;

    if (!type_one(r)) {
        return G_SOURCE_REMOVE;
    }
    if (*r->type_pos) {
        return G_SOURCE_CONTINUE;
    }
    r->timer = 0;
    complete(r);
    return G_SOURCE_REMOVE;
}

/*
 * Sends what is due by now, one chunk ahead so that the server's jitter
 * buffer never runs dry. Returns FALSE once the file is done or failed.
 */
static gboolean mic_send_due(HlRunner *r)
{
    gint64 elapsed = g_get_monotonic_time() - r->mic_start_us;
    guint64 due = elapsed * 48 / 1000 + MIC_CHUNK_FRAMES;
    g_autoptr(GError) error = NULL;

    while (r->mic_sent < due) {
        gsize n;
        int channels = r->events.pump_audio(r->app);
        const gint16 *pcm = hl_mic_source_next(r->mic, channels, &n);
        if (!pcm) {
            return FALSE;
        }
        if (!crp_viewer_send_audio(viewer(r), pcm, n, &error)) {
            fail(r, HL_EXIT_CLOSED, "cannot send microphone audio: %s",
                 error->message);
            return FALSE;
        }
        r->mic_sent += n;
    }
    crp_display_link_flush(r->app->conn);
    return TRUE;
}

static gboolean on_mic_tick(gpointer data)
{
    HlRunner *r = data;

    if (mic_send_due(r)) {
        return G_SOURCE_CONTINUE;
    }
    crp_display_link_flush(r->app->conn);
    if (r->stopped) {
        return G_SOURCE_REMOVE;
    }
    r->timer = 0;
    complete(r);
    return G_SOURCE_REMOVE;
}

static Step start_mic(HlRunner *r, const char *path)
{
    g_autoptr(GError) error = NULL;

    if (!(r->app->capabilities & CRP_CAP_AUDIO_IN)) {
        return fail(r, HL_EXIT_SCRIPT, "the server does not take microphone "
                    "audio (AUDIO_IN was not agreed)");
    }
    r->mic = hl_mic_source_new(path, &error);
    if (!r->mic) {
        return fail(r, HL_EXIT_ERROR, "%s", error->message);
    }
    r->mic_start_us = g_get_monotonic_time();
    r->mic_sent = 0;
    if (!mic_send_due(r)) {
        return r->stopped ? STEP_FAILED : STEP_DONE;
    }
    r->timer = g_timeout_add(MIC_CHUNK_MS, on_mic_tick, r);
    return STEP_WAIT;
}

static Step screenshot(HlRunner *r, const char *path)
{
    g_autoptr(GError) error = NULL;
    pixman_image_t *img = crp_viewer_get_image(viewer(r));

    if (!img) {
        return fail(r, HL_EXIT_SCRIPT, "no framebuffer yet (no SURFACE "
                    "received; wait-surface first)");
    }
    g_autoptr(GBytes) png = crp_png_encode(img);
    if (!g_file_set_contents(path, g_bytes_get_data(png, NULL),
                             g_bytes_get_size(png), &error)) {
        return fail(r, HL_EXIT_ERROR, "%s", error->message);
    }
    return STEP_DONE;
}

/* The cursor as a PAM with straight alpha (the viewer keeps it
 * premultiplied for drawing), so it can be compared with what the guest
 * defined. */
static Step save_cursor(HlRunner *r, const char *path)
{
    g_autoptr(GError) error = NULL;
    int hx, hy;
    pixman_image_t *cur = crp_viewer_get_cursor(viewer(r), &hx, &hy);

    if (!cur) {
        return fail(r, HL_EXIT_SCRIPT, "no cursor shape received");
    }
    int w = pixman_image_get_width(cur), h = pixman_image_get_height(cur);
    int stride = pixman_image_get_stride(cur) / 4;
    const guint32 *src = pixman_image_get_data(cur);
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree char *header = g_strdup_printf(
        "P7\nWIDTH %d\nHEIGHT %d\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\n"
        "# hotspot %d %d\nENDHDR\n", w, h, hx, hy);

    g_byte_array_append(out, (const guint8 *)header, strlen(header));
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            guint32 p = src[y * stride + x], a = p >> 24;
            guint8 px[4] = { 0, 0, 0, a };
            for (int c = 0; a && c < 3; c++) {
                px[c] = MIN(255, ((p >> (16 - 8 * c)) & 0xff) * 255 / a);
            }
            g_byte_array_append(out, px, 4);
        }
    }
    if (!g_file_set_contents(path, (const char *)out->data, out->len, &error)) {
        return fail(r, HL_EXIT_ERROR, "%s", error->message);
    }
    return STEP_DONE;
}

static Step expect_audio(HlRunner *r, gint64 want, gint64 tolerance)
{
    g_autoptr(GError) error = NULL;
    double hz;

    r->events.pump_audio(r->app);
    if (!hl_playback_dominant_frequency(r->app->playback, &hz, &error)) {
        return fail(r, HL_EXIT_SCRIPT, "%s", error->message);
    }
    hl_log("dominant playback frequency %.1f Hz", hz);
    if (hz < want - tolerance || hz > want + tolerance) {
        return fail(r, HL_EXIT_SCRIPT, "the playback's dominant frequency is "
                    "%.1f Hz, expected %" G_GINT64_FORMAT " +- %"
                    G_GINT64_FORMAT " Hz", hz, want, tolerance);
    }
    return STEP_DONE;
}

static Step record(HlRunner *r, const char *path)
{
    g_autoptr(GError) error = NULL;

    /* What arrived before the command belongs before the window. */
    r->events.pump_audio(r->app);
    if (path ? !hl_playback_window_start(r->app->playback, path, &error)
             : !hl_playback_window_stop(r->app->playback, &error)) {
        return fail(r, HL_EXIT_ERROR, "%s", error->message);
    }
    return STEP_DONE;
}

static void on_files_done(gpointer data, int code, const char *message)
{
    HlRunner *r = data;

    r->files_op = NULL;
    if (code != HL_EXIT_OK) {
        fail(r, code, "%s", message);
    } else {
        complete(r);
    }
}

static Step start_files(HlRunner *r, const HlCommand *cmd)
{
    CrpBrokerClient *client = r->app->broker ?
        hl_broker_phase_client(r->app->broker) : NULL;

    if (!client) {
        /* The options check keeps files commands to broker mode. */
        return fail(r, HL_EXIT_ERROR, "not logged in to a broker");
    }
    r->files_op = hl_files_start(client, cmd, on_files_done, r);
    return STEP_WAIT;
}

static Step start(HlRunner *r, const HlCommand *cmd)
{
    CrpViewer *v = viewer(r);
    const gint64 *n = cmd->n;

    switch (cmd->type) {
    case HL_CMD_WAIT_FRAMES:
        r->frames_target = r->app->frames + n[0];
        return wait_for(r, frames_arrived);
    case HL_CMD_WAIT_SURFACE:
        if (have_surface(r)) {
            return STEP_DONE;
        }
        if (n[0]) {
            r->deadline = g_timeout_add(n[2], on_deadline, r);
        }
        return wait_for(r, have_surface);
    case HL_CMD_WAIT_CURSOR:
        if (cursor_at(r)) {
            return STEP_DONE;
        }
        r->deadline = g_timeout_add(n[2], on_deadline, r);
        r->timer = g_timeout_add(20, on_cursor_tick, r);
        return wait_for(r, cursor_at);
    case HL_CMD_SAVE_CURSOR:
        return save_cursor(r, cmd->text);
    case HL_CMD_STALL:
        crp_display_link_set_reading(r->app->conn, FALSE);
        /* fall through */
    case HL_CMD_SLEEP:
        r->timer = g_timeout_add(n[0], on_timer_done, r);
        return STEP_WAIT;
    case HL_CMD_SCREENSHOT:
        return screenshot(r, cmd->text);
    case HL_CMD_KEY:
        return sent(r, crp_viewer_send_key(v, n[0], TRUE) &&
                       crp_viewer_send_key(v, n[0], FALSE));
    case HL_CMD_KEYDOWN:
    case HL_CMD_KEYUP:
        return sent(r, crp_viewer_send_key(v, n[0], cmd->type == HL_CMD_KEYDOWN));
    case HL_CMD_TYPE:
        r->type_pos = cmd->text;
        if (!type_one(r)) {
            return STEP_FAILED;
        }
        if (!*r->type_pos) {
            return STEP_DONE;
        }
        r->timer = g_timeout_add(TYPE_INTERVAL_MS, on_type_tick, r);
        return STEP_WAIT;
    case HL_CMD_MOVE:
        return sent(r, crp_viewer_send_pointer(v, n[0], n[1], 0));
    case HL_CMD_CLICK:
        /* Arrive, press, release: as a hand would. */
        return sent(r, crp_viewer_send_pointer(v, n[0], n[1], 0) &&
                       crp_viewer_send_pointer(v, n[0], n[1], n[2]) &&
                       crp_viewer_send_pointer(v, n[0], n[1], 0));
    case HL_CMD_WHEEL:
        return sent(r, crp_viewer_send_wheel(v, 0, n[0]));
    case HL_CMD_RESIZE:
        return sent(r, crp_viewer_send_resize(v, n[0], n[1]));
    case HL_CMD_MIC:
        return start_mic(r, cmd->text);
    case HL_CMD_RECORD_START:
        return record(r, cmd->text);
    case HL_CMD_RECORD_STOP:
        return record(r, NULL);
    case HL_CMD_WAIT_PIXEL:
        if (pixel_matches(r)) {
            return STEP_DONE;
        }
        r->deadline = g_timeout_add(n[3], on_deadline, r);
        return wait_for(r, pixel_matches);
    case HL_CMD_WAIT_CHANGE:
        r->snapshot = copy_area(r);
        r->deadline = g_timeout_add(n[4], on_deadline, r);
        return wait_for(r, area_changed);
    case HL_CMD_EXPECT_AUDIO:
        return expect_audio(r, n[0], n[1]);
    case HL_CMD_CLIPBOARD_SET: {
        g_autoptr(GBytes) text = g_bytes_new(cmd->text, strlen(cmd->text));
        return clipboard_set(r, text);
    }
    case HL_CMD_CLIPBOARD_FILL:
        return clipboard_fill(r, n[0]);
    case HL_CMD_CLIPBOARD_SET_PNG:
        return clipboard_set_png(r, cmd->text);
    case HL_CMD_EXPECT_CLIPBOARD_PNG: {
        g_autoptr(GError) error = NULL;
        r->expected_png = read_png(cmd->text, &error);
        if (!r->expected_png) {
            return fail(r, HL_EXIT_ERROR, "%s", error->message);
        }
        if (clipboard_png_matches(r)) {
            return STEP_DONE;
        }
        r->deadline = g_timeout_add(n[0], on_deadline, r);
        return wait_for(r, clipboard_png_matches);
    }
    case HL_CMD_EXPECT_CLIPBOARD:
    case HL_CMD_EXPECT_CLIPBOARD_REFUSED: {
        gboolean (*check)(HlRunner *) = cmd->type == HL_CMD_EXPECT_CLIPBOARD
                                        ? clipboard_matches : clipboard_refused;
        if (check(r)) {
            return STEP_DONE;
        }
        r->deadline = g_timeout_add(n[0], on_deadline, r);
        return wait_for(r, check);
    }
    case HL_CMD_FILES_LIST:
    case HL_CMD_FILES_UPLOAD:
    case HL_CMD_FILES_DOWNLOAD:
    case HL_CMD_FILES_DELETE:
        return start_files(r, cmd);
    case HL_CMD_CLOSE_APP:
        /* The session ends right after: the parser keeps it last. */
        return sent(r, crp_viewer_send_close_app(v));
    case HL_CMD_QUIT:
        return STEP_DONE;
    }
    g_assert_not_reached();
    return STEP_FAILED;
}

static void run(HlRunner *r)
{
    while (!r->stopped && r->next < r->script->n_commands) {
        r->cur = &r->script->commands[r->next++];
        hl_log("%s: %s", r->cur->where, r->cur->source);
        Step step = start(r, r->cur);
        if (step != STEP_DONE) {
            return;
        }
        clear_wait(r);
        r->cur = NULL;
    }
    if (!r->stopped) {
        r->done = TRUE;
        r->events.finish(r->app, HL_EXIT_OK, NULL);
    }
}

HlRunner *hl_runner_new(HlApp *app, HlScript *script,
                        const HlRunnerEvents *events)
{
    HlRunner *r = g_new0(HlRunner, 1);
    r->app = app;
    r->events = *events;
    r->script = script;
    return r;
}

void hl_runner_free(HlRunner *r)
{
    if (!r) {
        return;
    }
    hl_runner_stop(r);
    hl_script_free(r->script);
    g_free(r);
}

void hl_runner_start(HlRunner *r)
{
    run(r);
}

void hl_runner_poll(HlRunner *r)
{
    if (!r->stopped && r->check && r->check(r)) {
        complete(r);
    }
}

void hl_runner_stop(HlRunner *r)
{
    r->stopped = TRUE;
    clear_wait(r);
}

gboolean hl_runner_done(HlRunner *r)
{
    return r->done;
}

char *hl_runner_describe(HlRunner *r)
{
    if (!r->cur) {
        return NULL;
    }
    return g_strdup_printf("%s (%s)", r->cur->where, r->cur->source);
}
