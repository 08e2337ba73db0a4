/*
 * headless-script.c: parsing crp-headless scripts.
 *
 * Everything is checked before anything runs (numbers, colours, key
 * names, whether `type` text can be typed), so a typo fails at once with
 * its line instead of after a minute of waiting.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

#include <string.h>

#define DEFAULT_WAIT_MS 10000
#define DEFAULT_TOLERANCE_HZ 10

typedef struct {
    const char *name;
    HlCommandType type;
    /* Numeric arguments: at least min_args, at most max_args. */
    int min_args, max_args;
    /* The single argument is a path or text, not numbers. */
    gboolean text;
} CommandSpec;

static const CommandSpec specs[] = {
    { "wait-frames", HL_CMD_WAIT_FRAMES, 1, 1 },
    { "wait-surface", HL_CMD_WAIT_SURFACE, 0, 3 },
    { "sleep", HL_CMD_SLEEP, 1, 1 },
    { "stall", HL_CMD_STALL, 1, 1 },
    { "screenshot", HL_CMD_SCREENSHOT, 1, 1, TRUE },
    { "key", HL_CMD_KEY, 1, 1 },
    { "keydown", HL_CMD_KEYDOWN, 1, 1 },
    { "keyup", HL_CMD_KEYUP, 1, 1 },
    { "type", HL_CMD_TYPE, 1, 1, TRUE },
    { "move", HL_CMD_MOVE, 2, 2 },
    { "click", HL_CMD_CLICK, 2, 3 },
    { "wheel", HL_CMD_WHEEL, 1, 1 },
    { "resize", HL_CMD_RESIZE, 2, 2 },
    { "mic", HL_CMD_MIC, 1, 1, TRUE },
    { "record-start", HL_CMD_RECORD_START, 1, 1, TRUE },
    { "record-stop", HL_CMD_RECORD_STOP, 0, 0 },
    { "wait-pixel", HL_CMD_WAIT_PIXEL, 3, 4 },
    { "wait-change", HL_CMD_WAIT_CHANGE, 4, 5 },
    { "expect-audio", HL_CMD_EXPECT_AUDIO, 1, 2 },
    { "wait-cursor", HL_CMD_WAIT_CURSOR, 2, 3 },
    { "save-cursor", HL_CMD_SAVE_CURSOR, 1, 1, TRUE },
    { "clipboard-set", HL_CMD_CLIPBOARD_SET, 1, 1, TRUE },
    { "clipboard-fill", HL_CMD_CLIPBOARD_FILL, 1, 1 },
    { "clipboard-set-png", HL_CMD_CLIPBOARD_SET_PNG, 1, 1, TRUE },
    { "expect-clipboard", HL_CMD_EXPECT_CLIPBOARD, 1, 1, TRUE },
    { "expect-clipboard-refused", HL_CMD_EXPECT_CLIPBOARD_REFUSED, 1, 2 },
    { "expect-clipboard-png", HL_CMD_EXPECT_CLIPBOARD_PNG, 2, 2, TRUE },
    /* Flags first, then the paths (parse_files()). */
    { "files-list", HL_CMD_FILES_LIST, 0, 1 },
    { "files-upload", HL_CMD_FILES_UPLOAD, 2, 2 },
    { "files-download", HL_CMD_FILES_DOWNLOAD, 2, 2 },
    { "files-delete", HL_CMD_FILES_DELETE, 1, 1 },
    { "close-app", HL_CMD_CLOSE_APP, 0, 0 },
    { "quit", HL_CMD_QUIT, 0, 0 },
};

static gboolean parse_int(const char *s, gint64 min, gint64 max, gint64 *out)
{
    char *end;
    gint64 v = g_ascii_strtoll(s, &end, 10);

    if (end == s || *end || v < min || v > max) {
        return FALSE;
    }
    *out = v;
    return TRUE;
}

static gboolean parse_colour(const char *s, gint64 *out)
{
    char *end;

    if (s[0] == '#') {
        s++;
    }
    if (strlen(s) != 6 || !g_ascii_isxdigit(s[0])) {
        return FALSE;
    }
    *out = g_ascii_strtoull(s, &end, 16);
    return *end == '\0';
}

