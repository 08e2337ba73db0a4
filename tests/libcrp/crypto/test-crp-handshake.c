/*
 * test-crp-handshake.c: golden vectors of both handshakes, and the keys
 * they refuse (low-order points, docs/protocol.md 3.2).
 *
 * Under a deterministic RNG (BLAKE2b of a counter, see crp-test-util.h)
 * every ephemeral key and stream header is fixed, so the bytes of a whole
 * exchange are fixed too. They are the worked example in docs/protocol.md:
 * an implementation that follows the spec reproduces them.
 */
#include <crp/crp-channel.h>
#include <crp/crp-error.h>
#include <crp/crp-wire.h>
#include "crp-test-util.h"
#include "crp-test-forge.h"

/* Regenerate (after a deliberate wire change, with docs/protocol.md)
 * by running the test with CRP_PRINT_GOLDEN=1. */
#define GOLDEN_DISPLAY_HELLO \
    "00000042435250440100aba04b8ab9210ba3255dd2ad43c921995b0efc56d0be" \
    "9de5b44a056d2d020b71f6795aa7418cb9338d0bc440df5f22033d21c8d09ebc" \
    "7fc3541327ad"
#define GOLDEN_DISPLAY_RESPONSE \
    "00000042012de69727ce7fa848f0ada6f20b715e35c4bbd3f57e8226f36484c4" \
    "d431870720e257958bdf49a3f7bc1a4ef8ec7fed8244faeed9cf6f8eb6a00b9d" \
    "f985a1dddaa10000001807c6e79558b4c23fc0b444e1fffca817aaf9a7b584c2" \
    "baa5000000231dd1d2428372cd8109447dd70ade8b444527273450f433a6a88f" \
    "9b0c9d4b7d70071731"
#define GOLDEN_DISPLAY_CLIENT_RECORD \
    "00000018af59d9e9ff8960d8c5ab1caf294fab73860b8409aca7e6190000001e" \
    "9e8bde59be7ddba993922dad74010f5c24cf78631c282781d9918ada226a"
#define GOLDEN_BROKER_HELLO \
    "00000072435250420100aba04b8ab9210ba3255dd2ad43c921995b0efc56d0be" \
    "9de5b44a056d2d020b711c399509438ebdf72a37542e30d1e7bfe8ff33b15d9f" \
    "0eafd670787947dc8b1baf69e2f37894169973081d3e1e3151ef5e6fb6298e8f" \
    "e9b1aa98708f6c5ca25b029338ea43eb9bd46035c76b"
#define GOLDEN_BROKER_RESPONSE \
    "00000042012de69727ce7fa848f0ada6f20b715e35c4bbd3f57e8226f36484c4" \
    "d4318707209b887f76d077f0a58ed7815c70048888a9a41989af8264c8d873d5" \
    "c730a13e135a0000001807c6e79558b4c23fc0b444e1fffca817aaf9a7b584c2" \
    "baa5"
#define GOLDEN_BROKER_CLIENT_RECORD \
    "00000018af59d9e9ff8960d8c5ab1caf294fab73860b8409aca7e6190000001b" \
    "2e9f2842c64d3a9cb050f3486e4741ddec7e2d77be51c51e41a1cc"

static GByteArray *
take(CrpChannel *ch)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(ch, &len);
    GByteArray *out = g_byte_array_new();
    g_byte_array_append(out, data, len);
    crp_channel_consume_output(ch, len);
    return out;
}

static void
check_hex(const char *what, GByteArray *got, const char *expected_hex)
{
    g_autofree char *hex = crp_test_to_hex(got->data, got->len);
    g_autoptr(GBytes) expected = crp_test_hex(expected_hex);
    if (g_getenv("CRP_PRINT_GOLDEN")) {
        g_printerr("%s: %s\n", what, hex);
        return;
    }
    g_test_message("%s", what);
    g_assert_cmpmem(got->data, got->len, g_bytes_get_data(expected, NULL),
                    g_bytes_get_size(expected));
}

static void
deliver(CrpChannel *to, GByteArray *bytes)
{
    crp_channel_receive(to, bytes->data, bytes->len);
}

