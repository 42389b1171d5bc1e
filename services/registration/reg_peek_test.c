/* reg_peek_test.c - reading a mapping's fields against protobuf-c. */
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/store.pb-c.h"
#include "mr_test.h"
#include "reg_peek.h"

/* RECORD_MAX bounds the packed records built here. */
#define RECORD_MAX 2048

/* pack_record packs rec into buf and returns its length. */
static size_t
pack_record(const Mcpreg__V1__ProviderRecord *rec, uint8_t *buf)
{
    size_t len = mcpreg__v1__provider_record__get_packed_size(rec);

    MR_CHECK_INT(len, <=, RECORD_MAX);
    return mcpreg__v1__provider_record__pack(rec, buf);
}

/* check_against_decoding peeks at buf and decodes it with protobuf-c. Where
 * protobuf-c accepts the bytes, the peek must too, with the same values.
 * It returns whether protobuf-c accepted them. */
static bool
check_against_decoding(const uint8_t *buf, size_t len)
{
    Mcpreg__V1__ProviderRecord *rec;
    reg_mapping_peek peek;
    char id[MR_UUID_LEN + 1];
    mr_err err = reg_peek_mapping(buf, len, &peek);

    rec = mcpreg__v1__provider_record__unpack(NULL, len, buf);
    if (rec == NULL) {
        return false;
    }

    MR_CHECK_INT(err, ==, MR_OK);
    mr_copy(id, sizeof(id), rec->oauth_provider_id);
    MR_CHECK_STR(peek.provider_id, id);
    MR_CHECK_INT(peek.has_secret, ==, rec->client_secret != NULL);
    MR_CHECK_INT(peek.secret_expires_at, ==, rec->client_secret_expires_at);
    MR_CHECK_INT(peek.invalid_client_at_ms, ==, rec->invalid_client_at_ms);
    mcpreg__v1__provider_record__free_unpacked(rec, NULL);
    return true;
}

/* fill_record sets most fields of rec, the four read among them, with
 * secret as its client secret. */
static void
fill_record(Mcpreg__V1__ProviderRecord *rec, Mcpreg__V1__Sealed *secret)
{
    static uint8_t nonce[24] = {1, 2, 3};

    secret->key_id = 7;
    secret->nonce.data = nonce;
    secret->nonce.len = sizeof(nonce);
    rec->oauth_provider_id = "3f2a8c1e-5b7d-4e9a-8c6f-0d1e2f3a4b5c";
    rec->workspace_id = "ws-1";
    rec->mcp_server_id = "srv-1";
    rec->user_id = "user-1";
    rec->resource = "https://mcp.example/mcp";
    rec->issuer = "https://as.example";
    rec->token_endpoint = "https://as.example/token";
    rec->client_id = "client-1";
    rec->client_secret = secret;
    rec->registration_access_token = secret;
    rec->client_id_issued_at = 1700000000;
    rec->client_secret_expires_at = 1800000000;
    rec->created_at_ms = 1700000000123;
    rec->client_source = "dynamic_registration";
    rec->invalid_client_at_ms = 1700000000456;
}

/* Pins the field numbers to the generated descriptor, so that a change of
 * store.proto cannot leave them behind. */
static void
test_field_numbers_match_schema(void)
{
    const ProtobufCMessageDescriptor *d =
        &mcpreg__v1__provider_record__descriptor;
    static const struct {
        const char *name;
        unsigned id;
    } fields[] = {
        {"oauth_provider_id", REG_PEEK_FIELD_PROVIDER_ID},
        {"client_secret", REG_PEEK_FIELD_CLIENT_SECRET},
        {"client_secret_expires_at", REG_PEEK_FIELD_SECRET_EXPIRES},
        {"invalid_client_at_ms", REG_PEEK_FIELD_INVALID_CLIENT},
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, fields[i].name);

        MR_CHECK(f != NULL);
        if (f != NULL) {
            MR_CHECK_INT(f->id, ==, fields[i].id);
        }
    }
}

