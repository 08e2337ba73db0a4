/* test-crp-qmp-parser.c: QMP framing and messages, on QEMU's own bytes. */
#include "crp-qmp-parser.h"

#include <string.h>

/* Recorded from QEMU 10.0.13 with -display crp (QEMU ends lines "\r\n"). */
#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 13, \"minor\": 0, \"major\": 10}, " \
                 "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_OK "{\"return\": {}, \"id\": \"crp-1\"}\r\n"
#define STATUS_OK "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": \"crp-2\"}\r\n"
#define TICKET_EMPTY "{\"id\": \"crp-5\", \"error\": {\"class\": \"GenericError\", " \
                     "\"desc\": \"the ticket must not be empty\"}}\r\n"
#define NOT_FOUND "{\"id\": \"crp-7\", \"error\": {\"class\": \"CommandNotFound\", " \
                  "\"desc\": \"The command query-pid has not been found\"}}\r\n"
#define STOP_EVENT "{\"timestamp\": {\"seconds\": 1795635252, \"microseconds\": 998106}, " \
                   "\"event\": \"STOP\"}\r\n"
#define CLOSE_REQUESTED "{\"timestamp\": {\"seconds\": 1795635273, \"microseconds\": 309199}, " \
                        "\"event\": \"CRP_CLOSE_REQUESTED\", \"data\": {\"id\": 1}}\r\n"
#define SHUTDOWN "{\"timestamp\": {\"seconds\": 1795635255, \"microseconds\": 905755}, " \
                 "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n"
#define QUIT_OK "{\"return\": {}, \"id\": \"crp-11\"}\r\n"
#define UNPARSABLE "{\"error\": {\"class\": \"GenericError\", " \
                   "\"desc\": \"QMP input must be a JSON object\"}}\r\n"

static const char session[] =
    GREETING CAPS_OK STATUS_OK TICKET_EMPTY NOT_FOUND STOP_EVENT
    CLOSE_REQUESTED SHUTDOWN QUIT_OK;

static const CrpQmpMessageType session_types[] = {
    CRP_QMP_MSG_GREETING, CRP_QMP_MSG_RETURN, CRP_QMP_MSG_RETURN,
    CRP_QMP_MSG_ERROR, CRP_QMP_MSG_ERROR, CRP_QMP_MSG_EVENT,
    CRP_QMP_MSG_EVENT, CRP_QMP_MSG_EVENT, CRP_QMP_MSG_RETURN,
};

/* The next message, which must be valid. */
static CrpQmpMessageType
next_ok(CrpQmpParser *parser, CrpQmpMessage *msg)
{
    g_autoptr(GError) error = NULL;
    CrpQmpMessageType type = crp_qmp_parser_next(parser, msg, &error);
    g_assert_no_error(error);
    g_assert_cmpint(type, ==, msg->type);
    return type;
}

/* The next message, which must be invalid with @code. */
static void
next_invalid(CrpQmpParser *parser, CrpQmpErrorCode code)
{
    g_autoptr(GError) error = NULL;
    CrpQmpMessage msg;
    g_assert_cmpint(crp_qmp_parser_next(parser, &msg, &error), ==, CRP_QMP_MSG_INVALID);
    g_assert_error(error, CRP_QMP_ERROR, (gint)code);
    g_assert_cmpint(msg.type, ==, CRP_QMP_MSG_INVALID);
    g_assert_null(msg.id);
    g_assert_null(msg.ret);
}

static void
feed_str(CrpQmpParser *parser, const char *s)
{
    crp_qmp_parser_feed(parser, s, strlen(s));
}

static void
test_greeting(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    feed_str(parser, GREETING);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_GREETING);
    g_assert_cmpint(msg.version_major, ==, 10);
    g_assert_cmpint(msg.version_minor, ==, 0);
    g_assert_cmpint(msg.version_micro, ==, 13);
    g_assert_cmpstr(msg.version_package, ==, "");
    g_assert_nonnull(msg.capabilities);
    g_assert_cmpstr(msg.capabilities[0], ==, "oob");
    g_assert_null(msg.capabilities[1]);
    g_assert_null(msg.id);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
    g_assert_cmpuint(crp_qmp_parser_buffered(parser), ==, 0);

    /* No capabilities at all, a distribution's package string. */
    feed_str(parser, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 1, \"major\": 9}, "
                     "\"package\": \"Debian 1:9.1.2\"}, \"capabilities\": []}}\n");
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_GREETING);
    g_assert_cmpint(msg.version_major, ==, 9);
    g_assert_cmpstr(msg.version_package, ==, "Debian 1:9.1.2");
    g_assert_null(msg.capabilities[0]);
}

