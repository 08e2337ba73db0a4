/*
 * crp-drm - drive a DRM device (virtio-gpu) the way a desktop would, for
 * the cursor and resize tests of -display crp.
 *
 * It becomes DRM master, shows a gradient on the connector's preferred
 * mode, and sets a 64x64 hardware cursor (hot spot 3,5) from a dumb
 * buffer: with virtio-gpu, QEMU turns these into dpy_cursor_define() and
 * dpy_mouse_set() for the display. Then it waits for
 *   - lines on the FIFO /run/crp-drm: "move X Y", "hide", "show",
 *     "mode W H" (set that mode, as a user's display settings would),
 *     "film S W H" (play the film of film.h for S seconds in a W x H box
 *     at 64,64, at most 30 frames a second, each flushed to the host with
 *     DIRTYFB as a compositor does; then CRP-DRM-FILM frames=N), "quit";
 *   - hotplug uevents: when the host asks for another size (virtio-gpu
 *     display-info change, e.g. after a client's RESIZE_REQUEST), the
 *     connector's preferred mode changes and it sets that mode, as a
 *     desktop's display settings would.
 * It reports on stdout with CRP-DRM-* lines the tests wait for.
 *
 * The pictures are functions of the position only, so the host side can
 * check them exactly: crp_drm_cursor_pixel() is mirrored in
 * tests/qemu-crp-display/integration/test-display.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drm-uapi.h"
#include "film.h"
#include "guest-tools.h"

#define CURSOR_DIM 64
#define HOT_X 3
#define HOT_Y 5
#define FIFO_PATH "/run/crp-drm"

typedef struct {
    uint32_t handle, fb_id, pitch;
    uint64_t size;
    uint32_t *map;
} DumbBuffer;

typedef struct {
    int fd;
    uint32_t connector_id, crtc_id;
    struct crp_drm_mode_modeinfo mode;
    DumbBuffer screen, cursor;
    int cursor_x, cursor_y;
} Drm;

static uint32_t crp_drm_cursor_pixel(int x, int y)
{
    if (x < 32 && y < 32 && x <= y) {
        return 0xff000000u | (uint32_t)(x * 8) << 16 | (uint32_t)(y * 8) << 8 | 0x40;
    }
    return 0;               /* transparent */
}

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do {
        r = ioctl(fd, req, arg);
    } while (r < 0 && (errno == EINTR || errno == EAGAIN));
    return r;
}

static int dumb_create(Drm *d, DumbBuffer *b, int w, int h, int with_fb)
{
    struct crp_drm_mode_create_dumb create = { .height = h, .width = w, .bpp = 32 };
    struct crp_drm_mode_map_dumb map = { 0 };

    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0) {
        return -errno;
    }
    b->handle = create.handle;
    b->pitch = create.pitch;
    b->size = create.size;
    map.handle = b->handle;
    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_MAP_DUMB, &map) < 0) {
        return -errno;
    }
    b->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
                  map.offset);
    if (b->map == MAP_FAILED) {
        b->map = NULL;
        return -errno;
    }
    if (with_fb) {
        struct crp_drm_mode_fb_cmd fb = {
            .width = w, .height = h, .pitch = b->pitch, .bpp = 32, .depth = 24,
            .handle = b->handle,
        };
        if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_ADDFB, &fb) < 0) {
            return -errno;
        }
        b->fb_id = fb.fb_id;
    }
    return 0;
}

static void dumb_destroy(Drm *d, DumbBuffer *b)
{
    struct crp_drm_mode_destroy_dumb destroy = { .handle = b->handle };

    if (b->fb_id) {
        xioctl(d->fd, CRP_DRM_IOCTL_MODE_RMFB, &b->fb_id);
    }
    if (b->map) {
        munmap(b->map, b->size);
    }
    if (b->handle) {
        xioctl(d->fd, CRP_DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
    }
    memset(b, 0, sizeof(*b));
}

/* The connected connector's modes (at most @max, returns how many); the
 * kernel re-probes because we are master and ask with count_modes 0
 * first. */
static int connector_modes(Drm *d, struct crp_drm_mode_modeinfo *modes,
                           uint32_t max, uint32_t *encoder_id)
{
    struct crp_drm_mode_get_connector conn = { .connector_id = d->connector_id };

    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_GETCONNECTOR, &conn) < 0) {
        return -errno;
    }
    if (conn.connection != CRP_DRM_MODE_CONNECTED || conn.count_modes == 0) {
        return -ENODEV;
    }
    uint32_t n = conn.count_modes < max ? conn.count_modes : max;
    conn = (struct crp_drm_mode_get_connector) {
        .connector_id = d->connector_id,
        .count_modes = n,
        .modes_ptr = (uintptr_t)modes,
    };
    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_GETCONNECTOR, &conn) < 0) {
        return -errno;
    }
    if (encoder_id) {
        *encoder_id = conn.encoder_id;
    }
    return conn.count_modes < n ? (int)conn.count_modes : (int)n;
}

