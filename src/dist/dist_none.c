/* The dist module of a build without MPI: always one rank. Launched by
 * mpirun as one of several ranks, nerc_dist_init says so instead of letting
 * N copies each run the whole job. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"

nerc_status nerc_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    int n = dist_env_world_size();
    if (n > 1)
        return nerc_errorf(NERC_ERR_ARG,
                           "launched as one of %d MPI ranks, but this nerc was built without MPI: rebuild with "
                           "`make MPI=1` (needs libopenmpi-dev), or run it without mpirun",
                           n);
    return NERC_OK;
}

void nerc_dist_finalize(void) {}
int nerc_dist_rank(void) { return 0; }
int nerc_dist_size(void) { return 1; }
int nerc_dist_available(void) { return 0; }
void nerc_dist_abort(int code) { (void)code; }

int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }

nerc_status dist_allreduce_f64(double *buf, int64_t n, dist_op op) {
    (void)buf, (void)n, (void)op;
    return NERC_OK;
}

nerc_status dist_allreduce_i32(int32_t *buf, int64_t n, dist_op op) {
    (void)buf, (void)n, (void)op;
    return NERC_OK;
}

nerc_status dist_bcast(void *buf, int64_t bytes, int root) {
    (void)buf, (void)bytes, (void)root;
    return NERC_OK;
}

nerc_status dist_agree(nerc_status st) { return st; }

struct dist_reducer {
    int unused;
};

nerc_status dist_reducer_init(dist_reducer **out, int32_t max_buckets) {
    (void)max_buckets;
    *out = calloc(1, sizeof **out);
    return *out ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
}

void dist_reducer_free(dist_reducer *r) { free(r); }

nerc_status dist_reducer_start(dist_reducer *r, float *buf, int64_t n) {
    (void)r, (void)buf, (void)n;
    return NERC_OK;
}

void dist_reducer_poll(dist_reducer *r) { (void)r; }
nerc_status dist_reducer_wait(dist_reducer *r) {
    (void)r;
    return NERC_OK;
}

nerc_status dist_send(int dest, int tag, const void *buf, size_t n) {
    (void)tag, (void)buf, (void)n;
    return nerc_errorf(NERC_ERR_INTERNAL, "dist_send to rank %d in a single-rank run", dest);
}

nerc_status dist_recv(int src, int *tag, void **buf, size_t *cap, size_t *n) {
    (void)tag, (void)buf, (void)cap, (void)n;
    return nerc_errorf(NERC_ERR_INTERNAL, "dist_recv from rank %d in a single-rank run", src);
}
