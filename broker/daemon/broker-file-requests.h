/*
 * broker-file-requests.h: the My files requests (protocol section 5.6).
 * Internal to broker/daemon.
 */
#pragma once

#include "broker.h"
#include "broker-connection.h"

G_BEGIN_DECLS

/* FILE_LIST, UPLOAD_BEGIN, UPLOAD_DATA, DOWNLOAD, FILE_DELETE from a
 * connection that agreed CRP_CAP_BROKER_FILES: exactly one reply. */
void broker_handle_file_request(BrokerServer *server, BrokerConnection *c,
                                const CrpMessage *msg);

G_END_DECLS