/* Resolves \n, \t, \\ and \; (and keeps any other backslash as is). */
static char *unescape(const char *s)
{
    GString *out = g_string_new(NULL);

    for (; *s; s++) {
        if (s[0] != '\\' || !s[1]) {
            g_string_append_c(out, *s);
            continue;
        }
        switch (*++s) {
        case 'n':
            g_string_append_c(out, '\n');
            break;
        case 't':
            g_string_append_c(out, '\t');
            break;
        case '\\':
        case ';':
            g_string_append_c(out, *s);
            break;
        default:
            g_string_append_c(out, '\\');
            g_string_append_c(out, *s);
            break;
        }
    }
    return g_string_free(out, FALSE);
}

static gboolean fail(GError **error, const char *where, const char *name,
                     const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static gboolean fail(GError **error, const char *where, const char *name,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "script %s: %s%s%s", where, name ? name : "", name ? ": " : "",
                why);
    return FALSE;
}

static gboolean check_text(HlCommand *cmd, const char *name, GError **error)
{
    if (cmd->type != HL_CMD_TYPE) {
        return TRUE;
    }
    for (const char *p = cmd->text; *p; p = g_utf8_next_char(p)) {
        guint16 code;
        gboolean shift;
        if (!hl_keymap_char(g_utf8_get_char(p), &code, &shift)) {
            return fail(error, cmd->where, name,
                        "cannot type '%.*s' on a US keyboard (use key CODE)",
                        (int)(g_utf8_next_char(p) - p), p);
        }
    }
    return TRUE;
}

/* The range of numeric argument @i: what the wire can carry (u16
 * coordinates, i16 wheel detents) and what is sane to allocate. */
static void arg_range(HlCommandType type, int i, gint64 *min, gint64 *max)
{
    *min = 0;
    *max = G_MAXINT32;
    switch (type) {
    case HL_CMD_MOVE:
    case HL_CMD_CLICK:
    case HL_CMD_WAIT_PIXEL:
        *max = G_MAXUINT16;
        break;
    case HL_CMD_WAIT_CHANGE:
        if (i < 2) {
            *max = G_MAXUINT16;
        } else if (i < 4) {
            *min = 1;
            *max = CRP_MAX_SURFACE_DIM;
        } else {
            *min = 1;
        }
        break;
    case HL_CMD_RESIZE:
        *min = 1;
        *max = CRP_MAX_SURFACE_DIM;
        break;
    case HL_CMD_WAIT_SURFACE:
        *min = 1;
        *max = i < 2 ? CRP_MAX_SURFACE_DIM : G_MAXINT32;
        break;
    case HL_CMD_WAIT_CURSOR:
        *min = i < 2 ? 0 : 1;
        *max = i < 2 ? G_MAXUINT16 : G_MAXINT32;
        break;
    case HL_CMD_WHEEL:
        *min = G_MININT16;
        *max = G_MAXINT16;
        break;
    case HL_CMD_WAIT_FRAMES:
        *min = 1;
        break;
    case HL_CMD_EXPECT_AUDIO:
        *min = i == 0 ? 1 : 0;
        *max = i == 0 ? 24000 : G_MAXINT32;
        break;
    case HL_CMD_CLIPBOARD_FILL:
        /* Room past the protocol's cap, to show it refused. */
        *max = 2 * CRP_MAX_CLIPBOARD;
        break;
    case HL_CMD_EXPECT_CLIPBOARD_REFUSED:
        *min = 1;
        break;
    default:
        break;
    }
}

