/*
 * CRP display (-display crp): options, the listening socket, tickets,
 * QMP and registration.
 *
 *   -display crp,addr=unix:/run/vm1.sock,audiodev=snd0
 *   -display crp,addr=tcp:0.0.0.0:5930,max-clients=2,jpeg-quality=80
 *   -display crp,addr=unix:/run/vm1.sock,clipboard=off
 *
 * Clients need the one-time ticket set with the QMP command
 * crp-set-ticket; a ticket lets exactly one client in and then is gone.
 * disable-ticketing=on (unix sockets only) lets in whoever can open the
 * socket. docs/protocol.md describes the protocol.
 *
 * The files of ui-crp.so, each the owner of the next; calls run one way,
 * from owner to part, and parts report up only through the callbacks
 * their owner set (CrpPeerEvents; the audio peer's callbacks):
 *
 *   crp.c         the server: options, the listening socket, tickets,
 *                 QMP, audio; owns the peers and the heads
 *   crp-head.c    one DisplayChangeListener per graphic console: the
 *                 server framebuffer, damage, the encoder worker thread,
 *                 which peers share an encoding (crp-head.h)
 *   crp-group.c   one encoding shared by the peers at the same point
 *                 (crp-group.h)
 *   crp-clipboard.c  the clipboard shared with the peers, one QEMU
 *                 clipboard peer (crp-clipboard.h)
 *   crp-peer.c    one connection: the libcrp channel, flow control
 *                 (crp-peer.h)
 *   crp-input.c   a peer's input messages as QEMU input events
 *                 (crp-input.h)
 *
 * Threads: the main loop with the BQL, except each head's encoder
 * worker; crp-head.h and crp-group.h say what it may touch.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <math.h>
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/sockets.h"
#include "qapi/error.h"
#include "qapi/qapi-types-ui.h"
#include "qemu/timer.h"
#include "io/net-listener.h"
#include "ui/crp-module.h"
#include "crp-clipboard.h"
#include "crp-head.h"
#include "crp-peer.h"
#include "trace.h"

#define CRP_DEFAULT_MAX_CLIENTS 4
#define CRP_DEFAULT_REFRESH_RATE 60
#define CRP_DEFAULT_JPEG_QUALITY 75
/* See crp_ticket_bits(). */
#define CRP_TICKET_MIN_BITS 128
/* Connections still in their handshake, beyond max-clients, and of them
 * those from one origin (an IP address, or a local user on a unix
 * socket). Past either, a new connection takes the place of the oldest
 * such connection of the busiest origin: idle connections cannot keep a
 * client that holds a ticket out (see crp_accept()). */
#define CRP_MAX_PENDING 8
#define CRP_MAX_PENDING_PER_ORIGIN 4

typedef struct CrpServer {
    /* Options. */
    char *addr;
    char *audiodev;
    unsigned max_clients;
    bool disable_ticketing;
    unsigned refresh_ms;
    bool lossless;
    int jpeg_quality;
    bool clipboard_on;

    QIONetListener *listener;
    GPtrArray *heads;               /* CrpHead *, one per graphic console */
    GPtrArray *peers;               /* CrpPeer * (refs), in accept order */
    int64_t next_peer_id;
    QEMUTimer *tick;                /* once a second: pings, stalls */

    char *ticket;                   /* NULL: none valid */
    int64_t ticket_expires_ms;      /* QEMU_CLOCK_REALTIME, 0: never */

    CrpAudioPeer *audio;            /* the crp audiodev, if any */
    CrpClipboard *clipboard;        /* NULL with clipboard=off */

    /* What peers that have gone sent and received: query-crp's totals
     * count every peer since start, for the management layer's usage
     * records. */
    uint64_t departed_bytes_in, departed_bytes_out, departed_frames;
} CrpServer;

static CrpServer crp_server;

/* The head a peer watches: the first graphic console's. */
static CrpHead *crp_server_head(CrpServer *s)
{
    return g_ptr_array_index(s->heads, 0);
}

