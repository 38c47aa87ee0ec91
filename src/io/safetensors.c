/* safetensors: hostile-input-safe reader (every offset, size and shape is
 * checked before use) and an atomic writer. Format: u64 little-endian header
 * length, JSON header {name: {dtype, shape, data_offsets}}, raw data. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"

static const struct {
    const char *name;
    st_dtype dtype;
    size_t size;
} dtype_table[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8},
    {"I64", ST_I64, 8}, {"I32", ST_I32, 4}, {"I16", ST_I16, 2},   {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1},
};
#define N_DTYPES (sizeof dtype_table / sizeof dtype_table[0])

const char *st_dtype_name(st_dtype d) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtype_table[i].dtype == d)
            return dtype_table[i].name;
    return "?";
}

size_t st_dtype_size(st_dtype d) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtype_table[i].dtype == d)
            return dtype_table[i].size;
    return 0;
}

static int dtype_from_name(const char *s, st_dtype *d) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (!strcmp(dtype_table[i].name, s)) {
            *d = dtype_table[i].dtype;
            return 1;
        }
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_tensor_begin(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static nerc_status parse_shape(const st_file *f, const char *name, json_t *shape, st_tensor *t) {
    if (!json_is_array(shape))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': shape is not an array", f->path, name);
    size_t nd = json_array_size(shape);
    if (nd > ST_MAX_DIMS)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': %zu dimensions (max %d)", f->path, name, nd, ST_MAX_DIMS);
    t->ndim = (int32_t)nd;
    t->numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", f->path, name, i);
        int64_t v = json_integer_value(d);
        t->shape[i] = v;
        if (v != 0 && t->numel > INT64_MAX / v)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': shape overflows", f->path, name);
        t->numel *= v;
    }
    return NERC_OK;
}

static nerc_status parse_offsets(const st_file *f, const char *name, json_t *offs, st_tensor *t) {
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
        !json_is_integer(json_array_get(offs, 1)))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end]", f->path, name);
    json_int_t b = json_integer_value(json_array_get(offs, 0)), e = json_integer_value(json_array_get(offs, 1));
    if (b < 0 || e < b || (uint64_t)e > f->data_size)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] out of range (data is %zu bytes)",
                           f->path, name, (long long)b, (long long)e, f->data_size);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    size_t es = st_dtype_size(t->dtype);
    if ((uint64_t)t->numel > UINT64_MAX / es || (uint64_t)t->numel * es != t->end - t->begin)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': %lld elements of %s need %llu bytes, data_offsets give %llu",
                           f->path, name, (long long)t->numel, st_dtype_name(t->dtype),
                           (unsigned long long)((uint64_t)t->numel * es), (unsigned long long)(t->end - t->begin));
    return NERC_OK;
}

static nerc_status parse_entry(const st_file *f, const char *name, json_t *v, st_tensor *t) {
    if (!json_is_object(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': entry is not an object", f->path, name);
    json_t *dt = json_object_get(v, "dtype");
    if (!json_is_string(dt))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': missing dtype", f->path, name);
    if (!dtype_from_name(json_string_value(dt), &t->dtype))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", f->path, name, json_string_value(dt));
    NERC_TRY(parse_shape(f, name, json_object_get(v, "shape"), t));
    return parse_offsets(f, name, json_object_get(v, "data_offsets"), t);
}

static nerc_status check_overlaps(const st_file *f) {
    if (f->n < 2)
        return NERC_OK;
    const st_tensor **by_begin = malloc((size_t)f->n * sizeof *by_begin);
    if (!by_begin)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", f->path);
    for (int32_t i = 0; i < f->n; i++)
        by_begin[i] = &f->tensors[i];
    qsort(by_begin, (size_t)f->n, sizeof *by_begin, cmp_tensor_begin);
    nerc_status st = NERC_OK;
    for (int32_t i = 1; i < f->n && st == NERC_OK; i++)
        if (by_begin[i]->begin < by_begin[i - 1]->end && by_begin[i]->end > by_begin[i]->begin)
            st = nerc_errorf(NERC_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", f->path, by_begin[i - 1]->name,
                             by_begin[i]->name);
    free(by_begin);
    return st;
}

static nerc_status parse_metadata(st_file *f, json_t *meta) {
    if (!json_is_object(meta))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: __metadata__ is not an object", f->path);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: __metadata__['%s'] is not a string", f->path, k);
    }
    f->metadata = json_incref(meta);
    return NERC_OK;
}

static nerc_status parse_header(st_file *f, json_t *root) {
    if (!json_is_object(root))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    size_t n = json_object_size(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", f->path);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            NERC_TRY(parse_metadata(f, v));
            continue;
        }
        st_tensor *t = &f->tensors[f->n];
        t->name = strdup(key);
        if (!t->name)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", f->path);
        f->n++;
        NERC_TRY(parse_entry(f, key, v, t));
    }
    qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, cmp_tensor_name);
    return check_overlaps(f);
}

nerc_status st_parse(st_file *f, const void *buf, size_t size, const char *name) {
    memset(f, 0, sizeof *f);
    f->path = strdup(name ? name : "<buffer>");
    if (!f->path)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    f->base = buf;
    f->size = size;
    if (size < 8)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: truncated: %zu bytes, a safetensors file has at least 8", f->path, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->base[i];
    if (hlen > size - 8)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: header length %llu is larger than the file (%zu bytes)", f->path,
                           (unsigned long long)hlen, size);
    if (hlen > ST_MAX_HEADER)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: header length %llu exceeds %u bytes", f->path, (unsigned long long)hlen,
                           ST_MAX_HEADER);
    f->data = f->base + 8 + hlen;
    f->data_size = size - 8 - (size_t)hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: invalid JSON header at line %d column %d: %s", f->path, jerr.line,
                           jerr.column, jerr.text);
    nerc_status st = parse_header(f, root);
    json_decref(root);
    return st;
}

nerc_status st_open(st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nerc_errorf(NERC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nerc_errorf(NERC_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return nerc_errorf(NERC_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
    }
    close(fd);
    nerc_status st = st_parse(f, map ? map : "", size, path);
    f->is_mmap = map != NULL;
    if (st != NERC_OK) {
        st_close(f);
        return st;
    }
    return NERC_OK;
}

void st_close(st_file *f) {
    if (f->is_mmap && f->base)
        munmap((void *)f->base, f->size);
    for (int32_t i = 0; i < f->n; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    if (f->metadata)
        json_decref(f->metadata);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    st_tensor key = {.name = (char *)name};
    return f->n ? bsearch(&key, f->tensors, (size_t)f->n, sizeof *f->tensors, cmp_tensor_name) : NULL;
}

static nerc_status st_convert_f32(const st_file *f, const st_tensor *t, float *dst);

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

/* Drops the pages of a tensor just copied out of the mapping from our resident
 * set (they stay in the page cache): loading peaks at ~1x the model, not 2x. */
