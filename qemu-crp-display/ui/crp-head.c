/*
 * CRP display: one DisplayChangeListener per graphic console.
 *
 * The guest's surface is copied, only where QEMU reported damage, into
 * the head's own framebuffer during dpy_refresh (with the BQL, on the main
 * loop). A worker thread then encodes, for each group of peers that has
 * room for a frame, what changed since that group's last frame, and hands
 * the results back with a bottom half. Peers at the same point share one
 * encoding (crp-group.c); one that has no room when the others do goes on
 * with a copy of the group's encoder, so a slow peer simply gets fewer,
 * fresher frames and never holds the others back.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "crp-head.h"
#include "crp-group.h"
#include "trace.h"

#include "crp/crp-capture.h"

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
/* Groups whose peers have all caught up merge (at the price of a full
 * refresh for all of them) at most this often. */
#define CRP_GROUP_MERGE_INTERVAL_US (5 * G_USEC_PER_SEC)

struct CrpHead {
    DisplayChangeListener dcl;
    CrpHeadConfig cfg;
    DisplaySurface *surface;
    pixman_image_t *fb;             /* server framebuffer (x8r8g8b8) */
    CrpCapture *capture;            /* guest damage not yet in fb */
    int idle_refreshes;
    int64_t input_us;               /* last peer input (pacing) */
    int64_t changing_since_us;      /* change every refresh since; 0: not */

    /* Peers whose handshake is done (refs), in the order they joined. */
    GPtrArray *peers;
    /* Of them, those to get a SURFACE before their next frame. */
    GHashTable *need_surface;

    /* Worker. */
    QemuThread thread;
    QemuMutex lock;
    QemuCond cond;
    QEMUBH *done_bh;
    bool busy;                      /* main loop: a job is out, results not back */
    bool job_queued;                /* under lock: set by the main loop,
                                       taken by the worker */
    GPtrArray *job;                 /* CrpGroup * being encoded (refs) */
    int64_t job_now_us;

    GPtrArray *groups;              /* CrpGroup * (refs), see crp-group.c */
    int64_t last_merge_us;
    /* Where fb is behind after it traded places with a group's picture
     * (crp_head_worker()), and the image that has those pixels; the
     * worker copies them back at the start of the next job. Captures
     * make it smaller. Worker-owned while busy. */
    pixman_region32_t stale;
    pixman_image_t *stale_src;

    /* Cursor, replayed to peers that join. */
    QEMUCursor *cursor;
    int mouse_x, mouse_y;
    bool mouse_on;
};

static void crp_head_set_rate(CrpHead *h, unsigned ms)
{
    if (h->dcl.update_interval != ms) {
        update_displaychangelistener(&h->dcl, ms);
    }
}

/* The refresh interval for what the screen is doing now. */
static unsigned crp_head_pace_ms(CrpHead *h, int64_t now_us)
{
    unsigned full = h->cfg.refresh_ms;

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

static void crp_head_wake(CrpHead *h)
{
    h->idle_refreshes = 0;
    crp_head_set_rate(h, h->cfg.refresh_ms);
}

void crp_head_input(CrpHead *h)
{
    h->input_us = g_get_monotonic_time();
    crp_head_wake(h);
}

/* The surface changed size: every peer restarts with a SURFACE. */
static void crp_head_resize(CrpHead *h)
{
    int w = surface_width(h->surface), hh = surface_height(h->surface);

    if (h->fb) {
        pixman_image_unref(h->fb);
    }
    h->fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, hh, NULL, 0);
    crp_capture_damage_all(h->capture);
    /* All of the new fb is captured: nothing to bring back. */
    pixman_region32_clear(&h->stale);
    g_clear_pointer(&h->stale_src, pixman_image_unref);
    for (guint i = 0; i < h->peers->len; i++) {
        g_hash_table_add(h->need_surface, g_ptr_array_index(h->peers, i));
    }
    for (guint i = 0; i < h->groups->len; i++) {
        crp_group_set_need_full(g_ptr_array_index(h->groups, i));
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
        if (crp_group_refine_due(g_ptr_array_index(h->groups, i), now_us)) {
            return true;
        }
    }
    return false;
}

/* The group @p receives, or NULL: it joins one at the next refresh. */
static CrpGroup *crp_head_group_of(CrpHead *h, CrpPeer *p)
{
    for (guint i = 0; i < h->groups->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        if (crp_group_has_member(g, p)) {
            return g;
        }
    }
    return NULL;
}

