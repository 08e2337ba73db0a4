/*
 * broker-registry.c: crp-broker's live connections, by id (see
 * broker-registry.h).
 */
#include "broker-registry.h"

struct _BrokerRegistry {
    GHashTable *by_id;          /* GUINT_TO_POINTER(id) -> BrokerConnection */
};

BrokerRegistry *
broker_registry_new(void)
{
    BrokerRegistry *reg = g_new0(BrokerRegistry, 1);

    reg->by_id = g_hash_table_new(g_direct_hash, g_direct_equal);
    return reg;
}

void
broker_registry_free(BrokerRegistry *reg)
{
    if (!reg) {
        return;
    }
    g_hash_table_unref(reg->by_id);
    g_free(reg);
}

void
broker_registry_add(BrokerRegistry *reg, guint id, BrokerConnection *c)
{
    g_return_if_fail(id > 0 && c);
    g_return_if_fail(!g_hash_table_contains(reg->by_id, GUINT_TO_POINTER(id)));
    g_hash_table_insert(reg->by_id, GUINT_TO_POINTER(id), c);
}

void
broker_registry_remove(BrokerRegistry *reg, guint id)
{
    g_hash_table_remove(reg->by_id, GUINT_TO_POINTER(id));
}

BrokerConnection *
broker_registry_find(BrokerRegistry *reg, guint id)
{
    return g_hash_table_lookup(reg->by_id, GUINT_TO_POINTER(id));
}

guint
broker_registry_count(BrokerRegistry *reg)
{
    return g_hash_table_size(reg->by_id);
}

static gint
newest_first(gconstpointer a, gconstpointer b)
{
    guint x = GPOINTER_TO_UINT(a), y = GPOINTER_TO_UINT(b);

    return x < y ? 1 : x > y ? -1 : 0;
}

GList *
broker_registry_list(BrokerRegistry *reg)
{
    GList *ids = g_list_sort(g_hash_table_get_keys(reg->by_id), newest_first);

    for (GList *l = ids; l; l = l->next) {
        l->data = g_hash_table_lookup(reg->by_id, l->data);
    }
    return ids;
}
