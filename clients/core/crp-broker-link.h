/*
 * crp-broker-link.h: one broker-channel connection over GIO (internal to
 * crp-broker-client.c).
 *
 * A link connects, logs in with a user key, then turns received records
 * into events and queued messages into writes. Its callbacks run in the
 * main context it was created in. It is reference counted because GIO's
 * callbacks may still arrive after its owner let go.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include "crp/crp-channel.h"
#include "crp/crp-keyfile.h"

G_BEGIN_DECLS

typedef struct CrpBrokerLink CrpBrokerLink;

typedef struct {
    /** Logged in: requests may be sent. */
    void (*ready)(CrpBrokerLink *link, gpointer data);
    /** A message from the broker (views valid during the call). */
    void (*message)(CrpBrokerLink *link, const CrpMessage *msg, gpointer data);
    /**
     * The link is over; called once. @error is NULL when the broker ended
     * its stream cleanly (a final record, with or without BYE), else says
     * why, already phrased for a user (see crp-broker-client.h).
     */
    void (*ended)(CrpBrokerLink *link, const GError *error, gpointer data);
} CrpBrokerLinkEvents;

/** Starts connecting to @address and logging in with @key (copied). */
CrpBrokerLink *crp_broker_link_new(const CrpUserKey *key, const char *address,
                                   const CrpBrokerLinkEvents *events,
                                   gpointer data);
CrpBrokerLink *crp_broker_link_ref(CrpBrokerLink *link);
void crp_broker_link_unref(CrpBrokerLink *link);

/** Queues @msg and writes it. FALSE if the link cannot send any more. */
gboolean crp_broker_link_send(CrpBrokerLink *link, const CrpMessage *msg);

/** Sends @msg as the stream's final record (ATTACH). */
gboolean crp_broker_link_send_final(CrpBrokerLink *link, const CrpMessage *msg);

/** The CRP_CAP_BROKER_* agreed at login (0 before). */
guint32 crp_broker_link_get_capabilities(CrpBrokerLink *link);

/** TRUE when every queued byte has been written. */
gboolean crp_broker_link_flushed(CrpBrokerLink *link);

/**
 * After a clean end: the connection, with nothing of the broker channel
 * left to read or write (ATTACH hand-over). NULL if bytes arrived after
 * the broker's final record (the display server never speaks first).
 */
GIOStream *crp_broker_link_steal_stream(CrpBrokerLink *link, GError **error);

/** Says goodbye (BYE) and closes; no more events are delivered. */
void crp_broker_link_close(CrpBrokerLink *link);

G_END_DECLS
