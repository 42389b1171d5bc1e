/* reg_store.c - the RocksDB store of the registration service. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rocksdb/c.h>

#include "mr_log.h"
#include "reg_store.h"

struct reg_store {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table_options;
    rocksdb_cache_t *cache;
    rocksdb_cache_t *row_cache;
    rocksdb_readoptions_t *read_options;
    rocksdb_writeoptions_t *write_options;
    pthread_rwlock_t lock;
};

struct reg_batch {
    rocksdb_writebatch_t *wb;
};

mr_err
reg_key_build(reg_key *key, const char *table, ...)
{
    va_list ap;
    const char *part;
    size_t len = strlen(table);
    mr_err err = MR_OK;

    if (len >= REG_KEY_MAX) {
        return MR_EINVALID_FIELD;
    }
    memcpy(key->text, table, len);

    va_start(ap, table);
    for (part = va_arg(ap, const char *); part != NULL;
         part = va_arg(ap, const char *)) {
        size_t plen = strlen(part);

        if (len + 1 + plen >= REG_KEY_MAX) {
            err = MR_EINVALID_FIELD;
            goto out;
        }
        key->text[len++] = '/';
        memcpy(key->text + len, part, plen);
        len += plen;
    }

out:
    va_end(ap);
    key->text[err == MR_OK ? len : 0] = '\0';
    key->len = err == MR_OK ? len : 0;
    return err;
}

mr_err
reg_key_set(reg_key *key, const char *text, size_t len)
{
    if (len >= REG_KEY_MAX) {
        return MR_EINVALID_FIELD;
    }
    memcpy(key->text, text, len);
    key->text[len] = '\0';
    key->len = len;
    return MR_OK;
}

/* Creates dir and its missing parents with mode 0700. */
static int
make_dirs(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);

    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            return -1;
        }
        path[i] = dir[i];
    }
    return 0;
}