/* The peers now, each referenced, to walk while any may disconnect. */
static GPtrArray *crp_server_peers(CrpServer *s)
{
    GPtrArray *peers = g_ptr_array_new_full(s->peers->len,
                                            (GDestroyNotify)crp_peer_unref);

    for (guint i = 0; i < s->peers->len; i++) {
        g_ptr_array_add(peers, crp_peer_ref(g_ptr_array_index(s->peers, i)));
    }
    return peers;
}

/* ---- tickets and admission ------------------------------------------ */

static bool crp_server_ticket_valid(CrpServer *s)
{
    return s->ticket && (!s->ticket_expires_ms ||
        qemu_clock_get_ms(QEMU_CLOCK_REALTIME) < s->ticket_expires_ms);
}

/* CrpPeerEvents.ticket: fixed when the peer speaks, not at accept. */
static char *crp_server_peer_ticket(CrpPeer *p, void *opaque)
{
    CrpServer *s = opaque;

    if (s->disable_ticketing) {
        return g_strdup("");
    }
    return crp_server_ticket_valid(s) ? g_strdup(s->ticket) : NULL;
}

static unsigned crp_server_ready_peers(CrpServer *s)
{
    unsigned n = 0;

    for (guint i = 0; i < s->peers->len; i++) {
        n += crp_peer_is_ready(g_ptr_array_index(s->peers, i));
    }
    return n;
}

/*
 * CrpPeerEvents.admit: the peer proved it holds @ticket, the ticket its
 * channel expected. Admit it if that ticket is still the current one (it
 * is used up now) and there is room.
 */
static bool crp_server_peer_admit(CrpPeer *p, const char *ticket,
                                  guint16 *status, const char **why,
                                  void *opaque)
{
    CrpServer *s = opaque;

    if (crp_server_ready_peers(s) >= s->max_clients) {
        *status = CRP_STATUS_NO_CAPACITY;
        *why = "max-clients reached";
        return false;
    }
    if (s->disable_ticketing) {
        return true;
    }
    if (!crp_server_ticket_valid(s) || g_strcmp0(s->ticket, ticket)) {
        *status = CRP_STATUS_AUTH_FAILED;
        *why = "ticket expired or already used";
        return false;
    }
    g_clear_pointer(&s->ticket, g_free);
    return true;
}

/* CrpPeerEvents.ready: its handshake is done. */
static void crp_server_peer_ready(CrpPeer *p, void *opaque)
{
    CrpServer *s = opaque;

    if (s->audio && s->audio->playback_active &&
        (crp_peer_get_caps(p) & CRP_CAP_AUDIO_OUT)) {
        CrpMessage fmt = {
            .type = CRP_MSG_AUDIO_FORMAT,
            .audio_format = { CRP_AUDIO_CODEC_OPUS, s->audio->channels, 48000 },
        };
        crp_peer_send(p, &fmt);
    }
    crp_head_add_peer(crp_server_head(s), p);
    if (s->clipboard && (crp_peer_get_caps(p) & CRP_CAP_CLIPBOARD)) {
        crp_clipboard_add_peer(s->clipboard, p);
    }
}

/* CrpPeerEvents.input. */
static void crp_server_peer_input(CrpPeer *p, void *opaque)
{
    crp_head_input(crp_server_head(opaque));
}

/* CrpPeerEvents.audio_in: its microphone, for the guest. */
static void crp_server_peer_audio_in(CrpPeer *p, const uint8_t *packet,
                                     size_t len, void *opaque)
{
    CrpServer *s = opaque;

    if (s->audio && s->audio->mic_packet) {
        s->audio->mic_packet(s->audio->audio_opaque, packet, len);
    }
}

/* CrpPeerEvents.clipboard: only peers offered the capability send it. */
static void crp_server_peer_clipboard(CrpPeer *p, const CrpPeerClipboard *ev,
                                      void *opaque)
{
    CrpServer *s = opaque;

    if (s->clipboard) {
        crp_clipboard_peer_event(s->clipboard, p, ev);
    }
}

/* CrpPeerEvents.closed: what it sent and received counts on in the
 * totals; it is gone from the head and the list. */
