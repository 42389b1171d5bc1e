/* disc_meta.h - parsing and validation of the documents that discovery
 * fetches (RFC 9728, RFC 8414, RFC 7591) and the registration request. */
#ifndef DISC_META_H
#define DISC_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "disc_url.h"
#include "mr_err.h"

/* DISC_DETAIL_MAX is the size of the buffers that receive error details. */
#define DISC_DETAIL_MAX 512

/* disc_prm is the part of RFC 9728 protected resource metadata that
 * discovery uses. */
typedef struct {
    char *resource; /* byte for byte as the document has it */
    char **authorization_servers;
    size_t nauthorization_servers; /* at least 1 */
    char *scopes; /* scopes_supported joined by spaces; NULL when absent */
} disc_prm;

/* disc_auth_methods is the set of token endpoint client authentication
 * methods that discovery can use, as bits. */
typedef enum {
    DISC_AUTH_SECRET_BASIC = 1 << 0,
    DISC_AUTH_SECRET_POST = 1 << 1,
    DISC_AUTH_NONE = 1 << 2,
} disc_auth_methods;

/* disc_asm is the part of RFC 8414 authorization server metadata that
 * discovery uses, after validation. */
typedef struct {
    char *issuer;
    char *authorization_endpoint;
    char *token_endpoint;
    char *registration_endpoint; /* NULL when absent */
    char *revocation_endpoint;   /* NULL when absent or not a valid URL */
    unsigned auth_methods;       /* disc_auth_methods listed as supported */
    bool client_id_metadata_document_supported;
} disc_asm;

/* disc_client is the client that dynamic registration returned. */
typedef struct {
    char *client_id;
    char *client_secret; /* NULL when none was issued */
    char *token_endpoint_auth_method;
    int64_t client_id_issued_at;      /* 0 when absent */
    int64_t client_secret_expires_at; /* 0 when absent or never */
    char *registration_access_token;  /* NULL when absent */
    char *registration_client_uri;    /* NULL when absent */
} disc_client;

/*
 * disc_prm_parse parses a protected resource metadata document: a JSON
 * object with a string `resource`, a non-empty array of strings
 * `authorization_servers` and, when present and not null, an array of
 * scope tokens `scopes_supported`. Anything else returns
 * MR_ENO_RESOURCE_METADATA with the reason in why, and the caller then
 * tries the next URL. Free *out with disc_prm_free.
 */
mr_err disc_prm_parse(const char *body, size_t len, disc_prm *out, char *why,
                      size_t whylen);

/*
 * disc_prm_check_resource checks that prm->resource is an absolute URL on
 * the origin of mcp_url whose path contains mcp_url's path, as
 * disc_url_path_within defines. It returns MR_ERESOURCE_MISMATCH with the
 * reason in why when not.
 */
mr_err disc_prm_check_resource(const disc_prm *prm, const disc_url *mcp_url,
                               char *why, size_t whylen);

/* disc_prm_free frees the members of prm and zeroes it. */
void disc_prm_free(disc_prm *prm);

/*
 * disc_asm_parse parses and validates an authorization server metadata
 * document fetched from a URL built from issuer. It sets *is_document
 * when the body is a JSON object with a string `issuer`. Otherwise it
 * returns MR_EAS_METADATA and the caller tries the next URL. A document is
 * then checked, and a failed check returns:
 * MR_EISSUER_MISMATCH when its issuer is not issuer (a trailing "/" on an
 * empty path is the only difference allowed), MR_EPKCE when
 * code_challenge_methods_supported does not list "S256", MR_EAS_METADATA
 * when authorization_endpoint or token_endpoint is missing or not an
 * absolute URL, MR_EBLOCKED_ADDRESS when an endpoint uses http on a host
 * not on allow. The reason goes to why. Free *out with disc_asm_free.
 */
mr_err disc_asm_parse(const char *body, size_t len, const char *issuer,
                      const mr_allow_list *allow, disc_asm *out,
                      bool *is_document, char *why, size_t whylen);

/*
 * disc_issuer_equal returns whether two issuer identifiers are the same.
 * The only difference allowed is a trailing "/" that makes an empty path
 * "/", as in "https://as.example" and "https://as.example/".
 */
bool disc_issuer_equal(const char *a, const char *b);

/*
 * disc_asm_default fills *out for an issuer without metadata, as the MCP
 * specification of 2025-03-26 defines it: origin/authorize, origin/token and
 * origin/register, with client_secret_basic as the only method listed.
 * It returns MR_ENOMEM when memory runs out. Free *out with disc_asm_free.
 */