/* Golden display exchange: ticket "golden-ticket", client caps 0x3f,
 * server caps 0x07, one KEY from the client, one PING from the server. */
static void
test_display_golden(void)
{
    g_autoptr(GError) error = NULL;
    CrpEvent ev;

    crp_test_rng_reset();
    CrpChannelConfig ccfg = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_CLIENT,
                              .ticket = "golden-ticket", .capabilities = 0x3f,
                              .software = "client" };
    CrpChannelConfig scfg = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_SERVER,
                              .ticket = "golden-ticket", .capabilities = 0x07,
                              .software = "server" };
    g_autoptr(CrpChannel) client = crp_channel_new(&ccfg, &error);
    g_autoptr(CrpChannel) server = crp_channel_new(&scfg, &error);

    crp_channel_start(client, &error);
    g_autoptr(GByteArray) hello = take(client);
    check_hex("display HELLO", hello, GOLDEN_DISPLAY_HELLO);
    deliver(server, hello);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==, CRP_EVENT_AUTHORIZE);
    crp_channel_authorize(server, CRP_STATUS_OK, NULL, &error);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==, CRP_EVENT_READY);
    g_assert_cmpuint(ev.capabilities, ==, 0x07);
    CrpMessage ping = { .type = CRP_MSG_PING, .ping = { 1, 2 } };
    crp_channel_send(server, &ping, &error);
    crp_channel_flush(server);
    g_autoptr(GByteArray) response = take(server);
    check_hex("display RESPONSE + server stream header + PING record",
              response, GOLDEN_DISPLAY_RESPONSE);
    deliver(client, response);
    g_assert_cmpint(crp_channel_next_event(client, &ev, &error), ==, CRP_EVENT_READY);
    g_assert_cmpint(crp_channel_next_event(client, &ev, &error), ==, CRP_EVENT_MESSAGE);
    g_assert_cmpuint(ev.message.type, ==, CRP_MSG_PING);

    CrpMessage key = { .type = CRP_MSG_KEY, .key = { 1, 30, 1 } };
    crp_channel_send(client, &key, &error);
    crp_channel_flush(client);
    g_autoptr(GByteArray) first = take(client);
    check_hex("client stream header + KEY record", first, GOLDEN_DISPLAY_CLIENT_RECORD);
    deliver(server, first);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==, CRP_EVENT_MESSAGE);
    g_assert_cmpuint(ev.message.key.code, ==, 30);
    g_assert_no_error(error);
}

/* Golden broker exchange: secret keys are the bytes 0x01.. and 0x41..;
 * the broker accepts and the client sends CATALOG_LIST. */
static void
test_broker_golden(void)
{
    g_autoptr(GError) error = NULL;
    guint8 user_secret[32], broker_secret[32], broker_public[32];
    CrpEvent ev;

    for (int i = 0; i < 32; i++) {
        user_secret[i] = 0x01 + i;
        broker_secret[i] = 0x41 + i;
    }
    crypto_scalarmult_base(broker_public, broker_secret);
    crp_test_rng_reset();
    CrpChannelConfig ccfg = { .kind = CRP_CHANNEL_BROKER, .role = CRP_ROLE_CLIENT,
                              .static_secret = user_secret,
                              .remote_static_public = broker_public,
                              .software = "client" };
    CrpChannelConfig scfg = { .kind = CRP_CHANNEL_BROKER, .role = CRP_ROLE_SERVER,
                              .static_secret = broker_secret, .software = "broker" };
    g_autoptr(CrpChannel) client = crp_channel_new(&ccfg, &error);
    g_autoptr(CrpChannel) server = crp_channel_new(&scfg, &error);

    crp_channel_start(client, &error);
    g_autoptr(GByteArray) hello = take(client);
    check_hex("broker HELLO", hello, GOLDEN_BROKER_HELLO);
    deliver(server, hello);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==, CRP_EVENT_AUTHORIZE);
    crp_channel_authorize(server, CRP_STATUS_OK, NULL, &error);
    g_autoptr(GByteArray) response = take(server);
    check_hex("broker RESPONSE + stream header", response, GOLDEN_BROKER_RESPONSE);
    deliver(client, response);
    g_assert_cmpint(crp_channel_next_event(client, &ev, &error), ==, CRP_EVENT_READY);
    CrpMessage req = { .type = CRP_MSG_CATALOG_LIST, .request = { 1 } };
    crp_channel_send(client, &req, &error);
    crp_channel_flush(client);
    g_autoptr(GByteArray) first = take(client);
    check_hex("client stream header + CATALOG_LIST record", first,
              GOLDEN_BROKER_CLIENT_RECORD);
    g_assert_no_error(error);
}

