/* reg_peek.h - the repeat call's fields of a stored mapping. */
#ifndef REG_PEEK_H
#define REG_PEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mr_err.h"
#include "mr_util.h"

/* reg_mapping_peek is what the repeat call reads of a ProviderRecord. */
typedef struct {
    char provider_id[MR_UUID_LEN + 1]; /* oauth_provider_id, cut to fit */
    bool has_secret;                   /* client_secret is present */
    int64_t secret_expires_at;         /* client_secret_expires_at */
    int64_t invalid_client_at_ms;      /* invalid_client_at_ms */
} reg_mapping_peek;

/*
 * reg_peek_mapping reads the fields of reg_mapping_peek from a packed
 * ProviderRecord of len bytes without decoding the rest, which the repeat
 * call does not need. It returns MR_EINTERNAL when the framing is broken
 * or one of those fields has the wrong wire type. Other fields are only
 * skipped, so a record can pass here that protobuf-c would reject.
 */
mr_err reg_peek_mapping(const uint8_t *buf, size_t len, reg_mapping_peek *out);

/* The field numbers of ProviderRecord that reg_peek_mapping reads, as in
 * proto/mcpreg/v1/store.proto; registration.peek checks them against the
 * generated descriptor. */
#define REG_PEEK_FIELD_PROVIDER_ID    1
#define REG_PEEK_FIELD_CLIENT_SECRET  14
#define REG_PEEK_FIELD_SECRET_EXPIRES 17
#define REG_PEEK_FIELD_INVALID_CLIENT 22

#endif
