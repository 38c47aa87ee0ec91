/* nerc/common.h — status codes, errors and logging shared by the whole API.
 *
 * Conventions (whisper.cpp / SQLite style):
 *  - every fallible call returns nerc_status; NERC_OK is 0;
 *  - on failure, nerc_last_error() gives a one-line message naming the
 *    file, line or tensor at fault (thread-local, valid until the next
 *    failing call on the same thread);
 *  - the library never exits and never prints except through the log hook;
 *  - objects are opaque and come in load/init and free pairs. */
#ifndef NERC_COMMON_H
#define NERC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NERC_VERSION "0.1.0"

/* "nerc 0.1.0 (oneDNN 2.6.3, ...)": the library and the versions it runs on. */
const char *nerc_version_string(void);

typedef enum {
    NERC_OK = 0,
    NERC_ERR_IO,      /* a file could not be opened, read or written */
    NERC_ERR_FORMAT,  /* an input file is malformed */
    NERC_ERR_ARG,     /* a caller-supplied value is invalid */
    NERC_ERR_NOMEM,   /* an allocation failed or a size overflowed */
    NERC_ERR_NUMERIC, /* NaN / Inf met in training */
    NERC_ERR_INTERNAL
} nerc_status;

/* The message of the last failure on this thread ("" if none). */
const char *nerc_last_error(void);
/* A short name for a status code ("io error", "format error", ...). */
const char *nerc_status_name(nerc_status s);

/* Log hook: the library reports notices (e.g. "skipped 6 tensors of a
 * masked-LM head") through it. Default: print to stderr. NULL silences. */
/* Threads used by every parallel kernel (default: OMP_NUM_THREADS or all
 * cores). n <= 0 keeps the current setting. */
void nerc_set_threads(int n);
int nerc_get_threads(void);

typedef void (*nerc_log_fn)(const char *msg, void *user);
void nerc_set_log(nerc_log_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* NERC_COMMON_H */
