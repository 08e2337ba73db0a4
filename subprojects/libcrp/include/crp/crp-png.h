/*
 * crp-png.h: encode a framebuffer as PNG bytes (for screenshots).
 *
 * Sans I/O like the rest of libcrp: the caller writes the bytes wherever
 * it wants. 8-bit RGB, no interlace, zlib-compressed.
 */
#pragma once

#include <glib.h>
#include <pixman.h>

G_BEGIN_DECLS

/** Encodes @image (PIXMAN_x8r8g8b8 or PIXMAN_a8r8g8b8; alpha dropped). */
GBytes *crp_png_encode(pixman_image_t *image);

G_END_DECLS
