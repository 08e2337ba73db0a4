/*
 * test-broker-registry.c: broker/daemon/broker-registry.c, the live
 * connections by id: found while there, gone once removed, listed newest
 * first in a list of the caller's own (so that closing connections while
 * walking it is safe), a second connection under a used id refused.
 */
#include <glib.h>

#include "broker-registry.h"

/* The registry only stores and hands back: any distinct pointers do. */
static char conns[4];
#define CONN(i) ((BrokerConnection *)&conns[i])

static void
test_find_remove(void)
{
    g_autoptr(BrokerRegistry) reg = broker_registry_new();

    g_assert_null(broker_registry_find(reg, 1));
    broker_registry_add(reg, 1, CONN(0));
    broker_registry_add(reg, 7, CONN(1));
    g_assert_cmpuint(broker_registry_count(reg), ==, 2);
    g_assert_true(broker_registry_find(reg, 1) == CONN(0));
    g_assert_true(broker_registry_find(reg, 7) == CONN(1));
    g_assert_null(broker_registry_find(reg, 2));

    broker_registry_remove(reg, 1);
    g_assert_null(broker_registry_find(reg, 1));
    g_assert_true(broker_registry_find(reg, 7) == CONN(1));
    g_assert_cmpuint(broker_registry_count(reg), ==, 1);
    /* A connection that already left (ended twice, never added). */
    broker_registry_remove(reg, 1);
    broker_registry_remove(reg, 99);
    g_assert_cmpuint(broker_registry_count(reg), ==, 1);
}

static void
test_list(void)
{
    g_autoptr(BrokerRegistry) reg = broker_registry_new();
    GList *list;

    g_assert_null(broker_registry_list(reg));
    broker_registry_add(reg, 2, CONN(0));
    broker_registry_add(reg, 10, CONN(1));
    broker_registry_add(reg, 3, CONN(2));
    list = broker_registry_list(reg);
    g_assert_cmpuint(g_list_length(list), ==, 3);
    g_assert_true(g_list_nth_data(list, 0) == CONN(1));
    g_assert_true(g_list_nth_data(list, 1) == CONN(2));
    g_assert_true(g_list_nth_data(list, 2) == CONN(0));
    /* What a shutdown does: each connection ends while the list is
     * walked, and leaves the registry. */
    for (GList *l = list; l; l = l->next) {
        guint id = l->data == CONN(1) ? 10 : l->data == CONN(2) ? 3 : 2;
        broker_registry_remove(reg, id);
    }
    g_assert_cmpuint(g_list_length(list), ==, 3);
    g_assert_cmpuint(broker_registry_count(reg), ==, 0);
    g_list_free(list);
}

static void
test_id_in_use(void)
{
    g_autoptr(BrokerRegistry) reg = broker_registry_new();

    broker_registry_add(reg, 5, CONN(0));
    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*contains*");
    broker_registry_add(reg, 5, CONN(1));
    g_test_assert_expected_messages();
    g_assert_true(broker_registry_find(reg, 5) == CONN(0));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/broker-registry/find-remove", test_find_remove);
    g_test_add_func("/broker-registry/list", test_list);
    g_test_add_func("/broker-registry/id-in-use", test_id_in_use);
    return g_test_run();
}
