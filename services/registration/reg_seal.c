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
    seal->retired = NULL;
    seal->n_retired = 0;
}

/* Returns the key of seal whose id is key_id, or NULL. */
static const uint8_t *
find_key(const reg_seal *seal, uint32_t key_id)
{
    if (key_id == seal->key_id) {
        return seal->key;
    }
    for (size_t i = 0; i < seal->n_retired; i++) {
        if (seal->retired[i].key_id == key_id) {
            return seal->retired[i].key;
        }
    }
    return NULL;
}

bool
reg_seal_has_key(const reg_seal *seal, uint32_t key_id)
{
    return find_key(seal, key_id) != NULL;
}

mr_err
reg_seal_add_retired(reg_seal *seal, const uint8_t key[REG_SEAL_KEY_LEN],
                     uint32_t key_id, char *why, size_t whylen)
{
    reg_seal_key *grown;

    if (key_id == 0) {
        snprintf(why, whylen, "retired key id 0 is invalid; ids start at 1");
        return MR_EINVALID_FIELD;
    }
    if (key_id == seal->key_id) {
        snprintf(why, whylen,
                 "retired key id %u is also the current key id; give the "
                 "current key a new id",
                 (unsigned)key_id);
        return MR_EINVALID_FIELD;
    }
    if (reg_seal_has_key(seal, key_id)) {
        snprintf(why, whylen, "retired key id %u is given twice",
                 (unsigned)key_id);
        return MR_EINVALID_FIELD;
    }

    /* A new array, so that the old one can be wiped before it is freed. */
    grown = malloc((seal->n_retired + 1) * sizeof(*grown));
    if (grown == NULL) {
        snprintf(why, whylen, "out of memory");
        return MR_ENOMEM;
    }
    if (seal->n_retired > 0) {
        memcpy(grown, seal->retired, seal->n_retired * sizeof(*grown));
        sodium_memzero(seal->retired, seal->n_retired * sizeof(*grown));
    }
    free(seal->retired);

    memcpy(grown[seal->n_retired].key, key, REG_SEAL_KEY_LEN);
    grown[seal->n_retired].key_id = key_id;
    seal->retired = grown;
    seal->n_retired++;
    return MR_OK;
}

void
reg_seal_wipe(reg_seal *seal)
{
    sodium_memzero(seal->key, sizeof(seal->key));
    if (seal->retired != NULL) {
        sodium_memzero(seal->retired,
                       seal->n_retired * sizeof(*seal->retired));
        free(seal->retired);
    }
    seal->retired = NULL;
    seal->n_retired = 0;
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

/* Parses the decimal key id at the start of item, which ends at the ':'
 * that colon points to, into *key_id. */
static bool
parse_key_id(const char *item, const char *colon, uint32_t *key_id)
{
    unsigned long long value = 0;

    if (colon == item || colon - item > 10) {
        return false;
    }
    for (const char *c = item; c < colon; c++) {
        if (*c < '0' || *c > '9') {
            return false;
        }
        value = value * 10 + (unsigned long long)(*c - '0');
    }
    if (value > UINT32_MAX) {
        return false;
    }
    *key_id = (uint32_t)value;
    return true;
}

/* Reads and adds the retired key of one ID:PATH item. */
static mr_err
add_retired_item(reg_seal *seal, const char *item, char *why, size_t whylen)
{
    uint8_t key[REG_SEAL_KEY_LEN];
    const char *colon = strchr(item, ':');
    uint32_t key_id = 0;
    mr_err err;

    if (colon == NULL || colon[1] == '\0' ||
        !parse_key_id(item, colon, &key_id)) {
        snprintf(why, whylen,
                 "retired key '%s' is not ID:PATH with a decimal key id "
                 "from 1 to %u",
                 item, (unsigned)UINT32_MAX);
        return MR_EINVALID_FIELD;
    }

    err = reg_seal_key_from_file(colon + 1, key, why, whylen);
    if (err == MR_OK) {
        err = reg_seal_add_retired(seal, key, key_id, why, whylen);
    }
    sodium_memzero(key, sizeof(key));
    return err;
}

mr_err
reg_seal_add_retired_files(reg_seal *seal, const char *list, char *why,
                           size_t whylen)
{
    char *copy = strdup(list);
    char *save = NULL;
    mr_err err = MR_OK;

    if (copy == NULL) {
        snprintf(why, whylen, "out of memory");
        return MR_ENOMEM;
    }

    for (char *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        err = add_retired_item(seal, item, why, whylen);
        if (err != MR_OK) {
            break;
        }
    }
    free(copy);
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
    const uint8_t *key = find_key(seal, sealed->key_id);
    unsigned long long plen = 0;
    char *buf;

    *plaintext = NULL;
    *len = 0;
    if (key == NULL ||
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
            sealed->ciphertext.len, ad, adlen, sealed->nonce.data, key) != 0) {
        free(buf);
        return MR_EINTERNAL;
    }

    buf[plen] = '\0';
    *plaintext = buf;
    *len = (size_t)plen;
    return MR_OK;
}

void
reg_seal_explain(const reg_seal *seal, const Mcpreg__V1__Sealed *sealed,
                 char *why, size_t whylen)
{
    if (sealed == NULL) {
        snprintf(why, whylen, "the record holds no sealed value");
    } else if (!reg_seal_has_key(seal, sealed->key_id)) {
        snprintf(why, whylen,
                 "it was sealed under key id %u, which is not loaded (the "
                 "current key id is %u); load that key with "
                 "--retired-key-files %u:PATH",
                 (unsigned)sealed->key_id, (unsigned)seal->key_id,
                 (unsigned)sealed->key_id);
    } else {
        snprintf(why, whylen,
                 "it was sealed under key id %u, and the loaded key of that "
                 "id does not open it: the key file differs from the one "
                 "that sealed it, or the record was altered",
                 (unsigned)sealed->key_id);
    }
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
