/* Thread count for every parallel kernel (OpenMP, shared with oneDNN), and the version string. */
#include <jansson.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>

#include "nerc/common.h"

void nerc_set_threads(int n) {
    if (n > 0)
        omp_set_num_threads(n);
}

int nerc_get_threads(void) { return omp_get_max_threads(); }

const char *nerc_version_string(void) {
    static char buf[160];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "nerc %s (oneDNN %d.%d.%d, jansson %s, OpenMP %d threads)", NERC_VERSION, v->major,
             v->minor, v->patch, JANSSON_VERSION, omp_get_max_threads());
    return buf;
}
