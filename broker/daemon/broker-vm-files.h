/*
 * broker-vm-files.h: what a session's QEMU needs on disk, and its command
 * line. Internal to broker/daemon (broker-vm.c).
 *
 *   STATE/run/SESSION/          runtime dir, 0700
 *       qmp.sock display.sock   QEMU's sockets
 *       qemu.log console.log    QEMU's output, the guest's serial console
 *       heartbeat               touched at every successful poll: after a
 *                               crash, the VM's last sign of life
 *   STATE/logs/SESSION-*.log    the two logs, kept after the session
 *   OVERLAYS/USER/APP.qcow2     a persistent app's overlay (kept)
 *   OVERLAYS/USER/SESSION.qcow2 a throw-away overlay (deleted at the end)
 */
#pragma once

#include "broker.h"

G_BEGIN_DECLS

typedef struct BrokerVmFiles BrokerVmFiles;

/** Creates the runtime dir and, for an app with a disk, the overlay
 *  (recorded in the store; paths recorded on the session). */
BrokerVmFiles *broker_vm_files_prepare(BrokerServer *server,
                                       const CrpStoreSession *session,
                                       const CrpStoreApp *app, GError **error);

/** The files of a session found in the store after a restart. */
BrokerVmFiles *broker_vm_files_reopen(BrokerServer *server,
                                      const CrpStoreSession *session);

/** Spawns QEMU in its own session (it outlives a broker restart) and
 *  records its pid on the session. */
gboolean broker_vm_files_spawn(BrokerVmFiles *files, BrokerServer *server,
                               const CrpStoreSession *session,
                               const CrpStoreApp *app, GPid *pid,
                               GError **error);

/** TRUE if @pid is this session's QEMU (its command line names our
 *  runtime dir), so a recycled pid is never mistaken for it. */
gboolean broker_vm_files_owns_process(BrokerVmFiles *files, GPid pid);

const char *broker_vm_files_qmp_socket(BrokerVmFiles *files);
const char *broker_vm_files_display_socket(BrokerVmFiles *files);

void broker_vm_files_heartbeat(BrokerVmFiles *files);
/** Unix time of the last heartbeat (0: none). */
gint64 broker_vm_files_last_seen(BrokerVmFiles *files);

/** Re-reads the sizes of @user's overlays into the store, so that a
 *  quota check sees what running guests have written. */
void broker_vm_files_refresh_usage(BrokerServer *server, const char *user);

/** The session is over: logs kept, runtime dir removed, the overlay kept
 *  (size updated) or deleted as the app says. Accepts NULL. */
void broker_vm_files_release(BrokerVmFiles *files, CrpStore *store,
                             const char *user, const char *app);
void broker_vm_files_free(BrokerVmFiles *files);

G_END_DECLS
