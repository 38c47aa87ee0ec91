/* Error reporting inside libnerc: set a thread-local message, return a status. */
#ifndef NERC_CORE_ERROR_H
#define NERC_CORE_ERROR_H

#include "nerc/common.h"

/* Records a printf-style message for nerc_last_error() and returns `st`:
 *     if (n < 0) return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: bad count", path, line); */
nerc_status nerc_errorf(nerc_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message: "context: <old message>". Returns `st`. */
nerc_status nerc_error_prefix(nerc_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends a notice through the log hook. */
void nerc_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Propagate a failing status: NERC_TRY(st_open(&f, path)); */
#define NERC_TRY(expr)                         \
    do {                                       \
        nerc_status nerc_try_st_ = (expr);     \
        if (nerc_try_st_ != NERC_OK)           \
            return nerc_try_st_;               \
    } while (0)

#endif