static void crp_server_peer_closed(CrpPeer *p, void *opaque)
{
    CrpServer *s = opaque;

    s->departed_bytes_in += crp_peer_bytes_in(p);
    s->departed_bytes_out += crp_peer_bytes_out(p);
    s->departed_frames += crp_peer_frames_sent(p);
    crp_head_remove_peer(crp_server_head(s), p);
    if (s->clipboard) {
        crp_clipboard_remove_peer(s->clipboard, p);
    }
    if (g_ptr_array_remove(s->peers, p)) {
        crp_peer_unref(p);
    }
}

static const CrpPeerEvents crp_server_peer_events = {
    .ticket = crp_server_peer_ticket,
    .admit = crp_server_peer_admit,
    .ready = crp_server_peer_ready,
    .input = crp_server_peer_input,
    .audio_in = crp_server_peer_audio_in,
    .clipboard = crp_server_peer_clipboard,
    .closed = crp_server_peer_closed,
};

/* Connections still in their handshake, of @origin (NULL: of anyone). */
static unsigned crp_server_pending(CrpServer *s, const char *origin)
{
    unsigned n = 0;

    for (guint i = 0; i < s->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(s->peers, i);
        n += !crp_peer_is_ready(p) &&
             (!origin || !strcmp(crp_peer_get_origin(p), origin));
    }
    return n;
}

/* The oldest connection still in its handshake of @origin, or, for NULL,
 * of the origin with the most of them. Peers are listed in accept order. */
static CrpPeer *crp_server_oldest_pending(CrpServer *s, const char *origin)
{
    CrpPeer *oldest = NULL;
    unsigned most = 0;

    for (guint i = 0; i < s->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(s->peers, i);
        if (crp_peer_is_ready(p)) {
            continue;
        }
        if (origin) {
            if (!strcmp(crp_peer_get_origin(p), origin)) {
                return p;
            }
            continue;
        }
        unsigned n = crp_server_pending(s, crp_peer_get_origin(p));
        if (n > most) {
            most = n;
            oldest = p;
        }
    }
    return oldest;
}

/*
 * Every connection gets in; past the pending limits, the oldest
 * connection still in its handshake -- of the same peer first, else of
 * the peer holding the most -- makes room. A real client needs one round
 * trip to prove its ticket, so idle or slow connections can no longer
 * keep it out (they could fill every slot for the whole handshake
 * timeout), and a peer that floods mostly evicts its own.
 */
static void crp_accept(QIONetListener *listener, QIOChannelSocket *sioc,
                       gpointer opaque)
{
    CrpServer *s = opaque;
    CrpPeerConfig cfg = {
        .id = ++s->next_peer_id,
        .listen_addr = s->addr,
        .con = crp_head_get_console(crp_server_head(s)),
        .max_quality = s->lossless ? 0 : s->jpeg_quality,
        .clipboard = s->clipboard_on,
    };
    CrpPeer *p = crp_peer_new(sioc, &cfg, &crp_server_peer_events, s);
    const char *origin = crp_peer_get_origin(p);
    CrpPeer *victim = NULL;
    const char *why = NULL;

    if (crp_server_pending(s, origin) >= CRP_MAX_PENDING_PER_ORIGIN) {
        victim = crp_server_oldest_pending(s, origin);
        why = "too many handshakes from one peer";
    } else if (crp_server_pending(s, NULL) >= CRP_MAX_PENDING) {
        victim = crp_server_oldest_pending(s, NULL);
        why = "too many handshakes at once";
    }
    if (victim) {
        crp_peer_disconnect(victim, CRP_STATUS_RATE_LIMITED, why);
    }
    g_ptr_array_add(s->peers, p);
}

static void crp_tick(void *opaque)
{
    CrpServer *s = opaque;
    g_autoptr(GPtrArray) peers = crp_server_peers(s);
    int64_t now_us = g_get_monotonic_time();

    for (guint i = 0; i < peers->len; i++) {
        crp_peer_tick(g_ptr_array_index(peers, i), now_us);
    }
    timer_mod(s->tick, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 1000);
}

