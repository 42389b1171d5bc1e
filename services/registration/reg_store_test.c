/* reg_store_test.c - unit tests of the RocksDB store and key builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcpreg/v1/store.pb-c.h"
#include "mr_test.h"
#include "reg_store.h"
#include "reg_test_dir.h"

static void
key_build_joins_parts(void)
{
    reg_key key;

    MR_CHECK_INT(reg_key_build(&key, "prov", "ws", "srv", "user/x", NULL), ==,
                 MR_OK);
    MR_CHECK_STR(key.text, "prov/ws/srv/user/x");
    MR_CHECK_INT(key.len, ==, strlen("prov/ws/srv/user/x"));

    MR_CHECK_INT(reg_key_build(&key, "srv", "ws", "", NULL), ==, MR_OK);
    MR_CHECK_STR(key.text, "srv/ws/");
}

static void
key_build_rejects_overflow(void)
{
    char long_part[REG_KEY_MAX];
    reg_key key;

    memset(long_part, 'a', sizeof(long_part) - 1);
    long_part[sizeof(long_part) - 1] = '\0';
    MR_CHECK_INT(reg_key_build(&key, "srvname", "ws", long_part, NULL), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK_INT(key.len, ==, 0);
    MR_CHECK_STR(key.text, "");
}

static void
put(reg_store *store, const char *key_text, const char *value)
{
    reg_batch *batch = reg_batch_new();
    reg_key key;

    reg_key_set(&key, key_text, strlen(key_text));
    reg_batch_put(batch, &key, value, strlen(value));
    MR_CHECK_INT(reg_store_write(store, batch), ==, MR_OK);
    reg_batch_free(batch);
}

/* Returns the value of key_text as a new string, or NULL when absent. */
static char *
get(reg_store *store, const char *key_text)
{
    reg_key key;
    char *value = NULL;
    char *copy = NULL;
    size_t len = 0;

    reg_key_set(&key, key_text, strlen(key_text));
    MR_CHECK_INT(reg_store_get(store, &key, &value, &len), ==, MR_OK);
    if (value != NULL) {
        copy = strndup(value, len);
    }
    reg_store_free(value);
    return copy;
}

static void
store_put_get_delete(void)
{
    char dir[256];
    char why[512] = "";
    reg_store *store = NULL;
    reg_batch *batch;
    reg_key key;
    char *value;

    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);

    put(store, "srv/ws/1", "one");
    value = get(store, "srv/ws/1");
    MR_CHECK_STR(value, "one");
    free(value);
    value = get(store, "srv/ws/2");
    MR_CHECK(value == NULL);

    batch = reg_batch_new();
    reg_key_set(&key, "srv/ws/1", 8);
    reg_batch_delete(batch, &key);
    reg_key_set(&key, "srv/ws/2", 8);
    reg_batch_put(batch, &key, "two", 3);
    MR_CHECK_INT(reg_store_write(store, batch), ==, MR_OK);
    reg_batch_free(batch);

    value = get(store, "srv/ws/1");
    MR_CHECK(value == NULL);
    value = get(store, "srv/ws/2");
    MR_CHECK_STR(value, "two");
    free(value);

    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static mr_err
collect(void *arg, const char *key, size_t keylen, const char *value,
        size_t len)
{
    char *seen = arg;
    size_t used = strlen(seen);

    (void)value;
    (void)len;
    snprintf(seen + used, 512 - used, "%.*s;", (int)keylen, key);
    return MR_OK;
}

