/*
 * test-crp-channel.c: both handshakes, the record layer and their failure
 * modes, driven through the public sans-I/O channel API; plus golden
 * vectors of a whole display handshake under a deterministic RNG.
 */
#include <crp/crp-channel.h>
#include <crp/crp-error.h>
#include "crp-test-util.h"

typedef struct {
    CrpChannel *client, *server;
    guint8 user_secret[32], user_public[32];
    guint8 broker_secret[32], broker_public[32];
} Fixture;

/* Moves all pending output of @from into @to. Returns the bytes moved. */
static gsize
pump(CrpChannel *from, CrpChannel *to)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(from, &len);
    crp_channel_receive(to, data, len);
    crp_channel_consume_output(from, len);
    return len;
}

/* Takes the output of @from as a new byte array (not delivered). */
static GByteArray *
take_output(CrpChannel *from)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(from, &len);
    GByteArray *out = g_byte_array_new();
    g_byte_array_append(out, data, len);
    crp_channel_consume_output(from, len);
    return out;
}

static CrpEventType
expect_event(CrpChannel *ch, CrpEventType type, CrpEvent *ev)
{
    g_autoptr(GError) error = NULL;
    CrpEventType got = crp_channel_next_event(ch, ev, &error);
    g_assert_no_error(error);
    g_assert_cmpint(got, ==, type);
    return got;
}

static void
expect_error(CrpChannel *ch, int code)
{
    g_autoptr(GError) error = NULL;
    CrpEvent ev;
    CrpEventType got;
    /* Messages already decrypted may come first; the error must follow. */
    while ((got = crp_channel_next_event(ch, &ev, &error)) == CRP_EVENT_MESSAGE) {
    }
    g_assert_cmpint(got, ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, code);
}

static CrpChannel *
display_channel(CrpRole role, const char *ticket, guint32 caps)
{
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_DISPLAY, .role = role, .ticket = ticket,
        .capabilities = caps,
        .software = role == CRP_ROLE_CLIENT ? "test-client 1" : "test-server 1",
    };
    g_autoptr(GError) error = NULL;
    CrpChannel *ch = crp_channel_new(&cfg, &error);
    g_assert_no_error(error);
    return ch;
}

/* Runs a display handshake to completion; both sides end READY. */
static void
connect_display(Fixture *f, const char *client_ticket, const char *server_ticket)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = display_channel(CRP_ROLE_CLIENT, client_ticket,
                                CRP_CAP_ZLIB | CRP_CAP_JPEG | CRP_CAP_AUDIO_OUT);
    f->server = display_channel(CRP_ROLE_SERVER, server_ticket, CRP_CAP_DISPLAY_ALL);
    g_assert_true(crp_channel_start(f->client, &error));
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_AUTHORIZE, &ev);
    g_assert_cmpstr(ev.peer_software, ==, "test-client 1");
    g_assert_true(crp_channel_authorize(f->server, CRP_STATUS_OK, NULL, &error));
    expect_event(f->server, CRP_EVENT_READY, &ev);
    g_assert_cmpuint(ev.capabilities, ==, CRP_CAP_ZLIB | CRP_CAP_JPEG | CRP_CAP_AUDIO_OUT);
    pump(f->server, f->client);
    expect_event(f->client, CRP_EVENT_READY, &ev);
    g_assert_cmpuint(ev.capabilities, ==, CRP_CAP_ZLIB | CRP_CAP_JPEG | CRP_CAP_AUDIO_OUT);
    g_assert_cmpstr(ev.peer_software, ==, "test-server 1");
    g_assert_cmpuint(ev.peer_minor, ==, CRP_PROTOCOL_MINOR);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_NONE, &ev);
    g_assert_true(crp_channel_is_ready(f->client));
    g_assert_true(crp_channel_is_ready(f->server));
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    crypto_box_keypair(f->user_public, f->user_secret);
    crypto_box_keypair(f->broker_public, f->broker_secret);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    crp_channel_free(f->client);
    crp_channel_free(f->server);
}

static void
send_key(CrpChannel *ch, guint32 serial, guint16 code)
{
    CrpMessage m = { .type = CRP_MSG_KEY, .key = { serial, code, 1 } };
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_channel_send(ch, &m, &error));
    g_assert_no_error(error);
}

