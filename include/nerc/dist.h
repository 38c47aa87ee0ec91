/* nerc/dist.h — running as one rank of an MPI job (`mpirun -np N nerc ...`).
 *
 * After nerc_dist_init, nerc_train, nerc_evaluate and the nerc_predict_*
 * streams are COLLECTIVE: every rank calls them with the same arguments.
 * Training is data-parallel (each rank computes a slice of every batch,
 * gradients are summed over the ranks; rank 0 alone writes files and sends
 * events); evaluation and prediction are sharded over the ranks (rank 0 reads
 * the stream input and gets every result, in input order). Without
 * nerc_dist_init (or in a build without MPI) everything runs as one rank. */
#ifndef NERC_DIST_H
#define NERC_DIST_H

#include "nerc/common.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the MPI job this process was launched in (MPI_Init_thread, FUNNELED)
 * when a launcher's environment says so (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_RANK); otherwise stays a single rank and starts nothing. In a build
 * without MPI, being launched as one of several ranks is NERC_ERR_ARG with a
 * message that says so. With several ranks per node and no OMP_NUM_THREADS,
 * sets the threads to the cores of this rank / ranks on the node (min 1). */
nerc_status nerc_dist_init(int *argc, char ***argv);
/* MPI_Finalize when nerc_dist_init started MPI; a no-op otherwise. */
void nerc_dist_finalize(void);
/* This process's rank (0 when single) and the number of ranks (1 when single). */
int nerc_dist_rank(void);
int nerc_dist_size(void);
/* 1 when libnerc was built with MPI (make MPI=1). */
int nerc_dist_available(void);
/* Ends every rank of the job with `code` (MPI_Abort): for a caller whose
 * rank failed alone while the others may wait in a collective. Returns only
 * when single (then it does nothing). */
void nerc_dist_abort(int code);
/* Collective: makes a local outcome common. Every rank returns NERC_OK when
 * every rank passed NERC_OK, else the status and message of the lowest failed
 * rank (e.g. before a collective call, a model that one node cannot load). */
nerc_status nerc_dist_agree(nerc_status st);
/* 1 when the last failure was agreed by every rank (each returned it, with the
 * same message): the caller may report it on rank 0 only and exit normally.
 * 0 when it happened on this rank alone (report it and nerc_dist_abort). */
int nerc_dist_failed_together(void);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop
#endif
