/* Parts of the dist module that do not need MPI: the launcher's environment,
 * the threads per rank and which failure every rank agreed on. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"

static int env_int(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 0 || n > 1 << 24 ? -1 : (int)n;
}

int dist_env_world_size(void) {
    int n = env_int("OMPI_COMM_WORLD_SIZE");
    if (n < 0)
        n = env_int("PMI_SIZE");
    if (n < 0 && getenv("PMIX_RANK"))
        n = 2;
    return n < 0 ? 0 : n;
}

int dist_env_local_size(void) {
    int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (n < 1)
        n = env_int("MPI_LOCALNRANKS");
    return n < 1 ? 1 : n;
}

void dist_default_threads(int local) {
    if (local <= 1 || getenv("OMP_NUM_THREADS"))
        return;
    int per_rank = omp_get_num_procs() / local; /* the cores this rank may run on (its binding) */
    omp_set_num_threads(per_rank > 1 ? per_rank : 1);
}

static _Thread_local char agreed[512];

nerc_status nerc_dist_agree(nerc_status st) { return dist_agree(st); }

void dist_mark_agreed(void) { snprintf(agreed, sizeof agreed, "%s", nerc_last_error()); }

int nerc_dist_failed_together(void) {
    return agreed[0] && !strncmp(agreed, nerc_last_error(), sizeof agreed - 1);
}
