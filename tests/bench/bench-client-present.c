/*
 * bench-client-present.c: what a frame costs crp-client between the
 * bytes arriving and the picture being on screen, on the synthetic
 * 1920x1080 sequences of bench-encode.
 *
 * Each sequence is encoded first (default setting: what a client gets),
 * then replayed the way crp-client handles it, each step timed per frame:
 *
 *   decode    libcrp's decoder applies the frame's rects (thread CPU time)
 *   tiles     the damaged tiles of crp-client's CrpTileGrid are re-made as
 *             textures (thread CPU time), and how many
 *   whole     for comparison, what one texture of the whole framebuffer
 *             per frame would cost (the copy a naive client makes)
 *   render    with --render and a display: GSK draws the tiles into the
 *             window, as a paint does (wall time: GL works in threads);
 *             only the frame's damage is redrawn, as GTK does
 *
 * Usage: bench-client-present [--frames N] [--scene NAME] [--render]
 */
#include <crp/crp-decoder.h>
#include <crp/crp-encoder.h>
#include "crp-synth.h"
#include "crp-tile-grid.h"

#include <gtk/gtk.h>
#include <string.h>
#include <time.h>

typedef struct {
    GByteArray *bytes;          /* the frame's RECT messages */
    pixman_box32_t damage;
} Frame;

typedef struct {
    double decode_ms, tiles_ms, whole_ms, render_ms, max_total_ms;
    double bytes, tiles;
    guint frames;
} Result;

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double wall_ms(void)
{
    return g_get_monotonic_time() / 1e3;
}

/* Applies every RECT of @bytes; with @damage, grows it by each rect. */
static void decode(CrpDecoder *dec, const GByteArray *bytes, pixman_box32_t *damage)
{
    for (gsize pos = 0; pos < bytes->len;) {
        CrpMessage msg;
        g_autoptr(GError) error = NULL;
        gsize used = crp_message_decode(bytes->data + pos, bytes->len - pos, &msg, &error);
        if (!used || msg.type != CRP_MSG_RECT ||
            !crp_decoder_apply_rect(dec, &msg.rect, msg.flags, &error)) {
            g_error("bench: the encoder's output did not decode: %s",
                    error ? error->message : "not a RECT");
        }
        if (damage) {
            const CrpRectMsg *r = &msg.rect;
            damage->x1 = MIN(damage->x1, r->x);
            damage->y1 = MIN(damage->y1, r->y);
            damage->x2 = MAX(damage->x2, r->x + r->width);
            damage->y2 = MAX(damage->y2, r->y + r->height);
        }
        pos += used;
    }
}

/* The sequence as a client receives it: frame 0 (with its lossless
 * refinement) is the warm-up, then @n frames at 60 per second. */
static GArray *encode_sequence(CrpSynthScene scene, int width, int height, guint n)
{
    CrpEncoderConfig config = {
        .encodings = (1u << CRP_ENCODING_ZLIB) | (1u << CRP_ENCODING_JPEG) };
    g_autoptr(CrpEncoder) enc = crp_encoder_new(&config);
    g_autoptr(CrpDecoder) check = crp_decoder_new();
    pixman_image_t *prev = pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, 0);
    pixman_image_t *cur = pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, 0);
    GArray *frames = g_array_new(FALSE, TRUE, sizeof(Frame));
    gint64 now_us = 0;

    crp_synth_render(scene, 0, cur);
    for (guint f = 0; f <= n; f++) {
        Frame frame = { g_byte_array_new(), { G_MAXINT32, G_MAXINT32, 0, 0 } };
        if (f > 0) {
            pixman_image_t *tmp = prev;
            prev = cur;
            cur = tmp;
            crp_synth_render(scene, f, cur);
        }
        crp_encoder_encode_frame(enc, f ? prev : NULL, cur, NULL, now_us, frame.bytes, NULL);
        /* Frame 0 is refined until exact, as a client's first picture. */
        for (gint64 due; f == 0 && (due = crp_encoder_next_refine_us(enc)) >= 0;) {
            now_us = MAX(now_us + 16667, due);
            crp_encoder_encode_frame(enc, cur, cur, NULL, now_us, frame.bytes, NULL);
        }
        now_us += 16667;
        g_array_append_val(frames, frame);
    }
    pixman_image_unref(prev);
    pixman_image_unref(cur);
    return frames;
}

static void free_frames(GArray *frames)
{
    for (guint i = 0; i < frames->len; i++) {
        g_byte_array_unref(g_array_index(frames, Frame, i).bytes);
    }
    g_array_unref(frames);
}

/* What a client without tiles would do: one texture of everything. */
static GdkTexture *whole_texture(pixman_image_t *fb)
{
    int w = pixman_image_get_width(fb), h = pixman_image_get_height(fb);
    int stride = pixman_image_get_stride(fb);
    g_autoptr(GBytes) bytes = g_bytes_new(pixman_image_get_data(fb), (gsize)stride * h);
    return gdk_memory_texture_new(w, h, GDK_MEMORY_DEFAULT, bytes, stride);
}

