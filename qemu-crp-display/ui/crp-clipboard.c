/*
 * CRP display: the clipboard shared with the clients (crp-clipboard.h).
 *
 * QEMU's clipboard holds one QemuClipboardInfo per selection; we relay
 * the CLIPBOARD selection. Towards CRP peers, each new info is one grab
 * under our own serial; its text is fetched from its owner only when a
 * peer asks (qemu_clipboard_request()), and the peers that asked wait
 * until the data arrives. A CRP peer's grab becomes an info that we own,
 * its text fetched from that peer when QEMU asks for it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "ui/clipboard.h"
#include "crp-clipboard.h"
#include "trace.h"

#include "crp/crp-message.h"

/* A CRP peer waiting for the text of the current info. */
typedef struct CrpClipboardWaiter {
    CrpPeer *peer;                  /* a reference */
    uint32_t serial;
} CrpClipboardWaiter;

struct CrpClipboard {
    QemuClipboardPeer qpeer;
    GPtrArray *peers;               /* CrpPeer * (refs) sharing it */
    QemuClipboardInfo *info;        /* the current content, a reference */
    uint32_t serial;                /* names info towards the CRP peers */
    CrpPeer *holder;                /* the CRP peer whose grab info is */
    uint32_t holder_serial;         /* the holder's name for it */
    GArray *waiting;                /* CrpClipboardWaiter */
};

static void crp_clipboard_waiter_clear(gpointer data)
{
    crp_peer_unref(((CrpClipboardWaiter *)data)->peer);
}

static uint8_t crp_clipboard_formats(QemuClipboardInfo *info)
{
    return info && info->types[QEMU_CLIPBOARD_TYPE_TEXT].available
           ? CRP_CLIPBOARD_TEXT : 0;
}

/*
 * The text of @info as CRP carries it (UTF-8 without NUL), or NULL if it
 * has none (yet). QEMU's clipboard holds what each peer put there: VNC's
 * extended clipboard text ends in a NUL (rfbproto says so), and VNC's
 * plain ClientCutText is Latin-1, both stored as they came. A client
 * refuses such text as a protocol error, so it is mended here: cut at
 * the first NUL, and text that is not UTF-8 read as Latin-1.
 */
static GBytes *crp_clipboard_text(QemuClipboardInfo *info)
{
    const char *data;
    size_t len;
    gsize utf8_len;
    char *utf8;

    if (!info || !info->types[QEMU_CLIPBOARD_TYPE_TEXT].data) {
        return NULL;
    }
    data = info->types[QEMU_CLIPBOARD_TYPE_TEXT].data;
    len = strnlen(data, info->types[QEMU_CLIPBOARD_TYPE_TEXT].size);
    if (g_utf8_validate_len(data, len, NULL)) {
        return g_bytes_new(data, len);
    }
    utf8 = g_convert(data, len, "UTF-8", "ISO-8859-1", NULL, &utf8_len, NULL);
    return utf8 ? g_bytes_new_take(utf8, utf8_len) : NULL;
}

/* Answers every waiting peer: the text, or @status if there is none. A
 * peer may be disconnected on the way (it stopped reading), and then
 * taken off the list: the list answered is this one, taken first. */
static void crp_clipboard_answer_waiting(CrpClipboard *cb, uint8_t status)
{
    g_autoptr(GBytes) text = crp_clipboard_text(cb->info);
    g_autoptr(GArray) waiting = cb->waiting;

    cb->waiting = g_array_new(false, false, sizeof(CrpClipboardWaiter));
    g_array_set_clear_func(cb->waiting, crp_clipboard_waiter_clear);
    for (guint i = 0; i < waiting->len; i++) {
        CrpClipboardWaiter *w = &g_array_index(waiting, CrpClipboardWaiter, i);
        uint8_t st = text ? CRP_CLIPBOARD_OK : status;

        if (st != CRP_CLIPBOARD_OK) {
            trace_crp_clipboard_refused(crp_peer_get_id(w->peer), w->serial, st);
        }
        crp_peer_send_clipboard_data(w->peer, w->serial, CRP_CLIPBOARD_TEXT,
                                     st, text);
    }
}

