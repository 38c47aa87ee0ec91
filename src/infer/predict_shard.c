/* Prediction streams over several ranks: rank 0 reads the input and cuts it
 * into batches exactly as one process does (stream_read); the batches go
 * round the ranks, one per rank and round; each rank predicts its batch as one
 * process would (the same forward passes, so the same bits), the others send
 * their results back as bytes, and rank 0 gives every document with its
 * prediction to the callback in input order. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"
#include "infer/predict_stream.h"

enum { TAG_BATCH = 1, TAG_RESULT = 2, TAG_STOP = 3 };

_Static_assert(sizeof(size_t) == 8, "batches travel as 8-byte size_t arrays");

/* ---- messages: 8-byte aligned fields appended to a byte buffer ---------------- */

typedef struct {
    void *p;
    size_t len, cap;
} wire;

static nerc_status put(wire *w, const void *data, size_t n) {
    size_t at = (w->len + 7) & ~(size_t)7;
    if (at < w->len || n > SIZE_MAX - at - 1)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: message too large");
    NERC_TRY(predict_grow(&w->p, &w->cap, at + n + 1, 1));
    memset((char *)w->p + w->len, 0, at - w->len);
    if (n)
        memcpy((char *)w->p + at, data, n);
    w->len = at + n;
    return NERC_OK;
}

static nerc_status put_i64(wire *w, int64_t v) { return put(w, &v, sizeof v); }

/* A string as its length and its bytes with a NUL (length -1: NULL). */
static nerc_status put_str(wire *w, const char *s) {
    NERC_TRY(put_i64(w, s ? (int64_t)strlen(s) : -1));
    return s ? put(w, s, strlen(s) + 1) : NERC_OK;
}

typedef struct {
    const char *p;
    size_t len, at;
    int bad;
} reader;

static const void *take(reader *r, size_t n) {
    size_t at = (r->at + 7) & ~(size_t)7;
    if (r->bad || at > r->len || n > r->len - at) {
        r->bad = 1;
        return NULL;
    }
    r->at = at + n;
    return r->p + at;
}

static int64_t take_i64(reader *r) {
    int64_t v = 0;
    const void *p = take(r, sizeof v);
    if (p)
        memcpy(&v, p, sizeof v);
    return v;
}

/* n elements of `elem` bytes (n from the message: checked against its size). */
static const void *take_array(reader *r, int64_t n, size_t elem) {
    if (n < 0 || (uint64_t)n > r->len / elem) {
        r->bad = 1;
        return NULL;
    }
    return take(r, (size_t)n * elem);
}

static const char *take_str(reader *r) {
    int64_t n = take_i64(r);
    if (n < 0)
        return NULL;
    const char *s = take_array(r, n + 1, 1);
    if (s && s[n] != '\0')
        r->bad = 1;
    return r->bad ? "" : s;
}

/* ---- a batch of documents as a message ------------------------------------------ */

/* A batch as sent, and a doc_buf view of it (ptrs owned, the rest in msg). */
typedef struct {
    wire msg;
    doc_buf view;
    size_t ptrs_cap;
} batch_msg;

static nerc_status pack_batch(wire *w, const doc_buf *b) {
    w->len = 0;
    int64_t head[4] = {b->words, (int64_t)b->n_docs, (int64_t)b->n_items, (int64_t)b->n_bytes};
    NERC_TRY(put(w, head, sizeof head));
    NERC_TRY(put(w, b->first, (b->n_docs + 1) * sizeof *b->first));
    NERC_TRY(put(w, b->line, b->n_docs * sizeof *b->line));
    NERC_TRY(put(w, b->starts, b->n_items * sizeof *b->starts));
    NERC_TRY(put(w, b->lens, b->n_items * sizeof *b->lens));
    return put(w, b->bytes, b->n_bytes);
}

