/*
 * CRP display: the clipboard shared with the clients (crp-clipboard.h).
 *
 * QEMU's clipboard holds one QemuClipboardInfo per selection; we relay
 * the CLIPBOARD selection. Towards CRP peers, each new info is one grab
 * under our own serial; its text or PNG image is fetched from its owner
 * only when a peer asks (qemu_clipboard_request()), and the peers that
 * asked wait until the data arrives. A CRP peer's grab becomes an info
 * that we own, its content fetched from that peer when QEMU asks for it,
 * one format at a time (a peer answers one request at a time).
 *
 * QEMU_CLIPBOARD_TYPE_IMAGE_PNG comes with qemu-crp-display's
 * 0002-clipboard-png.patch, which also lets qemu-vdagent carry it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "ui/clipboard.h"
#include "crp-clipboard.h"
#include "trace.h"

#include "crp/crp-message.h"

/* A CRP peer waiting for a format of the current info. */
typedef struct CrpClipboardWaiter {
    CrpPeer *peer;                  /* a reference */
    uint32_t serial;
    uint8_t format;                 /* CRP_CLIPBOARD_TEXT or _PNG */
} CrpClipboardWaiter;

struct CrpClipboard {
    QemuClipboardPeer qpeer;
    GPtrArray *peers;               /* CrpPeer * (refs) sharing it */
    QemuClipboardInfo *info;        /* the current content, a reference */
    uint32_t serial;                /* names info towards the CRP peers */
    CrpPeer *holder;                /* the CRP peer whose grab info is */
    uint32_t holder_serial;         /* the holder's name for it */
    uint8_t asking;                 /* the format asked of the holder */
    uint8_t queued;                 /* formats to ask for after it */
    GArray *waiting;                /* CrpClipboardWaiter */
};

static const uint8_t crp_clipboard_all_formats[] = {
    CRP_CLIPBOARD_TEXT, CRP_CLIPBOARD_PNG,
};

static const uint8_t png_signature[8] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
};

/* QEMU's type for a CRP format; QEMU_CLIPBOARD_TYPE__COUNT for none. */
static QemuClipboardType crp_clipboard_qtype(uint8_t format)
{
    switch (format) {
    case CRP_CLIPBOARD_TEXT:
        return QEMU_CLIPBOARD_TYPE_TEXT;
    case CRP_CLIPBOARD_PNG:
        return QEMU_CLIPBOARD_TYPE_IMAGE_PNG;
    default:
        return QEMU_CLIPBOARD_TYPE__COUNT;
    }
}

static uint8_t crp_clipboard_format(QemuClipboardType type)
{
    switch (type) {
    case QEMU_CLIPBOARD_TYPE_TEXT:
        return CRP_CLIPBOARD_TEXT;
    case QEMU_CLIPBOARD_TYPE_IMAGE_PNG:
        return CRP_CLIPBOARD_PNG;
    default:
        return 0;
    }
}

static void crp_clipboard_waiter_clear(gpointer data)
{
    crp_peer_unref(((CrpClipboardWaiter *)data)->peer);
}