/* ---- audio ------------------------------------------------------------ */

static void crp_playback_packet(void *opaque, const uint8_t *packet,
                                size_t len, uint64_t timestamp_us)
{
    CrpServer *s = opaque;

    for (guint i = 0; i < s->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(s->peers, i);
        if (crp_peer_is_ready(p)) {
            crp_peer_send_audio(p, packet, len, timestamp_us);
        }
    }
}

static void crp_playback_format(void *opaque)
{
    CrpServer *s = opaque;
    CrpMessage fmt = {
        .type = CRP_MSG_AUDIO_FORMAT,
        .audio_format = { CRP_AUDIO_CODEC_OPUS, s->audio->channels, 48000 },
    };

    for (guint i = 0; i < s->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(s->peers, i);
        if (crp_peer_get_caps(p) & CRP_CAP_AUDIO_OUT) {
            crp_peer_send(p, &fmt);
        }
    }
}

static bool crp_attach_audio(CrpServer *s, Error **errp)
{
    if (!s->audiodev) {
        return true;
    }
    s->audio = crp_audio_peer_lookup(s->audiodev);
    if (!s->audio) {
        error_setg(errp, "audiodev '%s' is not a crp audiodev", s->audiodev);
        return false;
    }
    s->audio->display_opaque = s;
    s->audio->playback_packet = crp_playback_packet;
    s->audio->playback_format = crp_playback_format;
    return true;
}

/* ---- QMP ---------------------------------------------------------------- */

static CrpInfo *crp_query(Error **errp)
{
    CrpServer *s = &crp_server;
    CrpInfo *info = g_new0(CrpInfo, 1);
    CrpClientInfoList **tail = &info->clients;

    info->enabled = true;
    info->address = g_strdup(s->addr);
    info->has_clients = true;
    info->has_bytes_in = info->has_bytes_out = info->has_frames_sent = true;
    info->bytes_in = s->departed_bytes_in;
    info->bytes_out = s->departed_bytes_out;
    info->frames_sent = s->departed_frames;
    for (guint i = 0; i < s->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(s->peers, i);
        info->bytes_in += crp_peer_bytes_in(p);
        info->bytes_out += crp_peer_bytes_out(p);
        info->frames_sent += crp_peer_frames_sent(p);
        if (crp_peer_is_ready(p)) {
            QAPI_LIST_APPEND(tail, crp_peer_info(p));
        }
    }
    return info;
}

static void crp_disconnect_all(CrpServer *s, const char *reason)
{
    g_autoptr(GPtrArray) peers = crp_server_peers(s);

    for (guint i = 0; i < peers->len; i++) {
        crp_peer_disconnect(g_ptr_array_index(peers, i),
                            CRP_STATUS_SESSION_ENDED, reason);
    }
}

/*
 * The bits of a ticket made of random characters from the classes it
 * uses. Only a bound (a random ticket has this much, a chosen one far
 * less), but enough to refuse what a person types: the display key is a
 * fast hash of the ticket, so one recorded HELLO lets an attacker try
 * guesses offline, and only a ticket nobody can enumerate stays safe.
 */
static double crp_ticket_bits(const char *ticket)
{
    bool lower = false, upper = false, digit = false, other = false;
    bool hex = true;
    size_t len = strlen(ticket);

    for (const char *p = ticket; *p; p++) {
        lower |= g_ascii_islower(*p);
        upper |= g_ascii_isupper(*p);
        digit |= g_ascii_isdigit(*p);
        other |= !g_ascii_isalnum(*p);
        hex &= g_ascii_isxdigit(*p);
    }
    if (hex && !(lower && upper)) {
        return len * 4.0;           /* hex digits: 16 symbols */
    }
    return len * log2(26 * lower + 26 * upper + 10 * digit + 33 * other);
}