static Result run(GArray *frames, int width, int height, GskRenderer *renderer)
{
    Result r = { 0 };
    g_autoptr(CrpDecoder) dec = crp_decoder_new();
    g_autoptr(CrpTileGrid) grid = crp_tile_grid_new(width, height);
    CrpSurfaceMsg surface = { width, height };
    g_autoptr(GError) error = NULL;

    if (!crp_decoder_set_surface(dec, &surface, &error)) {
        g_error("bench: %s", error->message);
    }
    for (guint f = 0; f < frames->len; f++) {
        Frame *frame = &g_array_index(frames, Frame, f);
        pixman_box32_t damage = { G_MAXINT32, G_MAXINT32, 0, 0 };

        double t0 = thread_cpu_ms();
        decode(dec, frame->bytes, &damage);
        double t1 = thread_cpu_ms();
        crp_tile_grid_damage(grid, &damage);
        guint made = crp_tile_grid_update(grid, crp_decoder_get_image(dec));
        double t2 = thread_cpu_ms();
        g_autoptr(GdkTexture) whole = whole_texture(crp_decoder_get_image(dec));
        double t3 = thread_cpu_ms();

        double render = 0;
        if (renderer && damage.x1 < damage.x2) {
            GtkSnapshot *snapshot = gtk_snapshot_new();
            crp_tile_grid_snapshot(grid, snapshot, 1.0);
            g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node(snapshot);
            cairo_region_t *region = cairo_region_create_rectangle(&(cairo_rectangle_int_t){
                damage.x1, damage.y1, damage.x2 - damage.x1, damage.y2 - damage.y1 });
            double w0 = wall_ms();
            gsk_renderer_render(renderer, node, f == 0 ? NULL : region);
            render = wall_ms() - w0;
            cairo_region_destroy(region);
        }
        if (f == 0) {
            continue;           /* the warm-up: the first full picture */
        }
        r.decode_ms += t1 - t0;
        r.tiles_ms += t2 - t1;
        r.whole_ms += t3 - t2;
        r.render_ms += render;
        r.max_total_ms = MAX(r.max_total_ms, (t2 - t0) + render);
        r.bytes += frame->bytes->len;
        r.tiles += made;
        r.frames++;
    }
    return r;
}

/* A window of the sequences' size whose renderer draws like crp-client's. */
static GskRenderer *window_renderer(int width, int height, GtkWidget **window)
{
    *window = gtk_window_new();
    gtk_window_set_default_size(GTK_WINDOW(*window), width, height);
    gtk_window_set_decorated(GTK_WINDOW(*window), FALSE);
    gtk_window_present(GTK_WINDOW(*window));
    while (!gtk_widget_get_mapped(*window)) {
        g_main_context_iteration(NULL, TRUE);
    }
    return gtk_native_get_renderer(GTK_NATIVE(*window));
}

int main(int argc, char **argv)
{
    int frames = 120, width = 1920, height = 1080;
    gboolean render = FALSE;
    g_autofree char *only = NULL;
    GOptionEntry entries[] = {
        { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "frames per sequence (120)", "N" },
        { "scene", 0, 0, G_OPTION_ARG_STRING, &only, "only this scene", "NAME" },
        { "render", 0, 0, G_OPTION_ARG_NONE, &render,
          "also draw into a window (needs a display: DISPLAY or WAYLAND_DISPLAY)", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- crp-client decode + present benchmark");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("%s\n", error->message);
        return 2;
    }
    GtkWidget *window = NULL;
    GskRenderer *renderer = NULL;
    if (render) {
        if (!gtk_init_check()) {
            g_printerr("--render needs a display\n");
            return 2;
        }
        renderer = window_renderer(width, height, &window);
        g_print("renderer: %s\n", G_OBJECT_TYPE_NAME(renderer));
    }

    g_print("%dx%d, %d frames per sequence (default encoding), per frame: decode, tiles "
            "and whole-frame texture in thread CPU ms%s\n\n", width, height, frames,
            render ? ", render in wall ms" : "");
    g_print("| sequence | KB/frame | decode ms | tiles ms | tiles re-made | whole-frame "
            "texture ms |%s decode+tiles%s ms (max) |\n",
            render ? " render ms |" : "", render ? "+render" : "");
    g_print("|---|---:|---:|---:|---:|---:|%s---:|\n", render ? "---:|" : "");
    for (CrpSynthScene s = 0; s < CRP_SYNTH_N_SCENES; s++) {
        if (only && strcmp(only, crp_synth_scene_name(s)) != 0) {
            continue;
        }
        GArray *seq = encode_sequence(s, width, height, frames);
        Result r = run(seq, width, height, renderer);
        free_frames(seq);
        g_autofree char *render_col = render ? g_strdup_printf(" %.2f |", r.render_ms / r.frames)
                                             : g_strdup("");
        g_print("| %s | %.1f | %.2f | %.2f | %.1f | %.2f |%s %.2f (%.2f) |\n",
                crp_synth_scene_name(s), r.bytes / r.frames / 1024, r.decode_ms / r.frames,
                r.tiles_ms / r.frames, r.tiles / r.frames, r.whole_ms / r.frames,
                render_col, (r.decode_ms + r.tiles_ms + r.render_ms) / r.frames,
                r.max_total_ms);
    }
    if (window) {
        gtk_window_destroy(GTK_WINDOW(window));
    }
    return 0;
}
