/* Large zeroed buffers for the parameter-sized arrays (parameters, gradients,
 * AdamW moments: 265 MB each for DistilBERT), 2 MiB aligned and marked for
 * transparent huge pages: AdamW walks the word-embedding rows a batch used,
 * scattered over a 94 MB table, and 4 KiB pages cost a TLB miss per row and
 * array. Where the kernel keeps huge pages off the advice is ignored. */
#ifndef NERC_CORE_MEM_H
#define NERC_CORE_MEM_H

#include <stdint.h>

/* n zeroed floats, or NULL; release with free(). */
float *mem_alloc_floats(int64_t n);

#endif
