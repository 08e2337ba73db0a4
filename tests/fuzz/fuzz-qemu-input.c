/*
 * fuzz-qemu-input.c: what ui-crp makes of a hostile client's input:
 * qemu-crp-display/ui/crp-input.c, the real file, compiled against the
 * stand-in QEMU headers in qemu-stubs/. The QEMU functions it calls are
 * defined here; they record the calls and check them:
 *
 *   - every key event has a QKeyCode within range, never UNMAPPED;
 *   - absolute coordinates lie on the console's surface (0 .. size - 1
 *     of a 0 .. size scale);
 *   - a button is never pressed twice or released unpressed, the buttons
 *     QEMU holds are the ones the client's mask says, wheel clicks are
 *     released at once, and every event is followed by a sync;
 *   - resize requests reach only a display that can follow them, with a
 *     size the wire allows;
 *   - when the client leaves (crp_peer_disconnect()'s lift_all_keys and
 *     crp_input_release_buttons()), nothing stays pressed.
 *
 * Input: a flags byte (FUZZ_QEMU_INPUT_*: the console's state at the
 * start, whether RESIZE was agreed), then chunks. A chunk starting with
 * 0x00 changes the console's surface (u16 width, u16 height; shorter: no
 * surface); any other is a record's plaintext from the client, decoded
 * as crp-channel.c does and handled as crp-peer.c does.
 */
#include "fuzz-common.h"

#include "ui/console.h"
#include "ui/input.h"
#include "crp-input.h"

#define FUZZ_QEMU_INPUT_SURFACE 0x01    /* the console starts with a surface */
#define FUZZ_QEMU_INPUT_UI_INFO 0x02    /* its display follows size requests */
#define FUZZ_QEMU_INPUT_RESIZE  0x04    /* CRP_CAP_RESIZE was agreed */

/* The largest evdev code the wire allows (KEY_MAX). */
#define FUZZ_KEY_MAX 0x2ff

struct QemuConsole {
    bool has_surface;
    int width, height;
    bool ui_info;
};

struct QKbdState {
    bool down[Q_KEY_CODE__MAX];
};

static struct {
    QemuConsole con;
    QKbdState kbd;
    bool resize_cap;
    uint32_t buttons;           /* CrpPeer's buttons */
    bool button[INPUT_BUTTON__MAX];
    guint unsynced;             /* events queued since the last sync */
} s;

/* ---- the QEMU functions crp-input.c calls ------------------------------ */

/*
 * Not QEMU's table (generated at QEMU's build time): a stand-in that
 * leaves every fourth code unmapped and spreads the rest over all
 * QKeyCodes, so that the fuzzer reaches both outcomes.
 */
int
qemu_input_linux_to_qcode(unsigned int lnx)
{
    g_assert_cmpuint(lnx, <=, FUZZ_KEY_MAX);
    return lnx % 4 == 3 ? Q_KEY_CODE_UNMAPPED : 1 + (int)(lnx % (Q_KEY_CODE__MAX - 1));
}

/* As QEMU's ui/kbd-state.c: a release of a key that is not down is
 * dropped. */
void
qkbd_state_key_event(QKbdState *kbd, QKeyCode qcode, bool down)
{
    g_assert_true(kbd == &s.kbd);
    g_assert_cmpint(qcode, >, Q_KEY_CODE_UNMAPPED);
    g_assert_cmpint(qcode, <, Q_KEY_CODE__MAX);
    if (!down && !kbd->down[qcode]) {
        return;
    }
    kbd->down[qcode] = down;
}

void
qkbd_state_lift_all_keys(QKbdState *kbd)
{
    for (int qcode = 0; qcode < Q_KEY_CODE__MAX; qcode++) {
        if (kbd->down[qcode]) {
            qkbd_state_key_event(kbd, qcode, false);
        }
    }
}

void
qemu_input_queue_btn(QemuConsole *src, InputButton btn, bool down)
{
    g_assert_true(src == &s.con);
    g_assert_cmpint(btn, >=, 0);
    g_assert_cmpint(btn, <, INPUT_BUTTON__MAX);
    /* Balanced: pressed only when up, released only when down. */
    g_assert_cmpint(s.button[btn], !=, down);
    s.button[btn] = down;
    s.unsynced++;
}

/* As QEMU's ui/input.c. */
void
qemu_input_update_buttons(QemuConsole *src, uint32_t *button_map,
                          uint32_t button_old, uint32_t button_new)
{
    for (InputButton btn = 0; btn < INPUT_BUTTON__MAX; btn++) {
        uint32_t mask = button_map[btn];
        if ((button_old & mask) == (button_new & mask)) {
            continue;
        }
        qemu_input_queue_btn(src, btn, button_new & mask);
    }
}

void
qemu_input_queue_abs(QemuConsole *src, InputAxis axis, int value, int min_in,
                     int max_in)
{
    g_assert_true(src == &s.con);
    g_assert_cmpint(axis, >=, 0);
    g_assert_cmpint(axis, <, INPUT_AXIS__MAX);
    int size = axis == INPUT_AXIS_X ? qemu_console_get_width(src, 640)
                                    : qemu_console_get_height(src, 480);
    /* On the surface, on a scale of its size. */
    g_assert_cmpint(min_in, ==, 0);
    g_assert_cmpint(max_in, ==, size);
    g_assert_cmpint(value, >=, 0);
    g_assert_cmpint(value, <, size);
    s.unsynced++;
}