static nerc_status view_batch(batch_msg *m) {
    reader r = {m->msg.p, m->msg.len, 0, 0};
    int64_t words = take_i64(&r), n_docs = take_i64(&r), n_items = take_i64(&r), n_bytes = take_i64(&r);
    doc_buf *v = &m->view;
    v->words = words != 0;
    v->first = (size_t *)take_array(&r, n_docs + 1, sizeof *v->first);
    v->line = (int64_t *)take_array(&r, n_docs, sizeof *v->line);
    v->starts = (size_t *)take_array(&r, n_items, sizeof *v->starts);
    v->lens = (size_t *)take_array(&r, n_items, sizeof *v->lens);
    v->bytes = (char *)take_array(&r, n_bytes, 1);
    if (r.bad)
        return nerc_errorf(NERC_ERR_INTERNAL, "predict: malformed batch message (%zu bytes)", m->msg.len);
    v->n_docs = (size_t)n_docs;
    v->n_items = (size_t)n_items;
    v->n_bytes = (size_t)n_bytes;
    NERC_TRY(predict_grow((void **)&v->ptrs, &m->ptrs_cap, v->n_items + 1, sizeof *v->ptrs));
    for (size_t i = 0; i < v->n_items; i++) {
        if (v->starts[i] > v->n_bytes || v->lens[i] > v->n_bytes - v->starts[i])
            return nerc_errorf(NERC_ERR_INTERNAL, "predict: malformed batch message (item %zu)", i);
        v->ptrs[i] = v->bytes + v->starts[i];
    }
    return NERC_OK;
}

/* ---- a prediction as a message ---------------------------------------------------- */

static nerc_status pack_prediction(wire *w, const nerc_prediction *p) {
    int64_t head[5] = {p->n_entities, p->n_tokens, p->n_labels, p->n_windows, p->n_words};
    size_t T = (size_t)p->n_tokens, W = (size_t)p->n_words;
    NERC_TRY(put(w, head, sizeof head));
    NERC_TRY(put(w, p->token_ids, T * sizeof *p->token_ids));
    NERC_TRY(put(w, p->token_label, T * sizeof *p->token_label));
    NERC_TRY(put(w, p->token_scores, T * (size_t)p->n_labels * sizeof *p->token_scores));
    NERC_TRY(put(w, p->token_window, T * sizeof *p->token_window));
    NERC_TRY(put(w, p->word_tags, W * sizeof *p->word_tags));
    NERC_TRY(put(w, p->word_scores, W * sizeof *p->word_scores));
    for (int32_t i = 0; i < p->n_entities; i++) {
        const nerc_entity *e = &p->entities[i];
        int32_t f[6] = {e->label, e->start, e->end, e->byte_start, e->byte_end, e->index};
        NERC_TRY(put(w, f, sizeof f));
        NERC_TRY(put(w, &e->score, sizeof e->score));
        NERC_TRY(put_str(w, e->type));
        NERC_TRY(put_str(w, e->text));
        NERC_TRY(put_str(w, e->word));
    }
    return NERC_OK;
}

struct stream_shard {
    int rank, size;
    batch_msg *round; /* [size]: this round's batches, round[k] for rank k */
    int n_round;      /* batches in the round so far */
    wire out, in;     /* a result being built (ranks > 0) / received (rank 0) */
    nerc_entity *ents;
    size_t ents_cap;
};

