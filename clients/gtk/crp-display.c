/*
 * crp-display.c: see crp-display.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-display.h"

#include "crp-input-map.h"
#include "crp-tile-grid.h"

/* Frames decoded but not yet painted. The server keeps only a few
 * unacknowledged; a peer that ignores that cannot grow this list. */
#define MAX_UNPAINTED 64

struct _CrpDisplay {
    GtkWidget parent;

    CrpViewer *viewer;
    CrpDisplayFlushFunc flush;
    gpointer flush_data;

    CrpTileGrid *grid;
    gboolean fit;
    guint64 tiles_uploaded;

    /* Frame ids decoded since the last paint, and those in the paint
     * that is under way (acknowledged once the frame clock says it is
     * done). */
    GArray *unpainted, *painting;
    gulong after_paint_id;
    GdkFrameClock *clock;

    CrpDisplayViewFunc view_changed;
    gpointer view_data;

    CrpKeyState keys;
    guint32 buttons;
    int last_x, last_y;
    gboolean shortcuts_inhibited;
};

G_DEFINE_FINAL_TYPE(CrpDisplay, crp_display, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SCALE_TO_FIT, N_PROPS };
static GParamSpec *props[N_PROPS];

static void flush(CrpDisplay *d)
{
    if (d->flush) {
        d->flush(d->flush_data);
    }
}

static void geometry(CrpDisplay *d, CrpViewGeometry *geom)
{
    GtkWidget *w = GTK_WIDGET(d);
    crp_view_geometry_compute(geom, gtk_widget_get_width(w), gtk_widget_get_height(w),
                              d->grid ? crp_tile_grid_get_width(d->grid) : 0,
                              d->grid ? crp_tile_grid_get_height(d->grid) : 0,
                              d->fit);
}

/* ---- presenting ------------------------------------------------------ */

static void acknowledge(CrpDisplay *d, GArray *ids)
{
    if (d->viewer) {
        for (guint i = 0; i < ids->len; i++) {
            crp_viewer_frame_presented(d->viewer, g_array_index(ids, guint32, i));
        }
        if (ids->len) {
            flush(d);
        }
    }
    g_array_set_size(ids, 0);
}

static void on_after_paint(GdkFrameClock *clock, gpointer data)
{
    acknowledge(CRP_DISPLAY(data), CRP_DISPLAY(data)->painting);
}

static void crp_display_snapshot(GtkWidget *widget, GtkSnapshot *snapshot)
{
    CrpDisplay *d = CRP_DISPLAY(widget);
    CrpViewGeometry geom;

    gtk_snapshot_append_color(snapshot, &(GdkRGBA){ 0, 0, 0, 1 },
                              &GRAPHENE_RECT_INIT(0, 0, gtk_widget_get_width(widget),
                                                  gtk_widget_get_height(widget)));
    if (!d->grid) {
        return;
    }
    if (d->viewer) {
        d->tiles_uploaded += crp_tile_grid_update(d->grid,
                                                  crp_viewer_get_image(d->viewer));
    }
    geometry(d, &geom);
    gtk_snapshot_save(snapshot);
    gtk_snapshot_translate(snapshot, &GRAPHENE_POINT_INIT(geom.x, geom.y));
    crp_tile_grid_snapshot(d->grid, snapshot, geom.scale);
    gtk_snapshot_restore(snapshot);

    /* What was decoded up to now is in this paint. */
    g_array_append_vals(d->painting, d->unpainted->data, d->unpainted->len);
    g_array_set_size(d->unpainted, 0);
    if (!d->clock) {
        acknowledge(d, d->painting);
    }
}

