/* reg_peek.c - the repeat call's fields of a stored mapping. */
#include <string.h>

#include "reg_peek.h"

/* Protobuf's wire types. Groups (3 and 4) are not used by mcpreg. */
enum {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LEN = 2,
    WIRE_FIXED32 = 5,
};

/* VARINT_MAX is the longest varint of a 64-bit value. */
#define VARINT_MAX 10

/* get_varint reads a varint at *at into *value and moves *at past it. It
 * returns false when the varint runs past end or over VARINT_MAX bytes. */
static bool
get_varint(const uint8_t **at, const uint8_t *end, uint64_t *value)
{
    uint64_t result = 0;

    for (int i = 0; i < VARINT_MAX && *at < end; i++) {
        uint8_t byte = *(*at)++;

        result |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            *value = result;
            return true;
        }
    }
    return false;
}

/* skip moves *at past n bytes, or returns false when fewer are left. */
static bool
skip(const uint8_t **at, const uint8_t *end, uint64_t n)
{
    if (n > (uint64_t)(end - *at)) {
        return false;
    }
    *at += n;
    return true;
}

/* copy_id copies the string of n bytes at at into out, up to its first
 * NUL and cut to MR_UUID_LEN bytes, as mr_copy does with a decoded one. */
static void
copy_id(reg_mapping_peek *out, const uint8_t *at, uint64_t n)
{
    size_t len = n < MR_UUID_LEN ? (size_t)n : MR_UUID_LEN;
    const uint8_t *nul = memchr(at, '\0', len);

    if (nul != NULL) {
        len = (size_t)(nul - at);
    }
    memcpy(out->provider_id, at, len);
    out->provider_id[len] = '\0';
}

/* read_len handles a length-delimited field of number field whose payload
 * of n bytes starts at *at, and moves *at past it. */
static bool
read_len(reg_mapping_peek *out, uint32_t field, const uint8_t **at,
         const uint8_t *end, uint64_t n)
{
    const uint8_t *start = *at;

    if (!skip(at, end, n)) {
        return false;
    }
    if (field == REG_PEEK_FIELD_PROVIDER_ID) {
        copy_id(out, start, n);
    } else if (field == REG_PEEK_FIELD_CLIENT_SECRET) {
        out->has_secret = true;
    }
    return true;
}

/* read_varint stores the varint value of field when it is one of the
 * int64 fields read. */
static void
read_varint(reg_mapping_peek *out, uint32_t field, uint64_t value)
{
    if (field == REG_PEEK_FIELD_SECRET_EXPIRES) {
        out->secret_expires_at = (int64_t)value;
    } else if (field == REG_PEEK_FIELD_INVALID_CLIENT) {
        out->invalid_client_at_ms = (int64_t)value;
    }
}

/* wire_fits returns whether a field of number field may have wire type
 * wire: the fields read must have the type that the schema gives them. */
static bool
wire_fits(uint32_t field, int wire)
{
    switch (field) {
    case REG_PEEK_FIELD_PROVIDER_ID:
    case REG_PEEK_FIELD_CLIENT_SECRET:
        return wire == WIRE_LEN;
    case REG_PEEK_FIELD_SECRET_EXPIRES:
    case REG_PEEK_FIELD_INVALID_CLIENT:
        return wire == WIRE_VARINT;
    default:
        return true;
    }
}

/* read_field reads one field at *at and moves *at past it, or returns
 * false when its framing is broken. */
static bool
read_field(reg_mapping_peek *out, const uint8_t **at, const uint8_t *end)
{
    uint64_t tag;
    uint64_t value;
    uint32_t field;
    int wire;

    /* protobuf-c skips field number 0 as an unknown field, so this does
     * too. */
    if (!get_varint(at, end, &tag) || tag >> 3 > UINT32_MAX) {
        return false;
    }
    field = (uint32_t)(tag >> 3);
    wire = (int)(tag & 7);
    if (!wire_fits(field, wire)) {
        return false;
    }

    switch (wire) {
    case WIRE_VARINT:
        if (!get_varint(at, end, &value)) {
            return false;
        }
        read_varint(out, field, value);
        return true;
    case WIRE_FIXED64:
        return skip(at, end, 8);
    case WIRE_FIXED32:
        return skip(at, end, 4);
    case WIRE_LEN:
        return get_varint(at, end, &value) &&
               read_len(out, field, at, end, value);
    default:
        return false;
    }
}

mr_err
reg_peek_mapping(const uint8_t *buf, size_t len, reg_mapping_peek *out)
{
    const uint8_t *at = buf;
    const uint8_t *end = buf + len;

    memset(out, 0, sizeof(*out));
    while (at < end) {
        if (!read_field(out, &at, end)) {
            return MR_EINTERNAL;
        }
    }
    return MR_OK;
}
