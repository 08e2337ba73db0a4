/*
 * broker-sessions.h: the session requests, the start-up reconciliation
 * with QEMUs that outlived a broker, the watch over sessions changed from
 * outside. Internal to broker/daemon.
 */
#pragma once

#include "broker.h"
#include "broker-connection.h"

G_BEGIN_DECLS

void broker_request_launch(BrokerServer *server, BrokerConnection *c,
                           const CrpMessage *msg);
void broker_request_session_ticket(BrokerServer *server, BrokerConnection *c,
                                   const CrpMessage *msg);
void broker_request_session_close(BrokerServer *server, BrokerConnection *c,
                                  const CrpMessage *msg);
/* At start: adopt or clean up the sessions a previous broker left. */
gboolean broker_sessions_start(BrokerServer *server, GError **error);
/* At exit: stop watching the VMs, which run on. */
void broker_sessions_stop(BrokerServer *server);

G_END_DECLS