/* The preferred mode (the first one if none is marked). */
static int preferred_mode(Drm *d, struct crp_drm_mode_modeinfo *out,
                          uint32_t *encoder_id)
{
    struct crp_drm_mode_modeinfo modes[64];
    int n = connector_modes(d, modes, 64, encoder_id);

    if (n < 0) {
        return n;
    }
    *out = modes[0];
    for (int i = 0; i < n; i++) {
        if (modes[i].type & CRP_DRM_MODE_TYPE_PREFERRED) {
            *out = modes[i];
            break;
        }
    }
    return 0;
}

/* A listed mode of @w x @h, or one made up with plain 60 Hz timings (the
 * virtual GPU has no monitor to fit), as a user's "set resolution". */
static int sized_mode(Drm *d, int w, int h, struct crp_drm_mode_modeinfo *out)
{
    struct crp_drm_mode_modeinfo modes[64];
    int n = connector_modes(d, modes, 64, NULL);

    if (n < 0) {
        return n;
    }
    for (int i = 0; i < n; i++) {
        if (modes[i].hdisplay == w && modes[i].vdisplay == h) {
            *out = modes[i];
            return 0;
        }
    }
    if (w < 16 || h < 16 || w > 8192 || h > 8192) {
        return -EINVAL;
    }
    *out = (struct crp_drm_mode_modeinfo) {
        .hdisplay = w, .hsync_start = w + 8, .hsync_end = w + 40, .htotal = w + 80,
        .vdisplay = h, .vsync_start = h + 3, .vsync_end = h + 9, .vtotal = h + 30,
        .vrefresh = 60,
    };
    out->clock = (uint32_t)((uint64_t)out->htotal * out->vtotal * 60 / 1000);
    snprintf(out->name, sizeof(out->name), "%dx%d", w, h);
    return 0;
}

/* Shows a gradient at @mode on a fresh buffer, then frees the old one. */
static int set_mode(Drm *d, const struct crp_drm_mode_modeinfo *mode)
{
    DumbBuffer old = d->screen, b = { 0 };
    int w = mode->hdisplay, h = mode->vdisplay;
    int r = dumb_create(d, &b, w, h, 1);

    if (r < 0) {
        dumb_destroy(d, &b);
        return r;
    }
    for (int y = 0; y < h; y++) {
        uint32_t *row = b.map + y * (b.pitch / 4);
        for (int x = 0; x < w; x++) {
            row[x] = (uint32_t)(x * 255 / (w - 1)) << 16 |
                     (uint32_t)(y * 255 / (h - 1)) << 8 | 0x60;
        }
    }
    /* The whole buffer goes to the host with the modeset (virtio-gpu
     * transfers a dumb buffer's damage on plane update). */
    struct crp_drm_mode_crtc crtc = {
        .set_connectors_ptr = (uintptr_t)&d->connector_id,
        .count_connectors = 1,
        .crtc_id = d->crtc_id,
        .fb_id = b.fb_id,
        .mode_valid = 1,
        .mode = *mode,
    };
    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_SETCRTC, &crtc) < 0) {
        r = -errno;
        dumb_destroy(d, &b);
        return r;
    }
    d->screen = b;
    d->mode = *mode;
    dumb_destroy(d, &old);
    printf("CRP-DRM-MODE %dx%d\n", w, h);
    return 0;
}

static int cursor_set(Drm *d, int show)
{
    struct crp_drm_mode_cursor2 c = {
        .flags = CRP_DRM_MODE_CURSOR_BO,
        .crtc_id = d->crtc_id,
        .width = show ? CURSOR_DIM : 0,
        .height = show ? CURSOR_DIM : 0,
        .handle = show ? d->cursor.handle : 0,
        .hot_x = HOT_X,
        .hot_y = HOT_Y,
    };
    return xioctl(d->fd, CRP_DRM_IOCTL_MODE_CURSOR2, &c) < 0 ? -errno : 0;
}