mr_err disc_asm_default(const char *origin, disc_asm *out);

/* disc_asm_free frees the members of meta and zeroes it. */
void disc_asm_free(disc_asm *meta);

/*
 * disc_choose_auth_method returns the token endpoint auth method to
 * register among those meta lists, preferring client_secret_basic, then
 * client_secret_post, then none; NULL when none of them is listed.
 */
const char *disc_choose_auth_method(const disc_asm *meta);

/*
 * disc_dcr_body returns the RFC 7591 registration request as compact JSON:
 * redirect_uris [redirect_uri], the authorization_code and refresh_token
 * grant types, response type code, client_name "mcpreg", application_type
 * "web", token_endpoint_auth_method auth_method and, when scope is not
 * NULL, scope. The caller frees it; NULL when memory runs out.
 */
char *disc_dcr_body(const char *redirect_uri, const char *auth_method,
                    const char *scope);

/*
 * disc_dcr_parse_client parses a 2xx registration response. It requires a
 * non-empty string client_id, treats "" and null members as absent, and
 * takes token_endpoint_auth_method from the response (requested_method
 * when the response has none). It returns MR_EREGISTRATION_INVALID, with
 * the reason in why, for any of these: a body that is not a JSON object;
 * a method other than client_secret_basic, client_secret_post or none; a
 * negative or non-integer timestamp; a registration_client_uri that
 * disc_url_check rejects. A secret method without client_secret returns
 * MR_EREGISTRATION_NO_SECRET. Free *out with disc_client_free.
 */
mr_err disc_dcr_parse_client(const char *body, size_t len,
                             const char *requested_method,
                             const mr_allow_list *allow, disc_client *out,
                             char *why, size_t whylen);

/*
 * disc_dcr_keeps_redirect_uri returns whether the registration response
 * body, already accepted by disc_dcr_parse_client, still registers
 * redirect_uri: true when it lists it in redirect_uris, or when that
 * member is absent or null. RFC 7591 section 3.2.1 lets the server replace the
 * values it was sent, and one that drops mcpreg's callback would reject every
 * authorization request of the client.
 */
bool disc_dcr_keeps_redirect_uri(const char *body, size_t len,
                                 const char *redirect_uri);

/*
 * disc_dcr_parse_error writes the `error` and `error_description` of an
 * RFC 7591 error response into out as "error: description", sanitised by
 * mr_sanitize. It writes "" when the body is not such a response.
 */
void disc_dcr_parse_error(const char *body, size_t len, char *out,
                          size_t outlen);

/*
 * disc_dcr_rejects_method returns whether an RFC 7591 error response
 * rejects the requested token endpoint auth method: its error is
 * invalid_client_metadata and its error_description names method or the
 * member token_endpoint_auth_method. RFC 7591 has no error code of its
 * own for this, so the description is the only place a server names it.
 */
bool disc_dcr_rejects_method(const char *body, size_t len, const char *method);

/* disc_client_free frees the members of client and zeroes it. */
void disc_client_free(disc_client *client);

/*
 * disc_scope_valid returns whether text is a non-empty list of RFC 6749
 * scope tokens separated by single spaces.
 */
bool disc_scope_valid(const char *text);

/*
 * disc_media_type_is_json returns whether a Content-Type value names JSON:
 * application/json or application/SUBTYPE+json (RFC 6839), compared
 * without regard to ASCII case, with or without parameters such as
 * "; charset=utf-8". NULL, "" and every other type return false, so a
 * single-page app's "200 text/html" never counts as a document.
 */
bool disc_media_type_is_json(const char *content_type);

/* ---- helpers that disc_meta.c and disc_dcr.c share ---- */

/*
 * disc_json_object parses body with mr_json_parse and requires a JSON
 * object. On success *out is a new reference that the caller releases
 * with json_decref; otherwise it returns MR_EINVALID_BODY with the reason
 * in why.
 */
mr_err disc_json_object(const char *body, size_t len, json_t **out, char *why,
                        size_t whylen);

/*
 * disc_json_string points *out at the string member name of doc, or sets
 * it to NULL when the member is absent, null or "". It returns
 * MR_EINVALID_FIELD when the member has another type. *out is owned by
 * doc.
 */
mr_err disc_json_string(const json_t *doc, const char *name, const char **out);

/* disc_strdup_or_null stores a copy of text in *out, or NULL when text is
 * NULL. It returns MR_ENOMEM when memory runs out. */
mr_err disc_strdup_or_null(const char *text, char **out);

#endif
