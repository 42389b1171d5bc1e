/* mr_log_internal.h - the parts of mr_log that its files share, and no
 * one else. */
#ifndef MR_LOG_INTERNAL_H
#define MR_LOG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mr_log.h"

/* MR_LOG__LINE_MAX bounds one line; longer messages are cut. */
#define MR_LOG__LINE_MAX 2048

/* mr_log__set_fd sets the file descriptor that lines go to. */
void mr_log__set_fd(int fd);

/*
 * mr_log__format writes the JSON line of a message logged at ms (the wall
 * clock in milliseconds) into out, which has MR_LOG__LINE_MAX bytes, and
 * returns its length. text is the message, already formatted.
 */
size_t mr_log__format(char *out, mr_log_level level, int64_t ms,
                      const char *msg_id, const char *request_id,
                      const mr_log_field *fields, size_t nfields,
                      const char *text);

/*
 * mr_log__emit writes one finished line of len bytes, or one record of
 * mr_log__defer, at once or through the buffer of mr_log_buffer. A
 * deferred line takes the buffer at any level.
 */
void mr_log__emit(mr_log_level level, bool deferred, const char *buf,
                  size_t len);

/* mr_log__buffering returns whether mr_log_buffer has started the
 * flusher. */
bool mr_log__buffering(void);

/*
 * mr_log__defer copies the inputs of a line into a record in the buffer,
 * to be formatted when the buffer is written, and returns true. It returns
 * false, leaving the line to the caller, when lines are not buffered or
 * the record would be too large. msg_id, the field names and text must
 * outlive the process: they are kept as pointers.
 */
bool mr_log__defer(mr_log_level level, const char *msg_id,
                   const char *request_id, const mr_log_field *fields,
                   size_t nfields, const char *text);

/* MR_LOG__RECORD is the first byte of a record, which no JSON line
 * holds. */
#define MR_LOG__RECORD '\0'

/*
 * mr_log__record_len returns the length of the record at rec, which starts
 * with MR_LOG__RECORD.
 */
size_t mr_log__record_len(const char *rec);

/*
 * mr_log__expand writes the line of the record at rec into out, which has
 * MR_LOG__LINE_MAX bytes, and returns its length.
 */
size_t mr_log__expand(const char *rec, char *out);

#endif