static void
test_display_round_trip(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    connect_display(f, "ticket-123", "ticket-123");

    /* Client -> server: two keys in one record. */
    send_key(f->client, 1, 30);
    send_key(f->client, 2, 48);
    crp_channel_flush(f->client);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.type, ==, CRP_MSG_KEY);
    g_assert_cmpuint(ev.message.key.code, ==, 30);
    expect_event(f->server, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.key.serial, ==, 2);
    expect_event(f->server, CRP_EVENT_NONE, &ev);

    /* Server -> client, fed one byte at a time. */
    CrpMessage surface = { .type = CRP_MSG_SURFACE, .surface = { 800, 600 } };
    g_assert_true(crp_channel_send(f->server, &surface, &error));
    crp_channel_flush(f->server);
    g_autoptr(GByteArray) bytes = take_output(f->server);
    for (guint i = 0; i < bytes->len - 1; i++) {
        crp_channel_receive(f->client, bytes->data + i, 1);
        expect_event(f->client, CRP_EVENT_NONE, &ev);
    }
    crp_channel_receive(f->client, bytes->data + bytes->len - 1, 1);
    expect_event(f->client, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.surface.width, ==, 800);

    /* A client may not send server messages, nor the server client ones. */
    g_assert_false(crp_channel_send(f->client, &surface, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);

    g_assert_cmpuint(crp_channel_bytes_out(f->server), ==,
                     crp_channel_bytes_in(f->client));
}

static void
test_display_wrong_ticket(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = display_channel(CRP_ROLE_CLIENT, "guess", CRP_CAP_DISPLAY_ALL);
    f->server = display_channel(CRP_ROLE_SERVER, "the-real-ticket", CRP_CAP_DISPLAY_ALL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    /* The server refuses at the first MAC, before any DH of its own. */
    expect_error(f->server, CRP_ERROR_AUTH);
    g_assert_true(crp_channel_is_closed(f->server));
    g_assert_cmpuint(pump(f->server, f->client), >, 0);
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_AUTH);
    g_assert_nonnull(strstr(error->message, "ticket"));
    /* The failure is sticky. */
    g_clear_error(&error);
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
}

static void
test_display_no_valid_ticket(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    /* A server with no valid ticket (NULL) refuses even the empty one. */
    f->client = display_channel(CRP_ROLE_CLIENT, "", CRP_CAP_DISPLAY_ALL);
    f->server = display_channel(CRP_ROLE_SERVER, NULL, CRP_CAP_DISPLAY_ALL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    expect_error(f->server, CRP_ERROR_AUTH);
    /* The client reads the cleartext REJECT and its status. */
    pump(f->server, f->client);
    expect_error(f->client, CRP_ERROR_AUTH);
    g_assert_cmpuint(crp_channel_get_refusal(f->client), ==,
                     CRP_STATUS_AUTH_FAILED);
    g_assert_cmpuint(crp_channel_get_refusal(f->server), ==, CRP_STATUS_OK);
}

static void
test_display_no_ticket_mode(Fixture *f, gconstpointer data)
{
    connect_display(f, "", "");
}

static void
test_display_refused_by_policy(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = display_channel(CRP_ROLE_CLIENT, "t", CRP_CAP_DISPLAY_ALL);
    f->server = display_channel(CRP_ROLE_SERVER, "t", CRP_CAP_DISPLAY_ALL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_AUTHORIZE, &ev);
    g_assert_true(crp_channel_authorize(f->server, CRP_STATUS_NO_CAPACITY,
                                        "max-clients reached", &error));
    g_assert_true(crp_channel_is_closed(f->server));
    pump(f->server, f->client);
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_REJECTED);
    g_assert_nonnull(strstr(error->message, "max-clients reached"));
}

static void
test_version_mismatch(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = display_channel(CRP_ROLE_CLIENT, "t", CRP_CAP_DISPLAY_ALL);
    f->server = display_channel(CRP_ROLE_SERVER, "t", CRP_CAP_DISPLAY_ALL);
    crp_channel_start(f->client, &error);
    g_autoptr(GByteArray) hello = take_output(f->client);
    hello->data[4 + 4] = 2;         /* major version 2 */
    crp_channel_receive(f->server, hello->data, hello->len);
    expect_error(f->server, CRP_ERROR_VERSION);
    pump(f->server, f->client);
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_VERSION);
}

