/* reg_seal_test.c - unit tests of secret sealing and key loading. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mr_test.h"
#include "mr_util.h"
#include "reg_seal.h"
#include "reg_test_dir.h"

static const char AD[] = "prov/ws/srv/user";

static void
make_seal(reg_seal *seal, uint8_t fill, uint32_t key_id)
{
    uint8_t key[REG_SEAL_KEY_LEN];

    memset(key, fill, sizeof(key));
    reg_seal_init(seal, key, key_id);
}

static bool
contains(const uint8_t *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static void
seal_round_trip(void)
{
    Mcpreg__V1__Sealed sealed;
    reg_seal seal;
    char *plain = NULL;
    size_t len = 0;

    mr_util_init();
    make_seal(&seal, 7, 3);
    MR_CHECK_INT(reg_seal_encrypt(&seal, "s3cret", 6, AD, strlen(AD), &sealed),
                 ==, MR_OK);
    MR_CHECK_INT(sealed.key_id, ==, 3);
    MR_CHECK_INT(sealed.nonce.len, ==, 24);
    MR_CHECK_INT(sealed.ciphertext.len, ==, 6 + 16);
    MR_CHECK(
        !contains(sealed.ciphertext.data, sealed.ciphertext.len, "s3cret"));

    MR_CHECK_INT(
        reg_seal_decrypt(&seal, &sealed, AD, strlen(AD), &plain, &len), ==,
        MR_OK);
    MR_CHECK_STR(plain, "s3cret");
    MR_CHECK_INT(len, ==, 6);

    reg_seal_free(plain, len);
    reg_seal_clear(&sealed);
}

static void
seal_nonces_differ(void)
{
    Mcpreg__V1__Sealed a, b;
    reg_seal seal;

    mr_util_init();
    make_seal(&seal, 7, 1);
    reg_seal_encrypt(&seal, "same", 4, AD, strlen(AD), &a);
    reg_seal_encrypt(&seal, "same", 4, AD, strlen(AD), &b);
    MR_CHECK(memcmp(a.nonce.data, b.nonce.data, a.nonce.len) != 0);
    MR_CHECK(memcmp(a.ciphertext.data, b.ciphertext.data, a.ciphertext.len) !=
             0);
    reg_seal_clear(&a);
    reg_seal_clear(&b);
}

static void
seal_rejects_tampered_ciphertext(void)
{
    Mcpreg__V1__Sealed sealed;
    reg_seal seal;
    char *plain = NULL;
    size_t len = 0;

    mr_util_init();
    make_seal(&seal, 7, 1);
    reg_seal_encrypt(&seal, "s3cret", 6, AD, strlen(AD), &sealed);
    sealed.ciphertext.data[0] ^= 1;

    MR_CHECK_INT(
        reg_seal_decrypt(&seal, &sealed, AD, strlen(AD), &plain, &len), ==,
        MR_EINTERNAL);
    MR_CHECK(plain == NULL);

    sealed.ciphertext.data[0] ^= 1;
    sealed.nonce.data[0] ^= 1;
    MR_CHECK_INT(
        reg_seal_decrypt(&seal, &sealed, AD, strlen(AD), &plain, &len), ==,
        MR_EINTERNAL);
    reg_seal_clear(&sealed);
}

static void
seal_rejects_wrong_associated_data(void)
{
    static const char other[] = "prov/ws/srv/other-user";
    Mcpreg__V1__Sealed sealed;
    reg_seal seal;
    char *plain = NULL;
    size_t len = 0;

    mr_util_init();
    make_seal(&seal, 7, 1);
    reg_seal_encrypt(&seal, "s3cret", 6, AD, strlen(AD), &sealed);

    MR_CHECK_INT(
        reg_seal_decrypt(&seal, &sealed, other, strlen(other), &plain, &len),
        ==, MR_EINTERNAL);
    MR_CHECK(plain == NULL);
    reg_seal_clear(&sealed);
}

static void
seal_rejects_wrong_key_id(void)
{
    Mcpreg__V1__Sealed sealed;
    reg_seal seal, rotated, other_key;
    char *plain = NULL;
    size_t len = 0;

    mr_util_init();
    make_seal(&seal, 7, 1);
    make_seal(&rotated, 7, 2);
    make_seal(&other_key, 8, 1);
    reg_seal_encrypt(&seal, "s3cret", 6, AD, strlen(AD), &sealed);

    MR_CHECK_INT(
        reg_seal_decrypt(&rotated, &sealed, AD, strlen(AD), &plain, &len), ==,
        MR_EINTERNAL);
    MR_CHECK_INT(
        reg_seal_decrypt(&other_key, &sealed, AD, strlen(AD), &plain, &len),
        ==, MR_EINTERNAL);
    MR_CHECK(plain == NULL);
    reg_seal_clear(&sealed);
}

static void
key_from_hex_checks_length(void)
{
    uint8_t key[REG_SEAL_KEY_LEN];
    char hex[65];
    char why[256] = "";

    memset(hex, 'a', 64);
    hex[64] = '\0';
    MR_CHECK_INT(reg_seal_key_from_hex(hex, key, why, sizeof(why)), ==, MR_OK);
    MR_CHECK_INT(key[0], ==, 0xaa);
    MR_CHECK_INT(key[31], ==, 0xaa);

    hex[63] = '\0';
    MR_CHECK_INT(reg_seal_key_from_hex(hex, key, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, "63") != NULL);

    memset(hex, 'g', 64);
    hex[64] = '\0';
    MR_CHECK_INT(reg_seal_key_from_hex(hex, key, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, "ggg") == NULL);
}

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    fwrite(data, 1, len, f);
    fclose(f);
}

static void
key_from_file_raw_and_hex(void)
{
    uint8_t raw[REG_SEAL_KEY_LEN];
    uint8_t key[REG_SEAL_KEY_LEN];
    char dir[256];
    char path[300];
    char why[512] = "";
    const char *hex_line = "0102030405060708090a0b0c0d0e0f10"
                           "1112131415161718191a1b1c1d1e1f20\n";

    reg_test_dir_make(dir);
    snprintf(path, sizeof(path), "%s/key", dir);

    memset(raw, '\n', sizeof(raw));
    write_file(path, raw, sizeof(raw));
    MR_CHECK_INT(reg_seal_key_from_file(path, key, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK(memcmp(key, raw, sizeof(raw)) == 0);

    write_file(path, hex_line, strlen(hex_line));
    MR_CHECK_INT(reg_seal_key_from_file(path, key, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK_INT(key[0], ==, 0x01);
    MR_CHECK_INT(key[31], ==, 0x20);

    write_file(path, "short\n", 6);
    MR_CHECK_INT(reg_seal_key_from_file(path, key, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, path) != NULL);
    MR_CHECK(strstr(why, "short") == NULL);

    snprintf(path, sizeof(path), "%s/missing", dir);
    MR_CHECK_INT(reg_seal_key_from_file(path, key, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, path) != NULL);

    reg_test_dir_remove(dir);
}

static void
demo_key_created_once(void)
{
    uint8_t first[REG_SEAL_KEY_LEN];
    uint8_t second[REG_SEAL_KEY_LEN];
    char dir[256];
    char path[300];
    char why[512] = "";
    struct stat st;
    int created = 0;

    mr_util_init();
    reg_test_dir_make(dir);
    MR_CHECK_INT(reg_seal_demo_key(dir, first, &created, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK_INT(created, ==, 1);

    snprintf(path, sizeof(path), "%s/%s", dir, REG_SEAL_DEMO_FILE);
    MR_CHECK_INT(stat(path, &st), ==, 0);
    MR_CHECK_INT(st.st_mode & 0777, ==, 0600);

    MR_CHECK_INT(reg_seal_demo_key(dir, second, &created, why, sizeof(why)),
                 ==, MR_OK);
    MR_CHECK_INT(created, ==, 0);
    MR_CHECK(memcmp(first, second, sizeof(first)) == 0);

    reg_test_dir_remove(dir);
}

static void
seal_opens_with_retired_key(void)
{
    Mcpreg__V1__Sealed sealed;
    reg_seal old, rotated;
    uint8_t key1[REG_SEAL_KEY_LEN];
    uint8_t key2[REG_SEAL_KEY_LEN];
    char why[256] = "";
    char *plain = NULL;
    size_t len = 0;

    mr_util_init();
    memset(key1, 1, sizeof(key1));
    memset(key2, 2, sizeof(key2));
    reg_seal_init(&old, key1, 1);
    reg_seal_encrypt(&old, "s3cret", 6, AD, strlen(AD), &sealed);

    reg_seal_init(&rotated, key2, 2);
    MR_CHECK(!reg_seal_has_key(&rotated, 1));
    MR_CHECK_INT(reg_seal_add_retired(&rotated, key1, 1, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK(reg_seal_has_key(&rotated, 1));
    MR_CHECK_INT(
        reg_seal_decrypt(&rotated, &sealed, AD, strlen(AD), &plain, &len), ==,
        MR_OK);
    MR_CHECK_STR(plain, "s3cret");
    reg_seal_free(plain, len);
    reg_seal_clear(&sealed);

    /* New values are sealed under the current key only. */
    reg_seal_encrypt(&rotated, "new", 3, AD, strlen(AD), &sealed);
    MR_CHECK_INT(sealed.key_id, ==, 2);
    MR_CHECK_INT(reg_seal_decrypt(&old, &sealed, AD, strlen(AD), &plain, &len),
                 ==, MR_EINTERNAL);
    reg_seal_clear(&sealed);
    reg_seal_wipe(&old);
    reg_seal_wipe(&rotated);
}