/* Numeric arguments, by command: ranges and defaults. */
static gboolean parse_numbers(HlCommand *cmd, const char *name, char **args,
                              int n_args, GError **error)
{
    static const char *buttons[] = { "left", "middle", "right" };
    guint16 code;

    switch (cmd->type) {
    case HL_CMD_KEY:
    case HL_CMD_KEYDOWN:
    case HL_CMD_KEYUP:
        if (!hl_keymap_parse(args[0], &code)) {
            return fail(error, cmd->where, name, "unknown key '%s' (an evdev "
                        "code such as 28, or a name such as enter)", args[0]);
        }
        cmd->n[0] = code;
        return TRUE;
    case HL_CMD_CLICK:
        cmd->n[2] = CRP_BUTTON_LEFT;
        if (n_args == 3) {
            guint i;
            for (i = 0; i < G_N_ELEMENTS(buttons); i++) {
                if (g_ascii_strcasecmp(args[2], buttons[i]) == 0) {
                    break;
                }
            }
            if (i == G_N_ELEMENTS(buttons)) {
                return fail(error, cmd->where, name, "button '%s' is not "
                            "left, middle or right", args[2]);
            }
            cmd->n[2] = 1u << i;
            n_args = 2;
        }
        break;
    case HL_CMD_WAIT_PIXEL:
        if (!parse_colour(args[2], &cmd->n[2])) {
            return fail(error, cmd->where, name, "'%s' is not a colour RRGGBB",
                        args[2]);
        }
        cmd->n[3] = DEFAULT_WAIT_MS;
        if (n_args == 4 && !parse_int(args[3], 1, G_MAXINT32, &cmd->n[3])) {
            return fail(error, cmd->where, name, "'%s' is not a timeout in ms",
                        args[3]);
        }
        n_args = 2;
        break;
    case HL_CMD_WAIT_CHANGE:
        cmd->n[4] = DEFAULT_WAIT_MS;
        break;
    case HL_CMD_WAIT_SURFACE:
        /* Without a size it waits for the first surface, as long as the
         * session lasts; with one, for that size, with a timeout. */
        if (n_args == 1) {
            return fail(error, cmd->where, name, "takes no argument, or "
                        "WIDTH HEIGHT [TIMEOUT_MS]");
        }
        cmd->n[2] = DEFAULT_WAIT_MS;
        break;
    case HL_CMD_WAIT_CURSOR:
        cmd->n[2] = DEFAULT_WAIT_MS;
        break;
    case HL_CMD_EXPECT_AUDIO:
        cmd->n[1] = DEFAULT_TOLERANCE_HZ;
        break;
    case HL_CMD_EXPECT_CLIPBOARD_REFUSED:
        if (n_args == 2) {
            static const char *why[] = { "none", "too-large", "off" };
            guint i;
            for (i = 0; i < G_N_ELEMENTS(why); i++) {
                if (strcmp(args[1], why[i]) == 0) {
                    break;
                }
            }
            if (i == G_N_ELEMENTS(why)) {
                return fail(error, cmd->where, name, "'%s' is not none, "
                            "too-large or off", args[1]);
            }
            cmd->n[1] = CRP_CLIPBOARD_NONE + i;
            n_args = 1;
        }
        break;
    default:
        break;
    }
    for (int i = 0; i < n_args; i++) {
        gint64 min, max;
        arg_range(cmd->type, i, &min, &max);
        if (!parse_int(args[i], min, max, &cmd->n[i])) {
            return fail(error, cmd->where, name, "'%s' is not a number in "
                        "%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                        args[i], min, max);
        }
    }
    return TRUE;
}

/* The statuses a files command can expect, as `--expect-error` names
 * them (the protocol's names, lower case, '-' for '_'). */
static const struct {
    const char *name;
    guint16 status;
} files_statuses[] = {
    { "bad-request", CRP_STATUS_BAD_REQUEST },
    { "quota-exceeded", CRP_STATUS_QUOTA_EXCEEDED },
    { "no-such-file", CRP_STATUS_NO_SUCH_FILE },
    { "internal", CRP_STATUS_INTERNAL },
};

const char *hl_files_status_name(guint16 status)
{
    for (gsize k = 0; k < G_N_ELEMENTS(files_statuses); k++) {
        if (files_statuses[k].status == status) {
            return files_statuses[k].name;
        }
    }
    return crp_status_to_string(status);
}

/* files-*: [--expect-error STATUS] [--unchecked] [--stop-after BYTES]
 * (upload only), then the paths. */
static gboolean parse_files(HlCommand *cmd, const CommandSpec *spec,
                            char **argv, int n_args, GError **error)
{
    const char *name = spec->name;
    int i = 0;

    for (; i < n_args && g_str_has_prefix(argv[i], "--"); i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--unchecked") == 0) {
            cmd->n[2] = 1;
            continue;
        }
        if (i + 1 >= n_args) {
            return fail(error, cmd->where, name, "%s without a value", flag);
        }
        const char *value = argv[++i];
        if (strcmp(flag, "--expect-error") == 0) {
            g_autofree char *norm = g_ascii_strdown(value, -1);
            g_strdelimit(norm, "_", '-');
            for (gsize k = 0; k < G_N_ELEMENTS(files_statuses); k++) {
                if (strcmp(norm, files_statuses[k].name) == 0) {
                    cmd->n[0] = files_statuses[k].status;
                }
            }
            if (!cmd->n[0]) {
                return fail(error, cmd->where, name, "'%s' is not "
                            "bad-request, quota-exceeded, no-such-file or "
                            "internal", value);
            }
        } else if (strcmp(flag, "--stop-after") == 0 &&
                   cmd->type == HL_CMD_FILES_UPLOAD) {
            if (!parse_int(value, 1, G_MAXINT64, &cmd->n[1])) {
                return fail(error, cmd->where, name, "--stop-after '%s' is "
                            "not a number of bytes", value);
            }
        } else {
            return fail(error, cmd->where, name, "unknown option '%s'", flag);
        }
    }
    int paths = n_args - i;
    if (paths < spec->min_args || paths > spec->max_args) {
        return fail(error, cmd->where, name, "takes %s%d path%s, not %d",
                    spec->min_args == spec->max_args ? "" : "up to ",
                    spec->max_args, spec->max_args == 1 ? "" : "s", paths);
    }
    cmd->text = g_strdup(paths > 0 ? argv[i] : "");
    if (paths > 1) {
        cmd->text2 = g_strdup(argv[i + 1]);
    }
    return TRUE;
}