static void
test_returns(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    feed_str(parser, CAPS_OK STATUS_OK "{\"return\": [1, 2], \"id\": \"crp-9\"}\n");

    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-1");
    g_assert_true(JSON_NODE_HOLDS_OBJECT(msg.ret));
    g_assert_cmpuint(json_object_get_size(json_node_get_object(msg.ret)), ==, 0);
    g_assert_null(msg.error_class);
    g_assert_null(msg.event);

    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-2");
    JsonObject *status = json_node_get_object(msg.ret);
    g_assert_cmpstr(json_object_get_string_member(status, "status"), ==, "running");
    g_assert_true(json_object_get_boolean_member(status, "running"));

    /* A return value may be any JSON value. */
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-9");
    g_assert_true(JSON_NODE_HOLDS_ARRAY(msg.ret));
    g_assert_cmpuint(json_array_get_length(json_node_get_array(msg.ret)), ==, 2);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
}

static void
test_errors(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    feed_str(parser, TICKET_EMPTY NOT_FOUND UNPARSABLE);

    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_ERROR);
    g_assert_cmpstr(msg.id, ==, "crp-5");
    g_assert_cmpstr(msg.error_class, ==, "GenericError");
    g_assert_cmpstr(msg.error_desc, ==, "the ticket must not be empty");
    g_assert_cmpint(crp_qmp_error_code_from_class(msg.error_class), ==, CRP_QMP_ERROR_GENERIC);
    g_assert_null(msg.ret);

    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_ERROR);
    g_assert_cmpstr(msg.id, ==, "crp-7");
    g_assert_cmpstr(msg.error_class, ==, "CommandNotFound");
    g_assert_cmpint(crp_qmp_error_code_from_class(msg.error_class), ==,
                    CRP_QMP_ERROR_COMMAND_NOT_FOUND);

    /* QEMU's answer to a command it could not read has no id. */
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_ERROR);
    g_assert_null(msg.id);
    g_assert_cmpstr(msg.error_desc, ==, "QMP input must be a JSON object");

    g_assert_cmpint(crp_qmp_error_code_from_class("DeviceNotFound"), ==,
                    CRP_QMP_ERROR_DEVICE_NOT_FOUND);
    g_assert_cmpint(crp_qmp_error_code_from_class("SomethingNew"), ==,
                    CRP_QMP_ERROR_OTHER_CLASS);
}

static void
test_events(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    feed_str(parser, SHUTDOWN CLOSE_REQUESTED STOP_EVENT);

    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_EVENT);
    g_assert_cmpstr(msg.event, ==, "SHUTDOWN");
    g_assert_cmpint(msg.seconds, ==, 1795635255);
    g_assert_cmpint(msg.microseconds, ==, 905755);
    g_assert_false(json_object_get_boolean_member(msg.data, "guest"));
    g_assert_cmpstr(json_object_get_string_member(msg.data, "reason"), ==, "host-qmp-quit");
    g_assert_null(msg.id);

    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_EVENT);
    g_assert_cmpstr(msg.event, ==, "CRP_CLOSE_REQUESTED");
    g_assert_cmpint(json_object_get_int_member(msg.data, "id"), ==, 1);

    /* Without "data", the event gets an empty object, not NULL. */
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_EVENT);
    g_assert_cmpstr(msg.event, ==, "STOP");
    g_assert_nonnull(msg.data);
    g_assert_cmpuint(json_object_get_size(msg.data), ==, 0);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
}

/* Feeds @session in pieces of @step bytes; the messages must be the
 * same as when it comes in one piece. */
static void
check_session_in_steps(gsize step)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    gsize len = strlen(session), fed = 0;
    guint seen = 0;
    CrpQmpMessage msg;

    while (fed < len) {
        gsize n = MIN(step, len - fed);
        crp_qmp_parser_feed(parser, session + fed, n);
        fed += n;
        CrpQmpMessageType type;
        while ((type = next_ok(parser, &msg)) != CRP_QMP_MSG_NONE) {
            g_assert_cmpuint(seen, <, G_N_ELEMENTS(session_types));
            g_assert_cmpint(type, ==, session_types[seen]);
            seen++;
        }
    }
    g_assert_cmpuint(seen, ==, G_N_ELEMENTS(session_types));
    g_assert_cmpuint(crp_qmp_parser_buffered(parser), ==, 0);
}

