/*
 * CRP display: one DisplayChangeListener per graphic console.
 *
 * The guest's surface is copied, only where QEMU reported damage, into
 * the head's own framebuffer during dpy_refresh (with the BQL, on the main
 * loop). A worker thread then encodes, for each group of clients that has
 * room for a frame, what changed since that group's last frame, and hands
 * the results back with a bottom half. Clients at the same point share one
 * encoding (crp-group.c); one that has no room when the others do goes on
 * with a copy of the group's encoder, so a slow client simply gets fewer,
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
/*
 * Frame pacing. For a while after a client's input, frames go out at the
 * full rate (refresh-rate): the user is waiting for them, and that is
 * where key-to-screen latency is won. Change that goes on by itself for
 * longer (a terminal flooding, a document scrolling, an animation) is
 * sent at most CRP_CONTINUOUS_MS apart: nobody reads text scrolling at 60
 * frames a second, and every frame of it is bytes (QEMU's VNC sends such
 * content at about half that rate). A slow link slows frames further
 * through flow control.
 */
#define CRP_INTERACTIVE_US (300 * 1000)
#define CRP_CONTINUOUS_AFTER_US (500 * 1000)
#define CRP_CONTINUOUS_MS 33
/* Refreshes without change that end a run of continuous change. */
#define CRP_CONTINUOUS_PAUSE 3

static void crp_head_set_rate(CrpHead *h, unsigned ms)
{
    if (h->dcl.update_interval != ms) {
        update_displaychangelistener(&h->dcl, ms);
    }
}

/* The refresh interval for what the screen is doing now. */
static unsigned crp_head_pace_ms(CrpHead *h, int64_t now_us)
{
    unsigned full = h->server->refresh_ms;

    if (now_us - h->input_us < CRP_INTERACTIVE_US || !h->changing_since_us ||
        now_us - h->changing_since_us < CRP_CONTINUOUS_AFTER_US) {
        return full;
    }
    return MAX(full, CRP_CONTINUOUS_MS);
}

/* The screen changed (@now_us: when it was captured). */
static void crp_head_changed(CrpHead *h, int64_t now_us)
{
    h->idle_refreshes = 0;
    if (!h->changing_since_us) {
        h->changing_since_us = now_us;
    }
    crp_head_set_rate(h, crp_head_pace_ms(h, now_us));
}

void crp_head_wake(CrpHead *h)
{
    h->idle_refreshes = 0;
    crp_head_set_rate(h, h->server->refresh_ms);
}

void crp_head_input(CrpHead *h)
{
    h->input_us = g_get_monotonic_time();
    crp_head_wake(h);
}

/* The surface changed size: every client restarts with a SURFACE. */
static void crp_head_resize(CrpHead *h)
{
    CrpPeer *c;
    int w = surface_width(h->surface), hh = surface_height(h->surface);

    if (h->fb) {
        pixman_image_unref(h->fb);
    }
    h->fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, hh, NULL, 0);
    crp_capture_damage_all(h->capture);
    /* All of the new fb is captured: nothing to bring back. */
    pixman_region32_clear(&h->stale);
    g_clear_pointer(&h->stale_src, pixman_image_unref);
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h) {
            c->need_surface = true;
        }
    }
    for (guint i = 0; i < h->groups->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        g->need_full = true;
    }
}

static void crp_gfx_update(DisplayChangeListener *dcl, int x, int y, int w,
                           int h)
{
    CrpHead *head = container_of(dcl, CrpHead, dcl);

    crp_capture_damage(head->capture, x, y, w, h);
}

static void crp_gfx_switch(DisplayChangeListener *dcl,
                           DisplaySurface *surface)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);

    /* The new surface is only read in dpy_refresh, on this thread; the
     * framebuffer is resized there once the worker is idle. Damage
     * reported so far was for the old surface: it must never be read
     * from the new one (which may be smaller), so it starts afresh. */
    h->surface = surface;
    crp_capture_switch(h->capture, surface ? surface_width(surface) : 0,
                       surface ? surface_height(surface) : 0);
}

