/* reg_reseal.c - re-sealing every stored secret under the current key. */
#include <string.h>

#include "mcpreg/v1/store.pb-c.h"
#include "mr_log.h"
#include "reg_reseal.h"

/* SLOTS_MAX is the maximum number of sealed values in one record. */
#define SLOTS_MAX 2

/* sealed_slot is one sealed field of a record and the associated data it
 * was sealed with. */
typedef struct {
    Mcpreg__V1__Sealed **field;
    const char *ad;
    size_t adlen;
} sealed_slot;

/* list_slots fills slots with the sealed fields of msg that are set and
 * returns their number; key is the store key of msg. */
typedef size_t (*list_slots)(ProtobufCMessage *msg, const char *key,
                             size_t keylen, sealed_slot slots[SLOTS_MAX]);

/* table_def is a table whose records contain sealed values. */
typedef struct {
    const char *table;
    const ProtobufCMessageDescriptor *type;
    list_slots slots;
} table_def;

/* walk is the state of the walk through one table. */
typedef struct {
    reg_store *store;
    const reg_seal *seal;
    size_t batch_size;
    reg_batch *batch;
    long in_batch;
    const table_def *def;
    reg_reseal_count *count;
} walk;

/* Adds field to slots when it is set, with ad as associated data. */
static void
add_slot(sealed_slot *slots, size_t *n, Mcpreg__V1__Sealed **field,
         const char *ad, size_t adlen)
{
    if (*field == NULL) {
        return;
    }
    slots[*n].field = field;
    slots[*n].ad = ad;
    slots[*n].adlen = adlen;
    (*n)++;
}

/* A provider mapping's secrets have its prov/ key as associated data. */
static size_t
prov_slots(ProtobufCMessage *msg, const char *key, size_t keylen,
           sealed_slot slots[SLOTS_MAX])
{
    Mcpreg__V1__ProviderRecord *rec = (Mcpreg__V1__ProviderRecord *)msg;
    size_t n = 0;

    add_slot(slots, &n, &rec->client_secret, key, keylen);
    add_slot(slots, &n, &rec->registration_access_token, key, keylen);
    return n;
}

/* An operator client's secret has its opclient/ key as associated data. */
static size_t
opclient_slots(ProtobufCMessage *msg, const char *key, size_t keylen,
               sealed_slot slots[SLOTS_MAX])
{
    Mcpreg__V1__OperatorClientRecord *rec =
        (Mcpreg__V1__OperatorClientRecord *)msg;
    size_t n = 0;

    add_slot(slots, &n, &rec->client_secret, key, keylen);
    return n;
}

/* An MCP server's headers have its srv/ key as associated data. */
static size_t
srv_slots(ProtobufCMessage *msg, const char *key, size_t keylen,
          sealed_slot slots[SLOTS_MAX])
{
    Mcpreg__V1__McpServerRecord *rec = (Mcpreg__V1__McpServerRecord *)msg;
    size_t n = 0;

    add_slot(slots, &n, &rec->sealed_headers, key, keylen);
    return n;
}

/* A pending deletion's token keeps the associated data of the provider
 * mapping it came from, whose prov/ key the record stores. */
static size_t
clientdel_slots(ProtobufCMessage *msg, const char *key, size_t keylen,
                sealed_slot slots[SLOTS_MAX])
{
    Mcpreg__V1__PendingDeletionRecord *rec =
        (Mcpreg__V1__PendingDeletionRecord *)msg;
    size_t n = 0;

    (void)key;
    (void)keylen;
    add_slot(slots, &n, &rec->registration_access_token, rec->sealed_with_key,
             strlen(rec->sealed_with_key));
    return n;
}

static const table_def TABLES[REG_RESEAL_TABLES] = {
    {REG_T_PROV, &mcpreg__v1__provider_record__descriptor, prov_slots},
    {REG_T_OPCLIENT, &mcpreg__v1__operator_client_record__descriptor,
     opclient_slots},
    {REG_T_SRV, &mcpreg__v1__mcp_server_record__descriptor, srv_slots},
    {REG_T_CLIENTDEL, &mcpreg__v1__pending_deletion_record__descriptor,
     clientdel_slots},
};

/* Writes the batch of w and starts a new one. The records of a failed
 * write count as failed. */
static mr_err
flush(walk *w)
{
    mr_err err = MR_OK;

    if (w->in_batch > 0) {
        err = reg_store_write(w->store, w->batch);
    }
    if (err == MR_OK) {
        w->count->rewritten += w->in_batch;
    } else {
        w->count->failed += w->in_batch;
    }
    w->in_batch = 0;

    reg_batch_free(w->batch);
    w->batch = reg_batch_new();
    if (err == MR_OK && w->batch == NULL) {
        err = MR_ENOMEM;
    }
    return err;
}

/* Opens the value of slot and seals it again under the current key into
 * fresh. A value that does not open returns MR_EINTERNAL, logged. */
static mr_err
reseal_value(const walk *w, const char *key, size_t keylen,
             const sealed_slot *slot, Mcpreg__V1__Sealed *fresh)
{
    const Mcpreg__V1__Sealed *old = *slot->field;
    char *plain = NULL;
    size_t len = 0;
    char why[256];
    mr_err err =
        reg_seal_decrypt(w->seal, old, slot->ad, slot->adlen, &plain, &len);

    if (err == MR_EINTERNAL) {
        reg_seal_explain(w->seal, old, why, sizeof(why));
        MR_ERROR("reg.reseal.unsealable", NULL,
                 "a sealed value of record %.*s cannot be opened, so the "
                 "record is left as it is: %s",
                 (int)keylen, key, why);
    }
    if (err == MR_OK) {
        err = reg_seal_encrypt(w->seal, plain, len, slot->ad, slot->adlen,
                               fresh);
    }
    reg_seal_free(plain, len);
    return err;
}

