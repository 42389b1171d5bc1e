/* reg_servers_seal.c - sealing and opening the headers of MCP server
 * records, whose values are often credentials for the MCP server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mr_log.h"
#include "reg_servers.h"

/* Builds the associated data of a server's sealed headers: the store key
 * of its record, so that sealed headers cannot be moved to another
 * record. */
static mr_err
build_ad(const Mcpreg__V1__McpServer *server, reg_key *ad)
{
    return reg_key_build(ad, REG_T_SRV, server->workspace_id, server->id,
                         NULL);
}

mr_err
reg_servers_seal(const reg_seal *seal, const Mcpreg__V1__McpServer *server,
                 reg_sealed_server *out)
{
    Mcpreg__V1__McpServerRecord__Headers plain =
        MCPREG__V1__MCP_SERVER_RECORD__HEADERS__INIT;
    uint8_t *packed = NULL;
    size_t len = 0;
    reg_key ad;
    mr_err err;

    mcpreg__v1__mcp_server_record__init(&out->rec);
    mcpreg__v1__sealed__init(&out->sealed);
    out->server = *server;
    out->server.n_headers = 0;
    out->server.headers = NULL;
    out->rec.server = &out->server;
    if (server->n_headers == 0) {
        return MR_OK;
    }

    plain.n_headers = server->n_headers;
    plain.headers = server->headers;
    len = protobuf_c_message_get_packed_size(&plain.base);
    packed = malloc(len);
    err = packed ? build_ad(server, &ad) : MR_ENOMEM;
    if (err == MR_OK) {
        protobuf_c_message_pack(&plain.base, packed);
        err =
            reg_seal_encrypt(seal, packed, len, ad.text, ad.len, &out->sealed);
    }
    if (err == MR_OK) {
        out->rec.sealed_headers = &out->sealed;
    }

    if (packed != NULL) {
        sodium_memzero(packed, len);
        free(packed);
    }
    return err;
}

void
reg_sealed_server_clear(reg_sealed_server *s)
{
    reg_seal_clear(&s->sealed);
    s->rec.sealed_headers = NULL;
}

/* Decrypts and decodes the sealed headers of rec into *out, which the
 * caller frees with protobuf_c_message_free_unpacked. */
static mr_err
decrypt_headers(const reg_seal *seal, const Mcpreg__V1__McpServerRecord *rec,
                Mcpreg__V1__McpServerRecord__Headers **out, char *detail,
                size_t detail_len)
{
    const Mcpreg__V1__McpServer *server = rec->server;
    char *plain = NULL;
    size_t len = 0;
    char why[256];
    reg_key ad;
    mr_err err = build_ad(server, &ad);

    if (err == MR_OK) {
        err = reg_seal_decrypt(seal, rec->sealed_headers, ad.text, ad.len,
                               &plain, &len);
    }
    if (err == MR_EINTERNAL) {
        reg_seal_explain(seal, rec->sealed_headers, why, sizeof(why));
        MR_ERROR("reg.servers.headers_undecryptable", NULL,
                 "cannot decrypt the headers of MCP server %s in workspace "
                 "%s: %s",
                 server->id, server->workspace_id, why);
        snprintf(detail, detail_len,
                 "Send the headers of MCP server %s again with PATCH, or "
                 "report the request id: the stored headers do not decrypt "
                 "with the service's secret key",
                 server->id);
    }
    if (err != MR_OK) {
        return err;
    }

    /* protobuf-c generates no unpack function for a nested message. */
    *out = (Mcpreg__V1__McpServerRecord__Headers *)protobuf_c_message_unpack(
        &mcpreg__v1__mcp_server_record__headers__descriptor, NULL, len,
        (const uint8_t *)plain);
    reg_seal_free(plain, len);
    if (*out == NULL) {
        MR_ERROR("reg.servers.headers_undecodable", NULL,
                 "the decrypted headers of MCP server %s in workspace %s do "
                 "not decode",
                 server->id, server->workspace_id);
        return MR_EINTERNAL;
    }
    return MR_OK;
}

mr_err
reg_servers_open_headers(const reg_seal *seal,
                         Mcpreg__V1__McpServerRecord *rec, char *detail,
                         size_t detail_len)
{
    Mcpreg__V1__McpServerRecord__Headers *opened = NULL;
    Mcpreg__V1__McpServer *server = rec->server;
    mr_err err;

    if (rec->sealed_headers == NULL) {
        return MR_OK;
    }
    if (server->n_headers > 0) {
        MR_ERROR("reg.servers.headers_mixed", NULL,
                 "the record of MCP server %s in workspace %s has both "
                 "plaintext and sealed headers",
                 server->id, server->workspace_id);
        return MR_EINTERNAL;
    }

    err = decrypt_headers(seal, rec, &opened, detail, detail_len);
    if (err != MR_OK) {
        return err;
    }

    /* The headers move from opened to server. Both were unpacked with the
     * default allocator, so freeing rec later frees them. */
    server->n_headers = opened->n_headers;
    server->headers = opened->headers;
    opened->n_headers = 0;
    opened->headers = NULL;
    protobuf_c_message_free_unpacked(&opened->base, NULL);
    mcpreg__v1__sealed__free_unpacked(rec->sealed_headers, NULL);
    rec->sealed_headers = NULL;
    return MR_OK;
}