void
qemu_input_event_sync(void)
{
    s.unsynced = 0;
}

int
qemu_console_get_width(QemuConsole *con, int fallback)
{
    return con->has_surface ? con->width : fallback;
}

int
qemu_console_get_height(QemuConsole *con, int fallback)
{
    return con->has_surface ? con->height : fallback;
}

bool
dpy_ui_info_supported(const QemuConsole *con)
{
    return con->ui_info;
}

int
dpy_set_ui_info(QemuConsole *con, QemuUIInfo *info, bool delay)
{
    g_assert_true(con == &s.con);
    g_assert_true(con->ui_info);
    g_assert_cmpuint(info->width, >=, 1);
    g_assert_cmpuint(info->width, <=, CRP_MAX_SURFACE_DIM);
    g_assert_cmpuint(info->height, >=, 1);
    g_assert_cmpuint(info->height, <=, CRP_MAX_SURFACE_DIM);
    return 0;
}

/* ---- the client's messages, as crp_peer_message() takes them ---------- */

/* What QEMU holds down is what the client's mask says. */
static void
check_buttons(void)
{
    static const struct {
        InputButton btn;
        uint32_t crp;
    } map[] = {
        { INPUT_BUTTON_LEFT, CRP_BUTTON_LEFT },
        { INPUT_BUTTON_MIDDLE, CRP_BUTTON_MIDDLE },
        { INPUT_BUTTON_RIGHT, CRP_BUTTON_RIGHT },
        { INPUT_BUTTON_SIDE, CRP_BUTTON_SIDE },
        { INPUT_BUTTON_EXTRA, CRP_BUTTON_EXTRA },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(map); i++) {
        g_assert_cmpint(s.button[map[i].btn], ==, !!(s.buttons & map[i].crp));
    }
    g_assert_false(s.button[INPUT_BUTTON_WHEEL_UP]);
    g_assert_false(s.button[INPUT_BUTTON_WHEEL_DOWN]);
    g_assert_false(s.button[INPUT_BUTTON_WHEEL_LEFT]);
    g_assert_false(s.button[INPUT_BUTTON_WHEEL_RIGHT]);
    g_assert_false(s.button[INPUT_BUTTON_TOUCH]);
}

static gboolean
handle(const CrpMessage *m, gpointer user_data)
{
    switch (m->type) {
    case CRP_MSG_KEY:
        crp_input_key(&s.kbd, &m->key);
        break;
    case CRP_MSG_POINTER:
        crp_input_pointer(&s.con, &s.buttons, &m->pointer);
        break;
    case CRP_MSG_WHEEL:
        crp_input_wheel(&s.con, &m->wheel);
        break;
    case CRP_MSG_RESIZE_REQUEST:
        if (s.resize_cap) {
            crp_input_resize(&s.con, &m->resize);
        }
        break;
    default:
        break;
    }
    g_assert_cmpuint(s.unsynced, ==, 0);
    check_buttons();
    return TRUE;
}

static void
set_console(const guint8 *chunk, gsize len)
{
    s.con.has_surface = len >= 5;
    if (s.con.has_surface) {
        /* A guest surface is 1 to 16384 pixels on a side. */
        s.con.width = 1 + (chunk[1] << 8 | chunk[2]) % 16384;
        s.con.height = 1 + (chunk[3] << 8 | chunk[4]) % 16384;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    fuzz_init();
    memset(&s, 0, sizeof(s));
    s.con.has_surface = data[0] & FUZZ_QEMU_INPUT_SURFACE;
    s.con.width = 1024;
    s.con.height = 768;
    s.con.ui_info = data[0] & FUZZ_QEMU_INPUT_UI_INFO;
    s.resize_cap = data[0] & FUZZ_QEMU_INPUT_RESIZE;

    FuzzInput in;
    guint8 *chunk;
    gsize n;
    gboolean dead = FALSE;
    fuzz_input_init(&in, data + 1, size - 1);
    while ((chunk = fuzz_input_next(&in, &n))) {
        if (n > 0 && chunk[0] == 0x00) {
            set_console(chunk, n);
        } else if (!fuzz_parse_record(CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT, chunk, n,
                                      handle, NULL, &dead)) {
            g_free(chunk);
            break;              /* the channel would have failed: disconnect */
        }
        g_free(chunk);
    }

    /* The client leaves: crp_peer_disconnect(). */
    qkbd_state_lift_all_keys(&s.kbd);
    crp_input_release_buttons(&s.con, &s.buttons);
    g_assert_cmpuint(s.buttons, ==, 0);
    g_assert_cmpuint(s.unsynced, ==, 0);
    for (int b = 0; b < INPUT_BUTTON__MAX; b++) {
        g_assert_false(s.button[b]);
    }
    for (int q = 0; q < Q_KEY_CODE__MAX; q++) {
        g_assert_false(s.kbd.down[q]);
    }
    return 0;
}
