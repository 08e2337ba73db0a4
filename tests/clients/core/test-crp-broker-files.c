/*
 * test-crp-broker-files.c: the download bookkeeping of My files (which
 * chunks to ask for, in a window; replies in any order; a file that
 * changes mid-way restarts the download; a short chunk is the broker's
 * fault), and a FILES message turned into a CrpBrokerFileList.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-broker-files.h"

#include "crp/crp-error.h"

#define MIB CRP_FILES_CHUNK

typedef struct {
    guint64 offset;
    guint32 length;
    guint generation;
} Asked;

/* Every DOWNLOAD due now, in order. */
static GArray *ask_all(CrpDownloadState *st)
{
    GArray *asked = g_array_new(FALSE, FALSE, sizeof(Asked));
    Asked a;

    while (crp_download_next(st, &a.offset, &a.length, &a.generation)) {
        g_array_append_val(asked, a);
    }
    return asked;
}

static CrpDownloadVerdict answer(CrpDownloadState *st, const Asked *a,
                                 guint64 size, guint64 mtime, GError **error)
{
    gsize len = a->offset < size ? MIN(a->length, size - a->offset) : 0;
    return crp_download_accept(st, a->generation, a->offset, a->length, size,
                               mtime, len, error);
}

static void test_one_request_until_size_known(void)
{
    CrpDownloadState st;
    crp_download_state_init(&st);
    g_autoptr(GArray) first = ask_all(&st);

    g_assert_cmpuint(first->len, ==, 1);
    g_assert_cmpuint(g_array_index(first, Asked, 0).offset, ==, 0);
    g_assert_cmpuint(g_array_index(first, Asked, 0).length, ==, MIB);

    /* 10.5 MiB: the first reply opens the window of 4. */
    guint64 size = 10 * MIB + MIB / 2;
    g_assert_cmpint(answer(&st, &g_array_index(first, Asked, 0), size, 7, NULL),
                    ==, CRP_DOWNLOAD_WRITE);
    g_autoptr(GArray) next = ask_all(&st);
    g_assert_cmpuint(next->len, ==, CRP_FILES_WINDOW);
    for (guint i = 0; i < next->len; i++) {
        g_assert_cmpuint(g_array_index(next, Asked, i).offset, ==, (i + 1) * MIB);
    }
}

/* Replies in reverse order still complete the file, each byte once, and
 * the last chunk is asked only for what is left. */
static void test_any_order_completes(void)
{
    CrpDownloadState st;
    guint64 size = 6 * MIB + 100;
    guint64 written = 0;

    crp_download_state_init(&st);
    g_autoptr(GArray) first = ask_all(&st);
    g_assert_cmpint(answer(&st, &g_array_index(first, Asked, 0), size, 1, NULL),
                    ==, CRP_DOWNLOAD_WRITE);
    written += MIB;
    while (!crp_download_complete(&st)) {
        g_autoptr(GArray) asked = ask_all(&st);
        g_assert_cmpuint(asked->len, >, 0);
        for (guint i = asked->len; i-- > 0;) {
            const Asked *a = &g_array_index(asked, Asked, i);
            g_assert_cmpuint(a->offset + a->length, <=, size);
            g_assert_cmpint(answer(&st, a, size, 1, NULL), ==,
                            CRP_DOWNLOAD_WRITE);
            written += a->length;
        }
    }
    g_assert_cmpuint(written, ==, size);
    g_assert_cmpuint(st.received, ==, size);
    g_assert_false(crp_download_next(&st, &(guint64){ 0 }, &(guint32){ 0 },
                                     &(guint){ 0 }));
}

static void test_empty_file(void)
{
    CrpDownloadState st;
    crp_download_state_init(&st);
    g_autoptr(GArray) first = ask_all(&st);

    g_assert_cmpint(answer(&st, &g_array_index(first, Asked, 0), 0, 1, NULL),
                    ==, CRP_DOWNLOAD_WRITE);
    g_assert_true(crp_download_complete(&st));
    g_autoptr(GArray) more = ask_all(&st);
    g_assert_cmpuint(more->len, ==, 0);
}

/* A new mtime (or size) mid-way: start again from 0; replies to what was
 * asked before are dropped, and the restarted download completes. */
static void test_change_restarts(void)
{
    CrpDownloadState st;
    guint64 size = 8 * MIB;

    crp_download_state_init(&st);
    g_autoptr(GArray) first = ask_all(&st);
    answer(&st, &g_array_index(first, Asked, 0), size, 100, NULL);
    g_autoptr(GArray) window = ask_all(&st);
    g_assert_cmpuint(window->len, ==, CRP_FILES_WINDOW);

    /* The guest rewrote it: now 3 MiB, another mtime. */
    g_assert_cmpint(answer(&st, &g_array_index(window, Asked, 0), 3 * MIB,
                           200, NULL), ==, CRP_DOWNLOAD_RESTART);
    g_assert_cmpuint(st.received, ==, 0);
    for (guint i = 1; i < window->len; i++) {
        g_assert_cmpint(answer(&st, &g_array_index(window, Asked, i), 3 * MIB,
                               200, NULL), ==, CRP_DOWNLOAD_STALE);
    }
    g_autoptr(GArray) again = ask_all(&st);
    g_assert_cmpuint(again->len, ==, 3);
    g_assert_cmpuint(g_array_index(again, Asked, 0).offset, ==, 0);
    for (guint i = 0; i < again->len; i++) {
        g_assert_cmpint(answer(&st, &g_array_index(again, Asked, i), 3 * MIB,
                               200, NULL), ==, CRP_DOWNLOAD_WRITE);
    }
    g_assert_true(crp_download_complete(&st));
    g_assert_cmpuint(st.received, ==, 3 * MIB);
}

