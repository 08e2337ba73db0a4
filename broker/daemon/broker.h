/*
 * broker.h: crp-broker, the daemon: what its parts share. Internal to
 * broker/daemon.
 *
 * Who calls whom (tools/check-calls broker/daemon proves it is one way):
 *
 *   broker-main.c        the process: configuration, broker key, store,
 *     |                  signals, the connections it accepts (their events
 *     |                  land here), keys withdrawn under live connections.
 *     +-> broker-listener.c   the listening socket and its accept loop.
 *     +-> broker-web.c        [web]: HTTP(S) with libsoup, static files,
 *     |     |                 WebSocket upgrades handed up as byte streams
 *     |     +-> broker-ws-stream.c  a WebSocket as a GIOStream, which a
 *     |                       broker connection and the gateway take like
 *     |                       a socket.
 *     +-> broker-registry.c   the live connections, by id.
 *     +-> broker-connection.c one client connection: socket I/O around a
 *     |                  sans-I/O CrpChannel, login check, timeouts, orderly
 *     |                  close; reports through BrokerConnectionEvents.
 *     +-> broker-requests.c   one function per broker request (protocol 5.5)
 *     |     +-> broker-file-requests.c  My files (protocol 5.6) onto the
 *     |     |                 user's area (broker/files)
 *     |     +-> broker-sessions.c  LAUNCH, SESSION_TICKET, SESSION_CLOSE;
 *     |           |           restart reconciliation; sessions closed from
 *     |           |           outside.
 *     |           +-> broker-vm.c, broker-vm-files.c, broker-vm-console.c
 *     |                       one session's QEMU (broker-vm.h); its end is
 *     |                       reported through BrokerVmEndedFunc.
 *     +-> broker-gateway.c    ATTACH: splicing a client to a VM's display.
 *   broker-user-storage.c  a user's overlays and My files against the
 *                    quota (sessions, VM files and file requests ask it).
 *   broker-peers.c   limits per source address.
 *   broker-log.c     key=value log lines with every value escaped.
 *   broker-logs.c    STATE/logs kept within its age and size limits.
 */
#pragma once

#include <gio/gio.h>
#include "crp-store.h"
#include "crp-broker-config.h"
#include "crp-broker-key.h"
#include "broker-log.h"
#include "broker-registry.h"

G_BEGIN_DECLS

typedef struct _BrokerGateway BrokerGateway;

/* What the parts below broker-main.c work with; broker-main.c owns it. */
typedef struct {
    CrpBrokerConfig *config;
    CrpBrokerKey *key;
    CrpStore *store;
    BrokerRegistry *connections;  /* live BrokerConnections, by id */
    GHashTable *vms;              /* session id -> BrokerVm (broker-vm.h) */
    BrokerGateway *gateway;       /* the attached clients */
    guint sessions_watch;         /* broker-sessions.c */
    guint logs_timer;             /* broker-logs.c */
} BrokerServer;

G_END_DECLS
