/* Thread-local last-error message and the log hook. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local nerc_status err_status = NERC_OK;
static nerc_log_fn log_fn = NULL;
static void *log_user = NULL;
static int log_set = 0;

const char *nerc_last_error(void) { return err_msg; }
nerc_status nerc_last_status(void) { return err_status; }

const char *nerc_status_name(nerc_status s) {
    switch (s) {
    case NERC_OK: return "ok";
    case NERC_ERR_IO: return "i/o error";
    case NERC_ERR_FORMAT: return "format error";
    case NERC_ERR_ARG: return "invalid argument";
    case NERC_ERR_NOMEM: return "out of memory";
    case NERC_ERR_NUMERIC: return "numeric error";
    case NERC_ERR_INTERNAL: return "internal error";
    case NERC_ERR_UNSUPPORTED: return "unsupported on this CPU";
    }
    return "unknown error";
}

nerc_status nerc_errorf(nerc_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    err_status = st;
    return st;
}

nerc_status nerc_error_prefix(nerc_status st, const char *fmt, ...) {
    char old[sizeof err_msg];
    memcpy(old, err_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    /* append ": <old>", truncated to the buffer */
    size_t at = n < 0 ? 0 : (size_t)n;
    const char *src = ": ";
    for (int part = 0; part < 2; part++, src = old)
        for (; *src && at + 1 < sizeof err_msg; src++)
            err_msg[at++] = *src;
    err_msg[at < sizeof err_msg ? at : sizeof err_msg - 1] = '\0';
    err_status = st;
    return st;
}

void nerc_set_log(nerc_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
    log_set = 1;
}

void nerc_logf(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!log_set)
        fprintf(stderr, "nerc: %s\n", buf);
    else if (log_fn)
        log_fn(buf, log_user);
}
