/* mr_err_test.c - the error table: codes, statuses and round trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mr_err.h"
#include "mr_test.h"

static void
test_codes_round_trip(void)
{
    for (int i = 0; i < MR_ERR_COUNT; i++) {
        mr_err back = mr_err_from_code(mr_err_code((mr_err)i));

        /* ENOMEM and EINTERNAL share "internal_error". */
        MR_CHECK_STR(mr_err_code(back), mr_err_code((mr_err)i));
        MR_CHECK_INT(mr_err_http(back), ==, mr_err_http((mr_err)i));
    }
}

static void
test_details_have_action_and_cause(void)
{
    /* invalid_request_body keeps the published API's exact wording. */
    for (int i = 0; i < MR_ERR_COUNT; i++) {
        if (i != MR_EINVALID_BODY) {
            MR_CHECK_STR(strstr(mr_strerror((mr_err)i), ": ") ? "has" : "",
                         "has");
        }
    }
}

static void
test_known_statuses(void)
{
    MR_CHECK_INT(mr_err_http(MR_OK), ==, 200);
    MR_CHECK_INT(mr_err_http(MR_ESERVER_NOT_FOUND), ==, 404);
    MR_CHECK_INT(mr_err_http(MR_EUNAUTHENTICATED), ==, 401);
    MR_CHECK_INT(mr_err_http(MR_EFORBIDDEN), ==, 403);
    MR_CHECK_INT(mr_err_http(MR_EBUSY), ==, 503);
    MR_CHECK_STR(mr_err_code(MR_EINVALID_BODY), "invalid_request_body");
    MR_CHECK_INT(mr_err_class(MR_ETIMEDOUT), ==,
                 MCPREG__V1__CODE__DEADLINE_EXCEEDED);
}

static void
test_unknown_code_is_internal(void)
{
    MR_CHECK_INT(mr_err_from_code("no_such_code"), ==, MR_EINTERNAL);
    MR_CHECK_INT(mr_err_from_code(NULL), ==, MR_EINTERNAL);
    MR_CHECK_STR(mr_strerror((mr_err)9999), mr_strerror(MR_EINTERNAL));
}

static void
test_retryable_is_503(void)
{
    MR_CHECK(mr_err_retryable(MR_EUNAVAILABLE));
    MR_CHECK(mr_err_retryable(MR_ETIMEDOUT));
    MR_CHECK(!mr_err_retryable(MR_EFORBIDDEN));
}

/* read_doc returns the text of docs/errors.md, or NULL; the caller frees
 * it. */
static char *
read_doc(void)
{
    FILE *f = fopen(MR_ERRORS_DOC, "r");
    char *text = calloc(1, 1 << 16);

    if (f == NULL || text == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        free(text);
        return NULL;
    }
    fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    return text;
}

static void
test_doc_lists_every_code(void)
{
    char *doc = read_doc();
    char row[128];

    MR_CHECK(doc != NULL);
    for (int i = 1; doc != NULL && i < MR_ERR_COUNT; i++) {
        snprintf(row, sizeof(row), "| `%s` | %d |", mr_err_code((mr_err)i),
                 mr_err_http((mr_err)i));
        MR_CHECK_STR(strstr(doc, row) ? row : "(missing)", row);
    }
    free(doc);
}

static const mr_test_case cases[] = {
    {"doc_lists_every_code", test_doc_lists_every_code},
    {"codes_round_trip", test_codes_round_trip},
    {"details_have_action_and_cause", test_details_have_action_and_cause},
    {"known_statuses", test_known_statuses},
    {"unknown_code_is_internal", test_unknown_code_is_internal},
    {"retryable_is_503", test_retryable_is_503},
};

MR_TEST_MAIN(cases)
