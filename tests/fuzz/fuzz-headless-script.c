/*
 * fuzz-headless-script.c: crp-headless's script language
 * (clients/headless/headless-script.c), from --script files and
 * --run arguments.
 *
 * Input: a flags byte (bit 0: one_line, as --run parses), then the
 * script's text (up to the first NUL). A script that parses has commands
 * whose arguments lie in the ranges the runner relies on (wire-sized
 * coordinates, sizes a surface can have, typeable text), nothing after
 * quit or close-app, and each command, written back as its source and
 * parsed alone, gives the same command.
 */
#include "headless.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_MAX 0x2ff

static void
check_command(const HlCommand *c)
{
    g_assert_cmpint(c->type, >=, HL_CMD_WAIT_FRAMES);
    g_assert_cmpint(c->type, <=, HL_CMD_QUIT);
    g_assert_nonnull(c->where);
    g_assert_nonnull(c->source);
    switch (c->type) {
    case HL_CMD_KEY:
    case HL_CMD_KEYDOWN:
    case HL_CMD_KEYUP:
        g_assert_cmpint(c->n[0], >=, 0);
        g_assert_cmpint(c->n[0], <=, KEY_MAX);
        break;
    case HL_CMD_MOVE:
    case HL_CMD_CLICK:
    case HL_CMD_WAIT_PIXEL:
    case HL_CMD_WAIT_CURSOR:
        for (int i = 0; i < 2; i++) {
            g_assert_cmpint(c->n[i], >=, 0);
            g_assert_cmpint(c->n[i], <=, G_MAXUINT16);
        }
        break;
    case HL_CMD_RESIZE:
        for (int i = 0; i < 2; i++) {
            g_assert_cmpint(c->n[i], >=, 1);
            g_assert_cmpint(c->n[i], <=, CRP_MAX_SURFACE_DIM);
        }
        break;
    case HL_CMD_WAIT_CHANGE:
        for (int i = 0; i < 4; i++) {
            g_assert_cmpint(c->n[i], >=, i < 2 ? 0 : 1);
            g_assert_cmpint(c->n[i], <=, i < 2 ? G_MAXUINT16 : CRP_MAX_SURFACE_DIM);
        }
        g_assert_cmpint(c->n[4], >=, 1);
        break;
    case HL_CMD_WHEEL:
        g_assert_cmpint(c->n[0], >=, G_MININT16);
        g_assert_cmpint(c->n[0], <=, G_MAXINT16);
        break;
    case HL_CMD_TYPE:
        g_assert_nonnull(c->text);
        g_assert_cmpstr(c->text, !=, "");
        g_assert_true(g_utf8_validate(c->text, -1, NULL));
        for (const char *p = c->text; *p; p = g_utf8_next_char(p)) {
            guint16 code;
            gboolean shift;
            g_assert_true(hl_keymap_char(g_utf8_get_char(p), &code, &shift));
        }
        break;
    case HL_CMD_FILES_UPLOAD:
    case HL_CMD_FILES_DOWNLOAD:
        g_assert_nonnull(c->text2);
        g_assert_cmpstr(c->text2, !=, "");
        /* fall through */
    case HL_CMD_FILES_LIST:
    case HL_CMD_FILES_DELETE:
        g_assert_nonnull(c->text);
        g_assert_true(c->type == HL_CMD_FILES_LIST || *c->text);
        g_assert_true(c->n[0] == 0 || c->n[0] == CRP_STATUS_BAD_REQUEST ||
                      c->n[0] == CRP_STATUS_QUOTA_EXCEEDED ||
                      c->n[0] == CRP_STATUS_NO_SUCH_FILE ||
                      c->n[0] == CRP_STATUS_INTERNAL);
        g_assert_cmpint(c->n[1], >=, 0);
        g_assert_true(c->n[1] == 0 || c->type == HL_CMD_FILES_UPLOAD);
        g_assert_cmpint(c->n[2], >=, 0);
        g_assert_cmpint(c->n[2], <=, 1);
        break;
    case HL_CMD_SCREENSHOT:
    case HL_CMD_MIC:
    case HL_CMD_RECORD_START:
    case HL_CMD_SAVE_CURSOR:
        g_assert_nonnull(c->text);
        g_assert_cmpstr(c->text, !=, "");
        break;
    default:
        break;
    }
}

/* @c's source, parsed alone, is @c again. */
static void
check_source(const HlCommand *c)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HlScript) alone = hl_script_parse(c->source, TRUE, &error);

    if (!alone) {
        g_error("'%s' does not parse alone: %s", c->source, error->message);
    }
    g_assert_cmpuint(alone->n_commands, ==, 1);
    const HlCommand *a = &alone->commands[0];
    g_assert_cmpint(a->type, ==, c->type);
    g_assert_cmpmem(a->n, sizeof(a->n), c->n, sizeof(c->n));
    g_assert_cmpstr(a->text, ==, c->text);
    g_assert_cmpstr(a->text2, ==, c->text2);
    g_assert_cmpstr(a->source, ==, c->source);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    g_autofree char *text = g_strndup((const char *)data + 1, size - 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(HlScript) script = hl_script_parse(text, data[0] & 1, &error);

    if (!script) {
        g_assert_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
        g_assert_true(g_str_has_prefix(error->message, "script ") ||
                      g_str_has_prefix(error->message, "the script "));
        return 0;
    }
    g_assert_no_error(error);
    for (guint i = 0; i < script->n_commands; i++) {
        const HlCommand *c = &script->commands[i];
        check_command(c);
        if (c->type == HL_CMD_QUIT || c->type == HL_CMD_CLOSE_APP) {
            g_assert_cmpuint(i, ==, script->n_commands - 1);
        }
        check_source(c);
    }
    return 0;
}
