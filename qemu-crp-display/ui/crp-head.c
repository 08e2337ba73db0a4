/*
 * CRP display: one DisplayChangeListener per graphic console.
 *
 * The guest's surface is copied, only where QEMU reported damage, into
 * the head's own framebuffer during dpy_refresh (with the BQL, on the main
 * loop). A worker thread then encodes, for each client that has room for
 * a frame, what changed since that client's last frame, and hands the
 * results back with a bottom half. Each client has its own encoder and
 * its own copy of what it shows, so a slow client simply gets fewer,
 * fresher frames and never holds the others back.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "crp-int.h"

/* Refresh backs off to this when nothing changes, and snaps back to the
 * configured rate at the first change or input event. */
#define CRP_IDLE_REFRESH_MS 250

static void crp_head_set_rate(CrpHead *h, unsigned ms)
{
    if (h->dcl.update_interval != ms) {
        update_displaychangelistener(&h->dcl, ms);
    }
}

void crp_head_wake(CrpHead *h)
{
    h->idle_refreshes = 0;
    crp_head_set_rate(h, h->server->refresh_ms);
}

/* Copies the damaged parts of the guest surface into h->fb. */
static void crp_head_capture(CrpHead *h)
{
    int n;
    pixman_box32_t *boxes = pixman_region32_rectangles(&h->damage, &n);
    uint8_t *src = surface_data(h->surface);
    uint8_t *dst = (uint8_t *)pixman_image_get_data(h->fb);
    int src_stride = surface_stride(h->surface);
    int dst_stride = pixman_image_get_stride(h->fb);

    for (int i = 0; i < n; i++) {
        int x = boxes[i].x1, w = boxes[i].x2 - boxes[i].x1;
        for (int y = boxes[i].y1; y < boxes[i].y2; y++) {
            memcpy(dst + y * dst_stride + x * 4, src + y * src_stride + x * 4,
                   w * 4);
        }
    }
}

/* The surface changed size: every client restarts with a SURFACE. */
static void crp_head_resize(CrpHead *h)
{
    CrpClient *c;
    int w = surface_width(h->surface), hh = surface_height(h->surface);

    if (h->fb) {
        pixman_image_unref(h->fb);
    }
    h->fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, hh, NULL, 0);
    pixman_region32_reset(&h->damage, &(pixman_box32_t){ 0, 0, w, hh });
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h) {
            c->need_surface = true;
        }
    }
}

static void crp_gfx_update(DisplayChangeListener *dcl, int x, int y, int w,
                           int h)
{
    CrpHead *head = container_of(dcl, CrpHead, dcl);

    pixman_region32_union_rect(&head->damage, &head->damage, x, y, w, h);
}

static void crp_gfx_switch(DisplayChangeListener *dcl,
                           DisplaySurface *surface)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);

    /* The new surface is only read in dpy_refresh, on this thread; the
     * framebuffer is resized there once the worker is idle. */
    h->surface = surface;
}

static bool crp_head_has_clients(CrpHead *h)
{
    CrpClient *c;

    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h && c->ready) {
            return true;
        }
    }
    return false;
}

static void crp_refresh(DisplayChangeListener *dcl)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    CrpClient *c;
    int64_t now_us = g_get_monotonic_time();

    if (!crp_head_has_clients(h)) {
        crp_head_set_rate(h, CRP_IDLE_REFRESH_MS);
        return;
    }
    graphic_hw_update(dcl->con);
    if (h->busy || !h->surface) {
        return;
    }
    if (!h->fb || pixman_image_get_width(h->fb) != surface_width(h->surface) ||
        pixman_image_get_height(h->fb) != surface_height(h->surface)) {
        crp_head_resize(h);
    }

    bool changed = pixman_region32_not_empty(&h->damage);
    if (changed) {
        crp_head_capture(h);
        QTAILQ_FOREACH(c, &h->server->clients, next) {
            if (c->head == h && c->ready) {
                pixman_region32_union(&c->damage, &c->damage, &h->damage);
            }
        }
        pixman_region32_clear(&h->damage);
        crp_head_wake(h);
    } else if (++h->idle_refreshes > 20) {
        crp_head_set_rate(h, CRP_IDLE_REFRESH_MS);
    }

    /* Hand every client that has room and something to show to the worker. */
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head != h || !crp_client_wants_frame(c)) {
            continue;
        }
        gint64 refine_due = c->enc ? crp_encoder_next_refine_us(c->enc) : -1;
        if (!c->need_surface && !pixman_region32_not_empty(&c->damage) &&
            (refine_due < 0 || refine_due > now_us)) {
            continue;
        }
        if (c->need_surface) {
            CrpMessage surface = {
                .type = CRP_MSG_SURFACE,
                .surface = { pixman_image_get_width(h->fb),
                             pixman_image_get_height(h->fb) },
            };
            crp_client_send(c, &surface);
            crp_encoder_reset(c->enc);
            if (c->prev) {
                pixman_image_unref(c->prev);
            }
            c->prev = pixman_image_create_bits(PIXMAN_x8r8g8b8,
                                               surface.surface.width,
                                               surface.surface.height,
                                               NULL, 0);
            pixman_region32_reset(&c->damage, &(pixman_box32_t){
                0, 0, surface.surface.width, surface.surface.height });
        }
        c->capture_us = now_us;
        c->capture_serial = c->input_serial;
        g_ptr_array_add(h->job, crp_client_ref(c));
    }
    if (h->job->len == 0) {
        return;
    }
    h->busy = true;
    h->job_now_us = now_us;
    qemu_mutex_lock(&h->lock);
    h->job_queued = true;
    qemu_cond_signal(&h->cond);
    qemu_mutex_unlock(&h->lock);
}