static uint8_t crp_clipboard_formats(QemuClipboardInfo *info)
{
    uint8_t formats = 0;

    for (size_t i = 0; info && i < ARRAY_SIZE(crp_clipboard_all_formats); i++) {
        uint8_t f = crp_clipboard_all_formats[i];
        if (info->types[crp_clipboard_qtype(f)].available) {
            formats |= f;
        }
    }
    return formats;
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

/*
 * The image of @info, or NULL if it has none (yet). A client refuses an
 * image without the PNG signature as a protocol error, so what the guest
 * put there under image/png and is not a PNG is nothing to them.
 */
static GBytes *crp_clipboard_png(QemuClipboardInfo *info)
{
    const uint8_t *data;
    size_t len;

    if (!info || !info->types[QEMU_CLIPBOARD_TYPE_IMAGE_PNG].data) {
        return NULL;
    }
    data = info->types[QEMU_CLIPBOARD_TYPE_IMAGE_PNG].data;
    len = info->types[QEMU_CLIPBOARD_TYPE_IMAGE_PNG].size;
    if (len < sizeof(png_signature) ||
        memcmp(data, png_signature, sizeof(png_signature)) != 0) {
        return NULL;
    }
    return g_bytes_new(data, len);
}

static GBytes *crp_clipboard_content(QemuClipboardInfo *info, uint8_t format)
{
    return format == CRP_CLIPBOARD_PNG ? crp_clipboard_png(info)
                                       : crp_clipboard_text(info);
}

/* Answers the peers waiting for one of @formats: the content, or
 * @status if there is none. A peer may be disconnected on the way (it
 * stopped reading), and then taken off the list: the waiters answered
 * are taken off it first. */
static void crp_clipboard_answer_waiting(CrpClipboard *cb, uint8_t formats,
                                         uint8_t status)
{
    g_autoptr(GArray) waiting = cb->waiting;

    cb->waiting = g_array_new(false, false, sizeof(CrpClipboardWaiter));
    g_array_set_clear_func(cb->waiting, crp_clipboard_waiter_clear);
    for (guint i = 0; i < waiting->len; i++) {
        CrpClipboardWaiter *w = &g_array_index(waiting, CrpClipboardWaiter, i);
        if (!(w->format & formats)) {
            g_array_append_val(cb->waiting, ((CrpClipboardWaiter) {
                .peer = crp_peer_ref(w->peer), .serial = w->serial,
                .format = w->format,
            }));
        }
    }
    for (guint i = 0; i < waiting->len; i++) {
        CrpClipboardWaiter *w = &g_array_index(waiting, CrpClipboardWaiter, i);
        g_autoptr(GBytes) content = NULL;
        uint8_t st;

        if (!(w->format & formats)) {
            continue;
        }
        content = crp_clipboard_content(cb->info, w->format);
        st = content ? CRP_CLIPBOARD_OK : status;
        if (st != CRP_CLIPBOARD_OK) {
            trace_crp_clipboard_refused(crp_peer_get_id(w->peer), w->serial, st);
        }
        crp_peer_send_clipboard_data(w->peer, w->serial, w->format, st, content);
    }
}

static void crp_clipboard_update_info(CrpClipboard *cb, QemuClipboardInfo *info)
{
    bool ours = info->owner == &cb->qpeer;

    if (info == cb->info) {
        /* Data of the current content arrived: for whoever waits. */
        uint8_t settled = 0;

        for (size_t i = 0; i < ARRAY_SIZE(crp_clipboard_all_formats); i++) {
            uint8_t f = crp_clipboard_all_formats[i];
            QemuClipboardType q = crp_clipboard_qtype(f);
            if (info->types[q].data || !info->types[q].available) {
                settled |= f;
            }
        }
        if (settled) {
            crp_clipboard_answer_waiting(cb, settled, CRP_CLIPBOARD_NONE);
        }
        return;
    }
    /* New content: those waiting for the old get nothing. */
    crp_clipboard_answer_waiting(cb, CRP_CLIPBOARD_ALL, CRP_CLIPBOARD_NONE);
    qemu_clipboard_info_unref(cb->info);
    cb->info = qemu_clipboard_info_ref(info);
    if (!ours) {
        g_clear_pointer(&cb->holder, crp_peer_unref);
    }
    cb->asking = 0;
    cb->queued = 0;
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

/* Asks the holder for the next queued format, unless it is answering. */
static void crp_clipboard_ask_holder(CrpClipboard *cb)
{
    if (cb->asking || !cb->queued || !cb->holder) {
        return;
    }
    cb->asking = cb->queued & CRP_CLIPBOARD_TEXT ? CRP_CLIPBOARD_TEXT
                                                  : CRP_CLIPBOARD_PNG;
    cb->queued &= ~cb->asking;
    crp_peer_send_clipboard_request(cb->holder, cb->holder_serial, cb->asking);
}

/* QEMU wants the content of a CRP peer's grab: ask that peer. */
static void crp_clipboard_request(QemuClipboardInfo *info,
                                  QemuClipboardType type)
{
    CrpClipboard *cb = container_of(info->owner, CrpClipboard, qpeer);
    uint8_t format = crp_clipboard_format(type);

    if (format && info == cb->info && cb->holder) {
        cb->queued |= format;
        crp_clipboard_ask_holder(cb);
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
        cb->asking = 0;
        cb->queued = 0;
        qemu_clipboard_peer_release(&cb->qpeer,
                                    QEMU_CLIPBOARD_SELECTION_CLIPBOARD);
    }
    g_ptr_array_remove(cb->peers, p);
}

/* A CRP peer copied: its text and image (if any) become QEMU's
 * clipboard. */
static void crp_clipboard_peer_grab(CrpClipboard *cb, CrpPeer *p,
                                    uint32_t serial, uint8_t formats)
{
    g_autoptr(QemuClipboardInfo) info =
        qemu_clipboard_info_new(&cb->qpeer, QEMU_CLIPBOARD_SELECTION_CLIPBOARD);

    g_clear_pointer(&cb->holder, crp_peer_unref);
    cb->holder = crp_peer_ref(p);
    cb->holder_serial = serial;
    for (size_t i = 0; i < ARRAY_SIZE(crp_clipboard_all_formats); i++) {
        uint8_t f = crp_clipboard_all_formats[i];
        info->types[crp_clipboard_qtype(f)].available = (formats & f) != 0;
    }
    qemu_clipboard_update(info);
}

/* A CRP peer wants a format of the current content. */
static void crp_clipboard_peer_request(CrpClipboard *cb, CrpPeer *p,
                                       uint32_t serial, uint8_t format)
{
    QemuClipboardType type = crp_clipboard_qtype(format);
    g_autoptr(GBytes) content = NULL;

    if (type == QEMU_CLIPBOARD_TYPE__COUNT || serial != cb->serial ||
        p == cb->holder || !(crp_clipboard_formats(cb->info) & format)) {
        trace_crp_clipboard_refused(crp_peer_get_id(p), serial, CRP_CLIPBOARD_NONE);
        crp_peer_send_clipboard_data(p, serial, format, CRP_CLIPBOARD_NONE, NULL);
        return;
    }
    if (cb->info->types[type].data) {
        /* There, but not what CRP may carry (see crp_clipboard_png()):
         * NONE; a valid one over CRP_MAX_CLIPBOARD goes out TOO_LARGE. */
        content = crp_clipboard_content(cb->info, format);
        if (!content) {
            trace_crp_clipboard_refused(crp_peer_get_id(p), serial,
                                        CRP_CLIPBOARD_NONE);
        }
        crp_peer_send_clipboard_data(p, serial, format,
                                     content ? CRP_CLIPBOARD_OK
                                             : CRP_CLIPBOARD_NONE, content);
        return;
    }
    g_array_append_val(cb->waiting, ((CrpClipboardWaiter) {
        .peer = crp_peer_ref(p), .serial = serial, .format = format,
    }));
    qemu_clipboard_request(cb->info, type);
}

/* The holder answered our request for one format of its content. */
static void crp_clipboard_peer_data(CrpClipboard *cb, CrpPeer *p,
                                    const CrpPeerClipboard *ev)
{
    QemuClipboardInfo *info = cb->info;
    QemuClipboardType type = crp_clipboard_qtype(ev->formats);

    if (p != cb->holder || ev->serial != cb->holder_serial ||
        ev->formats != cb->asking || !info || info->owner != &cb->qpeer) {
        return;             /* an answer to a grab that is gone */
    }
    cb->asking = 0;
    if (ev->status != CRP_CLIPBOARD_OK) {
        /* Refused (too large, muted): a later request may ask again;
         * those waiting learn why. */
        trace_crp_clipboard_refused(crp_peer_get_id(p), ev->serial, ev->status);
        info->types[type].requested = false;
        crp_clipboard_answer_waiting(cb, ev->formats, ev->status);
    } else {
        qemu_clipboard_set_data(&cb->qpeer, info, type,
                                g_bytes_get_size(ev->content),
                                g_bytes_get_data(ev->content, NULL), true);
    }
    /* The update may have brought new content, which asks afresh. */
    if (info == cb->info) {
        crp_clipboard_ask_holder(cb);
    }
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
