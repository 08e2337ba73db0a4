/*
 * broker-vm.h: one session's QEMU, from spawn (or adoption after a broker
 * restart) to its end. Internal to broker/daemon.
 *
 * Lifecycle:
 *
 *   launch:  runtime dir -> overlay (qemu-img) -> spawn QEMU (-display crp
 *            on a unix socket, -qmp unix socket) -> QMP handshake ->
 *            crp-set-ticket -> RUNNING; waiting ticket requests answered
 *   running: query-crp every few seconds: counters into the store, idle
 *            detection; CRP_CLOSE_REQUESTED or SHUTDOWN start the close
 *   close:   CLOSING -> counters -> system_powerdown -> grace -> quit ->
 *            SIGKILL; when the process is gone: usage row (in the same
 *            transaction as CLOSED), overlay kept or deleted, runtime dir
 *            removed, the VM forgets itself.
 *
 * Every BrokerVm is in server->vms (by session id) from creation to its
 * end; nothing else frees it. Its end is reported to the owner's
 * BrokerVmEndedFunc (the VM calls nobody above it).
 */
#pragma once

#include "broker.h"
#include "crp/crp-message.h"

G_BEGIN_DECLS

typedef struct BrokerVm BrokerVm;

/**
 * Answers a ticket request: @ticket (valid for @expires_s) on success, or
 * @status and @message (for an ERROR reply) when the VM cannot give one.
 */
typedef void (*BrokerVmTicketFunc)(BrokerVm *vm, const char *ticket,
                                   guint expires_s, guint16 status,
                                   const char *message, gpointer data);

/**
 * The VM's process is gone and its end is being written: whatever still
 * uses the session (attached clients) lets go. Called once, from the VM's
 * last moments: @vm must not be used after the call.
 */
typedef void (*BrokerVmEndedFunc)(BrokerVm *vm, const char *session_id,
                                  gpointer data);

/**
 * Starts @session's QEMU for @app: prepares the runtime dir and overlay,
 * spawns, connects QMP. The session row exists (STARTING). On failure the
 * session is closed again and NULL returned with @error.
 */
BrokerVm *broker_vm_launch(BrokerServer *server, const CrpStoreSession *session,
                           const CrpStoreApp *app, BrokerVmEndedFunc ended,
                           gpointer data, GError **error);

/**
 * After a broker restart: takes over @session's QEMU if it still runs (its
 * /proc entry names the session's runtime dir), else writes the session's
 * end. Returns the VM, or NULL when there was nothing left to adopt.
 */
BrokerVm *broker_vm_adopt(BrokerServer *server, const CrpStoreSession *session,
                          BrokerVmEndedFunc ended, gpointer data);

/** Asks for a fresh one-time ticket; @func is called once, maybe later
 *  (when the VM comes up), never from inside this call. */
void broker_vm_request_ticket(BrokerVm *vm, BrokerVmTicketFunc func,
                              gpointer data);

/** Starts closing (idempotent); @reason goes to the log. */
void broker_vm_close(BrokerVm *vm, const char *reason);

/** Broker shutdown: stop watching without touching QEMU (it outlives us). */
void broker_vm_detach(BrokerVm *vm);

BrokerVm *broker_vm_lookup(BrokerServer *server, const char *session_id);
const char *broker_vm_user(BrokerVm *vm);
const char *broker_vm_display_socket(BrokerVm *vm);
gboolean broker_vm_is_running(BrokerVm *vm);
gboolean broker_vm_is_closing(BrokerVm *vm);

G_END_DECLS