/* Whether a group holds lossy content due for refinement: on a slow link
 * refinement takes many frames (crp_group_set_rate()), and backing off to
 * the idle rate would stretch it to seconds. */
static bool crp_head_refining(CrpHead *h, int64_t now_us)
{
    for (guint i = 0; i < h->groups->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        int64_t due = crp_encoder_next_refine_us(g->enc);
        if (due >= 0 && due <= now_us) {
            return true;
        }
    }
    return false;
}

static bool crp_head_has_clients(CrpHead *h)
{
    CrpPeer *c;

    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h && c->ready) {
            return true;
        }
    }
    return false;
}

static void crp_head_drop_empty_groups(CrpHead *h)
{
    for (guint i = 0; i < h->groups->len;) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        if (g->members->len == 0) {
            g_ptr_array_remove_index_fast(h->groups, i);
            crp_group_unref(g);
        } else {
            i++;
        }
    }
}

/* Moves every member of @from into @to, whose next frame is then whole:
 * the movers' zlib stream and picture are not the group's. Nor are their
 * H.264 streams: @to's encoder knows only its own, and a mover's decoders
 * left from @from would count against the pixels a client may decode,
 * so the movers get a SURFACE first, which ends them all. */
static void crp_head_move_members(CrpGroup *from, CrpGroup *to)
{
    while (from->members->len > 0) {
        CrpPeer *c = g_ptr_array_index(from->members, 0);
        crp_group_remove(c);
        crp_group_add(to, c);
        c->need_surface = true;
    }
    to->need_full = true;
}

/*
 * Who shares whose encoding, decided between jobs: clients that joined go
 * into the first group (at its next, whole, frame), and when every client
 * has caught up, all groups become one again, not more often than
 * CRP_GROUP_MERGE_INTERVAL_US since each merge costs every client a whole
 * frame.
 */
/* The first group whose members decode what @caps says, or NULL. */
static CrpGroup *crp_head_group_for(CrpHead *h, uint32_t caps)
{
    for (guint i = 0; i < h->groups->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        if (g->caps == caps) {
            return g;
        }
    }
    return NULL;
}

static void crp_head_regroup(CrpHead *h, int64_t now_us)
{
    CrpPeer *c;
    bool all_caught_up = true;

    crp_head_drop_empty_groups(h);
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head != h || !c->ready || c->closed) {
            continue;
        }
        if (!c->group) {
            /* Clients that decode different encodings never share. */
            uint32_t caps = crp_group_caps_of(c->caps);
            CrpGroup *g = crp_head_group_for(h, caps);
            if (!g) {
                g = crp_group_new(h->server, caps);
                g_ptr_array_add(h->groups, g);
            }
            crp_group_add(g, c);
            g->need_full = true;
            continue;
        }
        all_caught_up &= crp_peer_caught_up(c, now_us);
    }
    if (h->groups->len > 1 && all_caught_up &&
        now_us - h->last_merge_us >= CRP_GROUP_MERGE_INTERVAL_US) {
        for (guint i = 1; i < h->groups->len; i++) {
            CrpGroup *g = g_ptr_array_index(h->groups, i);
            CrpGroup *first = crp_head_group_for(h, g->caps);
            if (first != g) {
                crp_head_move_members(g, first);
            }
        }
        crp_head_drop_empty_groups(h);
        h->last_merge_us = now_us;
    }
}

/*
 * Puts @g in the job if any member has room for a frame and there is
 * something to send. Members without room leave on a copy of the group
 * first, so they keep their place in the stream and catch up later.
 */
