/*
 * test-crp-guest-fit.c: when crp-client asks the guest for the window's
 * size, and what it concludes when the guest does not follow (real GLib
 * timeouts, short ones).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-guest-fit.h"

#define DEBOUNCE_MS 100
#define WAIT_MS 300

typedef struct {
    GArray *asked;              /* pairs of ints */
    GArray *states;
} Seen;

static void on_request(gpointer data, int w, int h)
{
    Seen *seen = data;
    g_array_append_val(seen->asked, w);
    g_array_append_val(seen->asked, h);
}

static void on_state(gpointer data, CrpGuestFitState state)
{
    Seen *seen = data;
    g_array_append_val(seen->states, state);
}

static const CrpGuestFitEvents events = { .request = on_request,
                                          .state_changed = on_state };

static void run_for(guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static void seen_init(Seen *seen)
{
    seen->asked = g_array_new(FALSE, FALSE, sizeof(int));
    seen->states = g_array_new(FALSE, FALSE, sizeof(int));
}

static void seen_clear(Seen *seen)
{
    g_array_unref(seen->asked);
    g_array_unref(seen->states);
}

#define ASKED(seen, i) g_array_index((seen)->asked, int, (i))

static void test_debounced_and_followed(void)
{
    Seen seen;
    seen_init(&seen);
    g_autoptr(CrpGuestFit) fit = crp_guest_fit_new(&events, &seen, DEBOUNCE_MS, WAIT_MS);

    crp_guest_fit_surface_changed(fit, 1280, 800);
    crp_guest_fit_view_changed(fit, 1280, 800);
    crp_guest_fit_set_enabled(fit, TRUE);
    run_for(DEBOUNCE_MS * 3);
    /* The guest has the view's size: nothing to ask. */
    g_assert_cmpuint(seen.asked->len, ==, 0);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FOLLOWING);

    /* A drag: many sizes in a row, one request, for the last. */
    for (int i = 0; i < 10; i++) {
        crp_guest_fit_view_changed(fit, 1000 + i * 10, 700 + i);
        run_for(10);
    }
    g_assert_cmpuint(seen.asked->len, ==, 0);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 2);
    g_assert_cmpint(ASKED(&seen, 0), ==, 1090);
    g_assert_cmpint(ASKED(&seen, 1), ==, 709);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_WAITING);

    /* The guest goes through another mode first, then the asked one. */
    crp_guest_fit_surface_changed(fit, 1024, 768);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_WAITING);
    crp_guest_fit_surface_changed(fit, 1090, 709);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FOLLOWING);
    run_for(WAIT_MS * 2);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FOLLOWING);
    g_assert_cmpuint(seen.asked->len, ==, 2);

    /* Switched off (1:1, or the preference): no more requests. */
    crp_guest_fit_set_enabled(fit, FALSE);
    crp_guest_fit_view_changed(fit, 800, 600);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 2);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_OFF);
    /* And on again: the view's size now. */
    crp_guest_fit_set_enabled(fit, TRUE);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 4);
    g_assert_cmpint(ASKED(&seen, 2), ==, 800);
    g_assert_cmpint(ASKED(&seen, 3), ==, 600);
    seen_clear(&seen);
}

static void test_a_guest_that_cannot_follow_is_scaled(void)
{
    Seen seen;
    seen_init(&seen);
    g_autoptr(CrpGuestFit) fit = crp_guest_fit_new(&events, &seen, DEBOUNCE_MS, WAIT_MS);

    crp_guest_fit_set_enabled(fit, TRUE);
    crp_guest_fit_surface_changed(fit, 1280, 800);
    crp_guest_fit_view_changed(fit, 900, 650);
    run_for(DEBOUNCE_MS * 2);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_WAITING);
    run_for(WAIT_MS * 2);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FIXED);
    g_assert_cmpint(g_array_index(seen.states, int, seen.states->len - 1), ==,
                    CRP_GUEST_FIT_FIXED);

    /* It stays FIXED while asked again... */
    crp_guest_fit_view_changed(fit, 950, 650);
    run_for(DEBOUNCE_MS * 2 + WAIT_MS * 2);
    g_assert_cmpuint(seen.asked->len, ==, 4);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FIXED);
    /* ...until it does follow after all (its driver came up). */
    crp_guest_fit_view_changed(fit, 1000, 650);
    run_for(DEBOUNCE_MS * 2);
    crp_guest_fit_surface_changed(fit, 1000, 650);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FOLLOWING);
    seen_clear(&seen);
}

static void test_sizes_it_never_asks_for(void)
{
    Seen seen;
    seen_init(&seen);
    g_autoptr(CrpGuestFit) fit = crp_guest_fit_new(&events, &seen, DEBOUNCE_MS, WAIT_MS);

    crp_guest_fit_set_enabled(fit, TRUE);
    /* No guest yet: nothing to resize. */
    crp_guest_fit_view_changed(fit, 900, 650);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 0);
    /* A collapsed view. */
    crp_guest_fit_surface_changed(fit, 1280, 800);
    crp_guest_fit_view_changed(fit, 30, 650);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 0);
    /* Larger than the protocol carries: its largest. */
    crp_guest_fit_view_changed(fit, 20000, 9000);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 2);
    g_assert_cmpint(ASKED(&seen, 0), ==, CRP_GUEST_FIT_MAX_SIDE);
    g_assert_cmpint(ASKED(&seen, 1), ==, CRP_GUEST_FIT_MAX_SIDE);
    /* A new connection forgets the guest: no request until it is known. */
    crp_guest_fit_reset(fit);
    g_assert_cmpint(crp_guest_fit_get_state(fit), ==, CRP_GUEST_FIT_FOLLOWING);
    crp_guest_fit_view_changed(fit, 700, 500);
    run_for(DEBOUNCE_MS * 3);
    g_assert_cmpuint(seen.asked->len, ==, 2);
    seen_clear(&seen);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/guest-fit/debounced-and-followed", test_debounced_and_followed);
    g_test_add_func("/guest-fit/fixed-guest-is-scaled", test_a_guest_that_cannot_follow_is_scaled);
    g_test_add_func("/guest-fit/never-asked", test_sizes_it_never_asks_for);
    return g_test_run();
}