static int cursor_move(Drm *d, int x, int y)
{
    struct crp_drm_mode_cursor2 c = {
        .flags = CRP_DRM_MODE_CURSOR_MOVE,
        .crtc_id = d->crtc_id,
        .x = x,
        .y = y,
    };
    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_CURSOR2, &c) < 0) {
        return -errno;
    }
    d->cursor_x = x;
    d->cursor_y = y;
    return 0;
}

/* First connected connector, and the CRTC its encoder drives (or the
 * first CRTC). */
static int drm_open(Drm *d, const char *path)
{
    struct crp_drm_mode_card_res res = { 0 };
    uint32_t connectors[16], crtcs[16], encoder_id = 0;

    d->fd = open(path, O_RDWR | O_CLOEXEC);
    if (d->fd < 0) {
        return -errno;
    }
    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) {
        return -errno;
    }
    if (res.count_connectors == 0 || res.count_crtcs == 0) {
        return -ENODEV;
    }
    res = (struct crp_drm_mode_card_res) {
        .connector_id_ptr = (uintptr_t)connectors,
        .count_connectors = res.count_connectors < 16 ? res.count_connectors : 16,
        .crtc_id_ptr = (uintptr_t)crtcs,
        .count_crtcs = res.count_crtcs < 16 ? res.count_crtcs : 16,
    };
    if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) {
        return -errno;
    }
    for (uint32_t i = 0; i < res.count_connectors && i < 16; i++) {
        d->connector_id = connectors[i];
        struct crp_drm_mode_modeinfo mode;
        if (preferred_mode(d, &mode, &encoder_id) == 0) {
            d->crtc_id = crtcs[0];
            if (encoder_id) {
                struct crp_drm_mode_get_encoder enc = { .encoder_id = encoder_id };
                if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_GETENCODER, &enc) == 0 &&
                    enc.crtc_id) {
                    d->crtc_id = enc.crtc_id;
                }
            }
            return set_mode(d, &mode);
        }
    }
    return -ENODEV;
}

static int uevent_open(void)
{
    struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* A uevent is NUL-separated KEY=VALUE strings; we want drm's HOTPLUG=1. */
static int is_drm_hotplug(const char *buf, ssize_t n)
{
    int drm = 0, hotplug = 0;

    for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1) {
        drm |= !strcmp(buf + i, "SUBSYSTEM=drm");
        hotplug |= !strcmp(buf + i, "HOTPLUG=1");
    }
    return drm && hotplug;
}

