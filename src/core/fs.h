/* File helpers: read a whole file, write a file atomically, make directories. */
#ifndef NERC_CORE_FS_H
#define NERC_CORE_FS_H

#include <stddef.h>
#include "nerc/common.h"

/* Reads `path` into a malloc'd, NUL-terminated buffer (*len excludes the NUL).
 * Refuses files over max_bytes (0 = no limit). */
nerc_status fs_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

/* Atomic write: `path`.tmp.<pid> is written, fsync'd, renamed over `path`,
 * and the directory is fsync'd. Either the old or the new file survives a crash. */
typedef struct {
    int fd;
    char *path;
    char *tmp_path;
    nerc_status st; /* sticky: the first failure of fs_atomic_write */
} fs_atomic;

nerc_status fs_atomic_open(fs_atomic *a, const char *path);
nerc_status fs_atomic_write(fs_atomic *a, const void *buf, size_t n);
nerc_status fs_atomic_commit(fs_atomic *a); /* fsync + rename + dir fsync; frees a */
void fs_atomic_abort(fs_atomic *a);         /* removes the temp file; frees a */

/* Whole-buffer convenience wrapper around the above. */
nerc_status fs_write_file_atomic(const char *path, const void *buf, size_t n);

/* fsync of the directory holding `path`, so a rename into it is durable. */
void fs_fsync_parent_dir(const char *path);

/* mkdir -p (mode 0755). */
nerc_status fs_mkdirs(const char *path);
int fs_exists(const char *path);
/* Copies src to dst atomically. */
nerc_status fs_copy_file(const char *src, const char *dst);
/* Joins dir and name into a malloc'd "dir/name". NULL on overflow/OOM. */
char *fs_join(const char *dir, const char *name);

#endif
