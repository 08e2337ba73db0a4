/*
 * CRP display: a client's input messages as QEMU input events (see
 * crp-input.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "ui/console.h"
#include "ui/input.h"
#include "crp-input.h"

/* CRP_BUTTON_* for each QEMU button. */
static uint32_t crp_button_map[INPUT_BUTTON__MAX] = {
    [INPUT_BUTTON_LEFT]   = CRP_BUTTON_LEFT,
    [INPUT_BUTTON_MIDDLE] = CRP_BUTTON_MIDDLE,
    [INPUT_BUTTON_RIGHT]  = CRP_BUTTON_RIGHT,
    [INPUT_BUTTON_SIDE]   = CRP_BUTTON_SIDE,
    [INPUT_BUTTON_EXTRA]  = CRP_BUTTON_EXTRA,
};

void crp_input_key(QKbdState *kbd, const CrpKeyMsg *key)
{
    int qcode = qemu_input_linux_to_qcode(key->code);

    if (qcode == Q_KEY_CODE_UNMAPPED) {
        return;
    }
    qkbd_state_key_event(kbd, qcode, key->down);
}

void crp_input_pointer(QemuConsole *con, uint32_t *buttons,
                       const CrpPointerMsg *p)
{
    int w = qemu_console_get_width(con, 640);
    int h = qemu_console_get_height(con, 480);

    qemu_input_queue_abs(con, INPUT_AXIS_X, MIN(p->x, w - 1), 0, w);
    qemu_input_queue_abs(con, INPUT_AXIS_Y, MIN(p->y, h - 1), 0, h);
    if (p->buttons != *buttons) {
        qemu_input_update_buttons(con, crp_button_map, *buttons, p->buttons);
        *buttons = p->buttons;
    }
    qemu_input_event_sync();
}

static void crp_input_wheel_axis(QemuConsole *con, int detents,
                                 InputButton neg, InputButton pos)
{
    InputButton btn = detents < 0 ? neg : pos;

    for (int i = 0; i < MIN(abs(detents), 10); i++) {
        qemu_input_queue_btn(con, btn, true);
        qemu_input_event_sync();
        qemu_input_queue_btn(con, btn, false);
        qemu_input_event_sync();
    }
}

void crp_input_wheel(QemuConsole *con, const CrpWheelMsg *w)
{
    crp_input_wheel_axis(con, w->dy, INPUT_BUTTON_WHEEL_UP,
                         INPUT_BUTTON_WHEEL_DOWN);
    crp_input_wheel_axis(con, w->dx, INPUT_BUTTON_WHEEL_LEFT,
                         INPUT_BUTTON_WHEEL_RIGHT);
}

void crp_input_resize(QemuConsole *con, const CrpResizeMsg *r)
{
    QemuUIInfo info = { .width = r->width, .height = r->height };

    if (dpy_ui_info_supported(con)) {
        dpy_set_ui_info(con, &info, true);
    }
}

void crp_input_release_buttons(QemuConsole *con, uint32_t *buttons)
{
    if (*buttons) {
        qemu_input_update_buttons(con, crp_button_map, *buttons, 0);
        qemu_input_event_sync();
        *buttons = 0;
    }
}
