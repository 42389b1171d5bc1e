/* mr_rpc_wire.c - the Request and Reply envelopes, coded by hand. */
#include <string.h>

#include "mr_rpc_internal.h"

/* Protobuf's wire types. */
#define WIRE_VARINT  0
#define WIRE_FIXED64 1
#define WIRE_LEN     2
#define WIRE_FIXED32 5

/* VARINT_MAX is the longest varint of a 64-bit value, and TAG_VARINT_MAX
 * the longest tag or length that libprotobuf-c reads. */
#define VARINT_MAX     10
#define TAG_VARINT_MAX 5

/* The fields of rpc.proto. */
#define REQUEST_METHOD     1
#define REQUEST_ID         2
#define REQUEST_TIMEOUT_MS 3
#define REQUEST_SENT_MS    5
#define REPLY_STATUS       1
#define STATUS_CODE        1
#define STATUS_ERROR       2
#define STATUS_DETAIL      3
#define STATUS_RETRY_AFTER 4

/* varint_len returns the length of value as a varint. */
static size_t
varint_len(uint64_t value)
{
    size_t n = 1;

    while (value >= 0x80) {
        value >>= 7;
        n++;
    }
    return n;
}

/* put_varint writes value as a varint at out and returns the byte after
 * it. */
static uint8_t *
put_varint(uint8_t *out, uint64_t value)
{
    while (value >= 0x80) {
        *out++ = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    *out++ = (uint8_t)value;
    return out;
}

/* The sizes and writers below follow proto3, as libprotobuf-c does: a
 * string or number field that is empty or zero is left out. Every field
 * number here is below 16, so a tag is one byte. */

static size_t
string_size(size_t len)
{
    return len > 0 ? 1 + varint_len(len) + len : 0;
}

static size_t
number_size(uint64_t value)
{
    return value > 0 ? 1 + varint_len(value) : 0;
}

static uint8_t *
put_head(uint8_t *at, uint32_t field, size_t len)
{
    *at++ = (uint8_t)(field << 3 | WIRE_LEN);
    return put_varint(at, len);
}

static uint8_t *
put_string(uint8_t *at, uint32_t field, const char *s, size_t len)
{
    if (len == 0) {
        return at;
    }
    at = put_head(at, field, len);
    memcpy(at, s, len);
    return at + len;
}

static uint8_t *
put_number(uint8_t *at, uint32_t field, uint64_t value)
{
    if (value == 0) {
        return at;
    }
    *at++ = (uint8_t)(field << 3 | WIRE_VARINT);
    return put_varint(at, value);
}

/* alloc_msg returns a new message of len bytes, or NULL without memory. */
static nng_msg *
alloc_msg(size_t len)
{
    nng_msg *msg = NULL;

    if (nng_msg_alloc(&msg, len) != 0) {
        return NULL;
    }
    return msg;
}

/* put_body writes body, body_len bytes once packed, as the bytes field
 * numbered field, which is written even when empty. */
static uint8_t *
put_body(uint8_t *at, uint32_t field, const ProtobufCMessage *body,
         size_t body_len)
{
    at = put_head(at, field, body_len);
    return at + protobuf_c_message_pack(body, at);
}

static size_t
body_size(const ProtobufCMessage *body, size_t body_len)
{
    return body != NULL ? 1 + varint_len(body_len) + body_len : 0;
}

/* alloc_request returns a new message with a Request envelope, or NULL
 * without memory. The caller writes the body field's body_len bytes at
 * *body_at. With has_body false, the envelope has no body field. */
static nng_msg *
alloc_request(const char *method, const char *request_id, uint32_t timeout_ms,
              uint64_t sent_unix_ms, bool has_body, size_t body_len,
              uint8_t **body_at)
{
    size_t method_len = strlen(method);
    size_t id_len = request_id != NULL ? strlen(request_id) : 0;
    size_t body_field = has_body ? 1 + varint_len(body_len) + body_len : 0;
    size_t len = string_size(method_len) + string_size(id_len) +
                 number_size(timeout_ms) + body_field +
                 number_size(sent_unix_ms);
    nng_msg *msg = alloc_msg(len);
    uint8_t *at;

    if (msg == NULL) {
        return NULL;
    }

    at = nng_msg_body(msg);
    at = put_string(at, REQUEST_METHOD, method, method_len);
    at = put_string(at, REQUEST_ID, request_id, id_len);
    at = put_number(at, REQUEST_TIMEOUT_MS, timeout_ms);
    if (has_body) {
        at = put_head(at, MR_RPC__REQUEST_BODY_FIELD, body_len);
    }
    *body_at = at;
    put_number(at + (has_body ? body_len : 0), REQUEST_SENT_MS, sent_unix_ms);
    return msg;
}

nng_msg *
mr_rpc__pack_request(const char *method, const char *request_id,
                     uint32_t timeout_ms, uint64_t sent_unix_ms,
                     const ProtobufCMessage *body, size_t body_len)
{
    uint8_t *at;
    nng_msg *msg = alloc_request(method, request_id, timeout_ms, sent_unix_ms,
                                 body != NULL, body_len, &at);

    if (msg != NULL && body != NULL) {
        protobuf_c_message_pack(body, at);
    }
    return msg;
}

nng_msg *
mr_rpc__pack_reply(const mr_rpc__status *status, const ProtobufCMessage *body,
                   size_t body_len)
{
    /* An enum is an int32, and a negative one a 64-bit varint. */
    uint64_t code = (uint64_t)(int64_t)status->code;
    size_t error_len = strlen(status->error);
    size_t detail_len = strlen(status->detail);
    size_t status_len = number_size(code) + string_size(error_len) +
                        string_size(detail_len) +
                        number_size(status->retry_after);
    size_t len =
        1 + varint_len(status_len) + status_len + body_size(body, body_len);
    nng_msg *msg = alloc_msg(len);
    uint8_t *at;

    if (msg == NULL) {
        return NULL;
    }

    at = put_head(nng_msg_body(msg), REPLY_STATUS, status_len);
    at = put_number(at, STATUS_CODE, code);
    at = put_string(at, STATUS_ERROR, status->error, error_len);
    at = put_string(at, STATUS_DETAIL, status->detail, detail_len);
    at = put_number(at, STATUS_RETRY_AFTER, status->retry_after);
    if (body != NULL) {
        put_body(at, MR_RPC__REPLY_BODY_FIELD, body, body_len);
    }
    return msg;
}

/* reader walks a packed message from at to end. */
typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} reader;