static void
test_fragmented(void)
{
    for (gsize step = 1; step <= 64; step++) {
        check_session_in_steps(step);
    }
    check_session_in_steps(strlen(session));

    /* Half a line waits for its end; the message comes only then. */
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;
    crp_qmp_parser_feed(parser, STATUS_OK, 20);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
    g_assert_cmpuint(crp_qmp_parser_buffered(parser), ==, 20);
    feed_str(parser, &STATUS_OK[20]);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-2");
}

static void
test_coalesced(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    /* Everything in one read, and the start of the next line too. */
    feed_str(parser, session);
    feed_str(parser, "{\"return\": {}, \"id\"");
    for (guint i = 0; i < G_N_ELEMENTS(session_types); i++) {
        g_assert_cmpint(next_ok(parser, &msg), ==, session_types[i]);
    }
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
    feed_str(parser, ": \"crp-12\"}\n");
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-12");
}

static void
test_blank_lines(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    feed_str(parser, "\n\r\n   \t\r\n");
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
    feed_str(parser, "\n  " CAPS_OK "\n");
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
}

static void
test_malformed(void)
{
    static const char *const lines[] = {
        "{",
        "not json at all",
        "{\"return\": {}, \"id\": \"crp-1\"",
        "{\"return\": {}, \"id\": \"crp-1\"}}",
        "{\"return\": {}, \"id\": \"crp-1\"} {\"return\": {}, \"id\": \"crp-2\"}",
        "[1, 2]",
        "42",
        "\"a string\"",
        "null",
        "{}",
        "{\"execute\": \"quit\"}",
        /* a return without an id, or with one we never send */
        "{\"return\": {}}",
        "{\"return\": {}, \"id\": 42}",
        "{\"return\": {}, \"id\": null}",
        /* errors without class or desc */
        "{\"error\": \"GenericError\", \"id\": \"crp-1\"}",
        "{\"error\": {\"class\": \"GenericError\"}, \"id\": \"crp-1\"}",
        "{\"error\": {\"desc\": \"x\"}, \"id\": \"crp-1\"}",
        "{\"error\": {\"class\": 1, \"desc\": \"x\"}, \"id\": \"crp-1\"}",
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}, \"id\": [\"crp-1\"]}",
        /* events */
        "{\"event\": 5, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
        "{\"event\": \"STOP\"}",
        "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": \"1\", \"microseconds\": 2}}",
        "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1.5, \"microseconds\": 2}}",
        "{\"event\": \"STOP\", \"data\": [1], \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
        /* greetings */
        "{\"QMP\": {}}",
        "{\"QMP\": 1}",
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": \"13\", \"minor\": 0, \"major\": 10}}, "
        "\"capabilities\": []}}",
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 13, \"minor\": 0, \"major\": 10}}}}",
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 13, \"minor\": 0, \"major\": 10}}, "
        "\"capabilities\": [\"oob\", 7]}}",
        /* two kinds at once */
        "{\"return\": {}, \"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}, \"id\": \"a\"}",
        "{\"event\": \"STOP\", \"return\": {}, \"id\": \"a\", "
        "\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
        /* what json-glib takes but JSON is not */
        "var x = {\"return\": {}, \"id\": \"crp-1\"}",
        "{'return': {}, 'id': 'crp-1'}",
        "{\"return\": {}, /* hi */ \"id\": \"crp-1\"}",
        "{\"return\": {}, \"id\": \"crp-1\"} x",
        /* not UTF-8 */
        "{\"return\": \"\xff\xfe\", \"id\": \"crp-1\"}",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(lines); i++) {
        g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
        CrpQmpMessage msg;
        g_autofree char *shown = g_strescape(lines[i], NULL);
        g_test_message("line %" G_GSIZE_FORMAT ": %s", i, shown);
        feed_str(parser, lines[i]);
        feed_str(parser, "\r\n" CAPS_OK);
        next_invalid(parser, CRP_QMP_ERROR_PROTOCOL);
        /* The parser goes on with the next line. */
        g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
        g_assert_cmpstr(msg.id, ==, "crp-1");
    }

    /* A NUL byte inside a line. */
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    static const char nul[] = "{\"return\": {}, \"id\": \"crp\0-1\"}\n";
    crp_qmp_parser_feed(parser, nul, sizeof(nul) - 1);
    next_invalid(parser, CRP_QMP_ERROR_PROTOCOL);
}

static void
test_extra_members(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    /* QMP allows members we do not know: they are ignored. */
    feed_str(parser, "{\"return\": 7, \"id\": \"crp-3\", \"future\": [1]}\n");
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpint(json_node_get_int(msg.ret), ==, 7);
}

