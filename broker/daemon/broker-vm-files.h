/*
 * broker-vm-files.h: what a session's QEMU needs on disk, and its command
 * line. Internal to broker/daemon (broker-vm.c).
 *
 *   STATE/run/SESSION/          runtime dir, 0700
 *       qmp.sock display.sock   QEMU's sockets
 *       console.sock            the guest's serial port (QEMU listens on
 *                               it; the broker reads: broker-vm-console.h)
 *       qemu.log                QEMU's output
 *       console.log[.1]         the guest's serial console, capped
 *       heartbeat               touched at every successful poll: after a
 *                               crash, the VM's last sign of life
 *   STATE/logs/SESSION-*.log*   the logs, kept after the session
 *   OVERLAYS/USER/APP.qcow2     a persistent app's overlay (kept)
 *   OVERLAYS/USER/SESSION.qcow2 a throw-away overlay (deleted at the end)
 *   FILES/USER/                 the user's My files, shared with the guest
 *                               (9p, BROKER_VM_FILES_TAG) when the app
 *                               allows it
 *
 * QEMU gets the overlay's file as the block node BROKER_VM_OVERLAY_NODE
 * (for QMP's block-set-write-threshold), under a size cap (what the
 * user's storage quota leaves it at launch: a write beyond it stops the
 * guest with ENOSPC), and the disk the guest sees as
 * BROKER_VM_OVERLAY_DISK_NODE (named by BLOCK_IO_ERROR).
 */
#pragma once

#include "broker.h"

G_BEGIN_DECLS

typedef struct BrokerVmFiles BrokerVmFiles;

/* The overlay file's block node: its write offsets follow its growth. */
#define BROKER_VM_OVERLAY_NODE "crp-overlay-file"
/* The qcow2 node on it, the guest's disk. */
#define BROKER_VM_OVERLAY_DISK_NODE "crp-overlay"
/* The 9p mount tag of the user's My files in every VM (operator guide). */
#define BROKER_VM_FILES_TAG "crp-files"

/** Creates the runtime dir and, for an app with a disk, the overlay
 *  (recorded in the store; paths recorded on the session). */
BrokerVmFiles *broker_vm_files_prepare(BrokerServer *server,
                                       const CrpStoreSession *session,
                                       const CrpStoreApp *app, GError **error);

/** The files of a session found in the store after a restart. */
BrokerVmFiles *broker_vm_files_reopen(BrokerServer *server,
                                      const CrpStoreSession *session);

/**
 * broker_vm_files_spawn:
 * @console_fd: (out): our end of the guest's serial console, connected
 *     (for broker_vm_console_new())
 *
 * Spawns QEMU in its own session (it outlives a broker restart) with the
 * app's accelerators, or [qemu] accel, and records its pid on the
 * session.
 */
gboolean broker_vm_files_spawn(BrokerVmFiles *files, BrokerServer *server,
                               const CrpStoreSession *session,
                               const CrpStoreApp *app, GPid *pid,
                               int *console_fd, GError **error);

/** TRUE if @pid is this session's QEMU (its command line names our
 *  runtime dir), so a recycled pid is never mistaken for it. */
gboolean broker_vm_files_owns_process(BrokerVmFiles *files, GPid pid);

const char *broker_vm_files_qmp_socket(BrokerVmFiles *files);
const char *broker_vm_files_display_socket(BrokerVmFiles *files);
const char *broker_vm_files_console_socket(BrokerVmFiles *files);
const char *broker_vm_files_runtime_dir(BrokerVmFiles *files);

void broker_vm_files_heartbeat(BrokerVmFiles *files);
/** Unix time of the last heartbeat (0: none). */
gint64 broker_vm_files_last_seen(BrokerVmFiles *files);

/** Re-reads the sizes of @user's overlays into the store, so that a
 *  quota check sees what running guests have written. */
void broker_vm_files_refresh_usage(BrokerServer *server, const char *user);

/**
 * broker_vm_files_overlay_room:
 * @size: (out): the overlay's bytes now
 * @allowed: (out): the most it may take: the quota less the user's other
 *     overlays (their sizes re-read)
 *
 * Returns: FALSE when there is nothing to watch: no overlay, or no quota.
 */
gboolean broker_vm_files_overlay_room(BrokerVmFiles *files,
                                      BrokerServer *server, const char *user,
                                      guint64 *size, guint64 *allowed);

/** TRUE when the overlay runs under a hard cap (QEMU stops the guest with
 *  ENOSPC at it). */
gboolean broker_vm_files_overlay_capped(BrokerVmFiles *files);

/** The session is over: logs kept, runtime dir removed, the overlay kept
 *  (trimmed to its data, size updated) or deleted as the app says.
 *  Accepts NULL. */
void broker_vm_files_release(BrokerVmFiles *files, CrpStore *store,
                             const char *user, const char *app);
void broker_vm_files_free(BrokerVmFiles *files);

G_END_DECLS
