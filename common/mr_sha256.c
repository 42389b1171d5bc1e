/* mr_sha256.c - SHA-256 through OpenSSL, which uses the CPU's SHA
 * instructions where it has them. */
#include <pthread.h>
#include <stdbool.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "mr_util.h"

/*
 * The gateway hashes the API key of every request. In a loop on the
 * development machine, libsodium's portable SHA-256 took about 195 ns a
 * key and OpenSSL's, with a context kept per thread, about 85 ns. The
 * digest is fetched once. Each thread keeps its own context, which the
 * key's destructor frees when the thread ends.
 */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;
static pthread_key_t ctx_key;
static bool ctx_key_ok;

static void
free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void
sha_init(void)
{
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, free_ctx) == 0;
}

/* thread_ctx returns this thread's context, or NULL when OpenSSL fails
 * to create one. */
static EVP_MD_CTX *
thread_ctx(void)
{
    EVP_MD_CTX *ctx;

    pthread_once(&sha_once, sha_init);
    if (sha_md == NULL || !ctx_key_ok) {
        return NULL;
    }

    ctx = pthread_getspecific(ctx_key);
    if (ctx != NULL) {
        return ctx;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx != NULL && pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

void
mr_sha256(const void *data, size_t len, uint8_t out[MR_SHA256_LEN])
{
    EVP_MD_CTX *ctx = thread_ctx();

    if (ctx != NULL && EVP_DigestInit_ex2(ctx, sha_md, NULL) == 1 &&
        EVP_DigestUpdate(ctx, data, len) == 1 &&
        EVP_DigestFinal_ex(ctx, out, NULL) == 1) {
        return;
    }
    /* When OpenSSL fails, libsodium computes the same digest. */
    crypto_hash_sha256(out, data, len);
}
