/*
 * broker-logs.h: STATE/logs, where each session's QEMU log and serial
 * console stay after it ends, kept within [logs] max-age-days and
 * max-total-mib. Internal to broker/daemon.
 */
#pragma once

#include "broker.h"

G_BEGIN_DECLS

/* Expires STATE/logs now and from then on every hour. */
void broker_logs_start(BrokerServer *server);
void broker_logs_stop(BrokerServer *server);
/* Expires STATE/logs now (after a session's logs were added). */
void broker_logs_expire(BrokerServer *server);

G_END_DECLS
