/* Stand-in for QEMU's ui/kbd-state.h (see README.md). */
#pragma once

#include "qemu/osdep.h"

/* QEMU 10's QKeyCode runs from Q_KEY_CODE_UNMAPPED (0) to 161. */
typedef int QKeyCode;
#define Q_KEY_CODE_UNMAPPED 0
#define Q_KEY_CODE__MAX 162

typedef struct QKbdState QKbdState;

void qkbd_state_key_event(QKbdState *kbd, QKeyCode qcode, bool down);
void qkbd_state_lift_all_keys(QKbdState *kbd);
