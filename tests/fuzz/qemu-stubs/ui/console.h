/* Stand-in for QEMU's ui/console.h (see README.md). */
#pragma once

#include "qemu/osdep.h"

typedef struct QemuUIInfo {
    uint16_t width_mm;
    uint16_t height_mm;
    int xoff;
    int yoff;
    uint32_t width;
    uint32_t height;
    uint32_t refresh_rate;
} QemuUIInfo;

int qemu_console_get_width(QemuConsole *con, int fallback);
int qemu_console_get_height(QemuConsole *con, int fallback);
bool dpy_ui_info_supported(const QemuConsole *con);
int dpy_set_ui_info(QemuConsole *con, QemuUIInfo *info, bool delay);
