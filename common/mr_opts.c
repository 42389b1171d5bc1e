/* mr_opts.c - command-line flags with environment fall-backs. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mr_opts.h"
#include "mr_util.h"

static const char *program_name;

void
mr_opts_program(const char *name)
{
    program_name = name;
}

void
mr_opts_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", program_name != NULL ? program_name : "error");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* set_value stores text into opt's variable; it returns 0, or -1 after
 * printing why text is invalid. */
static int
set_value(const mr_opt *opt, const char *text, const char *source)
{
    char *end = NULL;
    long n;

    switch (opt->type) {
    case MR_OPT_STR:
        *(const char **)opt->value = text;
        return 0;
    case MR_OPT_UUID:
        /* The text is not echoed: it may be a secret pasted by mistake. */
        if (!mr_uuid_canonical(text, opt->value)) {
            mr_opts_fail("invalid value for %s: expected a UUID "
                         "(8-4-4-4-12 hex digits)",
                         source);
            return -1;
        }
        return 0;
    case MR_OPT_BOOL:
        *(bool *)opt->value = strcmp(text, "1") == 0 ||
                              strcmp(text, "true") == 0 ||
                              strcmp(text, "yes") == 0;
        return 0;
    case MR_OPT_INT:
        /* strtol would also take leading spaces and a sign. */
        errno = 0;
        n = isdigit((unsigned char)text[0]) ? strtol(text, &end, 10) : -1;
        if (errno != 0 || n < 0 || *end != '\0') {
            mr_opts_fail("invalid value '%s' for %s: expected a "
                         "non-negative integer",
                         text, source);
            return -1;
        }
        *(long *)opt->value = n;
        return 0;
    }
    return -1;
}

static void
print_help(const mr_opt *opts, size_t nopts, const char *usage)
{
    printf("%s\n\nOptions:\n", usage);
    for (size_t i = 0; i < nopts; i++) {
        const mr_opt *o = &opts[i];
        char flag[64];

        snprintf(flag, sizeof(flag), "--%s%s", o->name,
                 o->type == MR_OPT_BOOL ? "" : " VALUE");
        printf("  %-28s %s", flag, o->help);
        if (o->type == MR_OPT_STR && *(const char **)o->value != NULL &&
            **(const char **)o->value != '\0') {
            printf(" (default: %s)", *(const char **)o->value);
        } else if (o->type == MR_OPT_INT) {
            printf(" (default: %ld)", *(long *)o->value);
        }
        if (o->env != NULL) {
            printf(" [env %s]", o->env);
        }
        printf("\n");
    }
    printf("  %-28s %s\n", "--help", "print this help and exit");
}

static const mr_opt *
find(const mr_opt *opts, size_t nopts, const char *name, size_t len)
{
    for (size_t i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == len &&
            strncmp(opts[i].name, name, len) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

static int
read_env(const mr_opt *opts, size_t nopts)
{
    for (size_t i = 0; i < nopts; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;

        if (v != NULL && set_value(&opts[i], v, opts[i].env) != 0) {
            return -1;
        }
    }
    return 0;
}

/* parse_one handles argv[*i], an argument starting with "--"; it returns
 * 0 to go on, 1 for --help and -1 on an error it printed. */
static int
parse_one(const mr_opt *opts, size_t nopts, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const mr_opt *o = find(opts, nopts, arg, len);

    if (strcmp(arg, "help") == 0) {
        return 1;
    }
    if (o == NULL) {
        mr_opts_fail("unknown option '%s'; see --help", argv[*i]);
        return -1;
    }
    if (o->type == MR_OPT_BOOL && eq == NULL) {
        *(bool *)o->value = true;
        return 0;
    }
    if (eq != NULL) {
        return set_value(o, eq + 1, argv[*i]);
    }
    if (*i + 1 >= argc) {
        mr_opts_fail("missing value for '%s'", argv[*i]);
        return -1;
    }
    (*i)++;
    return set_value(o, argv[*i], argv[*i - 1]);
}

int
mr_opts_parse(const mr_opt *opts, size_t nopts, int argc, char **argv,
              const char *usage, int *rest)
{
    int i;
    int rc;

    if (read_env(opts, nopts) != 0) {
        return -1;
    }

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-h") == 0) {
            print_help(opts, nopts, usage);
            return 1;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            break;
        }
        rc = parse_one(opts, nopts, argc, argv, &i);
        if (rc == 1) {
            print_help(opts, nopts, usage);
        }
        if (rc != 0) {
            return rc;
        }
    }

    if (rest != NULL) {
        *rest = i;
    } else if (i < argc) {
        mr_opts_fail("unexpected argument '%s'; see --help", argv[i]);
        return -1;
    }
    return 0;
}

mr_opt_source
mr_opts_source(const mr_opt *opts, size_t nopts, const mr_opt *opt, int argc,
               char **argv)
{
    mr_opt_source source = MR_OPT_FROM_DEFAULT;

    if (opt->env != NULL && getenv(opt->env) != NULL) {
        source = MR_OPT_FROM_ENV;
    }

    /* The same walk as mr_opts_parse, which accepted this argv. */
    for (int i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *arg = argv[i] + 2;
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const mr_opt *o = find(opts, nopts, arg, len);

        if (len == 0 || o == NULL) {
            break;
        }
        if (o == opt) {
            source = MR_OPT_FROM_ARGV;
        }
        if (eq == NULL && o->type != MR_OPT_BOOL) {
            i++;
        }
    }
    return source;
}
