/*
 * crp-capture.h: keep a server framebuffer up to date from a guest surface,
 * copying only what the guest said it changed.
 *
 * The guest's surface is not ours: its size and pixel format change
 * whenever the guest sets a mode, and reports of what changed were made
 * against the surface of their time. A CrpCapture keeps those reports
 * (the damage) and the size they belong to, so that nothing reported for
 * an earlier surface is ever read from a later one, and every copy stays
 * inside both images whatever the reports say.
 *
 *   CrpCapture *cap = crp_capture_new();
 *   crp_capture_switch(cap, w, h);          // on every surface switch
 *   crp_capture_damage(cap, x, y, w, h);    // on every update
 *   ...
 *   pixman_region32_t copied;
 *   pixman_region32_init(&copied);
 *   crp_capture_copy(cap, surface_image, fb, &copied);
 *
 * Not thread-safe: one owner (QEMU's main loop, under the BQL).
 */
#pragma once

#include <glib.h>
#include <pixman.h>

G_BEGIN_DECLS

typedef struct CrpCapture CrpCapture;

CrpCapture *crp_capture_new(void);
/** Accepts NULL. */
void crp_capture_free(CrpCapture *cap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpCapture, crp_capture_free)

/**
 * The source is now a @width x @height image (0 x 0: none). All of it is
 * new, and what was reported for the previous one is forgotten.
 */
void crp_capture_switch(CrpCapture *cap, int width, int height);

/** The source changed in this rectangle (clipped to the source's size). */
void crp_capture_damage(CrpCapture *cap, int x, int y, int width, int height);

/** All of the source counts as changed (e.g. @dst may be stale). */
void crp_capture_damage_all(CrpCapture *cap);

/** Whether anything waits to be copied. */
gboolean crp_capture_pending(const CrpCapture *cap);

/**
 * Copies what changed from @src into @dst, converting from @src's pixel
 * format (any pixman format: 32, 24, 16 or 8 bits per pixel) into @dst's
 * PIXMAN_x8r8g8b8, and clipped to both images. Adds what it copied to
 * @copied (NULL: not wanted) and forgets it.
 *
 * @src must have the size of the last crp_capture_switch(): a source of
 * another size, or a @dst that is not x8r8g8b8, copies nothing and
 * returns FALSE (the damage stays for the right pair).
 */
gboolean crp_capture_copy(CrpCapture *cap, pixman_image_t *src,
                          pixman_image_t *dst, pixman_region32_t *copied);

G_END_DECLS
