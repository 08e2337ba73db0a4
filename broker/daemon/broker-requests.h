/*
 * broker-requests.h: the broker requests of protocol section 5.4.
 * Internal to broker/daemon.
 */
#pragma once

#include "broker.h"
#include "broker-connection.h"

G_BEGIN_DECLS

/* Handles one request message after login: exactly one reply. */
void broker_handle_request(BrokerServer *server, BrokerConnection *c,
                           const CrpMessage *msg);

G_END_DECLS