static void test_keeps_changing_fails(void)
{
    CrpDownloadState st;
    g_autoptr(GError) error = NULL;
    CrpDownloadVerdict v = CRP_DOWNLOAD_WRITE;
    guint64 mtime = 1;

    crp_download_state_init(&st);
    for (int i = 0; i <= CRP_DOWNLOAD_MAX_RESTARTS + 1 && v != CRP_DOWNLOAD_FAIL;
         i++) {
        g_autoptr(GArray) asked = ask_all(&st);
        g_assert_cmpuint(asked->len, >=, 1);
        v = answer(&st, &g_array_index(asked, Asked, 0), 4 * MIB, mtime++,
                   &error);
    }
    g_assert_cmpint(v, ==, CRP_DOWNLOAD_FAIL);
    g_assert_error(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_INTERNAL);
    g_assert_cmpuint(st.restarts, ==, CRP_DOWNLOAD_MAX_RESTARTS + 1);
}

/* Fewer bytes than asked, not at the end (or more than asked), is the
 * broker's fault: the file would have a hole. */
static void test_short_chunk_fails(void)
{
    CrpDownloadState st;
    g_autoptr(GError) error = NULL;
    Asked a;

    crp_download_state_init(&st);
    g_assert_true(crp_download_next(&st, &a.offset, &a.length, &a.generation));
    g_assert_cmpint(crp_download_accept(&st, a.generation, a.offset, a.length,
                                        5 * MIB, 1, MIB - 1, &error),
                    ==, CRP_DOWNLOAD_FAIL);
    g_assert_error(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_BAD_REQUEST);
    g_clear_error(&error);

    crp_download_state_init(&st);
    g_assert_true(crp_download_next(&st, &a.offset, &a.length, &a.generation));
    g_assert_cmpint(crp_download_accept(&st, a.generation, a.offset, a.length,
                                        100, 1, 101, &error),
                    ==, CRP_DOWNLOAD_FAIL);
    g_assert_error(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_BAD_REQUEST);
}

/* FILES as the broker encodes it, decoded as a client receives it. */
static void test_file_list_from_message(void)
{
    const CrpFileEntry entries[] = {
        { { "a.txt", 5 }, CRP_FILE_KIND_FILE, 5, 1700000000000000000ull },
        { { "docs", 4 }, CRP_FILE_KIND_DIR, 0, 1700000000000000001ull },
    };
    CrpMessage msg = {
        .type = CRP_MSG_FILES,
        .flags = CRP_FILES_FLAG_TRUNCATED,
        .files = { .request_id = 9, .used_bytes = 5, .quota_bytes = 1 << 20,
                   .count = 2, .items = entries },
    };
    g_autoptr(GByteArray) wire = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    CrpMessage got;

    crp_message_encode(&msg, wire);
    g_assert_cmpuint(crp_message_decode(wire->data, wire->len, &got, &error),
                     ==, wire->len);
    g_assert_no_error(error);
    g_autoptr(CrpBrokerFileList) list = crp_broker_file_list_from(&got);

    g_assert_cmpuint(list->entries->len, ==, 2);
    g_assert_true(list->truncated);
    g_assert_cmpuint(list->used_bytes, ==, 5);
    g_assert_cmpuint(list->quota_bytes, ==, 1 << 20);
    const CrpBrokerFileEntry *e0 = list->entries->pdata[0];
    const CrpBrokerFileEntry *e1 = list->entries->pdata[1];
    g_assert_cmpstr(e0->name, ==, "a.txt");
    g_assert_false(e0->is_dir);
    g_assert_cmpuint(e0->size, ==, 5);
    g_assert_cmpuint(e0->mtime_ns, ==, 1700000000000000000ull);
    g_assert_cmpstr(e1->name, ==, "docs");
    g_assert_true(e1->is_dir);
    g_assert_cmpuint(e1->mtime_ns, ==, 1700000000000000001ull);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/files/download/one-until-size-known",
                    test_one_request_until_size_known);
    g_test_add_func("/files/download/any-order", test_any_order_completes);
    g_test_add_func("/files/download/empty", test_empty_file);
    g_test_add_func("/files/download/change-restarts", test_change_restarts);
    g_test_add_func("/files/download/keeps-changing",
                    test_keeps_changing_fails);
    g_test_add_func("/files/download/short-chunk", test_short_chunk_fails);
    g_test_add_func("/files/list/from-message", test_file_list_from_message);
    return g_test_run();
}
