/*
 * gen_store.c - fills a registration store for benchmarks, through the
 * service's own store code so the records are real.
 *
 *   gen_store DIR WORKSPACES SERVERS_PER_WORKSPACE USERS_PER_WORKSPACE
 *
 * Each user gets a personal API key "mcpreg_bench_<w>_<u>" and a provider
 * mapping for every server of the workspace, so the store contains
 * WORKSPACES * USERS keys and WORKSPACES * SERVERS * USERS mappings. It
 * prints one JSON line naming the first workspace's first server and key,
 * which bench/run calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mcpreg/v1/store.pb-c.h"
#include "mr_util.h"
#include "reg_store.h"

/* BATCH_RECORDS is how many records go into one synced write batch. */
#define BATCH_RECORDS 20000

typedef struct {
    reg_store *store;
    reg_batch *batch;
    int pending;
} writer;

/* Ids are derived from the indices, so every run builds the same store. */
static void
make_id(char out[MR_UUID_LEN + 1], unsigned kind, unsigned a, unsigned b)
{
    snprintf(out, MR_UUID_LEN + 1, "%08x-%04x-4%03x-8000-%012x", a, kind,
             b & 0xfff, b);
}

static int
flush(writer *w)
{
    mr_err err = MR_OK;

    if (w->pending > 0) {
        err = reg_store_write(w->store, w->batch);
        reg_batch_free(w->batch);
        w->batch = reg_batch_new();
        w->pending = 0;
    }
    if (err != MR_OK) {
        fprintf(stderr, "gen_store: write failed: %s\n", mr_strerror(err));
        return -1;
    }
    return 0;
}

static int
put(writer *w, const reg_key *key, const ProtobufCMessage *msg)
{
    if (reg_batch_put_msg(w->batch, key, msg) != MR_OK) {
        return -1;
    }
    w->pending++;
    return w->pending >= BATCH_RECORDS ? flush(w) : 0;
}

static int
add_key(writer *w, const char *ws, unsigned wi, unsigned ui)
{
    Mcpreg__V1__ApiKeyRecord rec = MCPREG__V1__API_KEY_RECORD__INIT;
    Mcpreg__V1__ApiKey info = MCPREG__V1__API_KEY__INIT;
    char text[64], user[32], key_id[MR_UUID_LEN + 1];
    char hex[2 * MR_SHA256_LEN + 1];
    uint8_t hash[MR_SHA256_LEN];
    reg_key key;

    snprintf(text, sizeof(text), "mcpreg_bench_%u_%u", wi, ui);
    snprintf(user, sizeof(user), "user-%u", ui);
    make_id(key_id, 0xa, wi, ui);
    mr_sha256(text, strlen(text), hash);
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));

    info.key_id = key_id;
    info.workspace_id = (char *)ws;
    info.user_id = user;
    info.name = "bench";
    info.created_at_ms = 1;
    rec.info = &info;
    rec.key_sha256.data = hash;
    rec.key_sha256.len = sizeof(hash);
    reg_key_build(&key, REG_T_KEY, hex, NULL);
    return put(w, &key, &rec.base);
}

static int
add_server(writer *w, const char *ws, const char *id)
{
    Mcpreg__V1__McpServerRecord rec = MCPREG__V1__MCP_SERVER_RECORD__INIT;
    Mcpreg__V1__McpServer server = MCPREG__V1__MCP_SERVER__INIT;
    reg_key key;

    server.id = (char *)id;
    server.workspace_id = (char *)ws;
    server.name = (char *)id;
    server.url = "https://mcp.example.com/mcp";
    server.auth_type = MCPREG__V1__AUTH_TYPE__AUTH_TYPE_OAUTH;
    server.oauth_mode =
        MCPREG__V1__OAUTH_MODE__OAUTH_MODE_PER_USER_DYNAMIC_CLIENT;
    server.created_at_ms = 1;
    server.updated_at_ms = 1;
    rec.server = &server;
    reg_key_build(&key, REG_T_SRV, ws, id, NULL);
    return put(w, &key, &rec.base);
}

static int
add_mapping(writer *w, const char *ws, const char *server, unsigned wi,
            unsigned si, unsigned ui)
{
    Mcpreg__V1__ProviderRecord rec = MCPREG__V1__PROVIDER_RECORD__INIT;
    char provider[MR_UUID_LEN + 1], user[32];
    reg_key key;

    snprintf(user, sizeof(user), "user-%u", ui);
    make_id(provider, 0xc, wi, si * 65536 + ui);
    rec.oauth_provider_id = provider;
    rec.workspace_id = (char *)ws;
    rec.mcp_server_id = (char *)server;
    rec.user_id = user;
    rec.issuer = "https://auth.example.com";
    rec.client_id = provider;
    rec.created_at_ms = 1;
    reg_key_build(&key, REG_T_PROV, ws, server, user, NULL);
    return put(w, &key, &rec.base);
}

static int
fill(writer *w, unsigned workspaces, unsigned servers, unsigned users)
{
    char ws[MR_UUID_LEN + 1], server[MR_UUID_LEN + 1];

    for (unsigned wi = 0; wi < workspaces; wi++) {
        make_id(ws, 0xe, wi, 0);
        for (unsigned si = 0; si < servers; si++) {
            make_id(server, 0xb, wi, si);
            if (add_server(w, ws, server) != 0) {
                return -1;
            }
            for (unsigned ui = 0; ui < users; ui++) {
                if (add_mapping(w, ws, server, wi, si, ui) != 0) {
                    return -1;
                }
            }
        }
        for (unsigned ui = 0; ui < users; ui++) {
            if (add_key(w, ws, wi, ui) != 0) {
                return -1;
            }
        }
    }
    return flush(w);
}

int
main(int argc, char **argv)
{
    writer w = {0};
    char server[MR_UUID_LEN + 1];
    char why[512];
    int rc;

    if (argc != 5) {
        fprintf(stderr, "usage: gen_store DIR WORKSPACES SERVERS USERS\n");
        return 2;
    }
    mr_util_init();
    if (reg_store_open(&w.store, argv[1], 64, why, sizeof(why)) != MR_OK) {
        fprintf(stderr, "gen_store: %s\n", why);
        return 1;
    }
    w.batch = reg_batch_new();

    rc = fill(&w, (unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
              (unsigned)atoi(argv[4]));
    reg_batch_free(w.batch);
    reg_store_close(w.store);

    make_id(server, 0xb, 0, 0);
    printf("{\"server_id\":\"%s\",\"api_key\":\"mcpreg_bench_0_0\"}\n",
           server);
    return rc == 0 ? 0 : 1;
}
