/* mr_test.h - the assertions and runner of mcpreg's unit tests. */
#ifndef MR_TEST_H
#define MR_TEST_H

#include <stdbool.h>
#include <string.h>

/* mr_test_case is one named test function of a test program. */
typedef struct {
    const char *name;
    void (*fn)(void);
} mr_test_case;

/*
 * mr_test_run runs every case (or only those named on the command line),
 * prints one line per case and a closing "N passed, N failed" line, and
 * returns the exit status: 0 when every case passed.
 */
int mr_test_run(const mr_test_case *cases, int ncases, int argc, char **argv);

/* mr_test__fail records a failed check of the running case; internal. */
void mr_test__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MR_TEST_MAIN(cases)                                                   \
    int main(int argc, char **argv)                                           \
    {                                                                         \
        return mr_test_run(cases, (int)(sizeof(cases) / sizeof(cases[0])),    \
                           argc, argv);                                       \
    }

/* Each check prints both operands when it fails, then the case goes on. */
#define MR_CHECK(cond)                                                        \
    do {                                                                      \
        if (!(cond)) {                                                        \
            mr_test__fail(__FILE__, __LINE__, "expected %s", #cond);          \
        }                                                                     \
    } while (0)

#define MR_CHECK_INT(a, op, b)                                                \
    do {                                                                      \
        long long mr__a = (long long)(a), mr__b = (long long)(b);             \
        if (!(mr__a op mr__b)) {                                              \
            mr_test__fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a,   \
                          #op, #b, mr__a, mr__b);                             \
        }                                                                     \
    } while (0)

#define MR_CHECK_STR(a, b)                                                    \
    do {                                                                      \
        const char *mr__a = (a), *mr__b = (b);                                \
        if (mr__a == NULL || mr__b == NULL || strcmp(mr__a, mr__b) != 0) {    \
            mr_test__fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"",   \
                          #a, #b, mr__a ? mr__a : "(null)",                   \
                          mr__b ? mr__b : "(null)");                          \
        }                                                                     \
    } while (0)

#endif
