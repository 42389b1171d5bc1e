/* reg_deletions_retry.c - the queue that sends RFC 7592 client deletions to
 * the discovery workers, a bounded number at once, and retries failed ones
 * with capped exponential backoff until they succeed or grow too old. A
 * deletion's clientdel/ record is deleted only when it ends, so the store
 * contains every deletion that has not ended, and a restart resumes
 * them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "mcpreg/v1/discovery.pb-c.h"
#include "mr_api.h"
#include "mr_log.h"
#include "mr_util.h"
#include "reg_deletions.h"
#include "reg_seal.h"

typedef struct pending pending;

/* pending is one deletion of the queue. */
struct pending {
    reg_key key; /* its clientdel/ key */
    Mcpreg__V1__PendingDeletionRecord *rec;
    reg_deletion_queue *queue;
    int attempts;    /* failed attempts so far */
    int64_t due_ms;  /* next attempt, on mr_mono_ms's clock */
    mr_err outcome;  /* of the last attempt */
    int http_status; /* of the DELETE that ended it, 0 when unknown */
    char detail[REG_DETAIL_MAX];
    pending *next; /* in a list of attempts taken out of the heap */
};

/* reg_deletion_queue is the state of reg_deletions_start; mu guards every
 * member after cfg. NOTE: every deletion that has not ended stays in
 * memory, and nothing bounds how many there are. */
struct reg_deletion_queue {
    reg_service *service;
    reg_deletion_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC, like mr_mono_ms */
    pthread_t thread;
    bool started;
    bool stopping;
    pending **heap; /* waiting deletions, the earliest due_ms first */
    size_t count;
    size_t capacity;
    pending *replied; /* attempts whose outcome arrived */
    long in_flight;
    size_t total; /* deletions not yet ended: waiting, in flight or
                   * being handled by the thread */
};

/* ---- the heap of waiting deletions ---- */

