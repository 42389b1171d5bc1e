/* reg_reseal.h - re-sealing every stored secret under the current key, so
 * that retired sealing keys can be dropped after a key rotation. */
#ifndef REG_RESEAL_H
#define REG_RESEAL_H

#include <stddef.h>
#include <stdio.h>

#include "mr_err.h"
#include "reg_seal.h"
#include "reg_store.h"

/* REG_RESEAL_TABLES is the number of tables whose records contain sealed
 * values: prov, opclient, srv and clientdel. */
#define REG_RESEAL_TABLES 4

/* REG_RESEAL_BATCH is the default number of records written per batch. */
#define REG_RESEAL_BATCH 256

/* reg_reseal_count is the outcome of a re-seal run for one table. */
typedef struct {
    const char *table; /* REG_T_PROV and so on, static */
    long rewritten;    /* records re-sealed under the current key */
    long current;      /* records with no value sealed under another key */
    long failed;       /* records that did not decode, open or get written */
} reg_reseal_count;

/* reg_reseal_summary is the outcome of a re-seal run, one entry a table. */
typedef struct {
    reg_reseal_count tables[REG_RESEAL_TABLES];
} reg_reseal_summary;

/*
 * reg_reseal_run walks the records of every table that contains sealed values
 * and re-seals each value whose key id is not the current key's of seal,
 * with the same associated data, writing batch_size records per synced
 * batch. A record that does not decode or whose value does not open is
 * logged, counted as failed and left as it is, and the walk goes on, so a
 * second run only retries the failures. The caller must hold the store
 * alone: the service must not run meanwhile. It returns MR_OK when the
 * walk finished, which may include failed records, or MR_EINTERNAL,
 * logged, when the store fails, and the records of the unwritten batch
 * then count as failed.
 */
mr_err reg_reseal_run(reg_store *store, const reg_seal *seal,
                      size_t batch_size, reg_reseal_summary *out);

/* reg_reseal_failed returns the number of failed records in summary. */
long reg_reseal_failed(const reg_reseal_summary *summary);

/*
 * reg_reseal_print_json writes summary to f as one JSON object and a
 * newline: {"tables":{"prov":{"rewritten":N,"current":N,"failed":N},...},
 * "rewritten":N,"current":N,"failed":N}, the last three summed over the
 * tables.
 */
void reg_reseal_print_json(const reg_reseal_summary *summary, FILE *f);

#endif
