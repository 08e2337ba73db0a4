/*
 * crp-synth.h: synthetic screen sequences for benchmarks and the demo.
 *
 * Each scene renders frame n into a PIXMAN_x8r8g8b8 image, deterministic
 * for a given n, so that runs compare like with like.
 */
#pragma once

#include <glib.h>
#include <pixman.h>

G_BEGIN_DECLS

typedef enum {
    CRP_SYNTH_TERMINAL,     /* full-screen terminal, one text line scrolled per frame */
    CRP_SYNTH_WINDOW_DRAG,  /* a 640x480 window dragged across a photo wallpaper */
    CRP_SYNTH_VIDEO,        /* a 640x360 video-like region on a still desktop */
    CRP_SYNTH_IDLE,         /* a still desktop with a blinking text cursor */
    CRP_SYNTH_SIDEWAYS,     /* a colour band scrolling left, a window dragged sideways */
    CRP_SYNTH_N_SCENES,
} CrpSynthScene;

/** "terminal", "window-drag", "video", "idle", "sideways". */
const char *crp_synth_scene_name(CrpSynthScene scene);

/** Renders @frame of @scene into @image (any size; 1920x1080 in benchmarks). */
void crp_synth_render(CrpSynthScene scene, guint frame, pixman_image_t *image);

G_END_DECLS
