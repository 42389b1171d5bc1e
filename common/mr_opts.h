/* mr_opts.h - command-line flags with environment fall-backs. */
#ifndef MR_OPTS_H
#define MR_OPTS_H

#include <stddef.h>

/* mr_opt_type is the type of the variable an option writes. */
typedef enum {
    MR_OPT_STR,  /* const char * */
    MR_OPT_INT,  /* long, decimal */
    MR_OPT_BOOL, /* bool; "--name" sets true, env "1"/"true" too */
    MR_OPT_UUID, /* char[MR_UUID_LEN + 1]: mr_uuid_canonical's form */
} mr_opt_type;

/*
 * mr_opt describes one option: "--name VALUE" on the command line, else the
 * environment variable env (may be NULL), else the variable's initial value,
 * which is the default shown by --help.
 */
typedef struct {
    const char *name;
    const char *env;
    mr_opt_type type;
    void *value;
    const char *help;
} mr_opt;

/*
 * mr_opts_program sets the program name that starts every message of
 * mr_opts_fail, and so of mr_opts_parse: "mcpreg-gateway: ...". name must
 * outlive the process's use of this module. Until it is called, messages
 * start with "error: ".
 */
void mr_opts_program(const char *name);

/*
 * mr_opts_fail prints the program name, the formatted message and a
 * newline to stderr: for an invalid flag, or a failure at start-up before
 * the log is set up.
 */
void mr_opts_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * mr_opts_parse reads the environment, then argv, into the options. It
 * stops at the first argument that is not an option and stores its index
 * in *rest (argc when there is none). It returns 0 to go on, 1 when it
 * printed the help for --help or -h (exit 0), and -1 when it printed an
 * error (exit 2).
 * String values point into argv or the environment; they are not copied.
 */
int mr_opts_parse(const mr_opt *opts, size_t nopts, int argc, char **argv,
                  const char *usage, int *rest);

/* mr_opt_source is where the value of an option came from. */
typedef enum {
    MR_OPT_FROM_DEFAULT,
    MR_OPT_FROM_ENV,
    MR_OPT_FROM_ARGV,
} mr_opt_source;

/*
 * mr_opts_source returns where opt, one of opts, got its value in a
 * successful mr_opts_parse of the same argv and environment, so that an
 * error about the value can name what the user set.
 */
mr_opt_source mr_opts_source(const mr_opt *opts, size_t nopts,
                             const mr_opt *opt, int argc, char **argv);

#endif