void crp_display_frame(CrpDisplay *d, const pixman_box32_t *damage, guint32 frame_id)
{
    if (!d->grid || damage->x1 >= damage->x2 || damage->y1 >= damage->y2 ||
        !gtk_widget_get_mapped(GTK_WIDGET(d))) {
        /* Nothing to paint, or nowhere to paint it: the user sees what
         * they would see after a paint, so it counts as presented. The
         * tiles still get the damage, for when the window shows again. */
        if (d->grid) {
            crp_tile_grid_damage(d->grid, damage);
        }
        if (d->viewer) {
            crp_viewer_frame_presented(d->viewer, frame_id);
            flush(d);
        }
        return;
    }
    crp_tile_grid_damage(d->grid, damage);
    if (d->unpainted->len >= MAX_UNPAINTED) {
        acknowledge(d, d->unpainted);
    }
    g_array_append_val(d->unpainted, frame_id);
    gtk_widget_queue_draw(GTK_WIDGET(d));
}

void crp_display_surface_changed(CrpDisplay *d, int width, int height)
{
    crp_tile_grid_free(d->grid);
    d->grid = crp_tile_grid_new(width, height);
    gtk_widget_queue_resize(GTK_WIDGET(d));
}

static void crp_display_measure(GtkWidget *widget, GtkOrientation orientation,
                                int for_size, int *minimum, int *natural,
                                int *minimum_baseline, int *natural_baseline)
{
    CrpDisplay *d = CRP_DISPLAY(widget);
    int size = 0;

    if (d->grid) {
        size = orientation == GTK_ORIENTATION_HORIZONTAL ?
               crp_tile_grid_get_width(d->grid) : crp_tile_grid_get_height(d->grid);
    }
    /* Natural: the guest's size, so a new window shows it 1:1: scaled,
     * one guest pixel per device pixel (on a HiDPI screen that is the
     * size over the scale factor, and the picture is sharp); at 1:1, one
     * per logical pixel. At 1:1 the minimum is the guest's size too: the
     * scrolled window around the display then scrolls instead of cutting
     * it off. */
    if (d->fit) {
        size /= gtk_widget_get_scale_factor(widget);
    }
    *minimum = d->fit ? MIN(size, 64) : size;
    *natural = size ? size : 640;
}

static void crp_display_size_allocate(GtkWidget *widget, int width, int height,
                                      int baseline)
{
    CrpDisplay *d = CRP_DISPLAY(widget);
    int scale = gtk_widget_get_scale_factor(widget);

    /* The guest is asked for device pixels: sharp on HiDPI screens. */
    if (d->view_changed) {
        d->view_changed(d->view_data, width * scale, height * scale);
    }
}

void crp_display_set_view_func(CrpDisplay *d, CrpDisplayViewFunc func, gpointer data)
{
    d->view_changed = func;
    d->view_data = data;
}

/* ---- cursor ---------------------------------------------------------- */

void crp_display_cursor_changed(CrpDisplay *d)
{
    int hot_x, hot_y, px, py;
    gboolean visible;

    if (!d->viewer) {
        return;
    }
    pixman_image_t *shape = crp_viewer_get_cursor(d->viewer, &hot_x, &hot_y);
    crp_viewer_get_pointer(d->viewer, &px, &py, &visible);
    if (!shape || !visible) {
        /* The guest draws no pointer: neither do we. */
        gtk_widget_set_cursor_from_name(GTK_WIDGET(d), "none");
        return;
    }
    /* a8r8g8b8 premultiplied is GDK_MEMORY_DEFAULT; the viewer may
     * replace the shape at any time, so the texture gets a copy. */
    int w = pixman_image_get_width(shape), h = pixman_image_get_height(shape);
    int stride = pixman_image_get_stride(shape);
    g_autoptr(GBytes) bytes = g_bytes_new(pixman_image_get_data(shape),
                                          (gsize)stride * h);
    g_autoptr(GdkTexture) texture =
        gdk_memory_texture_new(w, h, GDK_MEMORY_DEFAULT, bytes, stride);
    g_autoptr(GdkCursor) cursor = gdk_cursor_new_from_texture(
        texture, CLAMP(hot_x, 0, w - 1), CLAMP(hot_y, 0, h - 1), NULL);
    gtk_widget_set_cursor(GTK_WIDGET(d), cursor);
}