static nerc_status unpack_prediction(reader *r, stream_shard *sh, nerc_prediction *p) {
    int64_t E = take_i64(r), T = take_i64(r), K = take_i64(r), nw = take_i64(r), W = take_i64(r);
    if (r->bad || E < 0 || T < 0 || K < 0 || W < 0 || E > INT32_MAX || T > INT32_MAX || K > INT32_MAX ||
        W > INT32_MAX || (K > 0 && T > INT64_MAX / K))
        return nerc_errorf(NERC_ERR_INTERNAL, "predict: malformed result message");
    *p = (nerc_prediction){.n_entities = (int32_t)E, .n_tokens = (int32_t)T, .n_labels = (int32_t)K,
                           .n_windows = (int32_t)nw, .n_words = (int32_t)W};
    p->token_ids = take_array(r, T, sizeof *p->token_ids);
    p->token_label = take_array(r, T, sizeof *p->token_label);
    p->token_scores = take_array(r, T * K, sizeof *p->token_scores);
    p->token_window = take_array(r, T, sizeof *p->token_window);
    p->word_tags = take_array(r, W, sizeof *p->word_tags);
    p->word_scores = take_array(r, W, sizeof *p->word_scores);
    if (W == 0)
        p->word_tags = NULL, p->word_scores = NULL;
    NERC_TRY(predict_grow((void **)&sh->ents, &sh->ents_cap, (size_t)E + 1, sizeof *sh->ents));
    for (int64_t i = 0; i < E && !r->bad; i++) {
        nerc_entity *e = &sh->ents[i];
        const int32_t *f = take(r, 6 * sizeof *f);
        const float *score = take(r, sizeof *score);
        if (!f || !score)
            break;
        *e = (nerc_entity){.label = f[0], .start = f[1], .end = f[2], .byte_start = f[3], .byte_end = f[4],
                           .index = f[5], .score = *score};
        e->type = take_str(r);
        e->text = take_str(r);
        e->word = take_str(r);
    }
    p->entities = sh->ents;
    return r->bad ? nerc_errorf(NERC_ERR_INTERNAL, "predict: malformed result message") : NERC_OK;
}

/* ---- rank 0: rounds of batches ---------------------------------------------------- */

/* Predicts rank 0's own batch and gives its documents to the callback. */
static nerc_status emit_own(const stream *s, doc_buf *b) {
    NERC_TRY(stream_run_docs(s, b));
    for (size_t d = 0; d < b->n_docs; d++) {
        nerc_prediction p;
        NERC_TRY(predict_batch_result(s->pr, (int32_t)d, nerc_predictor_params(s->pr)->aggregation, &p));
        NERC_TRY(stream_emit(s, b, d, &p));
    }
    return NERC_OK;
}

/* Receives rank k's result (always: it is owed) and, when `emit`, gives its documents to the callback. */
static nerc_status receive_and_emit(const stream *s, int k, int emit) {
    stream_shard *sh = s->shard;
    int tag = 0;
    NERC_TRY(dist_recv(k, &tag, &sh->in.p, &sh->in.cap, &sh->in.len));
    if (!emit)
        return NERC_OK;
    reader r = {sh->in.p, sh->in.len, 0, 0};
    nerc_status st = (nerc_status)take_i64(&r);
    if (tag != TAG_RESULT || r.bad)
        return nerc_errorf(NERC_ERR_INTERNAL, "predict: unexpected message (tag %d) from rank %d", tag, k);
    if (st != NERC_OK)
        return nerc_errorf(st, "rank %d: %s", k, take_str(&r));
    const doc_buf *b = &sh->round[k].view;
    if (take_i64(&r) != (int64_t)b->n_docs)
        return nerc_errorf(NERC_ERR_INTERNAL, "predict: rank %d answered for another batch", k);
    for (size_t d = 0; d < b->n_docs; d++) {
        nerc_prediction p;
        NERC_TRY(unpack_prediction(&r, sh, &p));
        NERC_TRY(stream_emit(s, b, d, &p));
    }
    return NERC_OK;
}

/* Rank 0's batch, then every other rank's result in rank order: input order. */
static nerc_status complete_round(const stream *s) {
    stream_shard *sh = s->shard;
    int n = sh->n_round;
    sh->n_round = 0;
    nerc_status st = n > 0 ? emit_own(s, &sh->round[0].view) : NERC_OK;
    for (int k = 1; k < n; k++) {
        nerc_status rs = receive_and_emit(s, k, st == NERC_OK);
        if (st == NERC_OK)
            st = rs;
    }
    return st;
}

nerc_status shard_flush(const stream *s, doc_buf *b) {
    stream_shard *sh = s->shard;
    if (b->n_docs == 0)
        return NERC_OK;
    batch_msg *m = &sh->round[sh->n_round];
    NERC_TRY(pack_batch(&m->msg, b));
    NERC_TRY(view_batch(m));
    if (sh->n_round > 0)
        NERC_TRY(dist_send(sh->n_round, TAG_BATCH, m->msg.p, m->msg.len));
    sh->n_round++;
    return sh->n_round == sh->size ? complete_round(s) : NERC_OK;
}