/* Re-seals the stale values of msg into fresh, points msg at them and adds
 * msg to the batch. The caller restores old afterwards, because fresh is
 * not part of msg's unpacked memory. Sets *stale to the number of values
 * re-sealed. */
static mr_err
reseal_record(walk *w, ProtobufCMessage *msg, const char *key, size_t keylen,
              const sealed_slot *slots, size_t n,
              Mcpreg__V1__Sealed fresh[SLOTS_MAX], size_t *stale)
{
    reg_key store_key;
    mr_err err = MR_OK;

    *stale = 0;
    for (size_t i = 0; i < n && err == MR_OK; i++) {
        if ((*slots[i].field)->key_id == w->seal->key_id) {
            continue;
        }
        err = reseal_value(w, key, keylen, &slots[i], &fresh[i]);
        if (err == MR_OK) {
            *slots[i].field = &fresh[i];
            (*stale)++;
        }
    }
    if (err != MR_OK || *stale == 0) {
        return err;
    }

    err = reg_key_set(&store_key, key, keylen);
    if (err == MR_OK) {
        err = reg_batch_put_msg(w->batch, &store_key, msg);
    }
    return err;
}

/* Counts one record of the walk; see reg_reseal_run for which failures
 * stop the walk. */
static mr_err
visit_record(void *arg, const char *key, size_t keylen, const char *value,
             size_t len)
{
    walk *w = arg;
    sealed_slot slots[SLOTS_MAX];
    Mcpreg__V1__Sealed fresh[SLOTS_MAX];
    Mcpreg__V1__Sealed *old[SLOTS_MAX] = {NULL, NULL};
    ProtobufCMessage *msg = protobuf_c_message_unpack(w->def->type, NULL, len,
                                                      (const uint8_t *)value);
    size_t n = 0;
    size_t stale = 0;
    mr_err err;

    if (msg == NULL) {
        MR_ERROR("reg.reseal.undecodable", NULL,
                 "record %.*s does not decode, so it is left as it is",
                 (int)keylen, key);
        w->count->failed++;
        return MR_OK;
    }

    n = w->def->slots(msg, key, keylen, slots);
    for (size_t i = 0; i < n; i++) {
        old[i] = *slots[i].field;
        mcpreg__v1__sealed__init(&fresh[i]);
    }
    err = reseal_record(w, msg, key, keylen, slots, n, fresh, &stale);
    for (size_t i = 0; i < n; i++) {
        *slots[i].field = old[i];
        reg_seal_clear(&fresh[i]);
    }
    protobuf_c_message_free_unpacked(msg, NULL);

    if (err == MR_EINTERNAL) {
        w->count->failed++;
        return MR_OK;
    }
    if (err != MR_OK) {
        return err;
    }
    if (stale == 0) {
        w->count->current++;
        return MR_OK;
    }
    w->in_batch++;
    return (size_t)w->in_batch >= w->batch_size ? flush(w) : MR_OK;
}

/* Walks the records of one table and writes its last batch. */
static mr_err
walk_table(walk *w, const table_def *def, reg_reseal_count *count)
{
    reg_key prefix;
    mr_err err = reg_key_build(&prefix, def->table, "", NULL);

    w->def = def;
    w->count = count;
    count->table = def->table;
    if (err == MR_OK) {
        err = reg_store_scan(w->store, &prefix, visit_record, w);
    }

    /* The records of the batch count as written or failed either way. */
    if (err == MR_OK) {
        err = flush(w);
    } else {
        count->failed += w->in_batch;
        w->in_batch = 0;
    }
    return err;
}

mr_err
reg_reseal_run(reg_store *store, const reg_seal *seal, size_t batch_size,
               reg_reseal_summary *out)
{
    walk w = {
        .store = store,
        .seal = seal,
        .batch_size = batch_size > 0 ? batch_size : 1,
        .batch = reg_batch_new(),
    };
    mr_err err = w.batch != NULL ? MR_OK : MR_ENOMEM;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < REG_RESEAL_TABLES; i++) {
        out->tables[i].table = TABLES[i].table;
    }

    reg_store_lock(store);
    for (size_t i = 0; i < REG_RESEAL_TABLES && err == MR_OK; i++) {
        err = walk_table(&w, &TABLES[i], &out->tables[i]);
    }
    reg_store_unlock(store);

    reg_batch_free(w.batch);
    return err;
}

long
reg_reseal_failed(const reg_reseal_summary *summary)
{
    long failed = 0;

    for (size_t i = 0; i < REG_RESEAL_TABLES; i++) {
        failed += summary->tables[i].failed;
    }
    return failed;
}

void
reg_reseal_print_json(const reg_reseal_summary *summary, FILE *f)
{
    long rewritten = 0;
    long current = 0;

    fprintf(f, "{\"tables\":{");
    for (size_t i = 0; i < REG_RESEAL_TABLES; i++) {
        const reg_reseal_count *c = &summary->tables[i];

        fprintf(f,
                "%s\"%s\":{\"rewritten\":%ld,\"current\":%ld,"
                "\"failed\":%ld}",
                i > 0 ? "," : "", c->table, c->rewritten, c->current,
                c->failed);
        rewritten += c->rewritten;
        current += c->current;
    }
    fprintf(f, "},\"rewritten\":%ld,\"current\":%ld,\"failed\":%ld}\n",
            rewritten, current, reg_reseal_failed(summary));
}
