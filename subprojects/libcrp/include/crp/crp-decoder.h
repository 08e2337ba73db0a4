/*
 * crp-decoder.h: apply SURFACE and RECT messages to a client framebuffer.
 *
 * The decoder owns the framebuffer (a PIXMAN_x8r8g8b8 image), the inflate
 * stream that mirrors the server's deflate stream, and a TurboJPEG handle.
 * Every rect is checked against the surface; bad data is an error for the
 * connection, never a crash.
 */
#pragma once

#include <glib.h>
#include <pixman.h>
#include "crp/crp-message.h"

G_BEGIN_DECLS

typedef struct CrpDecoder CrpDecoder;

CrpDecoder *crp_decoder_new(void);
void crp_decoder_free(CrpDecoder *dec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpDecoder, crp_decoder_free)

/** (Re)creates the framebuffer, black, at the SURFACE's size. */
gboolean crp_decoder_set_surface(CrpDecoder *dec, const CrpSurfaceMsg *surface,
                                 GError **error);

/**
 * Applies one RECT (with the message's @flags) to the framebuffer.
 * Fails with CRP_ERROR_PROTOCOL if there is no surface or the rect (or a
 * COPY's source) is outside it, CRP_ERROR_CODEC if its data does not
 * decode to exactly width x height pixels.
 */
gboolean crp_decoder_apply_rect(CrpDecoder *dec, const CrpRectMsg *rect,
                                guint8 flags, GError **error);

/** The framebuffer (owned by the decoder; NULL before the first SURFACE). */
pixman_image_t *crp_decoder_get_image(CrpDecoder *dec);

G_END_DECLS
