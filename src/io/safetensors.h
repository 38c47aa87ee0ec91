/* safetensors reading (mmap, strict bounds checks) and atomic writing. */
#ifndef NERC_IO_SAFETENSORS_H
#define NERC_IO_SAFETENSORS_H

#include <jansson.h>
#include <stdint.h>

#include "nerc/common.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* 100 MiB, as the reference implementation */

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int32_t ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte range inside the data section */
} st_tensor;

typedef struct {
    char *path;              /* for messages */
    const uint8_t *base;     /* whole file */
    size_t size;
    const uint8_t *data;     /* data section (after the header) */
    size_t data_size;
    int is_mmap;
    int32_t n;
    st_tensor *tensors;      /* sorted by name */
    json_t *metadata;        /* "__metadata__" object or NULL */
} st_file;

/* Maps and validates `path`. */
nerc_status st_open(st_file *f, const char *path);
/* Validates an in-memory file (not copied: `buf` must outlive f). */
nerc_status st_parse(st_file *f, const void *buf, size_t size, const char *name);
void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name);
const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

/* Reads a float tensor (F32, F16, BF16 or F64) converted to float32. */
nerc_status st_read_f32(const st_file *f, const st_tensor *t, float *dst);
/* st_read_f32 that also checks the values: an error naming the file, the
 * tensor and the first element that is NaN or infinite, or (nonneg) below
 * zero. For weights and optimizer moments, where such a value would turn
 * every output or update into NaN far from its cause. */
nerc_status st_read_f32_checked(const st_file *f, const st_tensor *t, float *dst, int nonneg);
/* Reads an integer tensor (I64, I32, I16, I8, U8, BOOL) converted to int64. */
nerc_status st_read_i64(const st_file *f, const st_tensor *t, int64_t *dst);

/* One tensor to write. */
typedef struct {
    const char *name;
    st_dtype dtype;
    int32_t ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes */
} st_entry;

/* Writes `n` tensors (sorted by name in the file) and optional string
 * metadata atomically: temp file + fsync + rename. */
nerc_status st_write(const char *path, const st_entry *entries, int32_t n, json_t *metadata);

#endif