static void release_pages(const st_file *f, const st_tensor *t) {
    if (!f->is_mmap)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)(f->data + t->begin) + page - 1) & ~(page - 1);
    uintptr_t hi = (uintptr_t)(f->data + t->end) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

nerc_status st_read_f32(const st_file *f, const st_tensor *t, float *dst) {
    nerc_status st = st_convert_f32(f, t, dst);
    release_pages(f, t);
    return st;
}

/* Whether x (as bits) is NaN or infinite, or negative (nonneg; -0 is not). */
static inline int bad_value(uint32_t u, int nonneg) {
    return (u & 0x7f800000u) == 0x7f800000u || (nonneg && u > 0x80000000u);
}

/* Whether x[0 .. n) holds a bad value (an OR over the block: vectorised). */
static int block_has_bad(const float *x, int64_t n, int nonneg) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        bad |= bad_value(u, nonneg);
    }
    return bad;
}

static nerc_status bad_value_error(const st_file *f, const st_tensor *t, const float *x, int64_t from, int nonneg) {
    int64_t i = from;
    for (uint32_t u = 0; i < t->numel; i++) {
        memcpy(&u, x + i, 4);
        if (bad_value(u, nonneg))
            break;
    }
    return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' holds %g at element %lld (%s)", f->path, t->name,
                       (double)x[i], (long long)i,
                       isfinite(x[i]) ? "a negative value where none can be" : "not a finite number");
}

nerc_status st_read_f32_checked(const st_file *f, const st_tensor *t, float *dst, int nonneg) {
    enum { BLOCK = 4096 }; /* each block checked while in L1, right after its copy */
    int copy = t->dtype == ST_F32; /* F32 is copied block by block below; other types are converted first */
    nerc_status st = copy ? NERC_OK : st_convert_f32(f, t, dst);
    const uint8_t *src = f->data + t->begin;
    for (int64_t lo = 0; st == NERC_OK && lo < t->numel; lo += BLOCK) {
        int64_t n = t->numel - lo < BLOCK ? t->numel - lo : BLOCK;
        if (copy)
            memcpy(dst + lo, src + 4 * lo, (size_t)n * 4);
        if (block_has_bad(dst + lo, n, nonneg))
            st = bad_value_error(f, t, dst, lo, nonneg);
    }
    release_pages(f, t);
    return st;
}

