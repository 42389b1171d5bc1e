/* mr_test.c - runner of the unit tests. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mr_test.h"

static int case_failures;

void
mr_test__fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    case_failures++;
}

static bool
selected(const char *name, int argc, char **argv)
{
    if (argc < 2) {
        return true;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return true;
        }
    }
    return false;
}

int
mr_test_run(const mr_test_case *cases, int ncases, int argc, char **argv)
{
    int passed = 0;
    int failed = 0;

    for (int i = 0; i < ncases; i++) {
        if (!selected(cases[i].name, argc, argv)) {
            continue;
        }

        case_failures = 0;
        cases[i].fn();
        fprintf(stderr, "%s %s\n", case_failures ? "FAIL" : "ok  ",
                cases[i].name);
        if (case_failures) {
            failed++;
        } else {
            passed++;
        }
    }

    fprintf(stderr, "%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