static void crp_head_queue_group(CrpHead *h, CrpGroup *g, int64_t now_us)
{
    gint64 refine_due = crp_encoder_next_refine_us(g->enc);
    g_autoptr(GPtrArray) behind = g_ptr_array_new();
    guint ready = 0;

    if (!g->need_full && !pixman_region32_not_empty(&g->damage) &&
        (refine_due < 0 || refine_due > now_us)) {
        return;
    }
    for (guint i = 0; i < g->members->len; i++) {
        CrpPeer *c = g_ptr_array_index(g->members, i);
        if (crp_peer_wants_frame(c, now_us)) {
            ready++;
        } else {
            g_ptr_array_add(behind, c);
        }
    }
    if (ready == 0) {
        return;                 /* all behind: the damage waits for them */
    }
    if (behind->len > 0) {
        CrpGroup *fork = crp_group_fork(g);
        for (guint i = 0; i < behind->len; i++) {
            CrpPeer *c = g_ptr_array_index(behind, i);
            crp_group_remove(c);
            crp_group_add(fork, c);
        }
        g_ptr_array_add(h->groups, fork);
    }

    int w = pixman_image_get_width(h->fb), hh = pixman_image_get_height(h->fb);
    if (g->need_full) {
        CrpMessage surface = {
            .type = CRP_MSG_SURFACE,
            .surface = { w, hh },
        };
        crp_encoder_reset(g->enc);
        if (!g->prev || pixman_image_get_width(g->prev) != w ||
            pixman_image_get_height(g->prev) != hh) {
            if (g->prev) {
                pixman_image_unref(g->prev);
            }
            g->prev = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, hh, NULL, 0);
        }
        pixman_region32_reset(&g->damage, &(pixman_box32_t){ 0, 0, w, hh });
        for (guint i = 0; i < g->members->len; i++) {
            CrpPeer *c = g_ptr_array_index(g->members, i);
            if (c->need_surface) {
                crp_peer_send(c, &surface);
            }
        }
    }
    for (guint i = 0; i < g->members->len; i++) {
        CrpPeer *c = g_ptr_array_index(g->members, i);
        c->capture_us = now_us;
        c->capture_serial = c->input_serial;
    }
    crp_group_set_rate(g, now_us);
    g_ptr_array_add(h->job, crp_group_ref(g));
}

static void crp_refresh(DisplayChangeListener *dcl)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
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
    crp_head_regroup(h, now_us);

    pixman_region32_t captured;
    pixman_region32_init(&captured);
    crp_capture_copy(h->capture, h->surface->image, h->fb, &captured);
    if (pixman_region32_not_empty(&captured)) {
        pixman_region32_subtract(&h->stale, &h->stale, &captured);
        for (guint i = 0; i < h->groups->len; i++) {
            CrpGroup *g = g_ptr_array_index(h->groups, i);
            pixman_region32_union(&g->damage, &g->damage, &captured);
        }
        crp_head_changed(h, now_us);
    } else {
        ++h->idle_refreshes;
        if (h->idle_refreshes >= CRP_CONTINUOUS_PAUSE) {
            h->changing_since_us = 0;
        }
        if (h->idle_refreshes > 20 && !crp_head_refining(h, now_us)) {
            crp_head_set_rate(h, CRP_IDLE_REFRESH_MS);
        }
    }
    pixman_region32_fini(&captured);

    /* Forks are appended while we go: they have no room, and are skipped. */
    guint n_groups = h->groups->len;
    for (guint i = 0; i < n_groups; i++) {
        crp_head_queue_group(h, g_ptr_array_index(h->groups, i), now_us);
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

/* Worker: bring fb up to date where it traded places with a picture. */
static void crp_head_catch_up(CrpHead *h)
{
    int n;
    pixman_box32_t *boxes = pixman_region32_rectangles(&h->stale, &n);

    for (int i = 0; i < n; i++) {
        pixman_image_composite32(PIXMAN_OP_SRC, h->stale_src, NULL, h->fb,
                                 boxes[i].x1, boxes[i].y1, 0, 0,
                                 boxes[i].x1, boxes[i].y1,
                                 boxes[i].x2 - boxes[i].x1,
                                 boxes[i].y2 - boxes[i].y1);
    }
    pixman_region32_clear(&h->stale);
    g_clear_pointer(&h->stale_src, pixman_image_unref);
}

/*
 * Worker: the group's members now show fb. With one group in the job, fb
 * and the group's picture trade places instead of copying what changed
 * (on scrolling text that is the whole screen, a quarter of this thread's
 * time): the picture becomes fb, and fb, the old picture, is behind where
 * the group's damage says, until the next capture overwrites it or the
 * next job copies it back from the picture (crp_head_catch_up()). With
 * several groups in the job the others still read fb, so it is copied.
 */
static void crp_head_commit(CrpHead *h)
{
    CrpGroup *g = h->job->len == 1 ? g_ptr_array_index(h->job, 0) : NULL;

    if (g && g->prev &&
        pixman_image_get_width(g->prev) == pixman_image_get_width(h->fb) &&
        pixman_image_get_height(g->prev) == pixman_image_get_height(h->fb)) {
        pixman_image_t *shown = h->fb;
        h->fb = g->prev;
        g->prev = shown;
        pixman_region32_copy(&h->stale, &g->damage);
        h->stale_src = pixman_image_ref(g->prev);
        pixman_region32_clear(&g->damage);
        return;
    }
    for (guint i = 0; i < h->job->len; i++) {
        crp_group_commit(g_ptr_array_index(h->job, i), h->fb);
    }
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
        crp_head_catch_up(h);
        for (guint i = 0; i < h->job->len; i++) {
            crp_group_encode(g_ptr_array_index(h->job, i), h->fb, h->job_now_us);
        }
        crp_head_commit(h);
        qemu_bh_schedule(h->done_bh);
        qemu_mutex_lock(&h->lock);
    }
    /* Not reached: the worker lives as long as QEMU. */
    return NULL;
}

