/*
 * broker-vm-console.h: a session's serial console, read from QEMU and kept
 * in a log that cannot grow past its cap. Internal to broker/daemon
 * (broker-vm.c).
 *
 * QEMU's serial port is a socket chardev in server mode in the session's
 * runtime dir (broker-vm-files.c sets it up). The broker is its client: it
 * reads what the guest writes and appends it to DIR/console.log. When
 * console.log would pass half the cap, it becomes console.log.1 (the older
 * .1 is dropped) and a new console.log starts, so the two together never
 * hold more than the cap, however fast the guest writes. While no client
 * is connected (the broker is down) QEMU drops the output; a broker that
 * comes back connects again by the socket's path.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct BrokerVmConsole BrokerVmConsole;

/**
 * broker_vm_console_new:
 * @fd: a connected socket to QEMU's console chardev (taken over)
 * @session: for the log
 * @dir: where console.log and console.log.1 live
 * @max_bytes: the cap of the two files together
 *
 * Starts reading @fd on the main loop.
 */
BrokerVmConsole *broker_vm_console_new(int fd, const char *session,
                                       const char *dir, guint64 max_bytes);

/** Connects to the console socket at @path (after a broker restart). */
BrokerVmConsole *broker_vm_console_connect(const char *path,
                                           const char *session,
                                           const char *dir, guint64 max_bytes,
                                           GError **error);

/** Keeps what is still buffered in the socket, then closes and logs how
 *  much the guest wrote; accepts NULL. */
void broker_vm_console_free(BrokerVmConsole *console);

G_END_DECLS
