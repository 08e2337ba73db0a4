/*
 * broker-gateway.h: ATTACH (protocol section 7), splicing a client's
 * connection to its session VM's display socket. Internal to
 * broker/daemon.
 */
#pragma once

#include "broker.h"
#include "broker-connection.h"

G_BEGIN_DECLS

/* @server: its connections (by id) and VMs. */
BrokerGateway *broker_gateway_new(BrokerServer *server);
/* At exit; the splices still running are dropped with the process.
 * Accepts NULL. */
void broker_gateway_free(BrokerGateway *gw);

/* The client's ATTACH, read up to its final record: answered with
 * broker_connection_refuse_attach() or _accept_attach(). */
void broker_gateway_attach(BrokerGateway *gw, BrokerConnection *c,
                           guint32 request_id, const char *session_id);
/* A session ended: cut off its attached clients. */
void broker_gateway_end_session(BrokerGateway *gw, const char *session_id);

/* Whether @key (CRP_KEY_BYTES) still logs in. */
typedef gboolean (*BrokerKeyValidFunc)(const guint8 *key, gpointer data);
/* Cuts off the clients attached with keys that no longer log in. */
void broker_gateway_check_keys(BrokerGateway *gw, BrokerKeyValidFunc valid,
                               gpointer data);

G_END_DECLS