static void
test_prologue_bound(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    /* A newer minor version claimed by a middlebox breaks the first MAC:
     * the version bytes are part of the Noise prologue. */
    f->client = display_channel(CRP_ROLE_CLIENT, "t", CRP_CAP_DISPLAY_ALL);
    f->server = display_channel(CRP_ROLE_SERVER, "t", CRP_CAP_DISPLAY_ALL);
    crp_channel_start(f->client, &error);
    g_autoptr(GByteArray) hello = take_output(f->client);
    hello->data[4 + 5] = 7;
    crp_channel_receive(f->server, hello->data, hello->len);
    expect_error(f->server, CRP_ERROR_AUTH);
}

static void
test_hello_garbage(Fixture *f, gconstpointer data)
{
    static const char *const garbage[] = {
        "00000006 474554202f20",                /* "GET / " */
        "00000003 435250",                      /* magic only */
        "00000006 435250420100",                /* broker HELLO to display */
        "00000026 435250440100 00000000000000000000000000000000"
        "00000000000000000000000000000000",     /* no payload */
        "00100000",                             /* 1 MiB handshake frame */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(garbage); i++) {
        g_autoptr(GBytes) bytes = crp_test_hex(garbage[i]);
        g_autoptr(CrpChannel) server = display_channel(CRP_ROLE_SERVER, "t", 0);
        gsize len;
        const guint8 *p = g_bytes_get_data(bytes, &len);
        crp_channel_receive(server, p, len);
        expect_error(server, i == 4 ? CRP_ERROR_TOO_LARGE : CRP_ERROR_PROTOCOL);
        /* A REJECT explaining why is queued for the client. */
        g_assert_cmpuint(crp_channel_output_pending(server), >, 4);
    }
}

static CrpChannel *
broker_channel(Fixture *f, CrpRole role, const guint8 *pinned)
{
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_BROKER, .role = role,
        .static_secret = role == CRP_ROLE_CLIENT ? f->user_secret : f->broker_secret,
        .remote_static_public = pinned,
        .software = "test",
    };
    g_autoptr(GError) error = NULL;
    CrpChannel *ch = crp_channel_new(&cfg, &error);
    g_assert_no_error(error);
    return ch;
}

static void
test_broker_login(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = broker_channel(f, CRP_ROLE_CLIENT, f->broker_public);
    f->server = broker_channel(f, CRP_ROLE_SERVER, NULL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_AUTHORIZE, &ev);
    /* The broker learns which key logged in, and only through the MAC. */
    g_assert_cmpmem(ev.peer_static_public, 32, f->user_public, 32);
    crp_channel_authorize(f->server, CRP_STATUS_OK, NULL, &error);
    expect_event(f->server, CRP_EVENT_READY, &ev);
    pump(f->server, f->client);
    expect_event(f->client, CRP_EVENT_READY, &ev);

    CrpMessage req = { .type = CRP_MSG_CATALOG_LIST, .request = { 9 } };
    g_assert_true(crp_channel_send(f->client, &req, &error));
    crp_channel_flush(f->client);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.request.request_id, ==, 9);

    CrpMessage ok = { .type = CRP_MSG_OK, .ok_request_id = 9 };
    g_assert_true(crp_channel_send(f->server, &ok, &error));
    crp_channel_flush(f->server);
    pump(f->server, f->client);
    expect_event(f->client, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.type, ==, CRP_MSG_OK);
}

static void
test_broker_revoked_key(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = broker_channel(f, CRP_ROLE_CLIENT, f->broker_public);
    f->server = broker_channel(f, CRP_ROLE_SERVER, NULL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_AUTHORIZE, &ev);
    crp_channel_authorize(f->server, CRP_STATUS_KEY_REVOKED, "revoked on 2026-11-20", &error);
    pump(f->server, f->client);
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
    /* Authenticated: the client knows the broker itself said so. */
    g_assert_error(error, CRP_ERROR, CRP_ERROR_REJECTED);
    g_assert_nonnull(strstr(error->message, "revoked"));
    g_assert_cmpuint(crp_channel_get_refusal(f->client), ==,
                     CRP_STATUS_KEY_REVOKED);
}

