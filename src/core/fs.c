/* File helpers: whole-file reads, atomic writes (temp + fsync + rename), mkdir -p. */
#include "core/fs.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nerc_status fs_read_file(const char *path, size_t max_bytes, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nerc_errorf(NERC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (max_bytes && cap >= max_bytes) {
                free(buf);
                fclose(f);
                return nerc_errorf(NERC_ERR_FORMAT, "%s: file larger than %zu bytes", path, max_bytes);
            }
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return nerc_errorf(NERC_ERR_IO, "%s: read error", path);
    }
    if (max_bytes && n > max_bytes) {
        free(buf);
        return nerc_errorf(NERC_ERR_FORMAT, "%s: file larger than %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return NERC_OK;
}

char *fs_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static void atomic_free(fs_atomic *a) {
    free(a->path);
    free(a->tmp_path);
    a->path = a->tmp_path = NULL;
    a->fd = -1;
}

nerc_status fs_atomic_open(fs_atomic *a, const char *path) {
    a->fd = -1;
    a->st = NERC_OK;
    a->path = strdup(path);
    size_t n = strlen(path) + 32;
    a->tmp_path = malloc(n);
    if (!a->path || !a->tmp_path) {
        atomic_free(a);
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(a->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    a->fd = open(a->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        nerc_status st = nerc_errorf(NERC_ERR_IO, "%s: cannot create: %s", a->tmp_path, strerror(errno));
        atomic_free(a);
        return st;
    }
    return NERC_OK;
}

nerc_status fs_atomic_write(fs_atomic *a, const void *buf, size_t n) {
    if (a->st != NERC_OK)
        return a->st;
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return a->st = nerc_errorf(NERC_ERR_IO, "%s: write failed: %s", a->tmp_path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return NERC_OK;
}

void fs_fsync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

nerc_status fs_atomic_commit(fs_atomic *a) {
    nerc_status st = a->st;
    if (st == NERC_OK && fsync(a->fd) != 0)
        st = nerc_errorf(NERC_ERR_IO, "%s: fsync failed: %s", a->tmp_path, strerror(errno));
    if (close(a->fd) != 0 && st == NERC_OK)
        st = nerc_errorf(NERC_ERR_IO, "%s: close failed: %s", a->tmp_path, strerror(errno));
    a->fd = -1;
    if (st == NERC_OK && rename(a->tmp_path, a->path) != 0)
        st = nerc_errorf(NERC_ERR_IO, "%s: rename failed: %s", a->path, strerror(errno));
    if (st != NERC_OK)
        unlink(a->tmp_path);
    else
        fs_fsync_parent_dir(a->path);
    atomic_free(a);
    return st;
}

void fs_atomic_abort(fs_atomic *a) {
    if (a->fd >= 0)
        close(a->fd);
    if (a->tmp_path)
        unlink(a->tmp_path);
    atomic_free(a);
}

nerc_status fs_write_file_atomic(const char *path, const void *buf, size_t n) {
    fs_atomic a;
    NERC_TRY(fs_atomic_open(&a, path));
    fs_atomic_write(&a, buf, n);
    return fs_atomic_commit(&a);
}

int fs_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

nerc_status fs_mkdirs(const char *path) {
    char *p = strdup(path);
    if (!p)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                nerc_status st = nerc_errorf(NERC_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return st;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return NERC_OK;
}

nerc_status fs_copy_file(const char *src, const char *dst) {
    char *data;
    size_t len;
    NERC_TRY(fs_read_file(src, 0, &data, &len));
    nerc_status st = fs_write_file_atomic(dst, data, len);
    free(data);
    return st;
}
