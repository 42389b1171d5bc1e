/*
 * probe_shape.c - the bare cost of mcpreg's shape, for comparison: an HTTP
 * side that suspends each request, makes one nng REQ/REP round trip and
 * resumes, and a store side that replies to each request after one RocksDB
 * point read. No JSON, protobuf or authentication.
 *
 *   probe_shape store URL DBDIR [CONTEXTS]
 *   probe_shape http PORT URL [THREADS] [WORK_NS] [BATCHES]
 *
 * WORK_NS adds that much busy work to each request on the HTTP thread,
 * which shows what a microsecond of work per request costs the shape.
 * BATCHES, when not 0, batches the round trips as mcpreg's gateway does
 * with --rpc-batches. Up to that many requests to the store are in
 * flight. The requests that arrive meanwhile wait and go out together in
 * the next one, up to 64, and the store reads the record once for each.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <rocksdb/c.h>

#include "mr_util.h"
#include "probe_listen.h"

static const char probe_key[] = "prov/ws/server/user";
static const char probe_value[] =
    "{\"oauth_provider_id\":\"2f1b5a3c-7c0e-4d8e-9a57-3f1d2c4b5a6e\"}";

/* BATCH_MAX bounds the requests of one batch, as in mcpreg. */
#define BATCH_MAX 64

/* ---- store side ---- */

typedef struct {
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
    rocksdb_t *db;
    rocksdb_readoptions_t *ropts;
} store_worker;

static void
store_cb(void *arg)
{
    store_worker *w = arg;
    nng_msg *msg;
    char *value;
    size_t len = 0;
    char *error = NULL;
    uint32_t count = 1;
    bool batch;

    if (nng_aio_result(w->aio) != 0) {
        return;
    }
    if (w->sending) {
        w->sending = false;
        nng_ctx_recv(w->ctx, w->aio);
        return;
    }

    /* A request is "get", and its reply the value. A batch's request is
     * the count of requests, and its reply each value after its length. */
    msg = nng_aio_get_msg(w->aio);
    batch = nng_msg_len(msg) == sizeof(count);
    if (batch) {
        memcpy(&count, nng_msg_body(msg), sizeof(count));
    }
    nng_msg_clear(msg);
    for (uint32_t i = 0; i < count && i < BATCH_MAX; i++) {
        value = rocksdb_get(w->db, w->ropts, probe_key, sizeof(probe_key) - 1,
                            &len, &error);
        if (batch) {
            nng_msg_append(msg, &(uint8_t){(uint8_t)len}, 1);
        }
        nng_msg_append(msg, value, len);
        rocksdb_free(value);
        free(error);
        error = NULL;
    }

    w->sending = true;
    nng_aio_set_msg(w->aio, msg);
    nng_ctx_send(w->ctx, w->aio);
}

static rocksdb_cache_t *row_cache;   /* destroyed after the close */
static rocksdb_cache_t *block_cache; /* likewise */

/*
 * open_db opens the probe's store with the registration service's read
 * settings at its default --cache-mb of 64: a row cache of a quarter, a
 * block cache of the rest, and bloom filters. It writes the one record
 * and flushes it to a table file, where the service finds its records
 * too, through the row cache. A record left in the memtable took 2.7k
 * instructions a read under callgrind, against the service's 4.3k.
 */
