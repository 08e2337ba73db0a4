/*
 * fuzz-client-parser.c: what a client parses from a hostile server after
 * the handshake: display messages, every SURFACE and RECT applied to a
 * CrpDecoder, and (with FUZZ_FLAG_BROKER) the broker's replies, lists
 * iterated to the end.
 *
 * Input: a flags byte, then chunks; the paths are those of
 * fuzz-server-parser.c with the roles swapped. SURFACEs over
 * FUZZ_MAX_SURFACE on a side are skipped to keep the framebuffer small
 * (later RECTs then meet the previous surface, or none).
 */
#include "fuzz-common.h"
#include <crp/crp-decoder.h>

#define FUZZ_MAX_SURFACE 1024

static gboolean
apply(const CrpMessage *msg, gpointer user_data)
{
    CrpDecoder *decoder = user_data;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    switch (msg->type) {
    case CRP_MSG_SURFACE:
        if (msg->surface.width > FUZZ_MAX_SURFACE ||
            msg->surface.height > FUZZ_MAX_SURFACE) {
            return TRUE;
        }
        ok = crp_decoder_set_surface(decoder, &msg->surface, &error);
        if (ok) {
            pixman_image_t *image = crp_decoder_get_image(decoder);
            g_assert_nonnull(image);
            g_assert_cmpint(pixman_image_get_width(image), ==, msg->surface.width);
            g_assert_cmpint(pixman_image_get_height(image), ==, msg->surface.height);
        }
        break;
    case CRP_MSG_RECT:
        ok = crp_decoder_apply_rect(decoder, &msg->rect, msg->flags, &error);
        break;
    default:
        return TRUE;
    }
    fuzz_trace("  decoder: %s\n", ok ? "ok" : error->message);
    if (!ok) {
        /* The client drops a server that sends bad pixel data. */
        g_assert_nonnull(error);
        g_assert_true(error->domain == CRP_ERROR);
        return FALSE;
    }
    g_assert_no_error(error);
    return TRUE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    fuzz_init();
    CrpDecoder *decoder = crp_decoder_new();
    fuzz_run_parser(CRP_ROLE_CLIENT, data[0], data + 1, size - 1, apply, decoder);
    crp_decoder_free(decoder);
    return 0;
}