static void
test_records_match_decoding(void)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    Mcpreg__V1__Sealed empty = MCPREG__V1__SEALED__INIT;
    uint8_t buf[RECORD_MAX];

    /* An empty record, then a filled one, then variants of the four read. */
    MR_CHECK(check_against_decoding(buf, pack_record(&rec, buf)));

    fill_record(&rec, &secret);
    MR_CHECK(check_against_decoding(buf, pack_record(&rec, buf)));

    rec.oauth_provider_id = "an id longer than a UUID, which is cut to fit";
    rec.client_secret = &empty;
    rec.client_secret_expires_at = -1;
    rec.invalid_client_at_ms = INT64_MIN;
    MR_CHECK(check_against_decoding(buf, pack_record(&rec, buf)));

    rec.client_secret = NULL;
    rec.invalid_client_at_ms = 0;
    MR_CHECK(check_against_decoding(buf, pack_record(&rec, buf)));
}

/* Fields that the record does not define, of every wire type, are
 * skipped, and a repeated field keeps its last value. */
static void
test_unknown_and_repeated_fields(void)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    static const uint8_t extra[] = {
        0xa0, 0x06, 0x96, 0x01,                     /* field 100, varint 150 */
        0xa1, 0x06, 1,    2,    3,   4, 5, 6, 7, 8, /* field 100, fixed64 */
        0xa2, 0x06, 0x02, 'h',  'i',                /* field 100, 2 bytes */
        0xa5, 0x06, 1,    2,    3,   4,             /* field 100, fixed32 */
        0x88, 0x01, 0x05,                           /* field 17, varint 5 */
        0x0a, 0x02, 'i',  'd',                      /* field 1, "id" */
    };
    uint8_t buf[RECORD_MAX];
    size_t len;
    reg_mapping_peek peek;

    fill_record(&rec, &secret);
    len = pack_record(&rec, buf);
    memcpy(buf + len, extra, sizeof(extra));
    len += sizeof(extra);

    MR_CHECK(check_against_decoding(buf, len));
    MR_CHECK_INT(reg_peek_mapping(buf, len, &peek), ==, MR_OK);
    MR_CHECK_STR(peek.provider_id, "id");
    MR_CHECK_INT(peek.secret_expires_at, ==, 5);
}

/* Every prefix of a record either decodes, when it ends between fields,
 * or is rejected by both. */
static void
test_every_prefix_agrees(void)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    uint8_t buf[RECORD_MAX];
    size_t len;
    int decoded = 0;

    fill_record(&rec, &secret);
    len = pack_record(&rec, buf);
    for (size_t cut = 0; cut <= len; cut++) {
        reg_mapping_peek peek;
        bool accepted = check_against_decoding(buf, cut);

        decoded += accepted;
        MR_CHECK_INT(reg_peek_mapping(buf, cut, &peek) == MR_OK, ==, accepted);
    }
    /* The empty prefix, the whole record and one per field boundary. */
    MR_CHECK_INT(decoded, >=, 15);
}

/* Changed bytes never make the peek read out of bounds (AddressSanitizer
 * checks), and what protobuf-c still accepts reads the same. */
static void
test_changed_bytes_stay_in_bounds(void)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    Mcpreg__V1__Sealed secret = MCPREG__V1__SEALED__INIT;
    static const uint8_t values[] = {0x00, 0x01, 0x08, 0x7f, 0x80, 0xff};
    uint8_t buf[RECORD_MAX];
    size_t len;

    fill_record(&rec, &secret);
    len = pack_record(&rec, buf);
    for (size_t at = 0; at < len; at++) {
        uint8_t saved = buf[at];

        for (size_t v = 0; v < sizeof(values); v++) {
            uint8_t *copy = malloc(len);

            memcpy(copy, buf, len);
            copy[at] = values[v];
            check_against_decoding(copy, len);
            free(copy);
        }
        buf[at] = saved;
    }
}

static const mr_test_case cases[] = {
    {"field_numbers_match_schema", test_field_numbers_match_schema},
    {"records_match_decoding", test_records_match_decoding},
    {"unknown_and_repeated_fields", test_unknown_and_repeated_fields},
    {"every_prefix_agrees", test_every_prefix_agrees},
    {"changed_bytes_stay_in_bounds", test_changed_bytes_stay_in_bounds},
};

MR_TEST_MAIN(cases)