/* ---- input ----------------------------------------------------------- */

static void send_key(CrpDisplay *d, int evdev, gboolean down)
{
    if (d->viewer && crp_key_state_set(&d->keys, evdev, down)) {
        crp_viewer_send_key(d->viewer, evdev, down);
        flush(d);
    }
}

void crp_display_release_all(CrpDisplay *d)
{
    int k = -1;
    gboolean sent = FALSE;

    while ((k = crp_key_state_next(&d->keys, k + 1)) >= 0) {
        crp_key_state_set(&d->keys, k, FALSE);
        if (d->viewer) {
            crp_viewer_send_key(d->viewer, k, FALSE);
            sent = TRUE;
        }
    }
    if (d->buttons && d->viewer) {
        crp_viewer_send_pointer(d->viewer, d->last_x, d->last_y, 0);
        sent = TRUE;
    }
    d->buttons = 0;
    if (sent) {
        flush(d);
    }
}

void crp_display_send_keys(CrpDisplay *d, const guint16 *codes, int n)
{
    if (!d->viewer) {
        return;
    }
    /* Not through the key state: these are never held, and a key the
     * user holds stays down in the guest. */
    for (int i = 0; i < n; i++) {
        crp_viewer_send_key(d->viewer, codes[i], TRUE);
    }
    for (int i = n - 1; i >= 0; i--) {
        crp_viewer_send_key(d->viewer, codes[i], FALSE);
    }
    flush(d);
}

static gboolean on_key_pressed(GtkEventControllerKey *key, guint keyval,
                               guint keycode, GdkModifierType state, gpointer data)
{
    int evdev = crp_input_map_evdev_from_keycode(keycode);
    if (evdev < 0) {
        return FALSE;
    }
    send_key(data, evdev, TRUE);
    return TRUE;                /* the guest's, not GTK's */
}

static void on_key_released(GtkEventControllerKey *key, guint keyval,
                            guint keycode, GdkModifierType state, gpointer data)
{
    int evdev = crp_input_map_evdev_from_keycode(keycode);
    if (evdev >= 0) {
        send_key(data, evdev, FALSE);
    }
}

static GdkToplevel *toplevel_of(GtkWidget *w)
{
    GtkNative *native = gtk_widget_get_native(w);
    GdkSurface *surface = native ? gtk_native_get_surface(native) : NULL;
    return surface && GDK_IS_TOPLEVEL(surface) ? GDK_TOPLEVEL(surface) : NULL;
}

static void on_focus_enter(GtkEventControllerFocus *focus, gpointer data)
{
    CrpDisplay *d = data;
    GdkToplevel *toplevel = toplevel_of(GTK_WIDGET(d));

    if (toplevel && !d->shortcuts_inhibited) {
        gdk_toplevel_inhibit_system_shortcuts(toplevel, NULL);
        d->shortcuts_inhibited = TRUE;
    }
}

static void on_focus_leave(GtkEventControllerFocus *focus, gpointer data)
{
    CrpDisplay *d = data;
    GdkToplevel *toplevel = toplevel_of(GTK_WIDGET(d));

    crp_display_release_all(d);
    if (toplevel && d->shortcuts_inhibited) {
        gdk_toplevel_restore_system_shortcuts(toplevel);
    }
    d->shortcuts_inhibited = FALSE;
}

static void send_pointer(CrpDisplay *d, double wx, double wy)
{
    CrpViewGeometry geom;
    int gx, gy;

    geometry(d, &geom);
    if (!d->viewer || !crp_view_geometry_to_guest(&geom, wx, wy, &gx, &gy)) {
        return;
    }
    d->last_x = gx;
    d->last_y = gy;
    crp_viewer_send_pointer(d->viewer, gx, gy, d->buttons);
    flush(d);
}