/* Main loop: the worker is done; send what it made to every member (the
 * members are those of job time: groups change only between jobs, and
 * clients that left are no longer listed). */
static void crp_head_job_done(void *opaque)
{
    CrpHead *h = opaque;

    for (guint i = 0; i < h->job->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->job, i);
        /* Sending can disconnect a client, which leaves the group. */
        g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func(
            (GDestroyNotify)crp_peer_unref);
        for (guint j = 0; j < g->members->len; j++) {
            g_ptr_array_add(members, crp_peer_ref(g_ptr_array_index(g->members, j)));
        }
        g->need_full = false;
        for (guint j = 0; j < members->len; j++) {
            CrpPeer *c = g_ptr_array_index(members, j);
            if (!c->closed) {
                c->need_surface = false;
                crp_peer_send_frame(c, g->encoded->data, g->encoded->len);
            }
        }
        crp_group_unref(g);
    }
    g_ptr_array_set_size(h->job, 0);
    h->busy = false;
}

void crp_head_client_joined(CrpHead *h, CrpPeer *c)
{
    /* Nothing is captured while nobody watches: start from the whole
     * surface rather than trust a framebuffer that may be stale. */
    crp_capture_damage_all(h->capture);
    c->need_surface = true;
    crp_peer_send_cursor(c);
    crp_head_wake(h);
}

static void crp_mouse_set(DisplayChangeListener *dcl, int x, int y, bool on)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    CrpPeer *c;

    h->mouse_x = x;
    h->mouse_y = y;
    h->mouse_on = on;
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h && c->ready && (c->caps & CRP_CAP_CURSOR)) {
            CrpMessage pos = {
                .type = CRP_MSG_CURSOR_POS,
                .cursor_pos = { MAX(x, 0), MAX(y, 0), on },
            };
            crp_peer_send(c, &pos);
        }
    }
}

static void crp_cursor_define(DisplayChangeListener *dcl, QEMUCursor *cursor)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    CrpPeer *c;

    if (h->cursor) {
        cursor_unref(h->cursor);
    }
    h->cursor = cursor ? cursor_ref(cursor) : NULL;
    QTAILQ_FOREACH(c, &h->server->clients, next) {
        if (c->head == h && c->ready) {
            crp_peer_send_cursor(c);
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
    /* No dpy_gfx_check_format: std VGA then gives us x8r8g8b8 shadow
     * surfaces, but other devices (bochs-display at 16 bpp, ramfb,
     * cirrus, vmware-svga) build surfaces from guest memory in their own
     * formats without asking; crp_capture_copy() converts those. */
};

CrpHead *crp_head_new(CrpServer *s, QemuConsole *con)
{
    CrpHead *h = g_new0(CrpHead, 1);

    h->server = s;
    h->capture = crp_capture_new();
    h->job = g_ptr_array_new();
    h->groups = g_ptr_array_new();
    pixman_region32_init(&h->stale);
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