static bool crp_set_ticket(const char *ticket, int64_t expires,
                           CrpTicketConnected connected, Error **errp)
{
    CrpServer *s = &crp_server;

    if (!*ticket) {
        error_setg(errp, "the ticket must not be empty");
        return false;
    }
    if (crp_ticket_bits(ticket) < CRP_TICKET_MIN_BITS) {
        error_setg(errp, "the ticket is too weak: it needs at least %d random "
                   "bits (e.g. 32 hex digits or 22 base64 characters)",
                   CRP_TICKET_MIN_BITS);
        return false;
    }
    g_free(s->ticket);
    s->ticket = g_strdup(ticket);
    s->ticket_expires_ms = expires ?
        qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + expires * 1000 : 0;
    if (connected == CRP_TICKET_CONNECTED_DISCONNECT) {
        crp_disconnect_all(s, "disconnected by crp-set-ticket");
    }
    return true;
}

static bool crp_disconnect(bool has_id, int64_t id, Error **errp)
{
    CrpServer *s = &crp_server;

    if (!has_id) {
        crp_disconnect_all(s, "disconnected by crp-disconnect");
        return true;
    }
    for (guint i = 0; i < s->peers->len; i++) {
        CrpPeer *p = g_ptr_array_index(s->peers, i);
        if (crp_peer_get_id(p) == id) {
            crp_peer_disconnect(p, CRP_STATUS_SESSION_ENDED,
                                "disconnected by crp-disconnect");
            return true;
        }
    }
    error_setg(errp, "no crp client with id %" PRId64, id);
    return false;
}

static const CrpModuleOps crp_ops = {
    .query = crp_query,
    .set_ticket = crp_set_ticket,
    .disconnect = crp_disconnect,
};

/* ---- setup -------------------------------------------------------------- */

static bool crp_parse_options(CrpServer *s, DisplayCrp *o, Error **errp)
{
    s->addr = o->addr ? g_strdup(o->addr)
                      : g_strdup_printf("unix:/run/crp/crp-%d.sock", getpid());
    s->audiodev = g_strdup(o->audiodev);
    s->max_clients = o->has_max_clients ? o->max_clients : CRP_DEFAULT_MAX_CLIENTS;
    s->disable_ticketing = o->has_disable_ticketing && o->disable_ticketing;
    s->lossless = o->has_lossless && o->lossless;
    s->jpeg_quality = o->has_jpeg_quality ? o->jpeg_quality : CRP_DEFAULT_JPEG_QUALITY;
    s->clipboard_on = !o->has_clipboard || o->clipboard;
    unsigned rate = o->has_refresh_rate ? o->refresh_rate : CRP_DEFAULT_REFRESH_RATE;

    if (rate < 1 || rate > 240) {
        error_setg(errp, "crp: refresh-rate must be 1..240 Hz");
        return false;
    }
    s->refresh_ms = 1000 / rate;
    if (s->jpeg_quality < 1 || s->jpeg_quality > 100) {
        error_setg(errp, "crp: jpeg-quality must be 1..100");
        return false;
    }
    if (s->max_clients < 1) {
        error_setg(errp, "crp: max-clients must be at least 1");
        return false;
    }
    if (g_str_has_prefix(s->addr, "unix:@")) {
        /* QEMU would make a file named "@..." while clients (GIO) read
         * the name as an abstract socket, which any local user can claim
         * first: refuse the ambiguity. */
        error_setg(errp, "crp: abstract unix sockets (unix:@name) are not "
                   "supported; give a path");
        return false;
    }
    if (s->disable_ticketing && !g_str_has_prefix(s->addr, "unix:")) {
        error_setg(errp, "crp: disable-ticketing is only allowed on unix sockets");
        return false;
    }
    return true;
}

/*
 * Makes room for a unix socket at @path: a socket nobody listens on any
 * more (a QEMU that died) is removed; anything else there -- a live
 * server, a file, a link -- is not ours to delete.
 */
static bool crp_unix_path_free(const char *path, Error **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, r;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) {
            return true;
        }
        error_setg_errno(errp, errno, "cannot check %s", path);
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        error_setg(errp, "%s exists and is not a socket", path);
        return false;
    }
    if (strlen(path) >= sizeof(sun.sun_path)) {
        error_setg(errp, "socket path too long: %s", path);
        return false;
    }
    strcpy(sun.sun_path, path);
    fd = qemu_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create a socket");
        return false;
    }
    r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    close(fd);
    if (r == 0 || errno != ECONNREFUSED) {
        error_setg(errp, "%s is in use by another server", path);
        return false;
    }
    unlink(path);
    return true;
}