static void
test_overlong_line(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(64);
    CrpQmpMessage msg;
    char line[65];

    /* Exactly the cap is fine: a return padded with blanks. */
    memset(line, ' ', 64);
    memcpy(line, "{\"return\": {}, \"id\": \"a\"}", 25);
    crp_qmp_parser_feed(parser, line, 64);
    feed_str(parser, "\n");
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);

    /* One more byte is not; the next line parses again. */
    crp_qmp_parser_feed(parser, line, 64);
    feed_str(parser, "x\n" CAPS_OK);
    next_invalid(parser, CRP_QMP_ERROR_TOO_LARGE);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-1");

    /* An endless line is dropped as it comes: never more than the cap
     * is held, and it is reported once. */
    for (int i = 0; i < 1000; i++) {
        feed_str(parser, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
        g_assert_cmpuint(crp_qmp_parser_buffered(parser), <=, 64);
    }
    next_invalid(parser, CRP_QMP_ERROR_TOO_LARGE);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_NONE);
    feed_str(parser, "]]]\n" QUIT_OK);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-11");
}

static void
test_default_cap(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    g_autofree char *big = g_malloc(CRP_QMP_MAX_LINE + 1);
    CrpQmpMessage msg;

    memset(big, 'a', CRP_QMP_MAX_LINE + 1);
    crp_qmp_parser_feed(parser, big, CRP_QMP_MAX_LINE + 1);
    g_assert_cmpuint(crp_qmp_parser_buffered(parser), ==, 0);
    feed_str(parser, "\n" QUIT_OK);
    next_invalid(parser, CRP_QMP_ERROR_TOO_LARGE);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-11");
}

static void
test_deep_nesting(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    g_autoptr(GString) s = g_string_new("{\"return\": ");
    CrpQmpMessage msg;

    /* Deep enough to overflow a recursive parser's stack. */
    for (int i = 0; i < 200000; i++) {
        g_string_append_c(s, '[');
    }
    g_string_append(s, "\n");
    crp_qmp_parser_feed(parser, s->str, s->len);
    next_invalid(parser, CRP_QMP_ERROR_TOO_LARGE);

    /* Not hidden from the count by what json-glib would take for a
     * string or a comment. */
    g_string_assign(s, "{\"return\": ['\"', /* \" */ ");
    for (int i = 0; i < 200000; i++) {
        g_string_append_c(s, '[');
    }
    g_string_append(s, "\n");
    crp_qmp_parser_feed(parser, s->str, s->len);
    next_invalid(parser, CRP_QMP_ERROR_PROTOCOL);

    /* At the limit it parses; brackets inside strings do not count. */
    g_string_assign(s, "{\"return\": ");
    for (int i = 1; i < CRP_QMP_MAX_DEPTH; i++) {
        g_string_append_c(s, '[');
    }
    for (int i = 1; i < CRP_QMP_MAX_DEPTH; i++) {
        g_string_append_c(s, ']');
    }
    g_string_append(s, ", \"id\": \"[[[[\\\"[[[[[[[[[[[[[[[[[[\"}\n");
    crp_qmp_parser_feed(parser, s->str, s->len);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "[[[[\"[[[[[[[[[[[[[[[[[[");
}

static void
test_views_until_next(void)
{
    g_autoptr(CrpQmpParser) parser = crp_qmp_parser_new(0);
    CrpQmpMessage msg;

    feed_str(parser, STATUS_OK CAPS_OK);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_autoptr(JsonNode) kept = json_node_ref(msg.ret);
    g_assert_cmpint(next_ok(parser, &msg), ==, CRP_QMP_MSG_RETURN);
    g_assert_cmpstr(msg.id, ==, "crp-1");
    /* A reference taken before outlives the message. */
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(kept), "status"),
                    ==, "running");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-parser/greeting", test_greeting);
    g_test_add_func("/qmp-parser/returns", test_returns);
    g_test_add_func("/qmp-parser/errors", test_errors);
    g_test_add_func("/qmp-parser/events", test_events);
    g_test_add_func("/qmp-parser/fragmented", test_fragmented);
    g_test_add_func("/qmp-parser/coalesced", test_coalesced);
    g_test_add_func("/qmp-parser/blank-lines", test_blank_lines);
    g_test_add_func("/qmp-parser/malformed", test_malformed);
    g_test_add_func("/qmp-parser/extra-members", test_extra_members);
    g_test_add_func("/qmp-parser/overlong-line", test_overlong_line);
    g_test_add_func("/qmp-parser/default-cap", test_default_cap);
    g_test_add_func("/qmp-parser/deep-nesting", test_deep_nesting);
    g_test_add_func("/qmp-parser/views-until-next", test_views_until_next);
    return g_test_run();
}
