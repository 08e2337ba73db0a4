/*
 * Stand-in for QEMU's qemu/osdep.h in the fuzz targets (see README.md):
 * the system and GLib headers QEMU code takes for granted.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct QemuConsole QemuConsole;
