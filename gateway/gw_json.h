/* gw_json.h - validation of REST JSON bodies into protobuf requests. */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mr_err.h"
#include "mr_util.h"

/* Limits of request fields, in bytes of UTF-8. */
#define GW_NAME_MAX         200
#define GW_URL_MAX          2048
#define GW_HEADERS_MAX      64 /* entries of `headers` */
#define GW_HEADER_KEY_MAX   256
#define GW_HEADER_VALUE_MAX 8192
#define GW_TEXT_ID_MAX      256 /* vendor_id, external_system_id, ls_user_id */

/*
 * gw_json_buffers is the memory that a converted request message points
 * into, besides the strings of the JSON body it was converted from.
 */
typedef struct {
    Mcpreg__V1__Header **headers; /* one allocation: pointers, then structs */
    char oauth_provider_id[MR_UUID_LEN + 1]; /* lower-case form */
} gw_json_buffers;

/* gw_json_buffers_free frees the memory of buffers and empties it. It
 * accepts a zeroed struct. */
void gw_json_buffers_free(gw_json_buffers *buffers);

/*
 * gw_json_parse_body parses len bytes of buf as a request body that must be
 * one JSON object, with mr_json_parse's strict rules. On success *out is a
 * new reference the caller releases with json_decref. On failure it returns
 * MR_EINVALID_BODY and writes a detail for the client into detail.
 */
mr_err gw_json_parse_body(const char *buf, size_t len, json_t **out,
                          char *detail, size_t detail_size);

/*
 * gw_json_to_create checks body, the object of POST /mcp-servers, and
 * fills the fields of req except caller. The strings of req point into
 * body and buffers, which must outlive req. On failure it returns
 * MR_EMISSING_FIELD, MR_EINVALID_FIELD or MR_EUNKNOWN_FIELD with a detail
 * naming the field, and buffers is left empty.
 */
mr_err gw_json_to_create(const json_t *body,
                         Mcpreg__V1__CreateMcpServerRequest *req,
                         gw_json_buffers *buffers, char *detail,
                         size_t detail_size);

/*
 * gw_json_to_update checks body, the object of PATCH /mcp-servers/{id},
 * which may contain url, headers, auth_type, oauth_mode and
 * oauth_provider_id. It fills those present in req and sets their has_*
 * flags. It leaves id and caller alone. Ownership and errors are those of
 * gw_json_to_create.
 */
mr_err gw_json_to_update(const json_t *body,
                         Mcpreg__V1__UpdateMcpServerRequest *req,
                         gw_json_buffers *buffers, char *detail,
                         size_t detail_size);

/*
 * gw_json_to_register checks body, the optional object of POST
 * /mcp-servers/{id}/oauth-provider (NULL when the request had no body),
 * and fills req->ls_user_id, which points into body. Errors are those of
 * gw_json_to_create.
 */
mr_err gw_json_to_register(const json_t *body,
                           Mcpreg__V1__RegisterOAuthProviderRequest *req,
                           char *detail, size_t detail_size);

#endif