static CrpChannel *
display_server(const char *ticket)
{
    CrpChannelConfig cfg = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_SERVER,
                             .ticket = ticket, .capabilities = CRP_CAP_DISPLAY_ALL };
    return crp_channel_new(&cfg, NULL);
}

/* @server refuses @hello for its low-order key: an error, and a REJECT
 * BAD_REQUEST in the clear that says why. */
static void
expect_low_order_refusal(CrpChannel *server, GByteArray *hello)
{
    g_autoptr(GError) error = NULL;
    CrpEvent ev;

    deliver(server, hello);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==, CRP_EVENT_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "low-order"));
    g_assert_true(crp_channel_is_closed(server));

    g_autoptr(GByteArray) out = take(server);
    g_assert_cmpuint(out->len, >=, 4 + 5);
    g_assert_cmpuint(out->data[4], ==, 0x02);                   /* REJECT */
    g_assert_cmpuint(out->data[5] << 8 | out->data[6], ==, CRP_STATUS_BAD_REQUEST);
    guint len = out->data[7] << 8 | out->data[8];
    g_assert_cmpuint(out->len, ==, 4 + 5 + len);
    g_autofree char *reason = g_strndup((const char *)out->data + 9, len);
    g_assert_nonnull(strstr(reason, "low-order"));
}

/* The forger's HELLO works with a real key, so what fails below fails for
 * the key alone. */
static void
test_display_forged_hello_with_a_real_key(void)
{
    g_autoptr(GError) error = NULL;
    guint8 sec[CRP_NOISE_DHLEN], pub[CRP_NOISE_DHLEN];
    CrpEvent ev;

    randombytes_buf(sec, sizeof(sec));
    crypto_scalarmult_base(pub, sec);
    g_autoptr(GByteArray) hello = crp_test_forge_display_hello("golden-ticket", pub);
    g_autoptr(CrpChannel) server = display_server("golden-ticket");
    deliver(server, hello);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==,
                    CRP_EVENT_AUTHORIZE);
    g_assert_no_error(error);
    g_assert_cmpstr(ev.peer_software, ==, "forger");
}

/* A client that holds the ticket but sends a low-order ephemeral key would
 * make the server's `ee` predictable: the server refuses it in the clear
 * (BAD_REQUEST), before it authorizes anything or answers with keys. */
static void
test_display_low_order_ephemeral_is_refused(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(crp_test_low_order_points); i++) {
        g_autoptr(GBytes) point = crp_test_hex(crp_test_low_order_points[i]);

        g_test_message("point %s", crp_test_low_order_points[i]);
        g_autoptr(GByteArray) hello =
            crp_test_forge_display_hello("golden-ticket", g_bytes_get_data(point, NULL));
        g_autoptr(CrpChannel) server = display_server("golden-ticket");
        expect_low_order_refusal(server, hello);
    }
}

/* The broker's `es` meets the client's ephemeral key first: a low-order
 * one is named as such, not taken for a truncated HELLO. */
static void
test_broker_low_order_ephemeral_is_refused(void)
{
    guint8 broker_secret[32];

    randombytes_buf(broker_secret, sizeof(broker_secret));
    for (gsize i = 0; i < G_N_ELEMENTS(crp_test_low_order_points); i++) {
        g_autoptr(GBytes) point = crp_test_hex(crp_test_low_order_points[i]);
        g_autoptr(GByteArray) hello = g_byte_array_new();
        guint8 rest[48 + 16 + 10] = { 0 };

        crp_put_u32(hello, 6 + 32 + sizeof(rest));
        crp_put_bytes(hello, "CRPB\x01\x00", 6);
        crp_put_bytes(hello, g_bytes_get_data(point, NULL), 32);
        crp_put_bytes(hello, rest, sizeof(rest));
        CrpChannelConfig cfg = { .kind = CRP_CHANNEL_BROKER, .role = CRP_ROLE_SERVER,
                                 .static_secret = broker_secret };
        g_autoptr(CrpChannel) server = crp_channel_new(&cfg, NULL);
        expect_low_order_refusal(server, hello);
    }
}