/*
 * Without tickets, who can open the socket decides who gets in: its
 * directory must be one only this user can enter (so nobody else can
 * reach the socket, even in the instant between bind() and chmod()),
 * and the socket itself is 0600 whatever QEMU's umask is.
 */
static bool crp_unix_dir_private(const char *dir, Error **errp)
{
    struct stat st;

    if (stat(dir, &st) < 0) {
        error_setg_errno(errp, errno, "cannot check %s", dir);
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 0077)) {
        error_setg(errp, "disable-ticketing needs a directory only this user "
                   "can enter (owned by uid %u, mode 0700): %s is owned by "
                   "uid %u, mode %04o", (unsigned)geteuid(), dir,
                   (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return false;
    }
    return true;
}

static bool crp_listen(CrpServer *s, Error **errp)
{
    g_autoptr(SocketAddress) sa = socket_parse(s->addr, errp);
    const char *path = NULL;

    if (!sa) {
        return false;
    }
    if (sa->type == SOCKET_ADDRESS_TYPE_UNIX) {
        path = sa->u.q_unix.path;
        g_autofree char *dir = g_path_get_dirname(path);
        if (g_mkdir_with_parents(dir, 0700) < 0) {
            error_setg_errno(errp, errno, "cannot create %s", dir);
            return false;
        }
        if (s->disable_ticketing && !crp_unix_dir_private(dir, errp)) {
            return false;
        }
        if (!crp_unix_path_free(path, errp)) {
            return false;
        }
    }
    s->listener = qio_net_listener_new();
    qio_net_listener_set_name(s->listener, "crp-listen");
    if (qio_net_listener_open_sync(s->listener, sa, 1, errp) < 0) {
        return false;
    }
    if (path && s->disable_ticketing && chmod(path, 0600) < 0) {
        error_setg_errno(errp, errno, "cannot make %s private", path);
        return false;
    }
    qio_net_listener_set_client_func(s->listener, crp_accept, s, NULL);
    return true;
}

static void crp_init(DisplayState *ds, DisplayOptions *opts)
{
    CrpServer *s = &crp_server;
    QemuConsole *con;
    Error *err = NULL;

    s->peers = g_ptr_array_new();
    s->heads = g_ptr_array_new();
    if (!crp_parse_options(s, &opts->u.crp, &err) || !crp_attach_audio(s, &err)) {
        error_report_err(err);
        exit(1);
    }
    /*
     * Graphic consoles only. GL-only devices (virtio-gpu-gl) need a GL
     * display and refuse to start without one, so none reach us here.
     */
    for (int i = 0; (con = qemu_console_lookup_by_index(i)); i++) {
        if (qemu_console_is_graphic(con)) {
            CrpHeadConfig hc = {
                .refresh_ms = s->refresh_ms,
                .lossless = s->lossless,
                .jpeg_quality = s->jpeg_quality,
            };
            g_ptr_array_add(s->heads, crp_head_new(con, &hc));
        }
    }
    if (s->heads->len == 0) {
        error_report("crp: no graphic console to export");
        exit(1);
    }
    if (!crp_listen(s, &err)) {
        error_prepend(&err, "crp: cannot listen on %s: ", s->addr);
        error_report_err(err);
        exit(1);
    }
    if (s->clipboard_on) {
        s->clipboard = crp_clipboard_new();
    }
    s->tick = timer_new_ms(QEMU_CLOCK_REALTIME, crp_tick, s);
    timer_mod(s->tick, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 1000);
    crp_module_register_ops(&crp_ops);
}

static QemuDisplay qemu_display_crp = {
    .type = DISPLAY_TYPE_CRP,
    .init = crp_init,
};

static void register_crp(void)
{
    qemu_display_register(&qemu_display_crp);
}

type_init(register_crp);
