/*
 * crp-demo: what the product can show before the broker and client exist.
 *
 * A server and a client, each a real libcrp channel, run the display
 * handshake with a random one-time ticket; the server encodes synthetic
 * screen sequences, seals them into encrypted records, and the client
 * decrypts, decodes and keeps a framebuffer. The client's screen is saved
 * as PNG and checked against the server's.
 *
 * Usage: crp-demo [--out DIR] [--frames N]
 */
#include <crp/crp-channel.h>
#include <crp/crp-decoder.h>
#include <crp/crp-encoder.h>
#include <crp/crp-error.h>
#include <crp/crp-png.h>
#include <sodium.h>
#include <string.h>
#include "crp-synth.h"

#define WIDTH 1280
#define HEIGHT 720

typedef struct {
    CrpChannel *server, *client;
    CrpDecoder *decoder;
    guint64 wire_bytes;
    guint frames_presented;
} Demo;

/* Moves the server's output to the client, as a socket would. */
static void
deliver(Demo *d, CrpChannel *from, CrpChannel *to)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(from, &len);
    crp_channel_receive(to, data, len);
    crp_channel_consume_output(from, len);
    d->wire_bytes += len;
}

static gboolean
client_drain(Demo *d, GError **error)
{
    CrpEvent ev;
    CrpEventType t;
    while ((t = crp_channel_next_event(d->client, &ev, error)) > CRP_EVENT_NONE) {
        if (t != CRP_EVENT_MESSAGE) {
            continue;
        }
        const CrpMessage *m = &ev.message;
        if (m->type == CRP_MSG_SURFACE &&
            !crp_decoder_set_surface(d->decoder, &m->surface, error)) {
            return FALSE;
        }
        if (m->type == CRP_MSG_RECT &&
            !crp_decoder_apply_rect(d->decoder, &m->rect, m->flags, error)) {
            return FALSE;
        }
        if (m->type == CRP_MSG_FRAME_END) {
            d->frames_presented++;
        }
    }
    return t != CRP_EVENT_ERROR;
}

static gboolean
handshake(Demo *d, GError **error)
{
    guint8 raw[24];
    char ticket[64];
    CrpEvent ev;

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(ticket, sizeof(ticket), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    CrpChannelConfig server_cfg = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_SERVER,
        .ticket = ticket, .capabilities = CRP_CAP_DISPLAY_ALL, .software = "crp-demo server" };
    CrpChannelConfig client_cfg = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_CLIENT,
        .ticket = ticket, .capabilities = CRP_CAP_ZLIB | CRP_CAP_JPEG,
        .software = "crp-demo client" };
    d->server = crp_channel_new(&server_cfg, error);
    d->client = crp_channel_new(&client_cfg, error);
    if (!d->server || !d->client || !crp_channel_start(d->client, error)) {
        return FALSE;
    }
    deliver(d, d->client, d->server);
    if (crp_channel_next_event(d->server, &ev, error) != CRP_EVENT_AUTHORIZE ||
        !crp_channel_authorize(d->server, CRP_STATUS_OK, NULL, error) ||
        crp_channel_next_event(d->server, &ev, error) != CRP_EVENT_READY) {
        return FALSE;
    }
    deliver(d, d->server, d->client);
    if (crp_channel_next_event(d->client, &ev, error) != CRP_EVENT_READY) {
        return FALSE;
    }
    g_print("handshake: one-time ticket, X25519 + XChaCha20-Poly1305, "
            "negotiated capabilities 0x%02x\n", ev.capabilities);
    deliver(d, d->client, d->server);
    return TRUE;
}

static gboolean
save_png(pixman_image_t *image, const char *dir, const char *name, GError **error)
{
    g_autoptr(GBytes) png = crp_png_encode(image);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (!g_file_set_contents(path, g_bytes_get_data(png, NULL),
                             g_bytes_get_size(png), error)) {
        return FALSE;
    }
    g_print("  screenshot: %s\n", path);
    return TRUE;
}

