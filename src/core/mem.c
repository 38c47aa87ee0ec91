/* Large zeroed buffers written at allocation (why: core/mem.h). */
#include "core/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TOUCH_CHUNK = 1 << 21 };

void *calloc_touched(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size, lines = (bytes + 63) / 64;
    char *p = aligned_alloc(64, lines ? 64 * lines : 64); /* whole lines: kernels stream them */
    if (!p)
        return NULL;
    int64_t chunks = (int64_t)((bytes + TOUCH_CHUNK - 1) / TOUCH_CHUNK);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        size_t lo = (size_t)c * TOUCH_CHUNK, len = bytes - lo < TOUCH_CHUNK ? bytes - lo : TOUCH_CHUNK;
        memset(p + lo, 0, len);
    }
    return p;
}
