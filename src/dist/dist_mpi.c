/* The dist module over MPI (make MPI=1): MPI_COMM_WORLD with errors returned
 * as statuses, fp32 gradient buckets as MPI_Iallreduce, byte messages for the
 * sharded streams. Only the thread that called nerc_dist_init calls MPI. */
#include <limits.h>
#include <malloc.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"

enum { CHUNK = 1 << 28 }; /* elements per MPI call (counts are int) */
/* Floats per nonblocking sum: MPI's reduction scratch of a larger message
 * (over glibc's 32 MiB mmap threshold) is mapped and faulted in afresh on
 * every call, ~20x slower here for 64 MiB; 8 MiB pieces reuse heap memory. */
enum { BUCKET_CHUNK = 1 << 21 };

static int started, world_rank, world_size = 1;

static nerc_status mpi_fail(int rc, const char *what, int64_t n) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", rc);
    return nerc_errorf(NERC_ERR_IO, "%s of %lld elements on rank %d of %d: %s", what, (long long)n, world_rank,
                       world_size, msg);
}

nerc_status nerc_dist_init(int *argc, char ***argv) {
    if (started || dist_env_world_size() == 0)
        return NERC_OK; /* not launched by mpirun: one rank, no MPI */
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return nerc_errorf(NERC_ERR_IO, "MPI_Init_thread failed (error %d)", rc);
    started = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    dist_default_threads(dist_env_local_size());
    if (world_size > 1) {
        /* MPI allocates the scratch of every reduction per call: take the
         * 8 MiB pieces from the heap and keep freed heap memory, or every
         * step maps and faults in ~the gradient size afresh (measured 10x
         * slower sums of 256 MiB here) */
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
    return NERC_OK;
}

void nerc_dist_finalize(void) {
    if (started)
        MPI_Finalize();
    started = 0;
    world_rank = 0;
    world_size = 1;
}

int nerc_dist_rank(void) { return world_rank; }
int nerc_dist_size(void) { return world_size; }
int nerc_dist_available(void) { return 1; }

void nerc_dist_abort(int code) {
    if (world_size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
}

int dist_rank(void) { return world_rank; }
int dist_size(void) { return world_size; }

static nerc_status allreduce(void *buf, int64_t n, MPI_Datatype type, size_t elem, MPI_Op op, const char *what) {
    if (world_size == 1)
        return NERC_OK;
    for (int64_t at = 0; at < n; at += CHUNK) {
        int count = (int)(n - at < CHUNK ? n - at : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)at * elem, count, type, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, what, n);
    }
    return NERC_OK;
}

nerc_status dist_allreduce_f64(double *buf, int64_t n, dist_op op) {
    return allreduce(buf, n, MPI_DOUBLE, sizeof *buf, op == DIST_SUM ? MPI_SUM : MPI_MAX, "MPI_Allreduce (double)");
}

nerc_status dist_allreduce_i32(int32_t *buf, int64_t n, dist_op op) {
    return allreduce(buf, n, MPI_INT32_T, sizeof *buf, op == DIST_SUM ? MPI_SUM : MPI_MAX, "MPI_Allreduce (int32)");
}

nerc_status dist_bcast(void *buf, int64_t bytes, int root) {
    if (world_size == 1)
        return NERC_OK;
    for (int64_t at = 0; at < bytes; at += CHUNK) {
        int count = (int)(bytes - at < CHUNK ? bytes - at : CHUNK);
        int rc = MPI_Bcast((char *)buf + at, count, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "MPI_Bcast", bytes);
    }
    return NERC_OK;
}

nerc_status dist_agree(nerc_status st) {
    if (world_size == 1)
        return st;
    int first = st != NERC_OK ? world_rank : world_size;
    int rc = MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Allreduce (agreement)", 1);
    if (first == world_size)
        return NERC_OK;
    struct {
        int status;
        char msg[500];
    } e = {(int)st, ""};
    if (world_rank == first)
        snprintf(e.msg, sizeof e.msg, "%s", nerc_last_error());
    if ((rc = MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, MPI_COMM_WORLD)) != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Bcast (agreement)", 1);
    if (first > 0)
        nerc_errorf((nerc_status)e.status, "rank %d: %s", first, e.msg);
    else
        nerc_errorf((nerc_status)e.status, "%s", e.msg);
    dist_mark_agreed();
    return (nerc_status)e.status;
}

/* ---- gradient buckets ----------------------------------------------------------- */

struct dist_reducer {
    MPI_Request *req;
    int32_t n, cap;
};

nerc_status dist_reducer_init(dist_reducer **out, int32_t max_buckets) {
    dist_reducer *r = calloc(1, sizeof *r);
    int32_t cap = max_buckets > 0 ? max_buckets : 1;
    if (r)
        r->req = malloc((size_t)cap * sizeof *r->req);
    if (!r || !r->req) {
        dist_reducer_free(r);
        *out = NULL;
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    r->cap = cap;
    *out = r;
    return NERC_OK;
}

void dist_reducer_free(dist_reducer *r) {
    if (r)
        free(r->req);
    free(r);
}

nerc_status dist_reducer_start(dist_reducer *r, float *buf, int64_t n) {
    if (world_size == 1)
        return NERC_OK;
    for (int64_t at = 0; at < n; at += BUCKET_CHUNK) {
        if (r->n == r->cap) { /* grows in the first step only: the same buckets every step */
            MPI_Request *req = r->cap < INT32_MAX / 2 ? realloc(r->req, 2 * (size_t)r->cap * sizeof *req) : NULL;
            if (!req)
                return nerc_errorf(NERC_ERR_NOMEM, "out of memory for %d gradient buckets", 2 * r->cap);
            r->req = req;
            r->cap *= 2;
        }
        int count = (int)(n - at < BUCKET_CHUNK ? n - at : BUCKET_CHUNK);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r->req[r->n]);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "MPI_Iallreduce (gradients)", n);
        r->n++;
    }
    return NERC_OK;
}