gboolean hl_command_needs_display(HlCommandType type)
{
    switch (type) {
    case HL_CMD_FILES_LIST:
    case HL_CMD_FILES_UPLOAD:
    case HL_CMD_FILES_DOWNLOAD:
    case HL_CMD_FILES_DELETE:
    case HL_CMD_SLEEP:
    case HL_CMD_QUIT:
        return FALSE;
    default:
        return TRUE;
    }
}

static gboolean parse_command(const char *line, HlCommand *cmd, GError **error)
{
    const char *p = line;
    while (*p && !g_ascii_isspace(*p)) {
        p++;
    }
    g_autofree char *name = g_strndup(line, p - line);
    const CommandSpec *spec = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS(specs); i++) {
        if (strcmp(name, specs[i].name) == 0) {
            spec = &specs[i];
        }
    }
    if (!spec) {
        return fail(error, cmd->where, NULL, "unknown command '%s'", name);
    }
    cmd->type = spec->type;
    cmd->source = g_strdup(line);

    if (spec->type == HL_CMD_TYPE || spec->type == HL_CMD_CLIPBOARD_SET) {
        /* The text is the rest, after one separating space; it may hold
         * spaces and '#'. */
        if (*p) {
            p++;
        }
        cmd->text = unescape(p);
        if (!*cmd->text) {
            return fail(error, cmd->where, name, "no text");
        }
        return check_text(cmd, name, error);
    }
    if (spec->type == HL_CMD_EXPECT_CLIPBOARD ||
        spec->type == HL_CMD_EXPECT_CLIPBOARD_PNG) {
        /* TIMEOUT_MS, then the text (a path for the PNG): the rest, as
         * for type. */
        while (g_ascii_isspace(*p)) {
            p++;
        }
        const char *ms = p;
        while (*p && !g_ascii_isspace(*p)) {
            p++;
        }
        g_autofree char *number = g_strndup(ms, p - ms);
        if (!parse_int(number, 1, G_MAXINT32, &cmd->n[0])) {
            return fail(error, cmd->where, name, "takes TIMEOUT_MS %s; '%s' "
                        "is not a timeout in ms",
                        spec->type == HL_CMD_EXPECT_CLIPBOARD ? "TEXT" : "FILE",
                        number);
        }
        if (*p) {
            p++;
        }
        cmd->text = unescape(p);
        if (!*cmd->text) {
            return fail(error, cmd->where, name, "no text");
        }
        return TRUE;
    }

    g_autofree char *rest = g_strdup(p);
    g_auto(GStrv) args = g_strsplit_set(g_strstrip(rest), " \t", -1);
    GPtrArray *words = g_ptr_array_new();
    for (char **a = args; *a; a++) {
        if (**a) {
            g_ptr_array_add(words, *a);
        }
    }
    int n_args = words->len;
    g_ptr_array_add(words, NULL);
    g_autofree char **argv = (char **)g_ptr_array_free(words, FALSE);

    if (spec->type >= HL_CMD_FILES_LIST && spec->type <= HL_CMD_FILES_DELETE) {
        return parse_files(cmd, spec, argv, n_args, error);
    }
    if (n_args < spec->min_args || n_args > spec->max_args) {
        return fail(error, cmd->where, name, "takes %s%d argument%s, not %d",
                    spec->min_args == spec->max_args ? "" : "up to ",
                    spec->max_args, spec->max_args == 1 ? "" : "s", n_args);
    }
    if (spec->text) {
        cmd->text = g_strdup(argv[0]);
        return TRUE;
    }
    return parse_numbers(cmd, name, argv, n_args, error);
}

