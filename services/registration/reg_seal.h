/* reg_seal.h - encryption of stored secrets with XChaCha20-Poly1305. */
#ifndef REG_SEAL_H
#define REG_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpreg/v1/store.pb-c.h"
#include "mr_err.h"

/* REG_SEAL_KEY_LEN is the size of a sealing key in bytes. */
#define REG_SEAL_KEY_LEN 32

/* REG_SEAL_DEMO_FILE is the key file that --demo creates in the data
 * folder. */
#define REG_SEAL_DEMO_FILE "demo-secret.key"

/* reg_seal_key is one sealing key and its id. */
typedef struct {
    uint8_t key[REG_SEAL_KEY_LEN];
    uint32_t key_id;
} reg_seal_key;

/*
 * reg_seal is the current sealing key, which seals every new value, and the
 * retired keys, which only open values sealed before a rotation. Each sealed
 * value stores the id of its key, which picks the key that opens it.
 */
typedef struct {
    uint8_t key[REG_SEAL_KEY_LEN];
    uint32_t key_id;
    reg_seal_key *retired; /* n_retired keys, owned */
    size_t n_retired;
} reg_seal;

/* reg_seal_init copies key and key_id into seal as its current key, with
 * no retired keys. */
void reg_seal_init(reg_seal *seal, const uint8_t key[REG_SEAL_KEY_LEN],
                   uint32_t key_id);

/*
 * reg_seal_add_retired adds a retired key to seal. It returns
 * MR_EINVALID_FIELD with the reason in why when key_id is 0, is the current
 * key's id or is the id of a retired key already added, and MR_ENOMEM when
 * memory runs out.
 */
mr_err reg_seal_add_retired(reg_seal *seal,
                            const uint8_t key[REG_SEAL_KEY_LEN],
                            uint32_t key_id, char *why, size_t whylen);

/*
 * reg_seal_add_retired_files parses list, comma-separated ID:PATH items
 * such as "1:/etc/mcpreg/old.key,2:/etc/mcpreg/older.key", reads each file
 * as reg_seal_key_from_file does and adds it with reg_seal_add_retired. An
 * empty list adds nothing. On failure it returns MR_EINVALID_FIELD (or
 * MR_ENOMEM) with a reason naming the item in why; the keys added before
 * the failure stay in seal.
 */
mr_err reg_seal_add_retired_files(reg_seal *seal, const char *list, char *why,
                                  size_t whylen);

/* reg_seal_has_key returns whether seal has a key, current or retired,
 * whose id is key_id. */
bool reg_seal_has_key(const reg_seal *seal, uint32_t key_id);

/* reg_seal_wipe overwrites the current and retired keys in seal with zeros
 * and frees the retired keys. */
void reg_seal_wipe(reg_seal *seal);

/*
 * reg_seal_key_from_hex decodes 64 hex characters into key. On failure it
 * returns MR_EINVALID_FIELD with the reason in why, which never contains the
 * text itself.
 */
mr_err reg_seal_key_from_hex(const char *hex, uint8_t key[REG_SEAL_KEY_LEN],
                             char *why, size_t whylen);

/*
 * reg_seal_key_from_file reads a key file: exactly 32 raw bytes, or 64 hex
 * characters optionally followed by white space. On failure it returns
 * MR_EINVALID_FIELD with a reason naming path in why.
 */
mr_err reg_seal_key_from_file(const char *path, uint8_t key[REG_SEAL_KEY_LEN],
                              char *why, size_t whylen);

/*
 * reg_seal_demo_key reads dir/demo-secret.key, or creates it with mode 0600
 * and a new random key when it does not exist and then sets *created to 1.
 * On failure it returns MR_EINTERNAL with a reason naming the file in why.
 */
mr_err reg_seal_demo_key(const char *dir, uint8_t key[REG_SEAL_KEY_LEN],
                         int *created, char *why, size_t whylen);

/*
 * reg_seal_encrypt encrypts len bytes of plaintext with the current key of
 * seal under a random nonce, with ad (adlen bytes) as associated data, and
 * fills out, whose nonce and ciphertext buffers the caller frees with
 * reg_seal_clear. It returns MR_ENOMEM when memory runs out.
 */
mr_err reg_seal_encrypt(const reg_seal *seal, const void *plaintext,
                        size_t len, const void *ad, size_t adlen,
                        Mcpreg__V1__Sealed *out);

/*
 * reg_seal_decrypt checks and decrypts sealed with ad as associated data,
 * with the key of seal whose id is sealed->key_id. On success *plaintext is
 * a NUL-terminated buffer of *len bytes that the caller frees with
 * reg_seal_free. It returns MR_EINTERNAL when seal has no key with that
 * id (see reg_seal_has_key), or the key, ciphertext, nonce or associated
 * data differ from those used to seal.
 */
mr_err reg_seal_decrypt(const reg_seal *seal, const Mcpreg__V1__Sealed *sealed,
                        const void *ad, size_t adlen, char **plaintext,
                        size_t *len);

/*
 * reg_seal_explain writes into why the likely cause of a failed
 * reg_seal_decrypt of sealed, naming its key id (never a key): no key of
 * that id is loaded, or the loaded one is not the key that sealed it or
 * the record was altered. sealed may be NULL, for a record without one.
 */
void reg_seal_explain(const reg_seal *seal, const Mcpreg__V1__Sealed *sealed,
                      char *why, size_t whylen);

/* reg_seal_free wipes and frees a plaintext of reg_seal_decrypt; NULL is
 * allowed. */
void reg_seal_free(char *plaintext, size_t len);

/* reg_seal_clear frees the buffers that reg_seal_encrypt put into sealed
 * and resets it. */
void reg_seal_clear(Mcpreg__V1__Sealed *sealed);

#endif