/* Event positions are in surface coordinates; ours are the widget's. */
static gboolean widget_position(GtkWidget *w, GdkEvent *event, double *x, double *y)
{
    GtkNative *native = gtk_widget_get_native(w);
    double ex, ey, nx, ny;

    if (!native || !gdk_event_get_position(event, &ex, &ey)) {
        return FALSE;
    }
    gtk_native_get_surface_transform(native, &nx, &ny);
    return gtk_widget_translate_coordinates(GTK_WIDGET(native), w, ex - nx, ey - ny,
                                            x, y);
}

/*
 * The legacy controller sees every button, where GtkGestureClick follows
 * one button at a time; a guest needs chords (left+right) and drags.
 */
static gboolean on_pointer_event(GtkEventControllerLegacy *legacy, GdkEvent *event,
                                 gpointer data)
{
    CrpDisplay *d = data;
    GdkEventType type = gdk_event_get_event_type(event);
    double x, y;

    switch (type) {
    case GDK_BUTTON_PRESS:
    case GDK_BUTTON_RELEASE: {
        guint32 bit = crp_input_map_button_bit(gdk_button_event_get_button(event));
        if (type == GDK_BUTTON_PRESS) {
            gtk_widget_grab_focus(GTK_WIDGET(d));
            d->buttons |= bit;
        } else {
            d->buttons &= ~bit;
        }
        if (widget_position(GTK_WIDGET(d), event, &x, &y)) {
            send_pointer(d, x, y);
        }
        return TRUE;
    }
    case GDK_MOTION_NOTIFY:
        if (widget_position(GTK_WIDGET(d), event, &x, &y)) {
            send_pointer(d, x, y);
        }
        return FALSE;
    default:
        return FALSE;
    }
}

static gboolean on_scroll(GtkEventControllerScroll *scroll, double dx, double dy,
                          gpointer data)
{
    CrpDisplay *d = data;
    if (d->viewer && (dx != 0 || dy != 0)) {
        crp_viewer_send_wheel(d->viewer, (int)dx, (int)dy);
        flush(d);
    }
    return TRUE;
}

/* ---- object ---------------------------------------------------------- */

void crp_display_set_viewer(CrpDisplay *d, CrpViewer *viewer,
                            CrpDisplayFlushFunc flush_func, gpointer data)
{
    if (d->viewer && d->viewer != viewer) {
        /* Frames of the old connection are nobody's to acknowledge. */
        g_array_set_size(d->unpainted, 0);
        g_array_set_size(d->painting, 0);
        memset(&d->keys, 0, sizeof(d->keys));
        d->buttons = 0;
    }
    d->viewer = viewer;
    d->flush = viewer ? flush_func : NULL;
    d->flush_data = viewer ? data : NULL;
    if (viewer) {
        crp_viewer_set_manual_ack(viewer, TRUE);
    }
}

void crp_display_set_scale_to_fit(CrpDisplay *d, gboolean fit)
{
    if (d->fit == !!fit) {
        return;
    }
    d->fit = !!fit;
    gtk_widget_queue_resize(GTK_WIDGET(d));
    g_object_notify_by_pspec(G_OBJECT(d), props[PROP_SCALE_TO_FIT]);
}

gboolean crp_display_get_scale_to_fit(CrpDisplay *d)
{
    return d->fit;
}

guint64 crp_display_get_tiles_uploaded(CrpDisplay *d)
{
    return d->tiles_uploaded;
}

static void crp_display_realize(GtkWidget *widget)
{
    CrpDisplay *d = CRP_DISPLAY(widget);

    GTK_WIDGET_CLASS(crp_display_parent_class)->realize(widget);
    d->clock = gtk_widget_get_frame_clock(widget);
    if (d->clock) {
        g_object_ref(d->clock);
        d->after_paint_id = g_signal_connect(d->clock, "after-paint",
                                             G_CALLBACK(on_after_paint), d);
    }
}

