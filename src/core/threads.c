/* Thread count for every parallel kernel (OpenMP, shared with oneDNN). */
#include <omp.h>

#include "nerc/common.h"

void nerc_set_threads(int n) {
    if (n > 0)
        omp_set_num_threads(n);
}

int nerc_get_threads(void) { return omp_get_max_threads(); }