static void crp_head_drop_empty_groups(CrpHead *h)
{
    for (guint i = 0; i < h->groups->len;) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        if (crp_group_n_members(g) == 0) {
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
static void crp_head_move_members(CrpHead *h, CrpGroup *from, CrpGroup *to)
{
    while (crp_group_n_members(from) > 0) {
        CrpPeer *p = crp_group_member(from, 0);
        crp_group_remove(from, p);
        crp_group_add(to, p);
        g_hash_table_add(h->need_surface, p);
    }
    crp_group_set_need_full(to);
}

/*
 * Who shares whose encoding, decided between jobs: peers that joined go
 * into the first group (at its next, whole, frame), and when every peer
 * has caught up, all groups become one again, not more often than
 * CRP_GROUP_MERGE_INTERVAL_US since each merge costs every peer a whole
 * frame.
 */
/* The first group whose members decode what @caps says, or NULL. */
static CrpGroup *crp_head_group_for(CrpHead *h, uint32_t caps)
{
    for (guint i = 0; i < h->groups->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->groups, i);
        if (crp_group_get_caps(g) == caps) {
            return g;
        }
    }
    return NULL;
}

static void crp_head_regroup(CrpHead *h, int64_t now_us)
{
    bool all_caught_up = true;

    crp_head_drop_empty_groups(h);
    for (guint i = 0; i < h->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(h->peers, i);
        if (!crp_peer_is_ready(p)) {
            continue;
        }
        if (!crp_head_group_of(h, p)) {
            /* Peers that decode different encodings never share. */
            uint32_t caps = crp_group_caps_of(crp_peer_get_caps(p));
            CrpGroup *g = crp_head_group_for(h, caps);
            if (!g) {
                CrpGroupConfig gc = {
                    .lossless = h->cfg.lossless,
                    .jpeg_quality = h->cfg.jpeg_quality,
                };
                g = crp_group_new(&gc, caps);
                g_ptr_array_add(h->groups, g);
                trace_crp_head_group_new(g, caps, h->groups->len);
            }
            crp_group_add(g, p);
            crp_group_set_need_full(g);
            continue;
        }
        all_caught_up &= crp_peer_caught_up(p, now_us);
    }
    if (h->groups->len > 1 && all_caught_up &&
        now_us - h->last_merge_us >= CRP_GROUP_MERGE_INTERVAL_US) {
        guint before = h->groups->len;

        for (guint i = 1; i < h->groups->len; i++) {
            CrpGroup *g = g_ptr_array_index(h->groups, i);
            CrpGroup *first = crp_head_group_for(h, crp_group_get_caps(g));
            if (first != g) {
                crp_head_move_members(h, g, first);
            }
        }
        crp_head_drop_empty_groups(h);
        h->last_merge_us = now_us;
        trace_crp_head_group_merge(before, h->groups->len);
    }
}

/*
 * Puts @g in the job if any member has room for a frame and there is
 * something to send. Members without room leave on a copy of the group
 * first, so they keep their place in the stream and catch up later.
 */
static void crp_head_queue_group(CrpHead *h, CrpGroup *g, int64_t now_us)
{
    g_autoptr(GPtrArray) behind = g_ptr_array_new();
    guint ready = 0;

    if (!crp_group_has_work(g, now_us)) {
        return;
    }
    for (guint i = 0; i < crp_group_n_members(g); i++) {
        CrpPeer *p = crp_group_member(g, i);
        if (crp_peer_wants_frame(p, now_us)) {
            ready++;
        } else {
            g_ptr_array_add(behind, p);
        }
    }
    if (ready == 0) {
        return;                 /* all behind: the damage waits for them */
    }
    if (behind->len > 0) {
        CrpGroup *fork = crp_group_fork(g);
        for (guint i = 0; i < behind->len; i++) {
            CrpPeer *p = g_ptr_array_index(behind, i);
            crp_group_remove(g, p);
            crp_group_add(fork, p);
        }
        g_ptr_array_add(h->groups, fork);
        trace_crp_head_group_fork(g, fork, ready, behind->len, h->groups->len);
    }

    int w = pixman_image_get_width(h->fb), hh = pixman_image_get_height(h->fb);
    if (crp_group_needs_full(g)) {
        CrpMessage surface = {
            .type = CRP_MSG_SURFACE,
            .surface = { w, hh },
        };
        crp_group_begin_full(g, w, hh);
        for (guint i = 0; i < crp_group_n_members(g); i++) {
            CrpPeer *p = crp_group_member(g, i);
            if (g_hash_table_contains(h->need_surface, p)) {
                crp_peer_send(p, &surface);
            }
        }
    }
    for (guint i = 0; i < crp_group_n_members(g); i++) {
        crp_peer_mark_capture(crp_group_member(g, i), now_us);
    }
    crp_group_set_rate(g, now_us);
    g_ptr_array_add(h->job, crp_group_ref(g));
}

static void crp_refresh(DisplayChangeListener *dcl)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    int64_t now_us = g_get_monotonic_time();

    if (h->peers->len == 0) {
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
            crp_group_add_damage(g_ptr_array_index(h->groups, i), &captured);
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
    pixman_image_t *shown = h->fb;
    pixman_image_t *traded = g ? crp_group_trade_picture(g, shown, &h->stale)
                               : NULL;

    if (traded) {
        h->fb = traded;
        h->stale_src = pixman_image_ref(shown);
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
 * peers that left are no longer listed). */
static void crp_head_job_done(void *opaque)
{
    CrpHead *h = opaque;

    for (guint i = 0; i < h->job->len; i++) {
        CrpGroup *g = g_ptr_array_index(h->job, i);
        const GByteArray *encoded = crp_group_get_encoded(g);
        /* Sending can disconnect a peer, which leaves the group. */
        g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func(
            (GDestroyNotify)crp_peer_unref);
        for (guint j = 0; j < crp_group_n_members(g); j++) {
            g_ptr_array_add(members, crp_peer_ref(crp_group_member(g, j)));
        }
        trace_crp_head_frame_encoded(g, members->len, encoded->len,
                                     crp_group_needs_full(g));
        crp_group_frame_done(g);
        for (guint j = 0; j < members->len; j++) {
            CrpPeer *p = g_ptr_array_index(members, j);
            if (crp_peer_is_ready(p)) {
                g_hash_table_remove(h->need_surface, p);
                crp_peer_send_frame(p, encoded->data, encoded->len);
            }
        }
        crp_group_unref(g);
    }
    g_ptr_array_set_size(h->job, 0);
    h->busy = false;
}

QemuConsole *crp_head_get_console(CrpHead *h)
{
    return h->dcl.con;
}

void crp_head_add_peer(CrpHead *h, CrpPeer *p)
{
    g_ptr_array_add(h->peers, crp_peer_ref(p));
    /* Nothing is captured while nobody watches: start from the whole
     * surface rather than trust a framebuffer that may be stale. */
    crp_capture_damage_all(h->capture);
    g_hash_table_add(h->need_surface, p);
    crp_peer_send_cursor(p, h->cursor, h->mouse_x, h->mouse_y, h->mouse_on);
    crp_head_wake(h);
}

void crp_head_remove_peer(CrpHead *h, CrpPeer *p)
{
    CrpGroup *g = crp_head_group_of(h, p);

    /* Off its group now: the group's next frames are not for it. */
    if (g) {
        crp_group_remove(g, p);
    }
    g_hash_table_remove(h->need_surface, p);
    if (g_ptr_array_remove(h->peers, p)) {
        crp_peer_unref(p);
    }
}

static void crp_mouse_set(DisplayChangeListener *dcl, int x, int y, bool on)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);
    CrpMessage pos = {
        .type = CRP_MSG_CURSOR_POS,
        .cursor_pos = { MAX(x, 0), MAX(y, 0), on },
    };

    h->mouse_x = x;
    h->mouse_y = y;
    h->mouse_on = on;
    for (guint i = 0; i < h->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(h->peers, i);
        if (crp_peer_get_caps(p) & CRP_CAP_CURSOR) {
            crp_peer_send(p, &pos);
        }
    }
}

static void crp_cursor_define(DisplayChangeListener *dcl, QEMUCursor *cursor)
{
    CrpHead *h = container_of(dcl, CrpHead, dcl);

    if (h->cursor) {
        cursor_unref(h->cursor);
    }
    h->cursor = cursor ? cursor_ref(cursor) : NULL;
    for (guint i = 0; i < h->peers->len; i++) {
        crp_peer_send_cursor(g_ptr_array_index(h->peers, i), h->cursor,
                             h->mouse_x, h->mouse_y, h->mouse_on);
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

CrpHead *crp_head_new(QemuConsole *con, const CrpHeadConfig *cfg)
{
    CrpHead *h = g_new0(CrpHead, 1);

    h->cfg = *cfg;
    h->peers = g_ptr_array_new();
    h->need_surface = g_hash_table_new(NULL, NULL);
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