void dist_reducer_poll(dist_reducer *r) {
    int done = 0;
    if (r->n > 0)
        MPI_Testall(r->n, r->req, &done, MPI_STATUSES_IGNORE); /* errors surface in dist_reducer_wait */
}

nerc_status dist_reducer_wait(dist_reducer *r) {
    int32_t n = r->n;
    r->n = 0;
    if (n == 0)
        return NERC_OK;
    int rc = MPI_Waitall(n, r->req, MPI_STATUSES_IGNORE);
    return rc == MPI_SUCCESS ? NERC_OK : mpi_fail(rc, "MPI_Waitall (gradient buckets)", n);
}

/* ---- point to point -------------------------------------------------------------- */

nerc_status dist_send(int dest, int tag, const void *buf, size_t n) {
    if (n > INT_MAX)
        return nerc_errorf(NERC_ERR_ARG, "message of %zu bytes to rank %d: over 2 GiB", n, dest);
    int rc = MPI_Send(buf, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? NERC_OK : mpi_fail(rc, "MPI_Send", (int64_t)n);
}

nerc_status dist_recv(int src, int *tag, void **buf, size_t *cap, size_t *n) {
    MPI_Status status;
    int rc = MPI_Probe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &status), count = 0;
    if (rc == MPI_SUCCESS)
        rc = MPI_Get_count(&status, MPI_BYTE, &count);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Probe", 0);
    if ((size_t)count + 1 > *cap) {
        void *nb = realloc(*buf, (size_t)count + 1);
        if (!nb)
            return nerc_errorf(NERC_ERR_NOMEM, "out of memory for a message of %d bytes from rank %d", count, src);
        *buf = nb;
        *cap = (size_t)count + 1;
    }
    rc = MPI_Recv(*buf, count, MPI_BYTE, src, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Recv", count);
    *tag = status.MPI_TAG;
    *n = (size_t)count;
    return NERC_OK;
}