static void
test_broker_wrong_pinned_key(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    guint8 other_public[32], other_secret[32];

    crypto_box_keypair(other_public, other_secret);
    f->client = broker_channel(f, CRP_ROLE_CLIENT, other_public);
    f->server = broker_channel(f, CRP_ROLE_SERVER, NULL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    expect_error(f->server, CRP_ERROR_AUTH);
    pump(f->server, f->client);
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_AUTH);
}

static void
test_broker_impostor(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    /* Someone answering with another key than the pinned one: the client
     * detects it at the response's MAC. */
    f->client = broker_channel(f, CRP_ROLE_CLIENT, f->broker_public);
    crypto_box_keypair(f->broker_public, f->broker_secret);   /* impostor */
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_BROKER, .role = CRP_ROLE_SERVER,
        .static_secret = f->broker_secret,
    };
    f->server = crp_channel_new(&cfg, &error);
    crp_channel_start(f->client, &error);
    g_autoptr(GByteArray) hello = take_output(f->client);
    crp_channel_receive(f->server, hello->data, hello->len);
    /* The impostor cannot even read the HELLO. */
    expect_error(f->server, CRP_ERROR_AUTH);
    (void)ev;
}

static void
test_broker_config_checked(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    CrpChannelConfig cfg = { .kind = CRP_CHANNEL_BROKER, .role = CRP_ROLE_CLIENT,
                             .static_secret = f->user_secret };
    g_assert_null(crp_channel_new(&cfg, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);
    CrpChannelConfig display = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_CLIENT };
    g_assert_null(crp_channel_new(&display, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
}

/* Encrypted records from server to client, taken off the wire. */
static GByteArray *
server_records(Fixture *f, guint n)
{
    for (guint i = 0; i < n; i++) {
        CrpMessage m = { .type = CRP_MSG_PING, .ping = { i, 1000 + i } };
        crp_channel_send(f->server, &m, NULL);
        crp_channel_flush(f->server);
    }
    return take_output(f->server);
}

static void
test_tampered_records(Fixture *f, gconstpointer data)
{
    connect_display(f, "t", "t");
    g_autoptr(GByteArray) wire = server_records(f, 1);
    g_autoptr(GByteArray) pristine = g_byte_array_new();
    g_byte_array_append(pristine, wire->data, wire->len);

    /* Flip every bit of the ciphertext in turn, each on a fresh channel
     * pair sharing nothing: each flip must fail authentication. Flips in
     * the length prefix fail as framing errors or truncation instead. */
    for (guint bit = 32; bit < wire->len * 8; bit += 7) {
        Fixture g;
        fixture_setup(&g, NULL);
        connect_display(&g, "t", "t");
        g_autoptr(GByteArray) rec = server_records(&g, 1);
        rec->data[bit / 8] ^= 1 << (bit % 8);
        crp_channel_receive(g.client, rec->data, rec->len);
        expect_error(g.client, CRP_ERROR_AUTH);
        /* The client says goodbye with the reason. */
        g_assert_cmpuint(crp_channel_output_pending(g.client), >, 0);
        fixture_teardown(&g, NULL);
    }
}

static void
test_replayed_and_reordered(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    connect_display(f, "t", "t");
    g_autoptr(GByteArray) first = server_records(f, 1);
    g_autoptr(GByteArray) second = server_records(f, 1);

    /* Replay: the same record twice. */
    crp_channel_receive(f->client, first->data, first->len);
    expect_event(f->client, CRP_EVENT_MESSAGE, &ev);
    crp_channel_receive(f->client, first->data, first->len);
    expect_error(f->client, CRP_ERROR_AUTH);

    /* Reorder: the second record before the first. */
    Fixture g;
    fixture_setup(&g, NULL);
    connect_display(&g, "t", "t");
    g_autoptr(GByteArray) a = server_records(&g, 1);
    g_autoptr(GByteArray) b = server_records(&g, 1);
    crp_channel_receive(g.client, b->data, b->len);
    expect_error(g.client, CRP_ERROR_AUTH);
    (void)a;
    (void)second;
    fixture_teardown(&g, NULL);
}

static void
test_oversized_frame(Fixture *f, gconstpointer data)
{
    connect_display(f, "t", "t");
    /* A length prefix past the cap is refused before anything is buffered. */
    static const guint8 huge[] = { 0x7f, 0xff, 0xff, 0xff };
    crp_channel_receive(f->client, huge, sizeof(huge));
    expect_error(f->client, CRP_ERROR_TOO_LARGE);

    /* A record too short to hold its MAC. */
    Fixture g;
    fixture_setup(&g, NULL);
    connect_display(&g, "t", "t");
    static const guint8 tiny[] = { 0, 0, 0, 3, 1, 2, 3 };
    crp_channel_receive(g.server, tiny, sizeof(tiny));
    expect_error(g.server, CRP_ERROR_PROTOCOL);
    fixture_teardown(&g, NULL);
}

static void
test_close_and_handover(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    connect_display(f, "t", "t");
    send_key(f->client, 1, 30);
    crp_channel_close(f->client, CRP_STATUS_OK, "done");
    g_assert_true(crp_channel_is_closed(f->client));
    g_assert_false(crp_channel_is_ready(f->client));
    /* Nothing may follow the final record. */
    CrpMessage m = { .type = CRP_MSG_CLOSE_APP };
    g_assert_false(crp_channel_send(f->client, &m, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CLOSED);
    g_clear_error(&error);

    /* Bytes after the final record belong to whatever comes next. */
    static const guint8 after[] = { 'n', 'e', 'x', 't' };
    pump(f->client, f->server);
    crp_channel_receive(f->server, after, sizeof(after));
    expect_event(f->server, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.type, ==, CRP_MSG_KEY);
    expect_event(f->server, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.type, ==, CRP_MSG_BYE);
    g_assert_true(crp_str_equal(ev.message.bye.reason, "done"));
    expect_event(f->server, CRP_EVENT_CLOSED, &ev);
    expect_event(f->server, CRP_EVENT_NONE, &ev);
    g_autoptr(GBytes) rest = crp_channel_steal_input(f->server);
    g_assert_cmpmem(g_bytes_get_data(rest, NULL), g_bytes_get_size(rest),
                    after, sizeof(after));
}

/* Protocol section 7: ATTACH and its OK each travel in a final record;
 * what follows on the connection is the display channel's. */
static void
test_attach_handover(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    static const guint8 hello[] = { 'C', 'R', 'P' };

    f->client = broker_channel(f, CRP_ROLE_CLIENT, f->broker_public);
    f->server = broker_channel(f, CRP_ROLE_SERVER, NULL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    expect_event(f->server, CRP_EVENT_AUTHORIZE, &ev);
    crp_channel_authorize(f->server, CRP_STATUS_OK, NULL, &error);
    expect_event(f->server, CRP_EVENT_READY, &ev);
    pump(f->server, f->client);
    expect_event(f->client, CRP_EVENT_READY, &ev);

    CrpMessage attach = { .type = CRP_MSG_ATTACH,
                          .request = { 4, crp_str("s1") } };
    g_assert_true(crp_channel_send(f->client, &attach, &error));
    g_assert_true(crp_channel_finish(f->client, &error));
    g_assert_true(crp_channel_is_closed(f->client));
    g_assert_false(crp_channel_finish(f->client, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CLOSED);
    g_clear_error(&error);
    pump(f->client, f->server);
    crp_channel_receive(f->server, hello, sizeof(hello));
    expect_event(f->server, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.type, ==, CRP_MSG_ATTACH);
    expect_event(f->server, CRP_EVENT_CLOSED, &ev);
    g_autoptr(GBytes) rest = crp_channel_steal_input(f->server);
    g_assert_cmpmem(g_bytes_get_data(rest, NULL), g_bytes_get_size(rest),
                    hello, sizeof(hello));

    CrpMessage ok = { .type = CRP_MSG_OK, .ok_request_id = 4 };
    g_assert_true(crp_channel_send(f->server, &ok, &error));
    g_assert_true(crp_channel_finish(f->server, &error));
    pump(f->server, f->client);
    expect_event(f->client, CRP_EVENT_MESSAGE, &ev);
    g_assert_cmpuint(ev.message.ok_request_id, ==, 4);
    expect_event(f->client, CRP_EVENT_CLOSED, &ev);
}

static void
test_large_batches_split(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    connect_display(f, "t", "t");

    /* 40 raw 128x128 rects: 2.6 MB each batch of 16 overflows one record. */
    g_autofree guint8 *pixels = g_malloc0(128 * 128 * 4);
    g_autoptr(GByteArray) encoded = g_byte_array_new();
    for (guint i = 0; i < 40; i++) {
        pixels[0] = i;
        CrpMessage rect = { .type = CRP_MSG_RECT, .rect = { .x = i, .width = 128,
            .height = 128, .encoding = CRP_ENCODING_RAW,
            .data = { pixels, 128 * 128 * 4 } } };
        if (i < 20) {
            g_assert_true(crp_channel_send(f->server, &rect, &error));
        } else {
            crp_message_encode(&rect, encoded);
        }
    }
    g_assert_true(crp_channel_send_encoded(f->server, encoded->data, encoded->len, &error));
    crp_channel_flush(f->server);
    pump(f->server, f->client);
    for (guint i = 0; i < 40; i++) {
        expect_event(f->client, CRP_EVENT_MESSAGE, &ev);
        g_assert_cmpuint(ev.message.rect.x, ==, i);
        g_assert_cmpuint(ev.message.rect.data.data[0], ==, i);
    }
    expect_event(f->client, CRP_EVENT_NONE, &ev);

    /* Half a message is refused, and nothing before it is queued. */
    g_clear_error(&error);
    g_assert_false(crp_channel_send_encoded(f->server, encoded->data,
                                            encoded->len - 1, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    crp_channel_flush(f->server);
    g_assert_cmpuint(crp_channel_output_pending(f->server), ==, 0);
}

static void
test_client_gives_up_in_handshake(Fixture *f, gconstpointer data)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;

    f->client = display_channel(CRP_ROLE_CLIENT, "t", CRP_CAP_DISPLAY_ALL);
    f->server = display_channel(CRP_ROLE_SERVER, "t", CRP_CAP_DISPLAY_ALL);
    crp_channel_start(f->client, &error);
    pump(f->client, f->server);
    crp_channel_close(f->client, CRP_STATUS_OK, "changed my mind");
    g_assert_true(crp_channel_is_closed(f->client));
    expect_event(f->server, CRP_EVENT_AUTHORIZE, &ev);
    crp_channel_authorize(f->server, CRP_STATUS_OK, NULL, &error);
    pump(f->server, f->client);
    /* A response arriving later does not revive it. */
    g_assert_cmpint(crp_channel_next_event(f->client, &ev, &error), ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_CLOSED);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/channel/display/round-trip", test_display_round_trip);
    ADD("/channel/display/wrong-ticket", test_display_wrong_ticket);
    ADD("/channel/display/no-valid-ticket", test_display_no_valid_ticket);
    ADD("/channel/display/no-ticket-mode", test_display_no_ticket_mode);
    ADD("/channel/display/refused-by-policy", test_display_refused_by_policy);
    ADD("/channel/handshake/version-mismatch", test_version_mismatch);
    ADD("/channel/handshake/prologue-bound", test_prologue_bound);
    ADD("/channel/handshake/garbage", test_hello_garbage);
    ADD("/channel/broker/login", test_broker_login);
    ADD("/channel/broker/revoked-key", test_broker_revoked_key);
    ADD("/channel/broker/wrong-pinned-key", test_broker_wrong_pinned_key);
    ADD("/channel/broker/impostor", test_broker_impostor);
    ADD("/channel/broker/config-checked", test_broker_config_checked);
    ADD("/channel/record/tampered", test_tampered_records);
    ADD("/channel/record/replayed-and-reordered", test_replayed_and_reordered);
    ADD("/channel/record/oversized", test_oversized_frame);
    ADD("/channel/record/close-and-handover", test_close_and_handover);
    ADD("/channel/record/large-batches", test_large_batches_split);
    ADD("/channel/broker/attach-handover", test_attach_handover);
    ADD("/channel/handshake/client-gives-up", test_client_gives_up_in_handshake);
    return g_test_run();
}
