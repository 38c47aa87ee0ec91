/* Parity of the model core with the PyTorch reference fixtures
 * (../shared/fixtures/model: DistilBERT; ../shared/fixtures/family: BERT,
 * RoBERTa, XLM-RoBERTa): logits, loss, hidden states, every gradient, three
 * AdamW/Trainer steps. Tolerances are those of the fixture READMEs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/padded_batch.h"
#include "io/safetensors.h"
#include "model/encoder.h"
#include "nerc/check.h"
#include "test.h"
#include "train/optim.h"

/* Worst error of a group of tensors, printed at the end of each case. */
typedef struct {
    const char *name;
    double worst;   /* max |a-b| */
    double worst_rel; /* max |a-b| / tolerance */
    int n;
} group;

static float *read_golden(const st_file *f, const char *name, int64_t numel) {
    const st_tensor *t = st_find(f, name);
    CHECK_MSG(t != NULL, "golden tensor %s missing", name);
    if (!t)
        return NULL;
    CHECK_MSG(t->numel == numel, "%s: %lld elements, expected %lld", name, (long long)t->numel, (long long)numel);
    if (t->numel != numel)
        return NULL;
    float *x = malloc((size_t)numel * sizeof *x);
    CHECK_OK(st_read_f32(f, t, x));
    return x;
}

static double max_abs(const float *x, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* Compares `got` with golden `name` under |a-b| <= tol; records in g. */
static void compare(group *g, const st_file *f, const char *name, const float *got, int64_t n, double tol) {
    float *ref = read_golden(f, name, n);
    if (!ref)
        return;
    double worst = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    CHECK_MSG(worst <= tol, "%s: max |diff| %.3g at %lld (got %.9g, want %.9g), tolerance %.3g", name, worst,
              (long long)at, got[at], ref[at], tol);
    if (worst > g->worst)
        g->worst = worst;
    if (worst / tol > g->worst_rel)
        g->worst_rel = worst / tol;
    g->n++;
    free(ref);
}

static void print_group(const char *model, const group *g) {
    printf("  %-12s %-22s %3d tensors  max|diff| %.3g  (%.2f of tolerance) %s\n", model, g->name, g->n, g->worst,
           g->worst_rel, g->worst_rel <= 1.0 ? "OK" : "NOT OK");
}

/* The attention key bias: its gradient is mathematically 0 (softmax is shift-invariant). */
static int is_k_bias(const char *name) {
    return strstr(name, "k_lin.bias") != NULL || strstr(name, "attention.self.key.bias") != NULL;
}

/* Gradient tolerance: 1e-5 * max|golden| per tensor; the key bias absolute 1e-9. */
static void compare_grads(group *g, const st_file *f, const nerc_model *m, const float *grads) {
    int32_t golden = 0;
    for (int32_t i = 0; i < f->n; i++)
        golden += strncmp(f->tensors[i].name, "grad.", 5) == 0;
    CHECK_MSG(golden == m->n_tensors, "the case has %d gradients, the model %d tensors", golden, m->n_tensors);
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        char name[160];
        snprintf(name, sizeof name, "grad.%s", t->name);
        float *ref = read_golden(f, name, t->numel);
        if (!ref)
            continue;
        double tol = is_k_bias(t->name) ? 1e-9 : 1e-5 * max_abs(ref, t->numel);
        free(ref);
        compare(g, f, name, grads + t->offset, t->numel, tol);
    }
}

static void compare_params(group *g, const st_file *f, const nerc_model *m) {
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        char name[160];
        snprintf(name, sizeof name, "after_step3.%s", t->name);
        compare(g, f, name, m->params_mem + t->offset, t->numel, is_k_bias(t->name) ? 2e-7 : 1e-5);
    }
}

static void check_forward(const char *label, const st_file *f, nerc_model *m, nerc_state *s, const padded_batch *pb) {
    int64_t rows = pb->batch.n_tokens, C = m->cfg.dim;
    CHECK_OK(nerc_forward(s, &pb->batch, 0, 0));
    double loss = 0.0;
    nerc_state_zero_grad(s);
    CHECK_OK(nerc_loss(s, &pb->batch, 0.0, &loss));
    group out = {"logits+loss", 0, 0, 0}, hid = {"hidden.*", 0, 0, 0}, gr = {"grad.*", 0, 0, 0};
    compare(&out, f, "logits", s->logits, rows * m->cfg.n_labels, 2e-6);
    float lf = (float)loss;
    compare(&out, f, "loss", &lf, 1, 2e-6);
    compare(&hid, f, "hidden.embeddings", encoder_hidden(s, -1), rows * C, 2e-5);
    for (int32_t l = 0; l < m->cfg.n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "hidden.layer.%d", l);
        compare(&hid, f, name, encoder_hidden(s, l), rows * C, 2e-5);
    }
    CHECK_OK(nerc_backward(s, &pb->batch));
    compare_grads(&gr, f, m, s->grad_mem);
    print_group(label, &out);
    print_group(label, &hid);
    print_group(label, &gr);
}

/* Three Trainer steps on the same batch: lr 5e-4 linear to 0 over 10 steps,
 * weight decay 0.01, clip 1.0, fresh gradients each step. */
