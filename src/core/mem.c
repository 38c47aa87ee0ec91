/* Huge-page-friendly allocation of parameter-sized buffers (mem.h). */
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

float *mem_alloc_floats(int64_t n) {
    if (n <= 0 || (uint64_t)n > SIZE_MAX / sizeof(float) - HUGE_PAGE)
        return NULL;
    size_t bytes = ((size_t)n * sizeof(float) + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: 4 KiB pages work too */
#endif
    memset(p, 0, bytes);
    return p;
}
