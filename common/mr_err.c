/* mr_err.c - tables behind the mr_err enum. */
#include <string.h>

#include "mr_err.h"

struct err_info {
    const char *code;
    int http;
    Mcpreg__V1__Code class;
    const char *detail;
};

#define MR__ERR_INFO(name, code, http, class, detail)                         \
    {code, http, MCPREG__V1__CODE__##class, detail},
static const struct err_info err_table[] = {MR_ERRORS(MR__ERR_INFO)};
#undef MR__ERR_INFO

static const struct err_info *
info(mr_err err)
{
    if ((unsigned)err >= MR_ERR_COUNT) {
        return &err_table[MR_EINTERNAL];
    }
    return &err_table[err];
}

const char *
mr_strerror(mr_err err)
{
    return info(err)->detail;
}

const char *
mr_err_code(mr_err err)
{
    return info(err)->code;
}

int
mr_err_http(mr_err err)
{
    return info(err)->http;
}

Mcpreg__V1__Code
mr_err_class(mr_err err)
{
    return info(err)->class;
}

mr_err
mr_err_from_code(const char *code)
{
    if (code == NULL) {
        return MR_EINTERNAL;
    }

    /* ENOMEM shares its code with EINTERNAL; the general one is returned. */
    for (int i = 0; i < MR_ERR_COUNT; i++) {
        if (i != MR_ENOMEM && strcmp(err_table[i].code, code) == 0) {
            return (mr_err)i;
        }
    }
    return MR_EINTERNAL;
}

int
mr_err_retryable(mr_err err)
{
    return info(err)->http == 503;
}
