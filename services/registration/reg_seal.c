/* reg_seal.c - encryption of stored secrets with XChaCha20-Poly1305. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "reg_seal.h"

#define HEX_KEY_LEN (2 * REG_SEAL_KEY_LEN)

/* A key file longer than this is not a key; reading stops there. */
#define KEY_FILE_MAX 256

void
reg_seal_init(reg_seal *seal, const uint8_t key[REG_SEAL_KEY_LEN],
              uint32_t key_id)
{
    memcpy(seal->key, key, REG_SEAL_KEY_LEN);
    seal->key_id = key_id;
}

void
reg_seal_wipe(reg_seal *seal)
{
    sodium_memzero(seal->key, sizeof(seal->key));
}

/* Decodes exactly HEX_KEY_LEN hex characters of text. */
static mr_err
decode_hex(const char *text, size_t len, uint8_t key[REG_SEAL_KEY_LEN])
{
    size_t bin_len = 0;

    if (len != HEX_KEY_LEN) {
        return MR_EINVALID_FIELD;
    }
    if (sodium_hex2bin(key, REG_SEAL_KEY_LEN, text, len, NULL, &bin_len,
                       NULL) != 0 ||
        bin_len != REG_SEAL_KEY_LEN) {
        return MR_EINVALID_FIELD;
    }
    return MR_OK;
}

mr_err
reg_seal_key_from_hex(const char *hex, uint8_t key[REG_SEAL_KEY_LEN],
                      char *why, size_t whylen)
{
    mr_err err = decode_hex(hex, strlen(hex), key);

    if (err != MR_OK) {
        snprintf(why, whylen,
                 "the key is not %d hex characters (found %zu characters)",
                 HEX_KEY_LEN, strlen(hex));
    }
    return err;
}

/* Reads up to KEY_FILE_MAX bytes of fd into buf; returns the count or -1. */
static ssize_t
read_all(int fd, uint8_t *buf, size_t size)
{
    size_t total = 0;

    while (total < size) {
        ssize_t n = read(fd, buf + total, size - total);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        total += (size_t)n;
    }
    return (ssize_t)total;
}

/* Parses the content of a key file: 32 raw bytes, or 64 hex characters and
 * optional trailing white space. */
static mr_err
parse_key_file(uint8_t *buf, size_t len, uint8_t key[REG_SEAL_KEY_LEN])
{
    if (len == REG_SEAL_KEY_LEN) {
        memcpy(key, buf, REG_SEAL_KEY_LEN);
        return MR_OK;
    }

    while (len > 0 && isspace(buf[len - 1])) {
        len--;
    }
    return decode_hex((const char *)buf, len, key);
}

mr_err
reg_seal_key_from_file(const char *path, uint8_t key[REG_SEAL_KEY_LEN],
                       char *why, size_t whylen)
{
    uint8_t buf[KEY_FILE_MAX];
    ssize_t len = -1;
    mr_err err = MR_EINVALID_FIELD;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(why, whylen, "cannot open the key file %s: %s", path,
                 strerror(errno));
        goto out;
    }

    len = read_all(fd, buf, sizeof(buf));
    if (len < 0) {
        snprintf(why, whylen, "cannot read the key file %s: %s", path,
                 strerror(errno));
        goto out;
    }

    err = parse_key_file(buf, (size_t)len, key);
    if (err != MR_OK) {
        snprintf(why, whylen,
                 "the key file %s holds %zd bytes; expected %d raw bytes or "
                 "%d hex characters",
                 path, len, REG_SEAL_KEY_LEN, HEX_KEY_LEN);
    }

out:
    sodium_memzero(buf, sizeof(buf));
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

/* Writes a new random key as hex to path, which must not exist yet. Returns
 * 0, or -1 with errno set (EEXIST when another process won the race). */
static int
create_demo_key(const char *path, uint8_t key[REG_SEAL_KEY_LEN])
{
    char hex[HEX_KEY_LEN + 2];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = -1;

    if (fd < 0) {
        return -1;
    }

    randombytes_buf(key, REG_SEAL_KEY_LEN);
    sodium_bin2hex(hex, sizeof(hex), key, REG_SEAL_KEY_LEN);
    hex[HEX_KEY_LEN] = '\n';
    if (write(fd, hex, HEX_KEY_LEN + 1) == HEX_KEY_LEN + 1 && fsync(fd) == 0) {
        rc = 0;
    }

    sodium_memzero(hex, sizeof(hex));
    close(fd);
    if (rc != 0) {
        unlink(path);
    }
    return rc;
}

mr_err
reg_seal_demo_key(const char *dir, uint8_t key[REG_SEAL_KEY_LEN], int *created,
                  char *why, size_t whylen)
{
    char path[4096];

    *created = 0;
    if (snprintf(path, sizeof(path), "%s/%s", dir, REG_SEAL_DEMO_FILE) >=
        (int)sizeof(path)) {
        snprintf(why, whylen, "the data folder path is too long");
        return MR_EINTERNAL;
    }

    if (create_demo_key(path, key) == 0) {
        *created = 1;
        return MR_OK;
    }
    if (errno != EEXIST) {
        snprintf(why, whylen, "cannot create the demo key file %s: %s", path,
                 strerror(errno));
        return MR_EINTERNAL;
    }

    if (reg_seal_key_from_file(path, key, why, whylen) != MR_OK) {
        return MR_EINTERNAL;
    }
    return MR_OK;
}

mr_err
reg_seal_encrypt(const reg_seal *seal, const void *plaintext, size_t len,
                 const void *ad, size_t adlen, Mcpreg__V1__Sealed *out)
{
    unsigned long long clen = 0;
    size_t cap = len + crypto_aead_xchacha20poly1305_ietf_ABYTES;

    mcpreg__v1__sealed__init(out);
    out->nonce.data = malloc(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    out->ciphertext.data = malloc(cap);
    if (out->nonce.data == NULL || out->ciphertext.data == NULL) {
        reg_seal_clear(out);
        return MR_ENOMEM;
    }

    out->key_id = seal->key_id;
    out->nonce.len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    randombytes_buf(out->nonce.data, out->nonce.len);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out->ciphertext.data, &clen,
                                               plaintext, len, ad, adlen, NULL,
                                               out->nonce.data, seal->key);
    out->ciphertext.len = (size_t)clen;
    return MR_OK;
}

mr_err
reg_seal_decrypt(const reg_seal *seal, const Mcpreg__V1__Sealed *sealed,
                 const void *ad, size_t adlen, char **plaintext, size_t *len)
{
    unsigned long long plen = 0;
    char *buf;

    *plaintext = NULL;
    *len = 0;
    if (sealed->key_id != seal->key_id ||
        sealed->nonce.len != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
        sealed->ciphertext.len < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
        return MR_EINTERNAL;
    }

    buf = malloc(sealed->ciphertext.len + 1);
    if (buf == NULL) {
        return MR_ENOMEM;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)buf, &plen, NULL, sealed->ciphertext.data,
            sealed->ciphertext.len, ad, adlen, sealed->nonce.data,
            seal->key) != 0) {
        free(buf);
        return MR_EINTERNAL;
    }

    buf[plen] = '\0';
    *plaintext = buf;
    *len = (size_t)plen;
    return MR_OK;
}

void
reg_seal_free(char *plaintext, size_t len)
{
    if (plaintext == NULL) {
        return;
    }
    sodium_memzero(plaintext, len);
    free(plaintext);
}

void
reg_seal_clear(Mcpreg__V1__Sealed *sealed)
{
    free(sealed->nonce.data);
    free(sealed->ciphertext.data);
    mcpreg__v1__sealed__init(sealed);
}