/* get_varint reads a varint of at most max bytes into *value and returns
 * true, or returns false on a truncated or longer one. */
static bool
get_varint(reader *in, size_t max, uint64_t *value)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < max && in->at < in->end; i++) {
        uint8_t byte = *in->at++;

        sum |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (byte < 0x80) {
            *value = sum;
            return true;
        }
    }
    return false;
}

/* get_tag reads a field's tag. Like libprotobuf-c, it takes at most five
 * bytes and rejects field 0 in its one-byte form only. */
static bool
get_tag(reader *in, uint32_t *field, unsigned *wire)
{
    uint64_t tag;

    if ((*in->at & 0xf8) == 0 || !get_varint(in, TAG_VARINT_MAX, &tag)) {
        return false;
    }
    *field = (uint32_t)(tag >> 3);
    *wire = (unsigned)(tag & 7);
    return true;
}

/* get_span reads a length-delimited value into *span. */
static bool
get_span(reader *in, mr_rpc__span *span)
{
    uint64_t len;

    if (!get_varint(in, TAG_VARINT_MAX, &len) ||
        len > (uint64_t)(in->end - in->at)) {
        return false;
    }
    span->data = in->at;
    span->len = (size_t)len;
    in->at += len;
    return true;
}

/* get_u32 reads a varint field into *value, keeping its low 32 bits as
 * libprotobuf-c does for uint32 and enum fields. */