static mr_err
heap_push(reg_deletion_queue *q, pending *p)
{
    size_t i;

    if (q->count == q->capacity) {
        size_t capacity = q->capacity ? 2 * q->capacity : 16;
        pending **heap = realloc(q->heap, capacity * sizeof(*heap));

        if (heap == NULL) {
            return MR_ENOMEM;
        }
        q->heap = heap;
        q->capacity = capacity;
    }
    i = q->count++;
    while (i > 0 && p->due_ms < q->heap[(i - 1) / 2]->due_ms) {
        q->heap[i] = q->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->heap[i] = p;
    return MR_OK;
}

static pending *
heap_pop(reg_deletion_queue *q)
{
    pending *top = q->heap[0];
    pending *last = q->heap[--q->count];
    size_t i = 0;

    while (q->count > 0) {
        size_t child = 2 * i + 1;

        if (child >= q->count) {
            break;
        }
        if (child + 1 < q->count &&
            q->heap[child + 1]->due_ms < q->heap[child]->due_ms) {
            child++;
        }
        if (last->due_ms <= q->heap[child]->due_ms) {
            break;
        }
        q->heap[i] = q->heap[child];
        i = child;
    }
    if (q->count > 0) {
        q->heap[i] = last;
    }
    return top;
}

/* ---- deletions ---- */

static pending *
pending_new(reg_deletion_queue *q, const reg_key *key,
            Mcpreg__V1__PendingDeletionRecord *rec)
{
    pending *p = calloc(1, sizeof(*p));

    if (p != NULL) {
        p->key = *key;
        p->rec = rec;
        p->queue = q;
        p->due_ms = mr_mono_ms();
    }
    return p;
}

static void
pending_free(pending *p)
{
    protobuf_c_message_free_unpacked(&p->rec->base, NULL);
    free(p);
}

/* add adds p to the waiting deletions and counts it unless counted. When
 * that fails, p is freed and its record waits in the store for the next
 * start. */
static void
add(reg_deletion_queue *q, pending *p, bool counted)
{
    mr_err err;

    pthread_mutex_lock(&q->mu);
    err = q->stopping ? MR_ESHUTTING_DOWN : heap_push(q, p);
    if (err == MR_OK && !counted) {
        q->total++;
    }
    if (err != MR_OK && counted) {
        q->total--;
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);

    if (err == MR_ENOMEM) {
        MR_ERROR("reg.client.delete_nomem", p->rec->deletion_id,
                 "memory ran out: the deletion of client %s waits in the "
                 "store until the next start",
                 p->rec->client_id);
    }
    if (err != MR_OK) {
        pending_free(p);
    }
}

/* forget deletes the record of p, which has ended, and frees p. */
static void
forget(reg_deletion_queue *q, pending *p)
{
    reg_batch *batch = reg_batch_new();
    mr_err err = batch != NULL ? MR_OK : MR_ENOMEM;

    if (err == MR_OK) {
        reg_batch_delete(batch, &p->key);
        err = reg_store_write(q->service->store, batch);
    }
    if (err != MR_OK) {
        MR_ERROR("reg.client.delete_forget", p->rec->deletion_id,
                 "the record %s of an ended deletion could not be deleted "
                 "(%s), so the deletion runs again after the next start",
                 p->key.text, mr_err_code(err));
    }
    reg_batch_free(batch);

    pthread_mutex_lock(&q->mu);
    q->total--;
    pthread_mutex_unlock(&q->mu);
    pending_free(p);
}

static bool
too_old(const reg_deletion_queue *q, const pending *p)
{
    return mr_now_ms() - p->rec->created_at_ms >= q->cfg.max_age_ms;
}

/* drop logs that p is given up because it is too old, then deletes its
 * record and frees it. */
static void
drop(reg_deletion_queue *q, pending *p)
{
    bool failed = p->attempts > 0;

    MR_WARN("reg.client.delete_dropped", p->rec->deletion_id,
            "gave up deleting client %s of provider %s at %s: the deletion "
            "is %lld s old, past --deletion-max-age-s, after %d failed "
            "attempts since the service started (last error: %s%s%s). "
            "Delete the client at its authorization server by hand",
            p->rec->client_id, p->rec->oauth_provider_id,
            p->rec->registration_client_uri,
            (long long)((mr_now_ms() - p->rec->created_at_ms) / 1000),
            p->attempts, failed ? mr_err_code(p->outcome) : "none",
            failed ? ": " : "", failed ? p->detail : "");
    forget(q, p);
}

/* give_up logs that the last attempt of p failed with an error that no
 * retry can fix, then deletes its record and frees it. */
static void
give_up(reg_deletion_queue *q, pending *p)
{
    MR_WARN("reg.client.delete_failed_permanently", p->rec->deletion_id,
            "gave up deleting client %s of provider %s at %s after %d "
            "attempts: %s: %s. A retry cannot fix this error, so the "
            "deletion is dropped. Delete the client at its authorization "
            "server by hand",
            p->rec->client_id, p->rec->oauth_provider_id,
            p->rec->registration_client_uri, p->attempts,
            mr_err_code(p->outcome), p->detail);
    forget(q, p);
}

/* ---- sending and replies ---- */

/* record_outcome queues the outcome of an attempt of p for the thread and
 * frees its send slot. */
static void
record_outcome(pending *p, mr_err err, const char *detail)
{
    reg_deletion_queue *q = p->queue;

    pthread_mutex_lock(&q->mu);
    p->outcome = err;
    snprintf(p->detail, sizeof(p->detail), "%s", detail);
    p->next = q->replied;
    q->replied = p;
    q->in_flight--;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void
on_reply(void *arg, const mr_rpc_status *status, ProtobufCMessage *response)
{
    pending *p = arg;

    if (response != NULL) {
        p->http_status =
            ((Mcpreg__V1__DeleteClientResponse *)response)->http_status;
        protobuf_c_message_free_unpacked(response, NULL);
    }
    record_outcome(p, status->err, status->detail);
}

/* send_one unseals the access token of p and sends its DeleteClient, with
 * the deletion id as request id so that the worker's log names it. */
static mr_err
send_one(reg_deletion_queue *q, pending *p)
{
    Mcpreg__V1__DeleteClientRequest req =
        MCPREG__V1__DELETE_CLIENT_REQUEST__INIT;
    const Mcpreg__V1__PendingDeletionRecord *rec = p->rec;
    char job_id[MR_UUID_LEN + 1];
    char *token = NULL;
    size_t token_len = 0;
    mr_err err = MR_EINTERNAL;

    if (rec->registration_access_token != NULL) {
        err =
            reg_seal_decrypt(&q->service->seal, rec->registration_access_token,
                             rec->sealed_with_key,
                             strlen(rec->sealed_with_key), &token, &token_len);
    }
    if (err == MR_OK) {
        mr_uuid_v4(job_id);
        req.job_id = job_id;
        req.registration_client_uri = rec->registration_client_uri;
        req.registration_access_token = token;
        err = mr_rpc_call_async(
            q->cfg.jobs, MR_M_DELETE_CLIENT, &req.base,
            &mcpreg__v1__delete_client_response__descriptor, rec->deletion_id,
            q->cfg.timeout_ms, on_reply, p);
    }
    reg_seal_free(token, token_len);
    return err;
}

/* send_all sends the deletions of list, each of which has taken a send
 * slot, and drops those that are too old. */
static void
send_all(reg_deletion_queue *q, pending *list)
{
    while (list != NULL) {
        pending *p = list;
        char why[256];
        char detail[REG_DETAIL_MAX];
        mr_err err;

        list = list->next;
        if (too_old(q, p)) {
            pthread_mutex_lock(&q->mu);
            q->in_flight--;
            pthread_mutex_unlock(&q->mu);
            drop(q, p);
            continue;
        }
        err = send_one(q, p);
        if (err == MR_EINTERNAL) {
            reg_seal_explain(&q->service->seal,
                             p->rec->registration_access_token, why,
                             sizeof(why));
            snprintf(detail, sizeof(detail),
                     "the registration access token cannot be unsealed: %s",
                     why);
            record_outcome(p, err, detail);
        } else if (err != MR_OK) {
            record_outcome(p, err, "the DeleteClient call could not be sent");
        }
    }
}

/* log_retry logs a failed attempt: at warn level for attempts 1, 2, 4,
 * 8 and so on, and at debug level for the others, so that a deletion
 * that fails for a day writes a few warnings, not hundreds. */
static void
log_retry(const pending *p, int64_t delay_ms)
{
    bool power_of_two = (p->attempts & (p->attempts - 1)) == 0;

    mr_log(power_of_two ? MR_LOG_WARN : MR_LOG_DEBUG,
           "reg.client.delete_failed", p->rec->deletion_id,
           "deleting client %s of provider %s failed (attempt %d): %s: %s; "
           "retrying in %lld ms",
           p->rec->client_id, p->rec->oauth_provider_id, p->attempts,
           mr_err_code(p->outcome), p->detail, (long long)delay_ms);
}

/* log_deleted logs a deletion that ended well. A 404 or 410 (and a 401,
 * which the worker reports as a rejection) does not prove a deletion: the
 * server has no such client, or offers no RFC 7592 deletion at that URL. */
static void
log_deleted(const pending *p)
{
    if (p->outcome == MR_OK && p->http_status >= 200 &&
        p->http_status <= 299) {
        MR_INFO("reg.client.deleted", p->rec->deletion_id,
                "deleted client %s of provider %s at its authorization "
                "server (HTTP %d)",
                p->rec->client_id, p->rec->oauth_provider_id, p->http_status);
        return;
    }
    MR_INFO("reg.client.delete_gone", p->rec->deletion_id,
            "ended the deletion of client %s of provider %s: the "
            "authorization server answered HTTP %d, so it has no such "
            "client or offers no RFC 7592 deletion there; nothing is retried",
            p->rec->client_id, p->rec->oauth_provider_id,
            p->outcome == MR_OK ? p->http_status : 401);
}

/* finish_one ends p when its last attempt finished the deletion, else
 * drops it when the error is permanent or p is too old, else queues it for
 * its next attempt. */
static void
finish_one(reg_deletion_queue *q, pending *p)
{
    int64_t delay;

    if (reg_deletions_finished(p->outcome, p->detail)) {
        log_deleted(p);
        forget(q, p);
        return;
    }

    p->attempts++;
    if (reg_deletions_permanent(p->outcome)) {
        give_up(q, p);
        return;
    }
    if (too_old(q, p)) {
        drop(q, p);
        return;
    }
    delay = reg_deletions_backoff(&q->cfg, p->attempts, randombytes_random());
    log_retry(p, delay);
    p->due_ms = mr_mono_ms() + delay;
    add(q, p, true);
}

/* ---- the thread ---- */

/* take_due takes the waiting deletions that are due, as many as there
 * are free send slots, and returns them as a list. The caller has locked mu.
 */
static pending *
take_due(reg_deletion_queue *q)
{
    int64_t now = mr_mono_ms();
    pending *due = NULL;

    while (q->count > 0 && q->in_flight < q->cfg.max_in_flight &&
           q->heap[0]->due_ms <= now) {
        pending *p = heap_pop(q);

        p->next = due;
        due = p;
        q->in_flight++;
    }
    return due;
}

/* wait_for_work waits until an outcome arrives, the queue stops, or the
 * earliest waiting deletion is due while a send slot is free. The caller
 * has locked mu. */
static void
wait_for_work(reg_deletion_queue *q)
{
    struct timespec until;
    int64_t due;

    if (q->replied != NULL || q->stopping) {
        return;
    }
    if (q->count == 0 || q->in_flight >= q->cfg.max_in_flight) {
        pthread_cond_wait(&q->cv, &q->mu);
        return;
    }
    due = q->heap[0]->due_ms;
    if (due <= mr_mono_ms()) {
        return;
    }
    until = mr_mono_timespec(due);
    pthread_cond_timedwait(&q->cv, &q->mu, &until);
}

static void *
run(void *arg)
{
    reg_deletion_queue *q = arg;

    pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        pending *replied = q->replied;
        pending *due = take_due(q);

        q->replied = NULL;
        pthread_mutex_unlock(&q->mu);
        while (replied != NULL) {
            pending *p = replied;

            replied = replied->next;
            finish_one(q, p);
        }
        send_all(q, due);
        pthread_mutex_lock(&q->mu);
        wait_for_work(q);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- start and stop ---- */

static mr_err
load_record(void *arg, const char *key, size_t keylen, const char *value,
            size_t len)
{
    reg_deletion_queue *q = arg;
    Mcpreg__V1__PendingDeletionRecord *rec;
    pending *p = NULL;
    reg_key k;

    rec = mcpreg__v1__pending_deletion_record__unpack(NULL, len,
                                                      (const uint8_t *)value);
    if (rec == NULL || reg_key_set(&k, key, keylen) != MR_OK) {
        MR_ERROR("reg.client.delete_corrupt", NULL,
                 "the deletion record %.*s does not decode; it is skipped",
                 (int)keylen, key);
    } else {
        p = pending_new(q, &k, rec);
    }
    if (p == NULL) {
        if (rec != NULL) {
            protobuf_c_message_free_unpacked(&rec->base, NULL);
        }
        return rec == NULL ? MR_OK : MR_ENOMEM;
    }
    add(q, p, false);
    return MR_OK;
}

static void
queue_free(reg_deletion_queue *q)
{
    for (size_t i = 0; i < q->count; i++) {
        pending_free(q->heap[i]);
    }
    free(q->heap);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static reg_deletion_queue *
queue_new(reg_service *service, const reg_deletion_config *cfg)
{
    reg_deletion_queue *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        return NULL;
    }
    q->service = service;
    q->cfg = *cfg;
    pthread_mutex_init(&q->mu, NULL);
    mr_cond_init_mono(&q->cv);
    return q;
}

mr_err
reg_deletions_start(reg_service *service, const reg_deletion_config *cfg)
{
    reg_deletion_queue *q = queue_new(service, cfg);
    reg_key prefix;
    mr_err err = q != NULL ? MR_OK : MR_ENOMEM;

    if (err == MR_OK) {
        err = reg_key_build(&prefix, REG_T_CLIENTDEL, "", NULL);
    }
    if (err == MR_OK) {
        err = reg_store_scan(service->store, &prefix, load_record, q);
    }
    if (err == MR_OK && pthread_create(&q->thread, NULL, run, q) != 0) {
        MR_ERROR("reg.deletions.thread", NULL,
                 "cannot start the thread of client deletions");
        err = MR_EINTERNAL;
    }
    if (err != MR_OK) {
        if (q != NULL) {
            queue_free(q);
        }
        return err;
    }

    q->started = true;
    service->deletions = q;
    if (q->count > 0) {
        MR_INFO("reg.deletions.resumed", NULL,
                "resuming %zu client deletions left by an earlier run",
                q->count);
    }
    return MR_OK;
}

void
reg_deletions_stop(reg_service *service)
{
    reg_deletion_queue *q = service->deletions;

    if (q == NULL || !q->started) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    q->started = false;
}

void
reg_deletions_close(reg_service *service)
{
    reg_deletion_queue *q = service->deletions;
    pending *replied;

    if (q == NULL) {
        return;
    }
    reg_deletions_stop(service);
    replied = q->replied;
    q->replied = NULL;
    while (replied != NULL) {
        pending *p = replied;

        replied = replied->next;
        if (reg_deletions_finished(p->outcome, p->detail)) {
            log_deleted(p);
            forget(q, p);
        } else if (reg_deletions_permanent(p->outcome)) {
            p->attempts++;
            give_up(q, p);
        } else {
            pending_free(p);
        }
    }
    queue_free(q);
    service->deletions = NULL;
}

size_t
reg_deletions_pending(reg_service *service)
{
    reg_deletion_queue *q = service->deletions;
    size_t total;

    if (q == NULL) {
        return 0;
    }
    pthread_mutex_lock(&q->mu);
    total = q->total;
    pthread_mutex_unlock(&q->mu);
    return total;
}

void
reg_deletions_enqueue(reg_service *service, const reg_key *key,
                      Mcpreg__V1__PendingDeletionRecord *rec)
{
    reg_deletion_queue *q = service->deletions;
    pending *p = q != NULL ? pending_new(q, key, rec) : NULL;

    if (p == NULL) {
        protobuf_c_message_free_unpacked(&rec->base, NULL);
        return;
    }
    add(q, p, false);
}
