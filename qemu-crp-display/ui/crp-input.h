/*
 * CRP display: a client's input messages as QEMU input events.
 *
 * Apart from crp-peer.c so that it needs nothing but QEMU's input and
 * console functions: tests/fuzz/fuzz-qemu-input.c compiles this file
 * against stubs of them and checks what hostile messages turn into.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_INPUT_H
#define UI_CRP_INPUT_H

#include "ui/kbd-state.h"

#include "crp/crp-message.h"

/* A key press or release, through @kbd (which drops releases of keys
 * that are not down); keys QEMU has no code for are ignored. */
void crp_input_key(QKbdState *kbd, const CrpKeyMsg *key);

/* An absolute pointer position, clamped to @con's surface, and the
 * buttons that changed since *@buttons (CRP_BUTTON_*), which it updates. */
void crp_input_pointer(QemuConsole *con, uint32_t *buttons,
                       const CrpPointerMsg *p);

/* Wheel detents as presses and releases of the wheel buttons. */
void crp_input_wheel(QemuConsole *con, const CrpWheelMsg *w);

/* A window size request, passed on if @con's display can follow it. */
void crp_input_resize(QemuConsole *con, const CrpResizeMsg *r);

/* Releases the buttons in *@buttons and clears it (a client leaving). */
void crp_input_release_buttons(QemuConsole *con, uint32_t *buttons);

#endif /* UI_CRP_INPUT_H */