static bool
get_u32(reader *in, unsigned wire, uint32_t *value)
{
    uint64_t wide;

    if (wire != WIRE_VARINT || !get_varint(in, VARINT_MAX, &wide)) {
        return false;
    }
    *value = (uint32_t)wide;
    return true;
}

static bool
get_string(reader *in, unsigned wire, mr_rpc__span *span)
{
    return wire == WIRE_LEN && get_span(in, span);
}

/* skip passes over the value of an unknown field. Groups (wire types 3
 * and 4) are rejected, as libprotobuf-c rejects them. */
static bool
skip(reader *in, unsigned wire)
{
    uint64_t ignored;
    mr_rpc__span span;
    size_t fixed = wire == WIRE_FIXED64 ? 8 : 4;

    switch (wire) {
    case WIRE_VARINT:
        return get_varint(in, VARINT_MAX, &ignored);
    case WIRE_LEN:
        return get_span(in, &span);
    case WIRE_FIXED64:
    case WIRE_FIXED32:
        if ((size_t)(in->end - in->at) < fixed) {
            return false;
        }
        in->at += fixed;
        return true;
    default:
        return false;
    }
}

/* EMPTY is where the spans of absent fields point, so that none is NULL. */
static const uint8_t EMPTY[1];

/* request_field reads the value of field into out. */
static bool
request_field(reader *in, uint32_t field, unsigned wire, mr_rpc__request *out)
{
    switch (field) {
    case REQUEST_METHOD:
        return get_string(in, wire, &out->method);
    case REQUEST_ID:
        return get_string(in, wire, &out->request_id);
    case REQUEST_TIMEOUT_MS:
        return get_u32(in, wire, &out->timeout_ms);
    case REQUEST_SENT_MS:
        return wire == WIRE_VARINT &&
               get_varint(in, VARINT_MAX, &out->sent_unix_ms);
    case MR_RPC__REQUEST_BODY_FIELD:
        return get_string(in, wire, &out->body);
    default:
        return skip(in, wire);
    }
}

bool
mr_rpc__unpack_request(const uint8_t *data, size_t len, mr_rpc__request *out)
{
    reader in = {data, data + len};
    uint32_t field;
    unsigned wire;

    *out = (mr_rpc__request){{EMPTY, 0}, {EMPTY, 0}, 0, {EMPTY, 0}, 0};
    while (in.at < in.end) {
        if (!get_tag(&in, &field, &wire) ||
            !request_field(&in, field, wire, out)) {
            return false;
        }
    }
    return true;
}

/* status_field reads the value of a Status field into out. */
static bool
status_field(reader *in, uint32_t field, unsigned wire, mr_rpc__reply *out)
{
    uint32_t code;

    switch (field) {
    case STATUS_CODE:
        if (!get_u32(in, wire, &code)) {
            return false;
        }
        out->code = (int32_t)code;
        return true;
    case STATUS_ERROR:
        return get_string(in, wire, &out->error);
    case STATUS_DETAIL:
        return get_string(in, wire, &out->detail);
    case STATUS_RETRY_AFTER:
        return get_u32(in, wire, &out->retry_after);
    default:
        return skip(in, wire);
    }
}

/* unpack_status reads the Status in span into out. A later Status merges
 * into an earlier one as in libprotobuf-c: its numbers replace those of
 * out, and so does each string it contains, even an empty one. */
static bool
unpack_status(mr_rpc__span span, mr_rpc__reply *out)
{
    reader in = {span.data, span.data + span.len};
    mr_rpc__reply next = {0, {EMPTY, 0}, {EMPTY, 0}, 0, {EMPTY, 0}};
    uint32_t field;
    unsigned wire;

    while (in.at < in.end) {
        if (!get_tag(&in, &field, &wire) ||
            !status_field(&in, field, wire, &next)) {
            return false;
        }
    }

    out->code = next.code;
    out->error = next.error.data != EMPTY ? next.error : out->error;
    out->detail = next.detail.data != EMPTY ? next.detail : out->detail;
    out->retry_after = next.retry_after;
    return true;
}