/* The client side: a RESPONSE whose ephemeral key has low order fails the
 * `ee` check, on both channels. */
static void
test_client_refuses_low_order_response(void)
{
    guint8 user_secret[32], broker_public[32];

    randombytes_buf(user_secret, sizeof(user_secret));
    randombytes_buf(broker_public, sizeof(broker_public));
    crypto_scalarmult_base(broker_public, broker_public);
    for (int kind = CRP_CHANNEL_DISPLAY; kind <= CRP_CHANNEL_BROKER; kind++) {
        for (gsize i = 0; i < G_N_ELEMENTS(crp_test_low_order_points); i++) {
            g_autoptr(GError) error = NULL;
            g_autoptr(GBytes) point = crp_test_hex(crp_test_low_order_points[i]);
            g_autoptr(GByteArray) response = g_byte_array_new();
            guint8 tag[16 + 20] = { 0 };
            CrpEvent ev;
            CrpChannelConfig cfg = { .kind = kind, .role = CRP_ROLE_CLIENT,
                                     .ticket = "golden-ticket",
                                     .static_secret = user_secret,
                                     .remote_static_public = broker_public };
            g_autoptr(CrpChannel) client = crp_channel_new(&cfg, NULL);

            crp_channel_start(client, NULL);
            g_autoptr(GByteArray) hello = take(client);
            crp_put_u32(response, 1 + 32 + sizeof(tag));
            crp_put_u8(response, 0x01);
            crp_put_bytes(response, g_bytes_get_data(point, NULL), 32);
            crp_put_bytes(response, tag, sizeof(tag));
            deliver(client, response);
            g_assert_cmpint(crp_channel_next_event(client, &ev, &error), ==,
                            CRP_EVENT_ERROR);
            g_assert_error(error, CRP_ERROR, CRP_ERROR_AUTH);
        }
    }
}

/* A key file that pins a low-order broker key would make `es` and `ss`
 * predictable: the broker channel refuses to start with it. */
static void
test_client_refuses_low_order_broker_key(void)
{
    guint8 user_secret[32];

    randombytes_buf(user_secret, sizeof(user_secret));
    for (gsize i = 0; i < G_N_ELEMENTS(crp_test_low_order_points); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) point = crp_test_hex(crp_test_low_order_points[i]);
        CrpChannelConfig cfg = { .kind = CRP_CHANNEL_BROKER, .role = CRP_ROLE_CLIENT,
                                 .static_secret = user_secret,
                                 .remote_static_public = g_bytes_get_data(point, NULL) };
        g_autoptr(CrpChannel) client = crp_channel_new(&cfg, &error);

        if (client) {
            crp_channel_start(client, &error);
        }
        g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
        g_assert_nonnull(strstr(error->message, "broker's public key"));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    crp_test_use_deterministic_rng();
    g_test_add_func("/handshake/golden/display", test_display_golden);
    g_test_add_func("/handshake/golden/broker", test_broker_golden);
    g_test_add_func("/handshake/display/forged-hello-with-a-real-key",
                    test_display_forged_hello_with_a_real_key);
    g_test_add_func("/handshake/display/low-order-ephemeral-is-refused",
                    test_display_low_order_ephemeral_is_refused);
    g_test_add_func("/handshake/broker/low-order-ephemeral-is-refused",
                    test_broker_low_order_ephemeral_is_refused);
    g_test_add_func("/handshake/client/low-order-response-is-refused",
                    test_client_refuses_low_order_response);
    g_test_add_func("/handshake/client/low-order-broker-key-is-refused",
                    test_client_refuses_low_order_broker_key);
    return g_test_run();
}
