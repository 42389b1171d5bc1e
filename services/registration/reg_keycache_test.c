/* reg_keycache_test.c - unit tests of the cache of resolved API keys. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mr_test.h"
#include "reg_keycache.h"

/* hash_of fills hash with the SHA-256 of text, as callers present it. */
static void
hash_of(const char *text, uint8_t hash[MR_SHA256_LEN])
{
    mr_util_init();
    mr_sha256(text, strlen(text), hash);
}

static reg_caller
caller_of(const char *ws, const char *user)
{
    reg_caller c;

    memset(&c, 0, sizeof(c));
    snprintf(c.key_id, sizeof(c.key_id), "%s", ws);
    snprintf(c.workspace_id, sizeof(c.workspace_id), "%s", ws);
    snprintf(c.user_id, sizeof(c.user_id), "%s", user);
    return c;
}

static void
keycache_put_then_get(void)
{
    reg_keycache *cache = NULL;
    uint8_t a[MR_SHA256_LEN], b[MR_SHA256_LEN];
    reg_caller in = caller_of("0f8fad5b-d9cb-469f-a165-70867728950e", "ann");
    reg_caller out;

    hash_of("mcpreg_a", a);
    hash_of("mcpreg_b", b);
    MR_CHECK_INT(reg_keycache_new(1024, &cache), ==, MR_OK);
    MR_CHECK(!reg_keycache_get(cache, a, &out));

    reg_keycache_put(cache, a, &in, reg_keycache_epoch(cache));
    MR_CHECK(reg_keycache_get(cache, a, &out));
    MR_CHECK_STR(out.workspace_id, in.workspace_id);
    MR_CHECK_STR(out.key_id, in.key_id);
    MR_CHECK_STR(out.user_id, "ann");
    MR_CHECK(!reg_keycache_get(cache, b, &out));
    MR_CHECK_INT(reg_keycache_size(cache), ==, 1);
    reg_keycache_free(cache);
}

/* keycache_bounded: one slot contains one key, whatever the number put. */
static void
keycache_bounded(void)
{
    reg_keycache *cache = NULL;
    uint8_t hash[MR_SHA256_LEN];
    reg_caller in = caller_of("ws", "");
    reg_caller out;
    char text[32];

    MR_CHECK_INT(reg_keycache_new(1, &cache), ==, MR_OK);
    for (int i = 0; i < 100; i++) {
        snprintf(text, sizeof(text), "mcpreg_%d", i);
        hash_of(text, hash);
        reg_keycache_put(cache, hash, &in, reg_keycache_epoch(cache));
    }
    MR_CHECK_INT(reg_keycache_size(cache), ==, 1);
    MR_CHECK(reg_keycache_get(cache, hash, &out));

    hash_of("mcpreg_0", hash);
    MR_CHECK(!reg_keycache_get(cache, hash, &out));
    reg_keycache_free(cache);
}

/* keycache_forget_beats_racing_put: a put whose store read began before a
 * forget stores nothing. */
static void
keycache_forget_beats_racing_put(void)
{
    reg_keycache *cache = NULL;
    uint8_t hash[MR_SHA256_LEN];
    reg_caller in = caller_of("ws", "");
    reg_caller out;
    uint64_t before;

    hash_of("mcpreg_revoked", hash);
    MR_CHECK_INT(reg_keycache_new(64, &cache), ==, MR_OK);
    before = reg_keycache_epoch(cache);
    reg_keycache_forget(cache, hash);
    reg_keycache_put(cache, hash, &in, before);
    MR_CHECK(!reg_keycache_get(cache, hash, &out));

    reg_keycache_put(cache, hash, &in, reg_keycache_epoch(cache));
    MR_CHECK(reg_keycache_get(cache, hash, &out));
    reg_keycache_forget(cache, hash);
    MR_CHECK(!reg_keycache_get(cache, hash, &out));
    MR_CHECK_INT(reg_keycache_size(cache), ==, 0);
    reg_keycache_free(cache);
}

static void
keycache_long_user_id(void)
{
    reg_keycache *cache = NULL;
    uint8_t hash[MR_SHA256_LEN];
    reg_caller in = caller_of("ws", "");
    reg_caller out;

    memset(in.user_id, 'u', REG_TEXT_MAX);
    in.user_id[REG_TEXT_MAX] = '\0';
    hash_of("mcpreg_long", hash);
    MR_CHECK_INT(reg_keycache_new(8, &cache), ==, MR_OK);
    reg_keycache_put(cache, hash, &in, reg_keycache_epoch(cache));
    MR_CHECK(reg_keycache_get(cache, hash, &out));
    MR_CHECK_INT(strlen(out.user_id), ==, REG_TEXT_MAX);
    reg_keycache_free(cache);
}

static void
keycache_null_is_empty(void)
{
    reg_keycache *cache = (reg_keycache *)1;
    uint8_t hash[MR_SHA256_LEN] = {0};
    reg_caller in = caller_of("ws", "");
    reg_caller out;

    MR_CHECK_INT(reg_keycache_new(0, &cache), ==, MR_OK);
    MR_CHECK(cache == NULL);
    reg_keycache_put(NULL, hash, &in, 0);
    MR_CHECK(!reg_keycache_get(NULL, hash, &out));
    reg_keycache_forget(NULL, hash);
    MR_CHECK_INT(reg_keycache_size(NULL), ==, 0);
    reg_keycache_free(NULL);
}

/* Threads put, get and forget keys of the same slots at once. Under the
 * sanitizers, this finds races. */
typedef struct {
    reg_keycache *cache;
    int seed;
} churn_arg;

static void *
churn(void *p)
{
    churn_arg *arg = p;
    reg_caller in = caller_of("ws", "user");
    reg_caller out;
    uint8_t hash[MR_SHA256_LEN];
    char text[32];

    for (int i = 0; i < 20000; i++) {
        snprintf(text, sizeof(text), "mcpreg_%d", (i * 7 + arg->seed) % 50);
        hash_of(text, hash);
        if (i % 97 == 0) {
            reg_keycache_forget(arg->cache, hash);
        } else if (!reg_keycache_get(arg->cache, hash, &out)) {
            reg_keycache_put(arg->cache, hash, &in,
                             reg_keycache_epoch(arg->cache));
        } else if (strcmp(out.user_id, "user") != 0) {
            return "torn entry";
        }
    }
    return NULL;
}

static void
keycache_threads(void)
{
    reg_keycache *cache = NULL;
    pthread_t threads[4];
    churn_arg args[4];
    void *result;

    MR_CHECK_INT(reg_keycache_new(16, &cache), ==, MR_OK);
    for (int i = 0; i < 4; i++) {
        args[i] = (churn_arg){cache, i};
        pthread_create(&threads[i], NULL, churn, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], &result);
        MR_CHECK(result == NULL);
    }
    MR_CHECK_INT(reg_keycache_size(cache), <=, 16);
    reg_keycache_free(cache);
}

static const mr_test_case cases[] = {
    {"keycache_put_then_get", keycache_put_then_get},
    {"keycache_bounded", keycache_bounded},
    {"keycache_forget_beats_racing_put", keycache_forget_beats_racing_put},
    {"keycache_long_user_id", keycache_long_user_id},
    {"keycache_null_is_empty", keycache_null_is_empty},
    {"keycache_threads", keycache_threads},
};

MR_TEST_MAIN(cases)
