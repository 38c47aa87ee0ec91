/* `nerc forward`: run a stored batch through a model (dropout off) and write
 * logits, loss and optionally every gradient under HF names, for comparison
 * with PyTorch on any checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/padded_batch.h"
#include "io/safetensors.h"
#include "model/encoder.h"
#include "nerc/check.h" /* its declaration: the exported one */

typedef struct {
    st_entry *e;
    char **names;
    int32_t n;
} out_list;

static nerc_status out_add(out_list *o, const char *name, const float *data, int32_t ndim, const int64_t *shape) {
    o->names[o->n] = strdup(name);
    if (!o->names[o->n])
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    st_entry *e = &o->e[o->n];
    *e = (st_entry){.name = o->names[o->n], .dtype = ST_F32, .ndim = ndim, .data = data};
    memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    o->n++;
    return NERC_OK;
}

static nerc_status write_outputs(const nerc_model *m, const nerc_state *s, const padded_batch *pb, const float *loss,
                                 const char *out_path) {
    int32_t cap = 2 + m->n_tensors;
    out_list o = {calloc((size_t)cap, sizeof *o.e), calloc((size_t)cap, sizeof *o.names), 0};
    nerc_status st = o.e && o.names ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    int64_t lshape[3] = {pb->B, pb->T, m->cfg.n_labels}, one = 1;
    if (st == NERC_OK)
        st = out_add(&o, "logits", s->logits, 3, lshape);
    if (st == NERC_OK && loss)
        st = out_add(&o, "loss", loss, 1, &one);
    for (int32_t i = 0; st == NERC_OK && s->grad_mem && i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "grad.%s", t->name);
        st = out_add(&o, name, s->grad_mem + t->offset, t->ndim, t->shape);
    }
    if (st == NERC_OK)
        st = st_write(out_path, o.e, o.n, NULL);
    for (int32_t i = 0; o.names && i < o.n; i++)
        free(o.names[i]);
    free(o.names);
    free(o.e);
    return st;
}

static nerc_status run_check(nerc_model *m, const padded_batch *pb, const char *out_path, int with_grad) {
    int64_t rows = (int64_t)pb->B * pb->T;
    nerc_state *s = NULL;
    NERC_TRY(nerc_state_init(&s, m, pb->B, rows, rows * pb->T, with_grad));
    nerc_status st = nerc_forward(s, &pb->batch, 0, 0);
    double loss = 0.0;
    float loss_f = 0.0f;
    if (st == NERC_OK && pb->labels) {
        nerc_state_zero_grad(s);
        st = nerc_loss(s, &pb->batch, 0.0, &loss);
        loss_f = (float)loss;
        if (st == NERC_OK && with_grad)
            st = nerc_backward(s, &pb->batch);
    }
    if (st == NERC_OK)
        st = write_outputs(m, s, pb, pb->labels ? &loss_f : NULL, out_path);
    nerc_state_free(s);
    return st;
}

nerc_status nerc_check_forward(const char *model_dir, const char *batch_path, const char *out_path, int with_grad) {
    nerc_model *m = NULL;
    NERC_TRY(nerc_model_load(&m, model_dir, NULL, 0, 0));
    nerc_model_set_dropout(m, 0.0f, 0.0f);
    st_file f;
    nerc_status st = st_open(&f, batch_path);
    if (st != NERC_OK) {
        nerc_model_free(m);
        return st;
    }
    padded_batch pb;
    st = padded_batch_read(&pb, &f);
    st_close(&f);
    if (st == NERC_OK && with_grad && !pb.labels)
        st = nerc_errorf(NERC_ERR_ARG, "%s: --grad needs a 'labels' tensor", batch_path);
    if (st == NERC_OK)
        st = run_check(m, &pb, out_path, with_grad);
    padded_batch_free(&pb);
    nerc_model_free(m);
    return st;
}