/* Completes the last round, then tells every rank to stop, with the outcome. */
static nerc_status finish(const stream *s, nerc_status st) {
    stream_shard *sh = s->shard;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", nerc_last_error());
    nerc_status rs = complete_round(s); /* documents before a bad line still come out */
    if (rs != NERC_OK) {
        st = rs; /* earlier in the input than the reading error */
        snprintf(msg, sizeof msg, "%s", nerc_last_error());
    }
    sh->out.len = 0;
    NERC_TRY(put_i64(&sh->out, st));
    NERC_TRY(put_str(&sh->out, st != NERC_OK ? msg : ""));
    for (int k = 1; k < sh->size; k++)
        NERC_TRY(dist_send(k, TAG_STOP, sh->out.p, sh->out.len));
    if (st != NERC_OK) {
        nerc_errorf(st, "%s", msg);
        dist_mark_agreed();
    }
    return st;
}

/* ---- ranks > 0: predict what comes -------------------------------------------------- */

static nerc_status pack_results(const stream *s, stream_shard *sh, const doc_buf *b) {
    sh->out.len = 0;
    NERC_TRY(put_i64(&sh->out, NERC_OK));
    NERC_TRY(put_i64(&sh->out, (int64_t)b->n_docs));
    for (size_t d = 0; d < b->n_docs; d++) {
        nerc_prediction p;
        NERC_TRY(predict_batch_result(s->pr, (int32_t)d, nerc_predictor_params(s->pr)->aggregation, &p));
        NERC_TRY(pack_prediction(&sh->out, &p));
    }
    return NERC_OK;
}

static nerc_status stopped(const batch_msg *m) {
    reader r = {m->msg.p, m->msg.len, 0, 0};
    nerc_status st = (nerc_status)take_i64(&r);
    const char *msg = take_str(&r);
    if (r.bad)
        return nerc_errorf(NERC_ERR_INTERNAL, "predict: malformed stop message from rank 0");
    if (st == NERC_OK)
        return NERC_OK;
    nerc_errorf(st, "%s", msg);
    dist_mark_agreed();
    return st;
}

static nerc_status serve_batches(const stream *s, stream_shard *sh) {
    batch_msg *m = &sh->round[0];
    for (;;) {
        int tag = 0;
        NERC_TRY(dist_recv(0, &tag, &m->msg.p, &m->msg.cap, &m->msg.len));
        if (tag == TAG_STOP)
            return stopped(m);
        nerc_status st = tag == TAG_BATCH ? view_batch(m)
                                          : nerc_errorf(NERC_ERR_INTERNAL, "predict: unexpected message tag %d", tag);
        if (st == NERC_OK)
            st = stream_run_docs(s, &m->view);
        if (st == NERC_OK)
            st = pack_results(s, sh, &m->view);
        if (st != NERC_OK) {
            sh->out.len = 0;
            NERC_TRY(put_i64(&sh->out, st));
            NERC_TRY(put_str(&sh->out, nerc_last_error()));
        }
        NERC_TRY(dist_send(0, TAG_RESULT, sh->out.p, sh->out.len));
    }
}

nerc_status shard_run(const stream *s, FILE *in, int words, line_fn fn) {
    stream_shard sh = {.rank = dist_rank(), .size = dist_size()};
    sh.round = calloc((size_t)sh.size, sizeof *sh.round);
    if (!sh.round)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    nerc_status st;
    if (sh.rank != 0) {
        st = serve_batches(s, &sh);
    } else {
        stream sc = *s;
        sc.shard = &sh;
        st = finish(&sc, stream_read(&sc, in, words, fn));
    }
    for (int k = 0; k < sh.size; k++) {
        free(sh.round[k].msg.p);
        free(sh.round[k].view.ptrs);
    }
    free(sh.round);
    free(sh.out.p);
    free(sh.in.p);
    free(sh.ents);
    return st;
}