static void check_training(const char *label, const st_file *f, nerc_model *m, nerc_state *s, const padded_batch *pb) {
    adamw_state opt;
    CHECK_OK(adamw_init(&opt, m->n_params));
    adamw_hparams hp = adamw_defaults();
    hp.weight_decay = 0.01f;
    float losses[3], norms[3], lrs[3];
    for (int t = 0; t < 3; t++) {
        double loss = 0.0;
        nerc_state_zero_grad(s);
        CHECK_OK(nerc_forward(s, &pb->batch, 1, 0));
        CHECK_OK(nerc_loss(s, &pb->batch, 0.0, &loss));
        CHECK_OK(nerc_backward(s, &pb->batch));
        double norm;
        grad_rows gr = grad_rows_of(s);
        float clip = grad_clip_factor(s->grad_mem, m->n_params, &gr, 1.0, &norm);
        double lr = lr_linear(5e-4, t, 0, 10);
        adamw_step(&opt, m, s->grad_mem, &gr, clip, lr, &hp, NULL);
        losses[t] = (float)loss;
        norms[t] = (float)norm;
        lrs[t] = (float)lr;
    }
    group tr = {"train.*", 0, 0, 0}, after = {"after_step3.*", 0, 0, 0};
    float *gl = read_golden(f, "train.loss", 3), *gn = read_golden(f, "train.grad_norm", 3);
    if (gl && gn)
        for (int t = 0; t < 3; t++) {
            CHECK_NEAR(losses[t], gl[t], 1e-5 * fabs(gl[t]));
            CHECK_NEAR(norms[t], gn[t], 1e-5 * fabs(gn[t]));
        }
    compare(&tr, f, "train.lr", lrs, 3, 1e-10);
    compare(&tr, f, "train.loss", losses, 3, 1e-5 * (gl ? max_abs(gl, 3) : 1.0));
    compare(&tr, f, "train.grad_norm", norms, 3, 1e-5 * (gn ? max_abs(gn, 3) : 1.0));
    compare_params(&after, f, m);
    print_group(label, &tr);
    print_group(label, &after);
    free(gl);
    free(gn);
    adamw_free(&opt);
}

/* Model `label` in fixture folder `folder` ("model" or "family") and its case file. */
static void run_case(const char *folder, const char *label) {
    char dir[256], case_path[256];
    snprintf(dir, sizeof dir, SHARED_DIR "/fixtures/%s/%s", folder, label);
    snprintf(case_path, sizeof case_path, SHARED_DIR "/fixtures/%s/case_%s.safetensors", folder, label);
    nerc_model *m = NULL;
    st_file f;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    CHECK_OK(st_open(&f, case_path));
    if (!m || !f.n)
        return;
    nerc_model_set_dropout(m, 0.0f, 0.0f);
    padded_batch pb;
    CHECK_OK(padded_batch_read(&pb, &f));
    int64_t rows = pb.batch.n_tokens;
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, pb.B, rows, rows * pb.T, 1));
    printf("%s (%s): %lld parameters, batch %d x %d\n", label, nerc_model_type(m), (long long)m->n_params, pb.B, pb.T);
    check_forward(label, &f, m, s, &pb);
    check_training(label, &f, m, s, &pb);
    nerc_state_free(s);
    padded_batch_free(&pb);
    st_close(&f);
    nerc_model_free(m);
}

/* nerc_check_forward (the `nerc forward` command) writes what PyTorch wrote. */
static void check_forward_command(void) {
    const char *out = "/tmp/nerc_test_model_forward.safetensors";
    CHECK_OK(nerc_check_forward(SHARED_DIR "/fixtures/model/tiny", SHARED_DIR "/fixtures/model/case_tiny.safetensors",
                                out, 1));
    st_file got, want;
    CHECK_OK(st_open(&got, out));
    CHECK_OK(st_open(&want, SHARED_DIR "/fixtures/model/case_tiny.safetensors"));
    group g = {"forward command", 0, 0, 0};
    const char *names[3] = {"logits", "loss", "grad.classifier.weight"};
    float *gw = read_golden(&want, "grad.classifier.weight", 9 * 32);
    const double tol[3] = {2e-6, 2e-6, gw ? 1e-5 * max_abs(gw, 9 * 32) : 0.0};
    free(gw);
    for (int i = 0; i < 3; i++) {
        const st_tensor *t = st_find(&got, names[i]);
        CHECK_MSG(t != NULL, "%s missing from the forward output", names[i]);
        if (!t)
            continue;
        float *x = malloc((size_t)t->numel * sizeof *x);
        CHECK_OK(st_read_f32(&got, t, x));
        compare(&g, &want, names[i], x, t->numel, tol[i]);
        free(x);
    }
    CHECK(got.n == 2 + 38); /* logits, loss and every gradient */
    print_group("tiny", &g);
    st_close(&got);
    st_close(&want);
    remove(out);
}

int main(void) {
    run_case("model", "tiny");
    run_case("model", "small");
    run_case("family", "bert_tiny");
    run_case("family", "roberta_tiny");
    run_case("family", "xlmr_tiny");
    check_forward_command();
    return test_report("test_model");
}
