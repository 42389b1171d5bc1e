/* disc_cache_test.c - expiry, replacement, eviction and copies. */
#include <string.h>

#include "disc_cache.h"
#include "mr_test.h"

static disc_cache_entry
sample(const char *issuer)
{
    disc_cache_entry e = {0};

    e.resource = "https://mcp.example.com/mcp";
    e.scope = "mcp";
    e.as.issuer = (char *)issuer;
    e.as.token_endpoint = "https://as.example.com/token";
    e.as.registration_endpoint = "https://as.example.com/register";
    e.as.auth_methods = DISC_AUTH_SECRET_BASIC;
    return e;
}

static void
test_hit_until_expiry(void)
{
    disc_cache *cache = disc_cache_new(4);
    disc_cache_entry in = sample("https://as.example.com");
    disc_cache_entry out;

    MR_CHECK_INT(disc_cache_put(cache, "https://m/mcp", &in, 1000, 500), ==,
                 MR_OK);
    MR_CHECK(disc_cache_get(cache, "https://m/mcp", 1499, &out));
    MR_CHECK_STR(out.as.issuer, "https://as.example.com");
    MR_CHECK_STR(out.scope, "mcp");
    MR_CHECK(out.as.revocation_endpoint == NULL);
    MR_CHECK_INT(out.as.auth_methods, ==, DISC_AUTH_SECRET_BASIC);
    disc_cache_entry_free(&out);

    MR_CHECK(!disc_cache_get(cache, "https://m/mcp", 1500, &out));
    MR_CHECK(!disc_cache_get(cache, "https://other/mcp", 1000, &out));
    disc_cache_free(cache);
}

static void
test_put_replaces(void)
{
    disc_cache *cache = disc_cache_new(4);
    disc_cache_entry a = sample("https://a");
    disc_cache_entry b = sample("https://b");
    disc_cache_entry out;

    disc_cache_put(cache, "https://m/mcp", &a, 0, 1000);
    disc_cache_put(cache, "https://m/mcp", &b, 0, 1000);
    MR_CHECK(disc_cache_get(cache, "https://m/mcp", 1, &out));
    MR_CHECK_STR(out.as.issuer, "https://b");
    disc_cache_entry_free(&out);
    disc_cache_free(cache);
}

static void
test_full_cache_evicts_soonest(void)
{
    disc_cache *cache = disc_cache_new(2);
    disc_cache_entry e = sample("https://as");
    disc_cache_entry out;

    disc_cache_put(cache, "https://1/mcp", &e, 0, 300);
    disc_cache_put(cache, "https://2/mcp", &e, 0, 100);
    disc_cache_put(cache, "https://3/mcp", &e, 0, 200);
    MR_CHECK(disc_cache_get(cache, "https://1/mcp", 1, &out));
    disc_cache_entry_free(&out);
    MR_CHECK(!disc_cache_get(cache, "https://2/mcp", 1, &out));
    MR_CHECK(disc_cache_get(cache, "https://3/mcp", 1, &out));
    disc_cache_entry_free(&out);
    disc_cache_free(cache);
}

static void
test_remove_drops_entry(void)
{
    disc_cache *cache = disc_cache_new(2);
    disc_cache_entry e = sample("https://as");
    disc_cache_entry out;

    disc_cache_put(cache, "https://m/mcp", &e, 0, 1000);
    disc_cache_remove(cache, "https://m/mcp");
    disc_cache_remove(cache, "https://never/mcp");
    MR_CHECK(!disc_cache_get(cache, "https://m/mcp", 1, &out));
    disc_cache_free(cache);
}

static void
test_zero_ttl_stores_nothing(void)
{
    disc_cache *cache = disc_cache_new(2);
    disc_cache_entry e = sample("https://as");
    disc_cache_entry out;

    MR_CHECK_INT(disc_cache_put(cache, "https://m/mcp", &e, 0, 0), ==, MR_OK);
    MR_CHECK(!disc_cache_get(cache, "https://m/mcp", 0, &out));
    disc_cache_free(cache);
}

/* A response that forbids reuse also ends the reuse of the entry that an
 * earlier discovery stored. */
static void
test_zero_ttl_removes_older(void)
{
    disc_cache *cache = disc_cache_new(2);
    disc_cache_entry e = sample("https://as");
    disc_cache_entry out;

    disc_cache_put(cache, "https://m/mcp", &e, 0, 1000);
    MR_CHECK_INT(disc_cache_put(cache, "https://m/mcp", &e, 10, 0), ==, MR_OK);
    MR_CHECK(!disc_cache_get(cache, "https://m/mcp", 11, &out));
    disc_cache_free(cache);
}

/* The copy keeps the freshness that the entry was built with. */
static void
test_copy_keeps_freshness(void)
{
    disc_cache_entry in = sample("https://as");
    disc_cache_entry out;

    in.freshness = (disc_freshness){.limited = true, .expires_ms = 1234};
    MR_CHECK(disc_cache_entry_copy(&out, &in));
    MR_CHECK(out.freshness.limited);
    MR_CHECK_INT(out.freshness.expires_ms, ==, 1234);
    disc_cache_entry_free(&out);
}

static const mr_test_case cases[] = {
    {"hit_until_expiry", test_hit_until_expiry},
    {"put_replaces", test_put_replaces},
    {"full_cache_evicts_soonest", test_full_cache_evicts_soonest},
    {"remove_drops_entry", test_remove_drops_entry},
    {"zero_ttl_stores_nothing", test_zero_ttl_stores_nothing},
    {"zero_ttl_removes_older", test_zero_ttl_removes_older},
    {"copy_keeps_freshness", test_copy_keeps_freshness},
};

MR_TEST_MAIN(cases)