static void
store_scan_stays_in_prefix(void)
{
    char dir[256];
    char why[512] = "";
    char seen[512] = "";
    reg_store *store = NULL;
    reg_key prefix;

    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    put(store, "srv/a", "x");
    put(store, "srv/a/2", "x");
    put(store, "srv/a/1", "x");
    put(store, "srv/a0/1", "x");
    put(store, "srv/ab/1", "x");
    put(store, "srvname/a/1", "x");

    reg_key_build(&prefix, "srv", "a", "", NULL);
    MR_CHECK_INT(reg_store_scan(store, &prefix, collect, seen), ==, MR_OK);
    MR_CHECK_STR(seen, "srv/a/1;srv/a/2;");

    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static mr_err
stop_at_first(void *arg, const char *key, size_t keylen, const char *value,
              size_t len)
{
    int *count = arg;

    (void)key;
    (void)keylen;
    (void)value;
    (void)len;
    (*count)++;
    return MR_EBUSY;
}

static void
store_scan_stops_on_error(void)
{
    char dir[256];
    char why[512] = "";
    reg_store *store = NULL;
    reg_key prefix;
    int count = 0;

    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    put(store, "wskey/w/1", "");
    put(store, "wskey/w/2", "");

    reg_key_build(&prefix, "wskey", "w", "", NULL);
    MR_CHECK_INT(reg_store_scan(store, &prefix, stop_at_first, &count), ==,
                 MR_EBUSY);
    MR_CHECK_INT(count, ==, 1);

    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static void
store_survives_reopen(void)
{
    char dir[256];
    char why[512] = "";
    reg_store *store = NULL;
    char *value;

    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    put(store, "keyid/k", "hash");
    reg_store_close(store);

    store = NULL;
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    value = get(store, "keyid/k");
    MR_CHECK_STR(value, "hash");
    free(value);

    reg_store_close(store);
    reg_test_dir_remove(dir);
}

/* A record read from a table file, and so kept in the row cache, is read
 * anew once it is rewritten or deleted. */
static void
store_reads_past_row_cache(void)
{
    char dir[256];
    char why[512] = "";
    reg_store *store = NULL;
    reg_batch *batch = reg_batch_new();
    reg_key key;
    char *value;

    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    put(store, "prov/w/s/u", "first");
    reg_store_close(store); /* flushes the record into a table file */

    store = NULL;
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    for (int i = 0; i < 2; i++) {
        value = get(store, "prov/w/s/u");
        MR_CHECK_STR(value, "first");
        free(value);
    }

    put(store, "prov/w/s/u", "second");
    value = get(store, "prov/w/s/u");
    MR_CHECK_STR(value, "second");
    free(value);

    reg_key_set(&key, "prov/w/s/u", strlen("prov/w/s/u"));
    reg_batch_delete(batch, &key);
    MR_CHECK_INT(reg_store_write(store, batch), ==, MR_OK);
    MR_CHECK(get(store, "prov/w/s/u") == NULL);

    reg_batch_free(batch);
    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static void
store_open_creates_parents(void)
{
    char dir[256];
    char nested[512];
    char why[512] = "";
    reg_store *store = NULL;

    reg_test_dir_make(dir);
    snprintf(nested, sizeof(nested), "%s/a/b/data", dir);
    MR_CHECK_INT(reg_store_open(&store, nested, 8, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK(store != NULL);

    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static void
store_open_failure_names_folder(void)
{
    char dir[256];
    char file[300];
    char bad[400];
    char why[1024] = "";
    reg_store *store = NULL;
    FILE *f;

    reg_test_dir_make(dir);
    snprintf(file, sizeof(file), "%s/plain-file", dir);
    f = fopen(file, "w");
    fclose(f);
    snprintf(bad, sizeof(bad), "%s/data", file);

    MR_CHECK_INT(reg_store_open(&store, bad, 8, why, sizeof(why)), ==,
                 MR_EINTERNAL);
    MR_CHECK(store == NULL);
    MR_CHECK(strstr(why, bad) != NULL);

    /* A folder that exists as a file reaches RocksDB, whose error is kept. */
    MR_CHECK_INT(reg_store_open(&store, file, 8, why, sizeof(why)), ==,
                 MR_EINTERNAL);
    MR_CHECK(strstr(why, file) != NULL);
    MR_CHECK(strstr(why, "RocksDB") != NULL);

    reg_test_dir_remove(dir);
}

static void
store_get_msg_decodes_and_rejects(void)
{
    Mcpreg__V1__ApiKeyRecord rec = MCPREG__V1__API_KEY_RECORD__INIT;
    Mcpreg__V1__ApiKey info = MCPREG__V1__API_KEY__INIT;
    char dir[256];
    char why[512] = "";
    reg_store *store = NULL;
    reg_batch *batch;
    ProtobufCMessage *msg = NULL;
    reg_key key;

    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_store_open(&store, dir, 8, why, sizeof(why)), ==, MR_OK);
    info.key_id = "k1";
    rec.info = &info;
    batch = reg_batch_new();
    reg_key_build(&key, "key", "h1", NULL);
    MR_CHECK_INT(reg_batch_put_msg(batch, &key, &rec.base), ==, MR_OK);
    MR_CHECK_INT(reg_store_write(store, batch), ==, MR_OK);
    reg_batch_free(batch);

    MR_CHECK_INT(reg_store_get_msg(store, &key,
                                   &mcpreg__v1__api_key_record__descriptor,
                                   &msg),
                 ==, MR_OK);
    MR_CHECK(msg != NULL);
    if (msg != NULL) {
        MR_CHECK_STR(((Mcpreg__V1__ApiKeyRecord *)msg)->info->key_id, "k1");
        protobuf_c_message_free_unpacked(msg, NULL);
    }

    /* Field 1 with wire type 7 does not exist in protobuf. */
    put(store, "key/h2", "\x0f\xff");
    reg_key_build(&key, "key", "h2", NULL);
    MR_CHECK_INT(reg_store_get_msg(store, &key,
                                   &mcpreg__v1__api_key_record__descriptor,
                                   &msg),
                 ==, MR_EINTERNAL);
    MR_CHECK(msg == NULL);

    reg_store_close(store);
    reg_test_dir_remove(dir);
}

static const mr_test_case cases[] = {
    {"key_build_joins_parts", key_build_joins_parts},
    {"key_build_rejects_overflow", key_build_rejects_overflow},
    {"store_put_get_delete", store_put_get_delete},
    {"store_scan_stays_in_prefix", store_scan_stays_in_prefix},
    {"store_scan_stops_on_error", store_scan_stops_on_error},
    {"store_survives_reopen", store_survives_reopen},
    {"store_reads_past_row_cache", store_reads_past_row_cache},
    {"store_open_creates_parents", store_open_creates_parents},
    {"store_open_failure_names_folder", store_open_failure_names_folder},
    {"store_get_msg_decodes_and_rejects", store_get_msg_decodes_and_rejects},
};

MR_TEST_MAIN(cases)