static rocksdb_t *
open_db(const char *dir)
{
    size_t bytes = (size_t)64 << 20;
    rocksdb_options_t *opts = rocksdb_options_create();
    rocksdb_block_based_table_options_t *table =
        rocksdb_block_based_options_create();
    rocksdb_writeoptions_t *wopts = rocksdb_writeoptions_create();
    rocksdb_flushoptions_t *fopts = rocksdb_flushoptions_create();
    char *error = NULL;
    rocksdb_t *db;

    rocksdb_options_set_create_if_missing(opts, 1);
    row_cache = rocksdb_cache_create_lru(bytes / 4);
    block_cache = rocksdb_cache_create_lru(bytes - bytes / 4);
    rocksdb_options_set_row_cache(opts, row_cache);
    rocksdb_block_based_options_set_block_cache(table, block_cache);
    rocksdb_block_based_options_set_filter_policy(
        table, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(opts, table);

    db = rocksdb_open(opts, dir, &error);
    if (db != NULL) {
        rocksdb_put(db, wopts, probe_key, sizeof(probe_key) - 1, probe_value,
                    sizeof(probe_value) - 1, &error);
    }
    if (db != NULL && error == NULL) {
        rocksdb_flush(db, fopts, &error);
    }
    if (error != NULL) {
        fprintf(stderr, "probe_shape: RocksDB in %s: %s\n", dir, error);
        free(error);
    }
    rocksdb_flushoptions_destroy(fopts);
    rocksdb_writeoptions_destroy(wopts);
    rocksdb_block_based_options_destroy(table);
    rocksdb_options_destroy(opts);
    return db;
}

static int
run_store(const char *url, const char *dir, int contexts)
{
    rocksdb_t *db = open_db(dir);
    rocksdb_readoptions_t *ropts = rocksdb_readoptions_create();
    store_worker *workers = calloc((size_t)contexts, sizeof(*workers));
    nng_socket sock;

    if (db == NULL || workers == NULL || nng_rep0_open(&sock) != 0 ||
        nng_listen(sock, url, NULL, 0) != 0) {
        fprintf(stderr, "probe_shape: failed to start the store on %s\n", url);
        return 1;
    }
    for (int i = 0; i < contexts; i++) {
        workers[i].db = db;
        workers[i].ropts = ropts;
        nng_aio_alloc(&workers[i].aio, store_cb, &workers[i]);
        nng_ctx_open(&workers[i].ctx, sock);
        nng_ctx_recv(workers[i].ctx, workers[i].aio);
    }

    mr_signals_wait();
    nng_close(sock);
    rocksdb_close(db);
    rocksdb_cache_destroy(row_cache);
    rocksdb_cache_destroy(block_cache);
    return 0;
}

/* ---- HTTP side ---- */

typedef struct http_call http_call;

/* rpc_slot is a context with its aio, kept for reuse as mcpreg's RPC
 * client keeps its calls. */
typedef struct rpc_slot {
    struct rpc_slot *next;
    nng_ctx ctx;
    nng_aio *aio;
    bool sent;       /* the request is out, and aio waits for the reply */
    bool batch;      /* the request is a batch of calls */
    http_call *call; /* the first of its calls */
} rpc_slot;

struct http_call {
    http_call *next; /* in a batch, or in the queue */
    struct MHD_Connection *conn;
    atomic_int phase; /* 0 new, 1 waiting, 2 replied */
    char reply[256];
    size_t reply_len;
};

static nng_socket req_sock;
static long work_ns; /* busy work per request, in nanoseconds */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static rpc_slot *pool;
static int batches_max; /* 0: no batches */
static int batches;     /* in flight, guarded by pool_lock */
static http_call *queue;
static http_call *queue_tail;

static void http_cb(void *arg);

/* take_slot returns a pooled slot or a new one. */
static rpc_slot *
take_slot(void)
{
    rpc_slot *slot;

    pthread_mutex_lock(&pool_lock);
    slot = pool;
    if (slot != NULL) {
        pool = slot->next;
    }
    pthread_mutex_unlock(&pool_lock);

    if (slot == NULL) {
        slot = calloc(1, sizeof(*slot));
        nng_aio_alloc(&slot->aio, http_cb, slot);
        nng_ctx_open(&slot->ctx, req_sock);
    }
    return slot;
}

/* take_queue takes up to BATCH_MAX queued calls and returns them, with
 * their count in *n. The caller holds pool_lock. */
static http_call *
take_queue(uint32_t *n)
{
    http_call *first = queue;
    http_call *last = NULL;

    *n = 0;
    while (queue != NULL && *n < BATCH_MAX) {
        last = queue;
        queue = queue->next;
        (*n)++;
    }
    if (last != NULL) {
        last->next = NULL;
    }
    if (queue == NULL) {
        queue_tail = NULL;
    }
    return first;
}

static void send_calls(http_call *calls, uint32_t n);

/* copy_reply copies the value at *at, of len bytes, into c. */
static void
copy_reply(http_call *c, const uint8_t *at, size_t len)
{
    c->reply_len = len < sizeof(c->reply) ? len : sizeof(c->reply);
    memcpy(c->reply, at, c->reply_len);
}

/* answer_calls gives each call of the list its value from msg, or none
 * when msg is NULL, and resumes it. */
static void
answer_calls(http_call *c, bool batch, nng_msg *msg)
{
    const uint8_t *at = msg != NULL ? nng_msg_body(msg) : NULL;
    const uint8_t *end = at != NULL ? at + nng_msg_len(msg) : NULL;

    while (c != NULL) {
        http_call *next = c->next;

        if (at != NULL && !batch) {
            copy_reply(c, at, (size_t)(end - at));
        } else if (at != NULL && at < end && (size_t)(end - at) > *at) {
            copy_reply(c, at + 1, *at);
            at += 1 + *at;
        }
        atomic_store(&c->phase, 2);
        MHD_resume_connection(c->conn);
        c = next;
    }
}

static void
http_cb(void *arg)
{
    rpc_slot *slot = arg;
    http_call *c = slot->call;
    bool batch = slot->batch;
    nng_msg *msg = NULL;
    http_call *next = NULL;
    uint32_t n = 0;

    if (nng_aio_result(slot->aio) == 0 && !slot->sent) {
        slot->sent = true;
        nng_ctx_recv(slot->ctx, slot->aio);
        return;
    }
    if (nng_aio_result(slot->aio) != 0 && !slot->sent) {
        nng_msg_free(nng_aio_get_msg(slot->aio));
    }
    if (nng_aio_result(slot->aio) == 0) {
        msg = nng_aio_get_msg(slot->aio);
    }

    pthread_mutex_lock(&pool_lock);
    slot->next = pool;
    pool = slot;
    if (batch) {
        batches--;
        next = take_queue(&n);
        batches += next != NULL;
    }
    pthread_mutex_unlock(&pool_lock);

    /* The next batch goes out before this one's calls resume. */
    if (next != NULL) {
        send_calls(next, n);
    }
    answer_calls(c, batch, msg);
    nng_msg_free(msg);
}

/* busy_work spins for work_ns nanoseconds. */
static void
busy_work(void)
{
    struct timespec start;
    struct timespec now;
    long spent = 0;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (spent < work_ns) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        spent = (now.tv_sec - start.tv_sec) * 1000000000L +
                (now.tv_nsec - start.tv_nsec);
    }
}

