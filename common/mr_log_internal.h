/* mr_log_internal.h - the output side of mr_log, shared by mr_log.c and
 * mr_log_out.c only. */
#ifndef MR_LOG_INTERNAL_H
#define MR_LOG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "mr_log.h"

/* mr_log__set_fd sets the file descriptor that lines go to. */
void mr_log__set_fd(int fd);

/* mr_log__emit writes one finished line of len bytes, at once or through
 * the buffer of mr_log_buffer. A deferred line takes the buffer at any
 * level. */
void mr_log__emit(mr_log_level level, bool deferred, const char *buf,
                  size_t len);

#endif