static void on_hotplug(Drm *d)
{
    struct crp_drm_mode_modeinfo mode;
    int r = preferred_mode(d, &mode, NULL);

    if (r < 0) {
        printf("CRP-DRM-ERROR probe: %s\n", strerror(-r));
        return;
    }
    if (mode.hdisplay == d->mode.hdisplay && mode.vdisplay == d->mode.vdisplay) {
        return;
    }
    r = set_mode(d, &mode);
    if (r < 0) {
        printf("CRP-DRM-ERROR mode %dx%d: %s\n", mode.hdisplay, mode.vdisplay,
               strerror(-r));
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The film in a @w x @h box at 64,64 for @seconds; returns the frames
 * drawn, or -errno. */
static long film(Drm *d, double seconds, int w, int h)
{
    const int x0 = 64, y0 = 64;
    struct crp_drm_clip_rect clip = { x0, y0, x0 + w, y0 + h };
    struct crp_drm_mode_fb_dirty_cmd dirty = {
        .fb_id = d->screen.fb_id, .num_clips = 1,
        .clips_ptr = (uintptr_t)&clip,
    };
    double t0 = now_s(), next = t0;
    long frames = 0;

    if (!d->screen.map || x0 + w > d->mode.hdisplay || y0 + h > d->mode.vdisplay) {
        return -EINVAL;
    }
    while (now_s() - t0 < seconds) {
        double t = now_s();
        if (t < next) {
            usleep((useconds_t)((next - t) * 1e6));
            continue;
        }
        crp_film_draw(d->screen.map + y0 * (d->screen.pitch / 4) + x0, d->screen.pitch / 4,
                      w, h, frames, (unsigned)((t - t0) * 1000.0));
        if (xioctl(d->fd, CRP_DRM_IOCTL_MODE_DIRTYFB, &dirty) < 0) {
            return -errno;
        }
        frames++;
        next += 1.0 / 30;
        if (next < t) {
            next = t;               /* fell behind (TCG): no burst */
        }
    }
    return frames;
}

/* Returns 1 to go on, 0 on quit. */
static int on_command(Drm *d, char *line)
{
    int x, y, r = 0;
    double seconds;
    struct crp_drm_mode_modeinfo mode;

    if (sscanf(line, "mode %d %d", &x, &y) == 2) {
        r = sized_mode(d, x, y, &mode);
        if (r == 0) {
            r = set_mode(d, &mode);     /* says CRP-DRM-MODE WxH */
        }
    } else if (sscanf(line, "film %lf %d %d", &seconds, &x, &y) == 3) {
        long n = film(d, seconds, x, y);
        if (n < 0) {
            r = (int)n;
        } else {
            printf("CRP-DRM-FILM frames=%ld\n", n);
        }
    } else if (sscanf(line, "move %d %d", &x, &y) == 2) {
        r = cursor_move(d, x, y);
        if (r == 0) {
            printf("CRP-DRM-MOVED %d %d\n", x, y);
        }
    } else if (!strcmp(line, "hide") || !strcmp(line, "show")) {
        r = cursor_set(d, line[0] == 's');
        if (r == 0) {
            printf("CRP-DRM-CURSOR %s\n", line);
        }
    } else if (!strcmp(line, "quit")) {
        return 0;
    } else if (*line) {
        printf("CRP-DRM-ERROR unknown command '%s'\n", line);
    }
    if (r < 0) {
        printf("CRP-DRM-ERROR %s: %s\n", line, strerror(-r));
    }
    return 1;
}

int crp_drm_main(int argc, char **argv)
{
    const char *card = argc > 1 ? argv[1] : "/dev/dri/card0";
    Drm d = { .fd = -1 };
    char buf[8192], line[256];
    size_t line_len = 0;
    int r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    r = drm_open(&d, card);
    if (r < 0) {
        printf("CRP-DRM-ERROR %s: %s\n", card, strerror(-r));
        return 1;
    }
    r = dumb_create(&d, &d.cursor, CURSOR_DIM, CURSOR_DIM, 0);
    if (r < 0) {
        printf("CRP-DRM-ERROR cursor buffer: %s\n", strerror(-r));
        return 1;
    }
    for (int y = 0; y < CURSOR_DIM; y++) {
        for (int x = 0; x < CURSOR_DIM; x++) {
            d.cursor.map[y * (d.cursor.pitch / 4) + x] = crp_drm_cursor_pixel(x, y);
        }
    }
    if ((r = cursor_move(&d, 0, 0)) < 0 || (r = cursor_set(&d, 1)) < 0) {
        printf("CRP-DRM-ERROR cursor: %s\n", strerror(-r));
        return 1;
    }

    unlink(FIFO_PATH);
    int uevents = uevent_open();
    /* O_RDWR: the FIFO never reports end of file between writers. */
    int fifo = mkfifo(FIFO_PATH, 0600) == 0 ? open(FIFO_PATH, O_RDWR | O_CLOEXEC) : -1;
    if (fifo < 0) {
        printf("CRP-DRM-ERROR %s: %s\n", FIFO_PATH, strerror(errno));
        return 1;
    }
    printf("CRP-DRM-READY mode=%dx%d cursor=%dx%d hot=%d,%d hotplug=%s\n",
           d.mode.hdisplay, d.mode.vdisplay, CURSOR_DIM, CURSOR_DIM, HOT_X, HOT_Y,
           uevents >= 0 ? "uevent" : "none");

    for (;;) {
        struct pollfd fds[2] = { { fifo, POLLIN, 0 }, { uevents, POLLIN, 0 } };
        if (poll(fds, uevents >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 1;
        }
        if (uevents >= 0 && (fds[1].revents & POLLIN)) {
            ssize_t n = recv(uevents, buf, sizeof(buf) - 1, 0);
            if (n > 0) {
                buf[n] = '\0';
                if (is_drm_hotplug(buf, n)) {
                    on_hotplug(&d);
                }
            }
        }
        if (fds[0].revents & POLLIN) {
            ssize_t n = read(fifo, buf, sizeof(buf));
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != '\n') {
                    if (line_len < sizeof(line) - 1) {
                        line[line_len++] = buf[i];
                    }
                    continue;
                }
                line[line_len] = '\0';
                line_len = 0;
                if (!on_command(&d, line)) {
                    printf("CRP-DRM-QUIT\n");
                    unlink(FIFO_PATH);
                    return 0;
                }
            }
        }
    }
}