/* Commands whose text runs to the end, '#' included. */
static gboolean starts_text_command(const char *p)
{
    static const char *const names[] = { "type", "clipboard-set", "expect-clipboard" };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        gsize n = strlen(names[i]);
        if (strncmp(p, names[i], n) == 0 &&
            (p[n] == ' ' || p[n] == '\t' || p[n] == '\0')) {
            return TRUE;
        }
    }
    return FALSE;
}

/*
 * Splits a line into commands at ';' (not "\;"). '#' starts a comment that
 * runs to the end of the line, except inside `type` text, which is
 * typed as written.
 */
static GPtrArray *split_commands(const char *line)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    const char *p = line;

    while (*p) {
        while (g_ascii_isspace(*p) || *p == ';') {
            p++;
        }
        if (!*p || *p == '#') {
            break;
        }
        const char *start = p;
        gboolean is_type = starts_text_command(p);
        gboolean comment = FALSE;
        for (; *p && *p != ';'; p++) {
            if (p[0] == '\\' && p[1]) {
                p++;
            } else if (*p == '#' && !is_type) {
                comment = TRUE;
                break;
            }
        }
        g_ptr_array_add(parts, g_strndup(start, p - start));
        if (comment) {
            break;
        }
    }
    return parts;
}

HlScript *hl_script_parse(const char *text, gboolean one_line, GError **error)
{
    g_autoptr(HlScript) script = g_new0(HlScript, 1);
    g_autoptr(GArray) cmds = g_array_new(FALSE, TRUE, sizeof(HlCommand));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    const char *last_name = NULL;

    if (!g_utf8_validate(text, -1, NULL)) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "the script is not UTF-8 text");
        return NULL;
    }
    for (guint l = 0; lines[l]; l++) {
        g_autoptr(GPtrArray) parts = split_commands(lines[l]);
        for (guint i = 0; i < parts->len; i++) {
            char *part = g_strstrip(parts->pdata[i]);
            if (!*part) {
                continue;
            }
            HlCommand cmd = { 0 };
            cmd.where = one_line ?
                g_strdup_printf("command %u", cmds->len + 1) :
                g_strdup_printf("line %u", l + 1);
            if (last_name) {
                fail(error, cmd.where, NULL, "nothing runs after '%s'",
                     last_name);
                g_free(cmd.where);
                goto failed;
            }
            gboolean ok = parse_command(part, &cmd, error);
            g_array_append_val(cmds, cmd);
            if (!ok) {
                goto failed;
            }
            if (cmd.type == HL_CMD_QUIT || cmd.type == HL_CMD_CLOSE_APP) {
                last_name = cmd.type == HL_CMD_QUIT ? "quit" : "close-app";
            }
        }
    }
    script->n_commands = cmds->len;
    script->commands = (HlCommand *)g_array_free(g_steal_pointer(&cmds), FALSE);
    return g_steal_pointer(&script);

failed:
    script->n_commands = cmds->len;
    script->commands = (HlCommand *)g_array_free(g_steal_pointer(&cmds), FALSE);
    return NULL;
}

void hl_script_free(HlScript *script)
{
    if (!script) {
        return;
    }
    for (guint i = 0; i < script->n_commands; i++) {
        g_free(script->commands[i].where);
        g_free(script->commands[i].source);
        g_free(script->commands[i].text);
        g_free(script->commands[i].text2);
    }
    g_free(script->commands);
    g_free(script);
}