static void crp_clipboard_update_info(CrpClipboard *cb, QemuClipboardInfo *info)
{
    bool ours = info->owner == &cb->qpeer;

    if (info == cb->info) {
        /* Data of the current content arrived: for whoever waits. */
        if (info->types[QEMU_CLIPBOARD_TYPE_TEXT].data ||
            !info->types[QEMU_CLIPBOARD_TYPE_TEXT].available) {
            crp_clipboard_answer_waiting(cb, CRP_CLIPBOARD_NONE);
        }
        return;
    }
    /* New content: those waiting for the old get nothing. */
    crp_clipboard_answer_waiting(cb, CRP_CLIPBOARD_NONE);
    qemu_clipboard_info_unref(cb->info);
    cb->info = qemu_clipboard_info_ref(info);
    if (!ours) {
        g_clear_pointer(&cb->holder, crp_peer_unref);
    }
    cb->serial++;
    trace_crp_clipboard_grab(ours ? "crp" : (info->owner ? info->owner->name
                                                          : "none"),
                             cb->serial, crp_clipboard_formats(info));
    for (guint i = 0; i < cb->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(cb->peers, i);
        if (p != cb->holder) {
            crp_peer_send_clipboard_grab(p, cb->serial,
                                         crp_clipboard_formats(info));
        }
    }
}

static void crp_clipboard_notify(Notifier *notifier, void *data)
{
    CrpClipboard *cb = container_of(notifier, CrpClipboard, qpeer.notifier);
    QemuClipboardNotify *notify = data;

    switch (notify->type) {
    case QEMU_CLIPBOARD_UPDATE_INFO:
        if (notify->info->selection == QEMU_CLIPBOARD_SELECTION_CLIPBOARD) {
            crp_clipboard_update_info(cb, notify->info);
        }
        return;
    case QEMU_CLIPBOARD_RESET_SERIAL:
        return;
    }
}

/* QEMU wants the text of a CRP peer's grab: ask that peer. */
static void crp_clipboard_request(QemuClipboardInfo *info,
                                  QemuClipboardType type)
{
    CrpClipboard *cb = container_of(info->owner, CrpClipboard, qpeer);

    if (type == QEMU_CLIPBOARD_TYPE_TEXT && info == cb->info && cb->holder) {
        crp_peer_send_clipboard_request(cb->holder, cb->holder_serial,
                                        CRP_CLIPBOARD_TEXT);
    }
}

CrpClipboard *crp_clipboard_new(void)
{
    CrpClipboard *cb = g_new0(CrpClipboard, 1);

    cb->peers = g_ptr_array_new_with_free_func((GDestroyNotify)crp_peer_unref);
    cb->waiting = g_array_new(false, false, sizeof(CrpClipboardWaiter));
    g_array_set_clear_func(cb->waiting, crp_clipboard_waiter_clear);
    cb->qpeer.name = "crp";
    cb->qpeer.notifier.notify = crp_clipboard_notify;
    cb->qpeer.request = crp_clipboard_request;
    qemu_clipboard_peer_register(&cb->qpeer);
    return cb;
}

void crp_clipboard_add_peer(CrpClipboard *cb, CrpPeer *p)
{
    g_ptr_array_add(cb->peers, crp_peer_ref(p));
    if (crp_clipboard_formats(cb->info)) {
        crp_peer_send_clipboard_grab(p, cb->serial,
                                     crp_clipboard_formats(cb->info));
    }
}

