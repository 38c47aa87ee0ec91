/* The document streams of nerc_predict_lines / _conll / _jsonl (predict_stream.c)
 * and their sharding over the ranks of a dist run (predict_shard.c). */
#ifndef NERC_INFER_PREDICT_STREAM_H
#define NERC_INFER_PREDICT_STREAM_H

#include <stdio.h>

#include "infer/predict_internal.h"

/* A batch of documents, each a list of items (one text line, or words). */
typedef struct {
    int words;              /* documents are word lists (else one text each) */
    char *bytes;            /* the items' bytes, NUL after each */
    size_t n_bytes, bytes_cap;
    size_t *starts, *lens;  /* [n_items] */
    const char **ptrs;      /* [n_items], set when the batch runs */
    size_t n_items, items_cap;
    size_t *first;          /* [n_docs+1] document d owns items [first[d], first[d+1]) */
    int64_t *line;          /* [n_docs] its first line in the input */
    size_t n_docs, docs_cap;
} doc_buf;

typedef struct stream_shard stream_shard;

typedef struct {
    nerc_predictor *pr;
    const char *name;
    nerc_predict_text_fn text_fn;
    nerc_predict_words_fn words_fn;
    void *user;
    const char *key;        /* JSONL: the key of the word list */
    stream_shard *shard;    /* several ranks: where full batches go (NULL: predicted here) */
} stream;

typedef struct line_reader line_reader;
/* Takes one input line into the open batch (and flushes it when full). */
typedef nerc_status (*line_fn)(const stream *s, doc_buf *b, const line_reader *r, const char *line, size_t len);

/* Reads every line of `in` through `fn`, flushing batch_size documents (or
 * 1 MiB of text) at a time, then what is left. */
nerc_status stream_read(const stream *s, FILE *in, int words, line_fn fn);
/* Runs the closed documents of b through the predictor (results:
 * predict_batch_result in document order). */
nerc_status stream_run_docs(const stream *s, doc_buf *b);
/* Gives document d of b and its prediction to the stream's callback. */
nerc_status stream_emit(const stream *s, const doc_buf *b, size_t d, const nerc_prediction *p);

/* ---- several ranks (predict_shard.c) ---- */

/* stream_read on rank 0, whose full batches go round the ranks (rank 0 keeps
 * one per round); the other ranks predict the batches they get and send the
 * results back; rank 0 gives every document to the callback in input order.
 * Every rank returns the same status. */
nerc_status shard_run(const stream *s, FILE *in, int words, line_fn fn);
/* Hands a full batch to the next rank of the round (the round's last one
 * completes the round: predicts rank 0's batch, emits every batch in order). */
nerc_status shard_flush(const stream *s, doc_buf *b);

#endif