/* send_calls sends the request of the n calls in the list: "get" for a
 * call alone, and the count for a batch. http_cb then waits for the
 * reply. */
static void
send_calls(http_call *calls, uint32_t n)
{
    rpc_slot *slot = take_slot();
    nng_msg *msg = NULL;

    slot->call = calls;
    slot->sent = false;
    slot->batch = batches_max > 0;
    nng_msg_alloc(&msg, 0);
    if (slot->batch) {
        nng_msg_append(msg, &n, sizeof(n));
    } else {
        nng_msg_append(msg, "get", 3);
    }
    nng_aio_set_timeout(slot->aio, 5000);
    nng_aio_set_msg(slot->aio, msg);
    nng_ctx_send(slot->ctx, slot->aio);
}

/* start_call sends the request of c, or queues it for the next batch
 * while batches_max batches are in flight. */
static void
start_call(http_call *c)
{
    http_call *calls = c;
    uint32_t n = 1;

    c->next = NULL;
    if (batches_max > 0) {
        pthread_mutex_lock(&pool_lock);
        if (queue_tail != NULL) {
            queue_tail->next = c;
        } else {
            queue = c;
        }
        queue_tail = c;
        calls = batches < batches_max ? take_queue(&n) : NULL;
        batches += calls != NULL;
        pthread_mutex_unlock(&pool_lock);
    }
    if (calls != NULL) {
        send_calls(calls, n);
    }
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **state)
{
    http_call *c = *state;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        c->conn = conn;
        *state = c;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (atomic_load(&c->phase) == 0) {
        atomic_store(&c->phase, 1);
        MHD_suspend_connection(conn);
        busy_work();
        start_call(c);
        return MHD_YES;
    }

    resp = MHD_create_response_from_buffer(c->reply_len, c->reply,
                                           MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
completed(void *cls, struct MHD_Connection *conn, void **state,
          enum MHD_RequestTerminationCode code)
{
    http_call *c = *state;

    (void)cls, (void)conn, (void)code;
    if (c != NULL) {
        free(c);
        *state = NULL;
    }
}

static int
run_http(int port, const char *url, int threads)
{
    gw_acceptor *acc;
    struct MHD_Daemon *daemon;
    int status;

    if (nng_req0_open(&req_sock) != 0 ||
        nng_socket_set_ms(req_sock, NNG_OPT_REQ_RESENDTIME,
                          NNG_DURATION_INFINITE) != 0 ||
        nng_dial(req_sock, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
        fprintf(stderr, "probe_shape: failed to dial %s\n", url);
        return 1;
    }
    acc = probe_listen("probe_shape", port);
    if (acc == NULL) {
        return 1;
    }
    daemon = MHD_start_daemon(PROBE_DAEMON_FLAGS, 0, NULL, NULL, answer, NULL,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                              MHD_OPTION_CONNECTION_LIMIT,
                              PROBE_CONNECTION_LIMIT * (unsigned)threads,
                              MHD_OPTION_NOTIFY_CONNECTION, gw_acceptor_notify,
                              acc, MHD_OPTION_NOTIFY_COMPLETED, completed,
                              NULL, MHD_OPTION_END);
    status = probe_serve("probe_shape", acc, daemon);
    nng_close(req_sock);
    return status;
}

int
main(int argc, char **argv)
{
    mr_signals_block();
    if (argc >= 4 && strcmp(argv[1], "store") == 0) {
        return run_store(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 64);
    }
    if (argc >= 4 && strcmp(argv[1], "http") == 0) {
        work_ns = argc > 5 ? atol(argv[5]) : 0;
        batches_max = argc > 6 ? atoi(argv[6]) : 0;
        return run_http(atoi(argv[2]), argv[3], argc > 4 ? atoi(argv[4]) : 2);
    }
    fprintf(stderr, "usage: probe_shape store URL DBDIR [CONTEXTS]\n"
                    "       probe_shape http PORT URL [THREADS] [WORK_NS] "
                    "[BATCHES]\n");
    return 2;
}