bool
mr_rpc__unpack_reply(const uint8_t *data, size_t len, mr_rpc__reply *out)
{
    reader in = {data, data + len};
    mr_rpc__span status;
    uint32_t field;
    unsigned wire;
    bool ok;

    *out = (mr_rpc__reply){0, {EMPTY, 0}, {EMPTY, 0}, 0, {EMPTY, 0}};
    while (in.at < in.end) {
        if (!get_tag(&in, &field, &wire)) {
            return false;
        }

        if (field == REPLY_STATUS) {
            ok = get_string(&in, wire, &status) && unpack_status(status, out);
        } else if (field == MR_RPC__REPLY_BODY_FIELD) {
            ok = get_string(&in, wire, &out->body);
        } else {
            ok = skip(&in, wire);
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The one field of Batch and BatchReply: their repeated envelopes. */
#define BATCH_PART 1

/* parts_size returns the bytes of the n parts as repeated fields. A NULL
 * part is an empty one. */
static size_t
parts_size(nng_msg *const *parts, int n)
{
    size_t len = 0;

    for (int i = 0; i < n; i++) {
        size_t part = parts[i] != NULL ? nng_msg_len(parts[i]) : 0;

        len += 1 + varint_len(part) + part;
    }
    return len;
}

/* put_parts writes the n parts as repeated fields and returns the byte
 * after them. */
static uint8_t *
put_parts(uint8_t *at, nng_msg *const *parts, int n)
{
    for (int i = 0; i < n; i++) {
        size_t part = parts[i] != NULL ? nng_msg_len(parts[i]) : 0;

        at = put_head(at, BATCH_PART, part);
        if (part > 0) {
            memcpy(at, nng_msg_body(parts[i]), part);
        }
        at += part;
    }
    return at;
}

nng_msg *
mr_rpc__pack_batch(const char *request_id, uint32_t timeout_ms,
                   uint64_t sent_unix_ms, nng_msg *const *parts, int n)
{
    uint8_t *at;
    nng_msg *msg =
        alloc_request(MR_RPC__BATCH_METHOD, request_id, timeout_ms,
                      sent_unix_ms, true, parts_size(parts, n), &at);

    if (msg != NULL) {
        put_parts(at, parts, n);
    }
    return msg;
}

nng_msg *
mr_rpc__pack_batch_reply(nng_msg *const *parts, int n)
{
    size_t body_len = parts_size(parts, n);
    size_t len = 2 + 1 + varint_len(body_len) + body_len;
    nng_msg *msg = alloc_msg(len);
    uint8_t *at;

    if (msg == NULL) {
        return NULL;
    }

    /* An empty Status: code OK. */
    at = put_head(nng_msg_body(msg), REPLY_STATUS, 0);
    at = put_head(at, MR_RPC__REPLY_BODY_FIELD, body_len);
    put_parts(at, parts, n);
    return msg;
}

int
mr_rpc__next_part(mr_rpc__span *rest, mr_rpc__span *part)
{
    reader in;
    uint32_t field;
    unsigned wire;

    /* An empty span may have no data at all. */
    if (rest->len == 0) {
        return 0;
    }
    in = (reader){rest->data, rest->data + rest->len};
    while (in.at < in.end) {
        if (!get_tag(&in, &field, &wire)) {
            return -1;
        }
        if (field == BATCH_PART) {
            if (!get_string(&in, wire, part)) {
                return -1;
            }
            rest->len = (size_t)(in.end - in.at);
            rest->data = in.at;
            return 1;
        }
        if (!skip(&in, wire)) {
            return -1;
        }
    }
    rest->data = in.at;
    rest->len = 0;
    return 0;
}
