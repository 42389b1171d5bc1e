/* mr_log_record.c - deferred lines: their inputs copied at once, the line
 * formatted when the buffer is written. */
#include <string.h>

#include "mr_log_internal.h"
#include "mr_util.h"

/* RECORD_MAX bounds a record and RECORD_FIELDS its fields; a line with
 * more is formatted at once. */
#define RECORD_MAX    1024
#define RECORD_FIELDS 16

/*
 * A record is the byte MR_LOG__RECORD, a head, the request id with its
 * NUL, and for each field its name (a pointer), a kind byte, and the
 * number or the string with its NUL. Nothing in it is aligned, so its
 * parts are copied in and out with memcpy.
 */
typedef struct {
    uint16_t len; /* of the whole record */
    uint8_t level;
    uint8_t nfields;
    int64_t ms;
    const char *msg_id;
    const char *text;
} head;

#define KIND_STR 's'
#define KIND_NUM 'n'

/* writer is a record being filled, at the byte at, up to end. */
typedef struct {
    char *at;
    char *end;
} writer;

/* put copies n bytes into w and returns true, or returns false when they
 * do not fit. */
static bool
put(writer *w, const void *p, size_t n)
{
    if ((size_t)(w->end - w->at) < n) {
        return false;
    }
    memcpy(w->at, p, n);
    w->at += n;
    return true;
}

static bool
put_string(writer *w, const char *s)
{
    return put(w, s, strlen(s) + 1);
}

static bool
put_field(writer *w, const mr_log_field *f)
{
    char kind = f->str != NULL ? KIND_STR : KIND_NUM;

    if (!put(w, &f->name, sizeof(f->name)) || !put(w, &kind, 1)) {
        return false;
    }
    if (f->str != NULL) {
        return put_string(w, f->str);
    }
    return put(w, &f->num, sizeof(f->num));
}

bool
mr_log__defer(mr_log_level level, const char *msg_id, const char *request_id,
              const mr_log_field *fields, size_t nfields, const char *text)
{
    char rec[RECORD_MAX];
    writer w = {rec + 1 + sizeof(head), rec + sizeof(rec)};
    head h = {0, (uint8_t)level, (uint8_t)nfields, 0, msg_id, text};
    bool ok = mr_log__buffering() && nfields <= RECORD_FIELDS;

    if (ok) {
        ok = put_string(&w, request_id != NULL ? request_id : "");
    }
    for (size_t i = 0; ok && i < nfields; i++) {
        ok = put_field(&w, &fields[i]);
    }
    if (!ok) {
        return false;
    }

    h.len = (uint16_t)(w.at - rec);
    h.ms = mr_now_ms();
    rec[0] = MR_LOG__RECORD;
    memcpy(rec + 1, &h, sizeof(h));
    mr_log__emit(level, true, rec, h.len);
    return true;
}

size_t
mr_log__record_len(const char *rec)
{
    head h;

    memcpy(&h, rec + 1, sizeof(h));
    return h.len;
}

/* take_field reads the field at at into f and returns the byte after
 * it. Its string stays in the record. */
static const char *
take_field(const char *at, mr_log_field *f)
{
    char kind;

    memcpy(&f->name, at, sizeof(f->name));
    at += sizeof(f->name);
    kind = *at++;
    f->num = 0;
    f->str = NULL;
    if (kind == KIND_STR) {
        f->str = at;
        return at + strlen(at) + 1;
    }
    memcpy(&f->num, at, sizeof(f->num));
    return at + sizeof(f->num);
}

size_t
mr_log__expand(const char *rec, char *out)
{
    mr_log_field fields[RECORD_FIELDS];
    const char *request_id = rec + 1 + sizeof(head);
    const char *at = request_id + strlen(request_id) + 1;
    head h;

    memcpy(&h, rec + 1, sizeof(h));
    for (size_t i = 0; i < h.nfields; i++) {
        at = take_field(at, &fields[i]);
    }
    return mr_log__format(out, (mr_log_level)h.level, h.ms, h.msg_id,
                          request_id, fields, h.nfields, h.text);
}