static gboolean
equal_images(pixman_image_t *a, pixman_image_t *b)
{
    for (int y = 0; y < HEIGHT; y++) {
        const guint8 *ra = (guint8 *)pixman_image_get_data(a) + y * pixman_image_get_stride(a);
        const guint8 *rb = (guint8 *)pixman_image_get_data(b) + y * pixman_image_get_stride(b);
        if (memcmp(ra, rb, WIDTH * 4) != 0) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
stream_scene(Demo *d, CrpSynthScene scene, guint frames, const char *dir,
             GError **error)
{
    CrpEncoderConfig cfg = { .encodings = (1u << CRP_ENCODING_ZLIB) |
                                          (1u << CRP_ENCODING_JPEG) };
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&cfg);
    g_autoptr(GByteArray) out = g_byte_array_new();
    pixman_image_t *prev = pixman_image_create_bits(PIXMAN_x8r8g8b8, WIDTH, HEIGHT, NULL, 0);
    pixman_image_t *cur = pixman_image_create_bits(PIXMAN_x8r8g8b8, WIDTH, HEIGHT, NULL, 0);
    guint64 start_bytes = d->wire_bytes;
    g_autofree char *name = NULL;
    gboolean ok = FALSE;

    CrpMessage surface = { .type = CRP_MSG_SURFACE, .surface = { WIDTH, HEIGHT } };
    if (!crp_channel_send(d->server, &surface, error)) {
        goto out;
    }
    /* Extra still frames at the end let lossy areas be refined. */
    for (guint f = 0; f < frames + 20; f++) {
        pixman_image_t *tmp = prev;
        prev = cur;
        cur = tmp;
        crp_synth_render(scene, MIN(f, frames - 1), cur);
        g_byte_array_set_size(out, 0);
        crp_encoder_encode_frame(enc, f ? prev : NULL, cur, NULL,
                                 (gint64)f * 16667, out, NULL);
        CrpMessage end = { .type = CRP_MSG_FRAME_END, .frame_end = {
            .frame_id = f, .capture_us = (guint64)f * 16667 } };
        if (!crp_channel_send_encoded(d->server, out->data, out->len, error) ||
            !crp_channel_send(d->server, &end, error)) {
            goto out;
        }
        crp_channel_flush(d->server);
        deliver(d, d->server, d->client);
        if (!client_drain(d, error)) {
            goto out;
        }
    }
    guint64 bytes = d->wire_bytes - start_bytes;
    g_print("%-12s %u frames %dx%d: %.1f KiB encrypted on the wire "
            "(%.2f%% of raw frames), client screen %s the server's\n",
            crp_synth_scene_name(scene), frames, WIDTH, HEIGHT, bytes / 1024.0,
            100.0 * bytes / ((double)(frames + 20) * WIDTH * HEIGHT * 4),
            equal_images(cur, crp_decoder_get_image(d->decoder)) ?
            "equals" : "DIFFERS FROM");
    name = g_strdup_printf("%s.png", crp_synth_scene_name(scene));
    ok = save_png(crp_decoder_get_image(d->decoder), dir, name, error);
out:
    pixman_image_unref(prev);
    pixman_image_unref(cur);
    return ok;
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = g_strdup(".state/demo");
    int frames = 60;
    GOptionEntry entries[] = {
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &dir, "where to write screenshots", "DIR" },
        { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "frames per scene (60)", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- CRP end-to-end demo");
    g_autoptr(GError) error = NULL;
    Demo d = { 0 };

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || frames < 1) {
        g_printerr("crp-demo: %s\n", error ? error->message : "--frames must be >= 1");
        return 2;
    }
    if (sodium_init() < 0 || g_mkdir_with_parents(dir, 0700) != 0) {
        g_printerr("crp-demo: cannot initialise or create %s\n", dir);
        return 1;
    }
    d.decoder = crp_decoder_new();
    gboolean ok = handshake(&d, &error);
    for (CrpSynthScene s = 0; ok && s < CRP_SYNTH_N_SCENES; s++) {
        ok = stream_scene(&d, s, frames, dir, &error);
    }
    if (ok) {
        crp_channel_close(d.server, CRP_STATUS_OK, "demo finished");
        deliver(&d, d.server, d.client);
        ok = client_drain(&d, &error);
    }
    if (!ok) {
        g_printerr("crp-demo: %s\n", error ? error->message : "handshake failed");
    } else {
        g_print("%u frames presented, %.1f KiB in total on the wire\n",
                d.frames_presented, d.wire_bytes / 1024.0);
    }
    crp_channel_free(d.server);
    crp_channel_free(d.client);
    crp_decoder_free(d.decoder);
    return ok ? 0 : 1;
}