/* Worker: encode one client's frame and remember what it will show. */
static void crp_head_encode(CrpHead *h, CrpClient *c)
{
    bool full = c->need_surface;
    int n;
    pixman_box32_t *boxes;

    g_byte_array_set_size(c->encoded, 0);
    crp_encoder_encode_frame(c->enc, full ? NULL : c->prev, h->fb,
                             full ? NULL : &c->damage, h->job_now_us,
                             c->encoded, NULL);

    boxes = pixman_region32_rectangles(&c->damage, &n);
    for (int i = 0; i < n; i++) {
        pixman_image_composite32(PIXMAN_OP_SRC, h->fb, NULL, c->prev,
                                 boxes[i].x1, boxes[i].y1, 0, 0,
                                 boxes[i].x1, boxes[i].y1,
                                 boxes[i].x2 - boxes[i].x1,
                                 boxes[i].y2 - boxes[i].y1);
    }
    pixman_region32_clear(&c->damage);
}

static void *crp_head_worker(void *opaque)
{
    CrpHead *h = opaque;

    /*
     * One job at a time: the main loop queues the next only after the
     * bottom half took this one's results (h->busy, main-loop only), so
     * the worker never has to wait for that itself. (It once did, and
     * missed a job queued before it woke: every frame stopped.)
     */
    qemu_mutex_lock(&h->lock);
    for (;;) {
        while (!h->job_queued) {
            qemu_cond_wait(&h->cond, &h->lock);
        }
        h->job_queued = false;
        qemu_mutex_unlock(&h->lock);
        for (guint i = 0; i < h->job->len; i++) {
            crp_head_encode(h, g_ptr_array_index(h->job, i));
        }
        qemu_bh_schedule(h->done_bh);
        qemu_mutex_lock(&h->lock);
    }
    /* Not reached: the worker lives as long as QEMU. */
    return NULL;
}

/* Main loop: the worker is done; send what it made. */
static void crp_head_job_done(void *opaque)
{
    CrpHead *h = opaque;

    for (guint i = 0; i < h->job->len; i++) {
        CrpClient *c = g_ptr_array_index(h->job, i);
        if (!c->closed) {
            c->need_surface = false;
            crp_client_send_frame(c);
        }
        crp_client_unref(c);
    }
    g_ptr_array_set_size(h->job, 0);
    h->busy = false;
}

void crp_head_client_joined(CrpHead *h, CrpClient *c)
{
    /* Nothing is captured while nobody watches: start from the whole
     * surface rather than trust a framebuffer that may be stale. */
    if (h->surface) {
        pixman_region32_union_rect(&h->damage, &h->damage, 0, 0,
                                   surface_width(h->surface),
                                   surface_height(h->surface));
    }
    c->need_surface = true;
    crp_client_send_cursor(c);
    crp_head_wake(h);
}

static void crp_mouse_set(DisplayChangeListener *dcl, int x, int y, bool on)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    CrpClient *c;

    h->mouse_x = x;
    h->mouse_y = y;
    h->mouse_on = on;
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h && c->ready && (c->caps & CRP_CAP_CURSOR)) {
            CrpMessage pos = {
                .type = CRP_MSG_CURSOR_POS,
                .cursor_pos = { MAX(x, 0), MAX(y, 0), on },
            };
            crp_client_send(c, &pos);
        }
    }
}

static void crp_cursor_define(DisplayChangeListener *dcl, QEMUCursor *cursor)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    CrpClient *c;

    if (h->cursor) {
        cursor_unref(h->cursor);
    }
    h->cursor = cursor ? cursor_ref(cursor) : NULL;
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h && c->ready) {
            crp_client_send_cursor(c);
        }
    }
}

static const DisplayChangeListenerOps crp_dcl_ops = {
    .dpy_name          = "crp",
    .dpy_refresh       = crp_refresh,
    .dpy_gfx_update    = crp_gfx_update,
    .dpy_gfx_switch    = crp_gfx_switch,
    .dpy_mouse_set     = crp_mouse_set,
    .dpy_cursor_define = crp_cursor_define,
    /* No dpy_gfx_check_format: QEMU then gives us x8r8g8b8 surfaces,
     * converting other guest formats into a shadow surface. */
};

CrpHead *crp_head_new(CrpServer *s, QemuConsole *con)
{
    CrpHead *h = g_new0(CrpHead, 1);

    h->server = s;
    pixman_region32_init(&h->damage);
    h->job = g_ptr_array_new();
    qemu_mutex_init(&h->lock);
    qemu_cond_init(&h->cond);
    h->done_bh = qemu_bh_new(crp_head_job_done, h);
    qemu_thread_create(&h->thread, "crp-encoder", crp_head_worker, h,
                       QEMU_THREAD_DETACHED);
    h->dcl.ops = &crp_dcl_ops;
    h->dcl.con = con;
    h->dcl.update_interval = CRP_IDLE_REFRESH_MS;
    register_displaychangelistener(&h->dcl);
    return h;
}
