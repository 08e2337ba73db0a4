/*
 * test-crp-client-errors.c: the headline for each broker error, and which
 * are worth retrying.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-client-errors.h"

#include <crp/crp-error.h>
#include <crp/crp-message.h>
#include <gio/gio.h>
#include "crp-broker-client.h"

static void check(GQuark domain, int code, const char *title, gboolean transient)
{
    g_autoptr(GError) e = g_error_new_literal(domain, code, "detail");
    g_assert_cmpstr(crp_client_error_title(e), ==, title);
    g_assert_cmpint(crp_client_error_is_transient(e), ==, transient);
}

static void test_titles(void)
{
    GQuark b = CRP_BROKER_CLIENT_ERROR;

    check(CRP_ERROR, CRP_ERROR_KEY_FILE, "The key file cannot be used", FALSE);
    check(G_FILE_ERROR, G_FILE_ERROR_NOENT, "The key file cannot be read", FALSE);
    check(G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "Cannot reach the broker", TRUE);
    check(G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cannot reach the broker", FALSE);
    check(b, CRP_STATUS_KEY_REVOKED, "This key has been revoked", FALSE);
    check(b, CRP_STATUS_UNKNOWN_KEY, "The broker does not know this key", FALSE);
    check(b, CRP_STATUS_AUTH_FAILED, "This is not the broker your key belongs to", FALSE);
    check(b, CRP_STATUS_RATE_LIMITED, "Too many attempts", TRUE);
    check(b, CRP_STATUS_NO_CAPACITY, "No room to start the app now", TRUE);
    check(b, CRP_STATUS_NOT_SUBSCRIBED, "You are not subscribed to this app", FALSE);
    check(b, CRP_STATUS_SESSION_ENDED, "The session has ended", FALSE);
    check(b, CRP_STATUS_NO_SUCH_FILE, "There is no such file in My files", FALSE);
    check(b, 999, "The broker refused", FALSE);
}

static void check_files(GQuark domain, int code, const char *title)
{
    g_autoptr(GError) e = g_error_new_literal(domain, code, "detail");
    g_assert_cmpstr(crp_client_error_files_title(e), ==, title);
}

/* A local file's trouble is not the broker's: "Cannot reach the broker"
 * for a file that cannot be read would send the user looking in the
 * wrong place. */
static void test_files_titles(void)
{
    GQuark b = CRP_BROKER_CLIENT_ERROR;

    check_files(G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "Cannot use the file on this computer");
    check_files(G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                "Cannot use the file on this computer");
    check_files(G_IO_ERROR, G_IO_ERROR_NO_SPACE, "Cannot use the file on this computer");
    check_files(G_FILE_ERROR, G_FILE_ERROR_ACCES, "Cannot use the file on this computer");
    check_files(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "Cannot reach the broker");
    /* What the broker client says when the broker did not agree FILES. */
    check_files(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "This broker has no My files");
    check_files(b, CRP_STATUS_QUOTA_EXCEEDED, "Not enough room in My files");
    check_files(b, CRP_STATUS_BAD_REQUEST, "My files cannot take this");
    check_files(b, CRP_STATUS_NO_SUCH_FILE, "There is no such file in My files");
    check_files(b, CRP_STATUS_INTERNAL, "The broker could not store the file");
    check_files(b, CRP_STATUS_KEY_REVOKED, "This key has been revoked");
}

static void test_session_gone(void)
{
    g_autoptr(GError) gone = g_error_new_literal(CRP_BROKER_CLIENT_ERROR,
                                                 CRP_STATUS_NO_SUCH_SESSION, "x");
    g_autoptr(GError) busy = g_error_new_literal(CRP_BROKER_CLIENT_ERROR,
                                                 CRP_STATUS_NO_CAPACITY, "x");
    g_assert_true(crp_client_error_session_gone(gone));
    g_assert_false(crp_client_error_session_gone(busy));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/client-errors/titles", test_titles);
    g_test_add_func("/client-errors/files-titles", test_files_titles);
    g_test_add_func("/client-errors/session-gone", test_session_gone);
    return g_test_run();
}
