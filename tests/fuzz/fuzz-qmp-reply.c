/*
 * fuzz-qmp-reply.c: what crp-broker parses from QEMU's QMP socket. The
 * bytes are fed to a CrpQmpParser in pieces and every message is drained
 * and checked; every return value is also read as query-crp's would be.
 *
 * Input: one flags byte, then the bytes QEMU sends. The flags' low seven
 * bits cut those into pieces: 0 feeds them at once, n feeds pieces of
 * 1, 2, ..., n, 1, 2, ... bytes (draining after each). Bit 7 lowers
 * the line cap from CRP_QMP_MAX_LINE to FUZZ_SMALL_LINE, so that
 * over-long lines are within the fuzzer's reach.
 *
 * Besides not crashing, leaking or logging a critical (json-glib's
 * preconditions included), it checks that each message carries what its
 * type promises, that errors are CRP_QMP_ERRORs, that no more messages
 * come out than lines went in (plus one for an unfinished line already
 * over the cap), and that the parser holds no more than a
 * line's cap of an unfinished line.
 */
#include "crp-qmp-commands.h"
#include "crp-qmp-parser.h"

#include <stdint.h>
#include <string.h>

#define FUZZ_SMALL_LINE 256
#define FUZZ_FLAG_SMALL_LINE 0x80

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean tracing;

#define trace(...) \
    do { \
        if (G_UNLIKELY(tracing)) { \
            g_printerr(__VA_ARGS__); \
        } \
    } while (0)

static void
fuzz_init(void)
{
    static gboolean done;
    if (done) {
        return;
    }
    done = TRUE;
    tracing = g_getenv("CRP_FUZZ_TRACE") != NULL;
    g_setenv("G_SLICE", "always-malloc", TRUE);
    /* A precondition failing inside json-glib is a bug found. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

static void
check_return(const CrpQmpMessage *msg)
{
    g_autoptr(GError) error = NULL;

    g_assert_nonnull(msg->id);
    g_assert_nonnull(msg->ret);
    g_autoptr(CrpQmpCrpInfo) info = crp_qmp_crp_info_from_json(msg->ret, &error);
    if (!info) {
        g_assert_nonnull(error);
        g_assert_true(error->domain == CRP_QMP_ERROR);
        g_assert_cmpint(error->code, ==, CRP_QMP_ERROR_PROTOCOL);
        return;
    }
    g_assert_no_error(error);
    trace("  query-crp: enabled %d, %u clients\n", info->enabled, info->n_clients);
    for (guint i = 0; i < info->n_clients; i++) {
        g_assert_nonnull(info->clients[i].address);
    }
}

static void
check_message(CrpQmpMessageType type, const CrpQmpMessage *msg, const GError *error)
{
    g_assert_cmpint(msg->type, ==, type);
    trace("  %s%s%s\n", crp_qmp_message_type_name(type), error ? ": " : "",
          error ? error->message : "");
    switch (type) {
    case CRP_QMP_MSG_INVALID:
        g_assert_nonnull(error);
        g_assert_true(error->domain == CRP_QMP_ERROR);
        g_assert_true(error->code == CRP_QMP_ERROR_PROTOCOL ||
                      error->code == CRP_QMP_ERROR_TOO_LARGE);
        return;
    case CRP_QMP_MSG_NONE:
        g_assert_null(error);
        return;
    case CRP_QMP_MSG_GREETING:
        g_assert_nonnull(msg->version_package);
        g_assert_nonnull(msg->capabilities);
        for (const char *const *c = msg->capabilities; *c; c++) {
            g_assert_true(g_utf8_validate(*c, -1, NULL));
        }
        break;
    case CRP_QMP_MSG_RETURN:
        check_return(msg);
        break;
    case CRP_QMP_MSG_ERROR:
        g_assert_nonnull(msg->error_class);
        g_assert_nonnull(msg->error_desc);
        g_assert_cmpint(crp_qmp_error_code_from_class(msg->error_class), <=,
                        CRP_QMP_ERROR_OTHER_CLASS);
        break;
    case CRP_QMP_MSG_EVENT: {
        g_assert_nonnull(msg->event);
        g_assert_nonnull(msg->data);
        g_autoptr(GList) members = json_object_get_members(msg->data);
        g_assert_cmpuint(g_list_length(members), ==, json_object_get_size(msg->data));
        break;
    }
    default:
        g_assert_not_reached();
    }
    g_assert_null(error);
}

/* Drains @parser; returns how many messages (valid or not) came out. */
static gsize
drain(CrpQmpParser *parser)
{
    gsize count = 0;

    for (;;) {
        CrpQmpMessage msg;
        g_autoptr(GError) error = NULL;
        CrpQmpMessageType type = crp_qmp_parser_next(parser, &msg, &error);
        check_message(type, &msg, error);
        if (type == CRP_QMP_MSG_NONE) {
            return count;
        }
        count++;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    fuzz_init();

    guint8 flags = data[0];
    gsize max_line = (flags & FUZZ_FLAG_SMALL_LINE) ? FUZZ_SMALL_LINE : CRP_QMP_MAX_LINE;
    guint step = flags & 0x7f;
    const guint8 *p = data + 1;
    gsize left = size - 1, fed = 0, lines = 0, messages = 0;
    CrpQmpParser *parser = crp_qmp_parser_new(max_line);

    for (guint i = 0; left > 0; i++) {
        gsize n = step ? MIN(left, (gsize)(i % step) + 1) : left;
        /* A copy of exactly the piece, so that a read past it is caught. */
        g_autofree guint8 *piece = g_memdup2(p, n);
        crp_qmp_parser_feed(parser, piece, n);
        for (gsize j = 0; j < n; j++) {
            lines += p[j] == '\n';
        }
        p += n;
        left -= n;
        fed += n;
        messages += drain(parser);
        g_assert_cmpuint(messages, <=, lines + 1);
        /* Drained: what is left is the unfinished line, capped. */
        g_assert_cmpuint(crp_qmp_parser_buffered(parser), <=, max_line);
        g_assert_cmpuint(crp_qmp_parser_buffered(parser), <=, fed);
    }
    crp_qmp_parser_free(parser);
    return 0;
}