void crp_clipboard_remove_peer(CrpClipboard *cb, CrpPeer *p)
{
    for (guint i = cb->waiting->len; i-- > 0;) {
        if (g_array_index(cb->waiting, CrpClipboardWaiter, i).peer == p) {
            g_array_remove_index(cb->waiting, i);
        }
    }
    if (cb->holder == p) {
        /* Its content can no longer be fetched: the clipboard is empty. */
        g_clear_pointer(&cb->holder, crp_peer_unref);
        qemu_clipboard_peer_release(&cb->qpeer,
                                    QEMU_CLIPBOARD_SELECTION_CLIPBOARD);
    }
    g_ptr_array_remove(cb->peers, p);
}

/* A CRP peer copied: its text (if any) becomes QEMU's clipboard. */
static void crp_clipboard_peer_grab(CrpClipboard *cb, CrpPeer *p,
                                    uint32_t serial, uint8_t formats)
{
    g_autoptr(QemuClipboardInfo) info =
        qemu_clipboard_info_new(&cb->qpeer, QEMU_CLIPBOARD_SELECTION_CLIPBOARD);

    g_clear_pointer(&cb->holder, crp_peer_unref);
    cb->holder = crp_peer_ref(p);
    cb->holder_serial = serial;
    info->types[QEMU_CLIPBOARD_TYPE_TEXT].available =
        (formats & CRP_CLIPBOARD_TEXT) != 0;
    qemu_clipboard_update(info);
}

/* A CRP peer wants the current content's text. */
static void crp_clipboard_peer_request(CrpClipboard *cb, CrpPeer *p,
                                       uint32_t serial, uint8_t format)
{
    g_autoptr(GBytes) text = NULL;

    if (format != CRP_CLIPBOARD_TEXT || serial != cb->serial || p == cb->holder ||
        !crp_clipboard_formats(cb->info)) {
        trace_crp_clipboard_refused(crp_peer_get_id(p), serial, CRP_CLIPBOARD_NONE);
        crp_peer_send_clipboard_data(p, serial, format, CRP_CLIPBOARD_NONE, NULL);
        return;
    }
    text = crp_clipboard_text(cb->info);
    if (text) {
        crp_peer_send_clipboard_data(p, serial, format, CRP_CLIPBOARD_OK, text);
        return;
    }
    g_array_append_val(cb->waiting, ((CrpClipboardWaiter) {
        .peer = crp_peer_ref(p), .serial = serial,
    }));
    qemu_clipboard_request(cb->info, QEMU_CLIPBOARD_TYPE_TEXT);
}

/* The holder answered our request for its text. */
static void crp_clipboard_peer_data(CrpClipboard *cb, CrpPeer *p,
                                    const CrpPeerClipboard *ev)
{
    QemuClipboardInfo *info = cb->info;

    if (p != cb->holder || ev->serial != cb->holder_serial ||
        ev->formats != CRP_CLIPBOARD_TEXT || !info || info->owner != &cb->qpeer) {
        return;             /* an answer to a grab that is gone */
    }
    if (ev->status != CRP_CLIPBOARD_OK) {
        /* Refused (too large, muted): a later request may ask again;
         * those waiting learn why. */
        trace_crp_clipboard_refused(crp_peer_get_id(p), ev->serial, ev->status);
        info->types[QEMU_CLIPBOARD_TYPE_TEXT].requested = false;
        crp_clipboard_answer_waiting(cb, ev->status);
        return;
    }
    qemu_clipboard_set_data(&cb->qpeer, info, QEMU_CLIPBOARD_TYPE_TEXT,
                            g_bytes_get_size(ev->content),
                            g_bytes_get_data(ev->content, NULL), true);
}

void crp_clipboard_peer_event(CrpClipboard *cb, CrpPeer *p,
                              const CrpPeerClipboard *ev)
{
    switch (ev->type) {
    case CRP_MSG_CLIPBOARD_GRAB:
        crp_clipboard_peer_grab(cb, p, ev->serial, ev->formats);
        break;
    case CRP_MSG_CLIPBOARD_REQUEST:
        crp_clipboard_peer_request(cb, p, ev->serial, ev->formats);
        break;
    case CRP_MSG_CLIPBOARD_DATA:
        crp_clipboard_peer_data(cb, p, ev);
        break;
    }
}
