/* Large zeroed buffers that are written before they are read. */
#ifndef NERC_CORE_MEM_H
#define NERC_CORE_MEM_H

#include <stddef.h>

/* calloc(n, size) whose pages are written with zeros at once, in parallel.
 * calloc leaves them unmapped: a read maps the shared zero page and the first
 * write after it copies that page and flushes the other CPUs' TLBs (an
 * inter-processor interrupt per 4 KB page; in a VM, an exit each). For AdamW's
 * moments that was ~260k faults and seconds of system time in the first steps,
 * and a fault per new embedding row afterwards. 64-byte aligned (cache lines:
 * the weight-gradient kernels stream whole lines into the gradients); NULL
 * when out of memory. */
void *calloc_touched(size_t n, size_t size);

#endif