static nerc_status st_convert_f32(const st_file *f, const st_tensor *t, float *dst) {
    const uint8_t *src = f->data + t->begin;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, src, (size_t)t->numel * 4);
        return NERC_OK;
    case ST_F64:
        for (int64_t i = 0; i < t->numel; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        return NERC_OK;
    case ST_F16:
    case ST_BF16:
        for (int64_t i = 0; i < t->numel; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            if (t->dtype == ST_F16) {
                dst[i] = f16_to_f32(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
        return NERC_OK;
    default:
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': dtype %s is not a float type", f->path, t->name,
                           st_dtype_name(t->dtype));
    }
}

nerc_status st_read_i64(const st_file *f, const st_tensor *t, int64_t *dst) {
    const uint8_t *src = f->data + t->begin;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case ST_I64: memcpy(&dst[i], src + 8 * i, 8); break;
        case ST_I32: { int32_t v; memcpy(&v, src + 4 * i, 4); dst[i] = v; break; }
        case ST_I16: { int16_t v; memcpy(&v, src + 2 * i, 2); dst[i] = v; break; }
        case ST_I8: dst[i] = (int8_t)src[i]; break;
        case ST_U8:
        case ST_BOOL: dst[i] = src[i]; break;
        default:
            return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s': dtype %s is not an integer type", f->path, t->name,
                               st_dtype_name(t->dtype));
        }
    }
    return NERC_OK;
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static int64_t entry_numel(const st_entry *e) {
    int64_t n = 1;
    for (int32_t d = 0; d < e->ndim; d++)
        n *= e->shape[d];
    return n;
}

/* Builds the JSON header for entries in `order`; returns a malloc'd string
 * padded with spaces to a multiple of 8 bytes. */
static nerc_status build_header(const st_entry *const *order, int32_t n, json_t *metadata, char **out, size_t *len) {
    json_t *root = json_object();
    uint64_t off = 0;
    for (int32_t i = 0; i < n && root; i++) {
        const st_entry *e = order[i];
        json_t *shape = json_array();
        for (int32_t d = 0; d < e->ndim; d++)
            json_array_append_new(shape, json_integer(e->shape[d]));
        uint64_t nbytes = (uint64_t)entry_numel(e) * st_dtype_size(e->dtype);
        json_t *obj = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype_name(e->dtype), "shape", shape,
                                "data_offsets", (json_int_t)off, (json_int_t)(off + nbytes));
        json_object_set_new(root, e->name, obj);
        off += nbytes;
    }
    if (root && metadata)
        json_object_set(root, "__metadata__", metadata);
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (!s)
        return nerc_errorf(NERC_ERR_NOMEM, "safetensors: cannot build header");
    size_t l = strlen(s), padded = (l + 7) / 8 * 8;
    char *p = realloc(s, padded + 1);
    if (!p) {
        free(s);
        return nerc_errorf(NERC_ERR_NOMEM, "safetensors: out of memory");
    }
    memset(p + l, ' ', padded - l);
    p[padded] = '\0';
    *out = p;
    *len = padded;
    return NERC_OK;
}

nerc_status st_write(const char *path, const st_entry *entries, int32_t n, json_t *metadata) {
    const st_entry **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    for (int32_t i = 0; i < n; i++)
        order[i] = &entries[i];
    qsort(order, (size_t)n, sizeof *order, cmp_entry_name);
    char *header = NULL;
    size_t hlen = 0;
    nerc_status st = build_header(order, n, metadata, &header, &hlen);
    fs_atomic a;
    if (st == NERC_OK)
        st = fs_atomic_open(&a, path);
    if (st == NERC_OK) {
        uint8_t lenbuf[8];
        for (int i = 0; i < 8; i++)
            lenbuf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
        fs_atomic_write(&a, lenbuf, 8);
        fs_atomic_write(&a, header, hlen);
        for (int32_t i = 0; i < n; i++)
            fs_atomic_write(&a, order[i]->data, (size_t)entry_numel(order[i]) * st_dtype_size(order[i]->dtype));
        st = fs_atomic_commit(&a);
    }
    free(header);
    free(order);
    return st;
}
