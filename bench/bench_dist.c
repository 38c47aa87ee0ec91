/* Benchmark (not a test): the fp32 sum over ranks that data-parallel training
 * runs on its gradients (MPI_Iallreduce in place, as src/dist's buckets), for
 * messages of 4 B to 256 MiB: latency of the small ones, algorithm bandwidth
 * (bytes / time) and bus bandwidth (2 (N-1)/N x bytes / time, the ring
 * allreduce's traffic per link) of the large ones. Run it under mpirun with
 * the transport to measure, e.g.
 *   mpirun -np 2 --mca btl self,vader build-mpi/bench/bench_dist     (shared memory)
 *   mpirun -np 2 --mca btl self,tcp --mca btl_tcp_if_include lo build-mpi/bench/bench_dist   (TCP loopback)
 *   usage: bench_dist [MAX_MIB=256]   (needs the MPI build: make MPI=1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "nerc.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds of one allreduce of n floats: the mean over `reps` calls on the
 * slowest rank's clock, the best of 5 such trials after a warm-up one (page
 * faults, connections); the best, because other processes share the cores. */
static double time_allreduce(dist_reducer *r, float *buf, int64_t n, int reps) {
    double best = 1e30;
    for (int trial = 0; trial < 6; trial++) {
        double slowest, t0 = now_s();
        for (int i = 0; i < reps; i++) {
            nerc_status st = getenv("BLOCKING") ? dist_allreduce_f64((double *)buf, n / 2, DIST_SUM)
                                                : dist_reducer_start(r, buf, n);
            if (st != NERC_OK || dist_reducer_wait(r) != NERC_OK) {
                fprintf(stderr, "bench_dist: %s\n", nerc_last_error());
                exit(1);
            }
        }
        slowest = (now_s() - t0) / reps;
        if (dist_allreduce_f64(&slowest, 1, DIST_MAX) != NERC_OK)
            exit(1);
        if (trial > 0 && slowest < best)
            best = slowest;
    }
    return best;
}

int main(int argc, char **argv) {
    if (nerc_dist_init(&argc, &argv) != NERC_OK) {
        fprintf(stderr, "bench_dist: %s\n", nerc_last_error());
        return 1;
    }
    int ranks = nerc_dist_size(), rank = nerc_dist_rank();
    if (!nerc_dist_available() || ranks < 2) {
        if (rank == 0)
            printf("bench_dist: needs the MPI build (make MPI=1) and mpirun -np 2 or more\n");
        nerc_dist_finalize();
        return 0;
    }
    int64_t max_bytes = (int64_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
    float *buf = malloc((size_t)max_bytes);
    dist_reducer *r = NULL;
    if (!buf || dist_reducer_init(&r, (int32_t)(max_bytes >> 20) + 4) != NERC_OK)
        return 1;
    for (int64_t i = 0; i < max_bytes / 4; i++)
        buf[i] = 1e-3f * (float)(i % 1000);
    double bus = 2.0 * (ranks - 1) / ranks;
    if (rank == 0)
        printf("fp32 allreduce (MPI_Iallreduce + wait) over %d ranks\n%12s %12s %14s %14s\n", ranks, "bytes",
               "time (us)", "algbw (GB/s)", "busbw (GB/s)");
    for (int64_t bytes = 4; bytes <= max_bytes; bytes *= 4) {
        int reps = bytes <= (1 << 16) ? 500 : bytes <= (4 << 20) ? 20 : 2;
        double t = time_allreduce(r, buf, bytes / 4, reps);
        if (rank == 0)
            printf("%12lld %12.1f %14.3f %14.3f\n", (long long)bytes, t * 1e6, bytes / t / 1e9, bus * bytes / t / 1e9);
    }
    dist_reducer_free(r);
    free(buf);
    nerc_dist_finalize();
    return 0;
}