static void crp_display_unrealize(GtkWidget *widget)
{
    CrpDisplay *d = CRP_DISPLAY(widget);

    if (d->clock) {
        g_clear_signal_handler(&d->after_paint_id, d->clock);
        g_clear_object(&d->clock);
    }
    /* Never painted now: let the server go on. */
    acknowledge(d, d->painting);
    acknowledge(d, d->unpainted);
    GTK_WIDGET_CLASS(crp_display_parent_class)->unrealize(widget);
}

static void crp_display_get_property(GObject *object, guint id, GValue *value,
                                     GParamSpec *pspec)
{
    switch (id) {
    case PROP_SCALE_TO_FIT:
        g_value_set_boolean(value, CRP_DISPLAY(object)->fit);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void crp_display_set_property(GObject *object, guint id, const GValue *value,
                                     GParamSpec *pspec)
{
    switch (id) {
    case PROP_SCALE_TO_FIT:
        crp_display_set_scale_to_fit(CRP_DISPLAY(object), g_value_get_boolean(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void crp_display_finalize(GObject *object)
{
    CrpDisplay *d = CRP_DISPLAY(object);

    crp_tile_grid_free(d->grid);
    g_array_unref(d->unpainted);
    g_array_unref(d->painting);
    G_OBJECT_CLASS(crp_display_parent_class)->finalize(object);
}

static void crp_display_class_init(CrpDisplayClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->finalize = crp_display_finalize;
    object_class->get_property = crp_display_get_property;
    object_class->set_property = crp_display_set_property;
    widget_class->snapshot = crp_display_snapshot;
    widget_class->measure = crp_display_measure;
    widget_class->size_allocate = crp_display_size_allocate;
    widget_class->realize = crp_display_realize;
    widget_class->unrealize = crp_display_unrealize;

    props[PROP_SCALE_TO_FIT] = g_param_spec_boolean("scale-to-fit", NULL, NULL, TRUE,
        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);
    gtk_widget_class_set_css_name(widget_class, "crp-display");
}

static void crp_display_init(CrpDisplay *d)
{
    GtkWidget *w = GTK_WIDGET(d);

    d->fit = TRUE;
    d->unpainted = g_array_new(FALSE, FALSE, sizeof(guint32));
    d->painting = g_array_new(FALSE, FALSE, sizeof(guint32));
    gtk_widget_set_focusable(w, TRUE);
    gtk_widget_set_focus_on_click(w, TRUE);
    gtk_widget_set_overflow(w, GTK_OVERFLOW_HIDDEN);

    /* Capture phase: the guest gets its keys before any GTK shortcut or
     * focus navigation sees them. */
    GtkEventController *key = gtk_event_controller_key_new();
    gtk_event_controller_set_propagation_phase(key, GTK_PHASE_CAPTURE);
    g_signal_connect(key, "key-pressed", G_CALLBACK(on_key_pressed), d);
    g_signal_connect(key, "key-released", G_CALLBACK(on_key_released), d);
    gtk_widget_add_controller(w, key);

    GtkEventController *focus = gtk_event_controller_focus_new();
    g_signal_connect(focus, "enter", G_CALLBACK(on_focus_enter), d);
    g_signal_connect(focus, "leave", G_CALLBACK(on_focus_leave), d);
    gtk_widget_add_controller(w, focus);

    GtkEventController *legacy = gtk_event_controller_legacy_new();
    g_signal_connect(legacy, "event", G_CALLBACK(on_pointer_event), d);
    gtk_widget_add_controller(w, legacy);

    /* DISCRETE: smooth (touchpad) scrolling accumulates into detents. */
    GtkEventController *scroll = gtk_event_controller_scroll_new(
        GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES | GTK_EVENT_CONTROLLER_SCROLL_DISCRETE);
    g_signal_connect(scroll, "scroll", G_CALLBACK(on_scroll), d);
    gtk_widget_add_controller(w, scroll);
}

GtkWidget *crp_display_new(void)
{
    return g_object_new(CRP_TYPE_DISPLAY, NULL);
}
