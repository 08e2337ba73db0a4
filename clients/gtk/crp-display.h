/*
 * crp-display.h: the widget that shows a guest's screen and takes its
 * input.
 *
 * It draws the CrpViewer's framebuffer (as a CrpTileGrid: a frame costs
 * only the tiles it touched), scaled to fit or 1:1, and turns keys,
 * pointer, buttons and wheel over it into CRP input on the viewer. It
 * acknowledges each frame once it has been painted, so the server's flow
 * control follows what the user really sees. While it has the keyboard
 * focus, system shortcuts (Alt+Tab, ...) go to the guest; when it loses
 * focus, every key and button it pressed is released.
 *
 * The widget never owns the connection: the session tells it about
 * surfaces, frames and cursor changes, and it calls the flush function
 * after queueing input so the session can write it out.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include <crp/crp-viewer.h>

G_BEGIN_DECLS

#define CRP_TYPE_DISPLAY (crp_display_get_type())
G_DECLARE_FINAL_TYPE(CrpDisplay, crp_display, CRP, DISPLAY, GtkWidget)

typedef void (*CrpDisplayFlushFunc)(gpointer data);
/** The widget's size in device pixels (allocation x scale factor). */
typedef void (*CrpDisplayViewFunc)(gpointer data, int width, int height);

GtkWidget *crp_display_new(void);

/**
 * Draws from and sends input to @viewer (switching it to manual frame
 * acknowledgement), calling @flush after queueing anything. NULL detaches
 * (the connection ended): the last picture stays, input is dropped.
 */
void crp_display_set_viewer(CrpDisplay *display, CrpViewer *viewer,
                            CrpDisplayFlushFunc flush, gpointer data);

/** The viewer's framebuffer was re-created at @width x @height. */
void crp_display_surface_changed(CrpDisplay *display, int width, int height);

/** Frame @frame_id is decoded; @damage is what changed. */
void crp_display_frame(CrpDisplay *display, const pixman_box32_t *damage,
                       guint32 frame_id);

/** The viewer's cursor shape or visibility changed. */
void crp_display_cursor_changed(CrpDisplay *display);

/** Scaled to fit the widget (TRUE, the default) or 1:1. Property
 *  "scale-to-fit". At 1:1 the widget's minimum size is the guest's: put
 *  it in a GtkScrolledWindow to scroll a guest larger than the window. */
void crp_display_set_scale_to_fit(CrpDisplay *display, gboolean fit);
gboolean crp_display_get_scale_to_fit(CrpDisplay *display);

/** Calls @func with the view's size whenever it is allocated (so that
 *  the owner can ask the guest for it). */
void crp_display_set_view_func(CrpDisplay *display, CrpDisplayViewFunc func,
                               gpointer data);

/** Presses @codes (evdev) in order and releases them in reverse: a key
 *  combination the local desktop would otherwise keep (Ctrl+Alt+Del). */
void crp_display_send_keys(CrpDisplay *display, const guint16 *codes, int n);

/** Releases every key and button sent as pressed. */
void crp_display_release_all(CrpDisplay *display);

/** Tiles re-created since the widget was made; for the benchmark and tests. */
guint64 crp_display_get_tiles_uploaded(CrpDisplay *display);

G_END_DECLS
