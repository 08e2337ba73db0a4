/*
 * broker-registry.h: crp-broker's live connections, by id. Internal to
 * broker/daemon.
 *
 * Whoever answers a connection later (a ticket once its VM is up, an
 * ATTACH once the display socket connects) keeps the connection's id, not
 * the connection, and looks it up again here: a connection that ended
 * meanwhile is simply not found. The owner of the connections (broker-
 * main.c) adds each one it accepts and removes it when it ends.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Only stored and handed back: the registry never calls a connection. */
typedef struct _BrokerConnection BrokerConnection;
typedef struct _BrokerRegistry BrokerRegistry;

BrokerRegistry *broker_registry_new(void);
/** Accepts NULL. The connections are not touched. */
void broker_registry_free(BrokerRegistry *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BrokerRegistry, broker_registry_free)

/** Adds @c under @id (> 0, not yet in use). */
void broker_registry_add(BrokerRegistry *reg, guint id, BrokerConnection *c);
/** Removes @id; nothing happens when it is not there. */
void broker_registry_remove(BrokerRegistry *reg, guint id);
/** The live connection with this id, or NULL (it may have gone). */
BrokerConnection *broker_registry_find(BrokerRegistry *reg, guint id);
guint broker_registry_count(BrokerRegistry *reg);
/** The connections, newest first, in a list of their own (free it with
 *  g_list_free()): closing a connection may remove it from the registry
 *  while the caller walks the list. */
GList *broker_registry_list(BrokerRegistry *reg);

G_END_DECLS