static void
set_options(reg_store *store, long cache_mb)
{
    size_t bytes = (size_t)cache_mb << 20;

    store->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(store->options, 1);

    /* A quarter of the memory caches whole records by key. A point read
     * found there skips the index, the data block and the block cache's
     * lock, about a fifth of the service's CPU time per repeat call. */
    store->row_cache = rocksdb_cache_create_lru(bytes / 4);
    rocksdb_options_set_row_cache(store->options, store->row_cache);

    /* The table options take ownership of the filter policy; the cache
     * handles are ours and are destroyed after the database closes. */
    store->cache = rocksdb_cache_create_lru(bytes - bytes / 4);
    store->table_options = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(store->table_options,
                                                store->cache);
    rocksdb_block_based_options_set_filter_policy(
        store->table_options, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(store->options,
                                                  store->table_options);

    store->read_options = rocksdb_readoptions_create();
    store->write_options = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(store->write_options, 1);
}

/* init_lock makes lock prefer writers, so that a stream of discovery
 * results, which hold it shared, cannot starve a server update. */
static void
init_lock(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;

    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(
        &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

mr_err
reg_store_open(reg_store **out, const char *dir, long cache_mb, char *why,
               size_t whylen)
{
    reg_store *store = NULL;
    char *rerr = NULL;
    mr_err err = MR_EINTERNAL;

    *out = NULL;
    if (make_dirs(dir) != 0) {
        snprintf(why, whylen, "failed to create the data folder %s: %s", dir,
                 strerror(errno));
        goto out;
    }

    store = calloc(1, sizeof(*store));
    if (store == NULL) {
        snprintf(why, whylen, "out of memory opening %s", dir);
        err = MR_ENOMEM;
        goto out;
    }
    init_lock(&store->lock);
    set_options(store, cache_mb);

    store->db = rocksdb_open(store->options, dir, &rerr);
    if (rerr != NULL) {
        snprintf(why, whylen,
                 "failed to open the RocksDB store in %s: %s (check the "
                 "folder's permissions and that no other process uses it)",
                 dir, rerr);
        goto out;
    }

    *out = store;
    store = NULL;
    err = MR_OK;

out:
    rocksdb_free(rerr);
    reg_store_close(store);
    return err;
}

static void
flush(reg_store *store)
{
    rocksdb_flushoptions_t *options = rocksdb_flushoptions_create();
    char *rerr = NULL;

    rocksdb_flushoptions_set_wait(options, 1);
    rocksdb_flush(store->db, options, &rerr);
    if (rerr != NULL) {
        /* The write-ahead log still contains every change, so a failed
         * flush loses nothing because the next open replays it. */
        MR_WARN("reg.store.flush", NULL, "flushing RocksDB failed: %s", rerr);
        rocksdb_free(rerr);
    }
    rocksdb_flushoptions_destroy(options);
}

void
reg_store_close(reg_store *store)
{
    if (store == NULL) {
        return;
    }

    if (store->db != NULL) {
        flush(store);
        rocksdb_close(store->db);
    }
    rocksdb_writeoptions_destroy(store->write_options);
    rocksdb_readoptions_destroy(store->read_options);
    rocksdb_options_destroy(store->options);
    rocksdb_block_based_options_destroy(store->table_options);
    rocksdb_cache_destroy(store->cache);
    rocksdb_cache_destroy(store->row_cache);
    pthread_rwlock_destroy(&store->lock);
    free(store);
}

mr_err
reg_store_get(reg_store *store, const reg_key *key, char **value, size_t *len)
{
    char *rerr = NULL;

    *value = rocksdb_get(store->db, store->read_options, key->text, key->len,
                         len, &rerr);
    if (rerr != NULL) {
        MR_ERROR("reg.store.get", NULL, "reading key %.*s failed: %s",
                 (int)strcspn(key->text, "/"), key->text, rerr);
        rocksdb_free(rerr);
        *value = NULL;
        return MR_EINTERNAL;
    }
    return MR_OK;
}

void
reg_store_free(char *value)
{
    rocksdb_free(value);
}

mr_err
reg_store_get_msg(reg_store *store, const reg_key *key,
                  const ProtobufCMessageDescriptor *type,
                  ProtobufCMessage **msg)
{
    return reg_store_get_msg_in(store, key, type, NULL, msg);
}

mr_err
reg_store_get_msg_in(reg_store *store, const reg_key *key,
                     const ProtobufCMessageDescriptor *type,
                     ProtobufCAllocator *allocator, ProtobufCMessage **msg)
{
    char *value = NULL;
    size_t len = 0;
    mr_err err;

    *msg = NULL;
    err = reg_store_get(store, key, &value, &len);
    if (err != MR_OK || value == NULL) {
        goto out;
    }

    *msg = protobuf_c_message_unpack(type, allocator, len,
                                     (const uint8_t *)value);
    if (*msg == NULL) {
        MR_ERROR("reg.store.decode", NULL,
                 "a stored %s record does not decode; the store is corrupt",
                 type->short_name);
        err = MR_EINTERNAL;
    }

out:
    reg_store_free(value);
    return err;
}

/* Returns the smallest key greater than every key that starts with prefix,
 * by incrementing its last byte. Scan prefixes end in '/', so the byte
 * never overflows. */
static void
prefix_end(const reg_key *prefix, reg_key *end)
{
    *end = *prefix;
    end->text[end->len - 1]++;
}

mr_err
reg_store_scan(reg_store *store, const reg_key *prefix, reg_store_visit visit,
               void *arg)
{
    rocksdb_readoptions_t *options = rocksdb_readoptions_create();
    rocksdb_iterator_t *it;
    reg_key end;
    char *rerr = NULL;
    mr_err err = MR_OK;

    prefix_end(prefix, &end);
    rocksdb_readoptions_set_iterate_upper_bound(options, end.text, end.len);
    it = rocksdb_create_iterator(store->db, options);

    for (rocksdb_iter_seek(it, prefix->text, prefix->len);
         err == MR_OK && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);

        err = visit(arg, k, klen, v, vlen);
    }

    rocksdb_iter_get_error(it, &rerr);
    if (rerr != NULL) {
        MR_ERROR("reg.store.scan", NULL, "scanning %s failed: %s",
                 prefix->text, rerr);
        rocksdb_free(rerr);
        err = MR_EINTERNAL;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(options);
    return err;
}

void
reg_store_lock(reg_store *store)
{
    pthread_rwlock_wrlock(&store->lock);
}

void
reg_store_lock_shared(reg_store *store)
{
    pthread_rwlock_rdlock(&store->lock);
}

void
reg_store_unlock(reg_store *store)
{
    pthread_rwlock_unlock(&store->lock);
}

reg_batch *
reg_batch_new(void)
{
    reg_batch *batch = calloc(1, sizeof(*batch));

    if (batch != NULL) {
        batch->wb = rocksdb_writebatch_create();
    }
    return batch;
}

void
reg_batch_free(reg_batch *batch)
{
    if (batch == NULL) {
        return;
    }
    rocksdb_writebatch_destroy(batch->wb);
    free(batch);
}

void
reg_batch_put(reg_batch *batch, const reg_key *key, const void *value,
              size_t len)
{
    rocksdb_writebatch_put(batch->wb, key->text, key->len, value, len);
}

mr_err
reg_batch_put_msg(reg_batch *batch, const reg_key *key,
                  const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);

    if (buf == NULL) {
        return MR_ENOMEM;
    }
    protobuf_c_message_pack(msg, buf);
    reg_batch_put(batch, key, buf, len);
    free(buf);
    return MR_OK;
}

void
reg_batch_delete(reg_batch *batch, const reg_key *key)
{
    rocksdb_writebatch_delete(batch->wb, key->text, key->len);
}

mr_err
reg_store_write(reg_store *store, reg_batch *batch)
{
    char *rerr = NULL;

    rocksdb_write(store->db, store->write_options, batch->wb, &rerr);
    if (rerr != NULL) {
        MR_ERROR("reg.store.write", NULL,
                 "writing a batch of %d changes failed: %s",
                 rocksdb_writebatch_count(batch->wb), rerr);
        rocksdb_free(rerr);
        return MR_EINTERNAL;
    }
    return MR_OK;
}