static void
seal_rejects_duplicate_key_ids(void)
{
    uint8_t key[REG_SEAL_KEY_LEN];
    reg_seal seal;
    char why[256] = "";

    memset(key, 3, sizeof(key));
    reg_seal_init(&seal, key, 5);
    MR_CHECK_INT(reg_seal_add_retired(&seal, key, 5, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, "5 is also the current key id") != NULL);

    MR_CHECK_INT(reg_seal_add_retired(&seal, key, 4, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK_INT(reg_seal_add_retired(&seal, key, 4, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, "4 is given twice") != NULL);

    MR_CHECK_INT(reg_seal_add_retired(&seal, key, 0, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK_INT(seal.n_retired, ==, 1);
    reg_seal_wipe(&seal);
}

static void
seal_wipe_zeroes_every_key(void)
{
    uint8_t key[REG_SEAL_KEY_LEN];
    uint8_t zero[REG_SEAL_KEY_LEN] = {0};
    reg_seal seal;
    char why[256] = "";

    memset(key, 9, sizeof(key));
    reg_seal_init(&seal, key, 1);
    reg_seal_add_retired(&seal, key, 2, why, sizeof(why));
    reg_seal_wipe(&seal);
    MR_CHECK(memcmp(seal.key, zero, sizeof(zero)) == 0);
    MR_CHECK(seal.retired == NULL);
    MR_CHECK_INT(seal.n_retired, ==, 0);
}

static void
retired_files_parse_id_path_list(void)
{
    static const char *bad[] = {"1",    "1:", ":/x", "x:/x", "99999999999:/x",
                                "-1:/x"};
    uint8_t key[REG_SEAL_KEY_LEN];
    reg_seal seal;
    char dir[256];
    char path[300];
    char list[1024];
    char why[512] = "";

    mr_util_init();
    reg_test_dir_make(dir);
    snprintf(path, sizeof(path), "%s/old:1.key", dir);
    memset(key, 0xab, sizeof(key));
    write_file(path, key, sizeof(key));
    memset(key, 0, sizeof(key));
    reg_seal_init(&seal, key, 9);

    snprintf(list, sizeof(list), "3:%s,,7:%s", path, path);
    MR_CHECK_INT(reg_seal_add_retired_files(&seal, list, why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK_INT(seal.n_retired, ==, 2);
    MR_CHECK(reg_seal_has_key(&seal, 3));
    MR_CHECK(reg_seal_has_key(&seal, 7));
    MR_CHECK(seal.n_retired == 2 && seal.retired[1].key[31] == 0xab);

    MR_CHECK_INT(reg_seal_add_retired_files(&seal, "", why, sizeof(why)), ==,
                 MR_OK);
    MR_CHECK_INT(seal.n_retired, ==, 2);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        MR_CHECK_INT(
            reg_seal_add_retired_files(&seal, bad[i], why, sizeof(why)), ==,
            MR_EINVALID_FIELD);
        MR_CHECK(strstr(why, "ID:PATH") != NULL);
    }

    snprintf(list, sizeof(list), "4:%s/missing", dir);
    MR_CHECK_INT(reg_seal_add_retired_files(&seal, list, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, "missing") != NULL);

    snprintf(list, sizeof(list), "7:%s", path);
    MR_CHECK_INT(reg_seal_add_retired_files(&seal, list, why, sizeof(why)), ==,
                 MR_EINVALID_FIELD);
    MR_CHECK(strstr(why, "7 is given twice") != NULL);

    reg_seal_wipe(&seal);
    reg_test_dir_remove(dir);
}

static void
explain_names_key_id(void)
{
    Mcpreg__V1__Sealed sealed = MCPREG__V1__SEALED__INIT;
    uint8_t key[REG_SEAL_KEY_LEN];
    reg_seal seal;
    char why[256] = "";

    memset(key, 5, sizeof(key));
    reg_seal_init(&seal, key, 2);
    sealed.key_id = 17;
    reg_seal_explain(&seal, &sealed, why, sizeof(why));
    MR_CHECK(strstr(why, "key id 17, which is not loaded") != NULL);
    MR_CHECK(strstr(why, "current key id is 2") != NULL);

    sealed.key_id = 2;
    reg_seal_explain(&seal, &sealed, why, sizeof(why));
    MR_CHECK(strstr(why, "key id 2, and the loaded key") != NULL);

    reg_seal_explain(&seal, NULL, why, sizeof(why));
    MR_CHECK(strstr(why, "no sealed value") != NULL);
    reg_seal_wipe(&seal);
}

static const mr_test_case cases[] = {
    {"seal_round_trip", seal_round_trip},
    {"seal_nonces_differ", seal_nonces_differ},
    {"seal_rejects_tampered_ciphertext", seal_rejects_tampered_ciphertext},
    {"seal_rejects_wrong_associated_data", seal_rejects_wrong_associated_data},
    {"seal_rejects_wrong_key_id", seal_rejects_wrong_key_id},
    {"key_from_hex_checks_length", key_from_hex_checks_length},
    {"key_from_file_raw_and_hex", key_from_file_raw_and_hex},
    {"demo_key_created_once", demo_key_created_once},
    {"seal_opens_with_retired_key", seal_opens_with_retired_key},
    {"seal_rejects_duplicate_key_ids", seal_rejects_duplicate_key_ids},
    {"seal_wipe_zeroes_every_key", seal_wipe_zeroes_every_key},
    {"retired_files_parse_id_path_list", retired_files_parse_id_path_list},
    {"explain_names_key_id", explain_names_key_id},
};

MR_TEST_MAIN(cases)
