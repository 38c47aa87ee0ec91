/* The communicator of a run over several ranks (MPI_COMM_WORLD in a build
 * with MPI=1 launched by mpirun; otherwise one rank, where every call below is
 * a cheap no-op). Collective calls must be made by every rank, in the same
 * order, with the same sizes. Internal header (public part: nerc/dist.h). */
#ifndef NERC_DIST_DIST_H
#define NERC_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "nerc/dist.h"

int dist_rank(void);
int dist_size(void);

typedef enum { DIST_SUM, DIST_MAX } dist_op;

/* In-place reductions over the ranks (every rank gets the same result; sums
 * are in a fixed order for a given rank count). */
nerc_status dist_allreduce_f64(double *buf, int64_t n, dist_op op);
nerc_status dist_allreduce_i32(int32_t *buf, int64_t n, dist_op op);
/* Rank `root`'s `bytes` bytes at buf on every rank. */
nerc_status dist_bcast(void *buf, int64_t bytes, int root);

/* Makes a local outcome common: NERC_OK on every rank when every rank passed
 * NERC_OK; otherwise every rank returns the status and message of the lowest
 * failed rank (prefixed "rank R: " when R > 0), marked as agreed
 * (nerc_dist_failed_together). */
nerc_status dist_agree(nerc_status st);

/* Gradient buckets: fp32 sums over the ranks started without waiting
 * (MPI_Iallreduce in place), so that they run while the backward pass goes
 * on; dist_reducer_poll lets the started ones progress, dist_reducer_wait
 * finishes them all. `max_buckets`: room for as many (it grows as needed). */
typedef struct dist_reducer dist_reducer;
nerc_status dist_reducer_init(dist_reducer **out, int32_t max_buckets);
void dist_reducer_free(dist_reducer *r);
nerc_status dist_reducer_start(dist_reducer *r, float *buf, int64_t n);
void dist_reducer_poll(dist_reducer *r);
nerc_status dist_reducer_wait(dist_reducer *r);

/* Point to point, bytes (tags >= 0). dist_recv receives the next message from
 * `src` into *buf (grown with realloc; *cap its size) and gives its tag and
 * length. */
nerc_status dist_send(int dest, int tag, const void *buf, size_t n);
nerc_status dist_recv(int src, int *tag, void **buf, size_t *cap, size_t *n);

/* ---- shared by both implementations (dist_env.c) ---- */

/* Ranks the launcher's environment announces (OMPI_COMM_WORLD_SIZE, PMI_SIZE;
 * PMIX_RANK alone counts as 2, "some"), 0 when not launched by one. */
int dist_env_world_size(void);
/* Ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS), 1 if unknown. */
int dist_env_local_size(void);
/* The default thread count for `local` ranks per node (OMP_NUM_THREADS unset). */
void dist_default_threads(int local);
/* Records the current error message as agreed by every rank. */
void dist_mark_agreed(void);

#endif
