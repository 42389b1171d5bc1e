/* gw_render.h - replies of the registration service as REST JSON. */
#ifndef GW_RENDER_H
#define GW_RENDER_H

#include <jansson.h>

#include "mcpreg/v1/registration.pb-c.h"
#include "mr_err.h"

/* GW_MASKED_VALUE replaces every header value in responses. */
#define GW_MASKED_VALUE "********"

/*
 * gw_render_server converts server into its REST object. Every header
 * value becomes GW_MASKED_VALUE, because values may contain credentials and
 * the API never returns them. *out is a new reference the caller releases
 * with json_decref. It returns MR_EINTERNAL for an enum value unknown to
 * the gateway or a string that is not valid UTF-8, and MR_ENOMEM when
 * memory runs out.
 */
mr_err gw_render_server(const Mcpreg__V1__McpServer *server, json_t **out);

/* gw_render_list converts list into a bare JSON array of servers, each as
 * gw_render_server converts it, with the same errors and ownership. */
mr_err gw_render_list(const Mcpreg__V1__ListMcpServersResponse *list,
                      json_t **out);

/* gw_render_register writes reply as the compact JSON text
 * {"oauth_provider_id":"..."} into *body, a string the caller frees. It
 * returns MR_ENOMEM or MR_EINTERNAL without memory. */
mr_err
gw_render_register(const Mcpreg__V1__RegisterOAuthProviderResponse *reply,
                   char **body);

/*
 * gw_render_client_metadata returns the client ID metadata document of
 * mcpreg for public_base_url, or NULL without memory. Its client_id is the
 * document's own URL and its redirect URI the OAuth callback, as the
 * discovery worker registers them. The caller frees the string.
 */
char *gw_render_client_metadata(const char *public_base_url);

#endif
