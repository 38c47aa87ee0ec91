/* BERT, RoBERTa and XLM-RoBERTa beyond the fixture parity of test_model.c:
 * finite differences of the whole model on a few weights, save -> load ->
 * identical logits, checkpoints as the hub ships them (pooler, position_ids,
 * masked-LM / pre-training heads, base models without the prefix, gamma/beta
 * LayerNorm names, BF16 weights, a pytorch_model.bin alone), and a short
 * training run that lowers the loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "kernels/convert.h"
#include "model/encoder.h"
#include "nerc.h"
#include "test.h"
#include "test_conll.h"

static const char *const families[3] = {"bert_tiny", "roberta_tiny", "xlmr_tiny"};
static char tmpdir[64];

static char *fixture(const char *name) {
    char *base = fs_join(SHARED_DIR, "fixtures/family");
    char *p = fs_join(base, name);
    free(base);
    return p;
}

/* A batch of two sequences of random non-pad ids with labels on every row. */
typedef struct {
    int32_t ids[40], pos[40], labels[40], offs[3];
    nerc_batch b;
} small_batch;

static void make_batch(small_batch *sb, const nerc_model *m) {
    rng_state r;
    rng_seed(&r, 5);
    sb->offs[0] = 0, sb->offs[1] = 17, sb->offs[2] = 40;
    for (int i = 0; i < 40; i++) {
        do
            sb->ids[i] = 3 + (int32_t)rng_below(&r, (uint64_t)m->cfg.vocab_size - 3);
        while (sb->ids[i] == m->cfg.pad_token_id);
        sb->pos[i] = i < 17 ? i : i - 17;
        sb->labels[i] = (int32_t)rng_below(&r, 9);
    }
    sb->b = (nerc_batch){2, 40, sb->ids, sb->pos, sb->labels, sb->offs, NULL, NULL};
}

static double loss_of(nerc_state *s, const nerc_batch *b) {
    double loss = 0.0;
    CHECK_OK(nerc_forward(s, b, 0, 0));
    CHECK_OK(nerc_loss(s, b, 0.0, &loss));
    return loss;
}

/* The largest-gradient element of each of a few tensors: (L(w+e) - L(w-e)) / 2e vs the backward pass. */
static void check_finite_differences(nerc_model *m) {
    small_batch sb;
    make_batch(&sb, m);
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, 2, 40, 17 * 17 + 23 * 23, 1));
    nerc_state_zero_grad(s);
    loss_of(s, &sb.b);
    CHECK_OK(nerc_backward(s, &sb.b));
    const char *suffixes[] = {"embeddings.token_type_embeddings.weight", "embeddings.position_embeddings.weight",
                              "layer.0.attention.self.query.weight", "layer.1.attention.output.dense.weight",
                              "layer.0.intermediate.dense.weight", "layer.1.output.LayerNorm.weight",
                              "classifier.weight"};
    double worst = 0.0;
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        const param_tensor *t = NULL;
        for (int32_t i = 0; i < m->n_tensors && !t; i++)
            if (strstr(m->tensors[i].name, suffixes[k]))
                t = &m->tensors[i];
        CHECK_MSG(t != NULL, "%s: no tensor *%s", nerc_model_type(m), suffixes[k]);
        if (!t)
            continue;
        int64_t at = 0;
        for (int64_t i = 1; i < t->numel; i++)
            if (fabsf(s->grad_mem[t->offset + i]) > fabsf(s->grad_mem[t->offset + at]))
                at = i;
        float *w = m->params_mem + t->offset + at, w0 = *w, eps = 1e-2f;
        *w = w0 + eps;
        double up = loss_of(s, &sb.b);
        *w = w0 - eps;
        double down = loss_of(s, &sb.b);
        *w = w0;
        double fd = (up - down) / (2.0 * eps), g = s->grad_mem[t->offset + at];
        double rel = fabs(fd - g) / fmax(fabs(g), 1e-3);
        worst = fmax(worst, rel);
        CHECK_MSG(rel < 2e-2, "%s %s[%lld]: finite difference %.6g, backward %.6g", nerc_model_type(m), t->name,
                  (long long)at, fd, g);
    }
    printf("  %-12s finite differences on 7 tensors: worst relative error %.2g (tolerance 2e-2)\n",
           nerc_model_type(m), worst);
    nerc_state_free(s);
}

static void logits_of(const nerc_model *m, float *out) {
    small_batch sb;
    make_batch(&sb, m);
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, 2, 40, 17 * 17 + 23 * 23, 0));
    CHECK_OK(nerc_forward(s, &sb.b, 0, 0));
    memcpy(out, nerc_state_logits(s), 40 * 9 * sizeof *out);
    nerc_state_free(s);
}

/* save -> load gives the same config, tensor names and logits, bit for bit. */
static void check_round_trip(const nerc_model *m, const char *name) {
    char *dir = fs_join(tmpdir, name);
    CHECK_OK(nerc_model_save(m, dir));
    nerc_model *back = NULL;
    CHECK_OK(nerc_model_load(&back, dir, NULL, 0, 0));
    if (back) {
        float a[40 * 9], b[40 * 9];
        logits_of(m, a);
        logits_of(back, b);
        CHECK_MSG(!memcmp(a, b, sizeof a), "%s: logits differ after save -> load", name);
        CHECK(back->cfg.family == m->cfg.family && back->n_tensors == m->n_tensors &&
              back->cfg.layer_norm_eps == m->cfg.layer_norm_eps);
        char *cfg = fs_join(dir, "config.json"), *text = NULL;
        size_t len = 0;
        CHECK_OK(fs_read_file(cfg, 0, &text, &len));
        const char *arch = m->cfg.family == FAMILY_BERT      ? "\"BertForTokenClassification\""
                           : m->cfg.family == FAMILY_ROBERTA ? "\"RobertaForTokenClassification\""
                                                             : "\"XLMRobertaForTokenClassification\"";
        CHECK_MSG(text && strstr(text, arch), "%s: config.json lacks %s", name, arch);
        free(text);
        free(cfg);
    }
    nerc_model_free(back);
    free(dir);
}

/* ---- checkpoints as the hub ships them --------------------------------------- */

typedef struct {
    st_entry e[80];
    char names[80][128];
    int n;
} ckpt;

static void ckpt_add(ckpt *c, const char *name, st_dtype dtype, int32_t ndim, int64_t d0, int64_t d1,
                     const void *data) {
    snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
    c->e[c->n] = (st_entry){c->names[c->n], dtype, ndim, {d0, d1}, data};
    c->n++;
}

/* Every tensor of m, renamed: `strip` removed from the front (base models),
 * LayerNorm weight/bias as gamma/beta when `gamma`, the classifier dropped when `no_cls`. */
static void ckpt_from_model(ckpt *c, const nerc_model *m, const char *strip, int gamma, int no_cls) {
    c->n = 0;
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        if (no_cls && t->cat >= P_CLS_W)
            continue;
        char name[128];
        const char *n = *strip && !strncmp(t->name, strip, strlen(strip)) ? t->name + strlen(strip) : t->name;
        snprintf(name, sizeof name, "%s", n);
        char *ln = strstr(name, "LayerNorm.");
        if (gamma && ln)
            strcpy(ln + 10, t->cat == P_EMB_LN_W || t->cat == P_LN1_W || t->cat == P_LN2_W ? "gamma" : "beta");
        ckpt_add(c, name, ST_F32, t->ndim, t->shape[0], t->shape[1], m->params_mem + t->offset);
    }
}

static void write_ckpt(const ckpt *c, const char *dir, const char *config_src) {
    CHECK_OK(fs_mkdirs(dir));
    char *p = fs_join(dir, "model.safetensors"), *cfg = fs_join(dir, "config.json");
    CHECK_OK(st_write(p, c->e, c->n, NULL));
    CHECK_OK(fs_copy_file(config_src, cfg));
    free(p);
    free(cfg);
}

static int same_encoder(const nerc_model *a, const nerc_model *b) {
    return a->n_params == b->n_params &&
           !memcmp(a->params_mem, b->params_mem, (size_t)(a->p.cat[P_CLS_W] - a->params_mem) * sizeof(float));
}

static const char *const conll[9] = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"};

static void expect_loads(const char *what, const char *dir, const nerc_model *ref, int want_same_classifier) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, conll, 9, 3));
    CHECK_MSG(m && same_encoder(m, ref), "%s: the encoder differs from the original", what);
    if (m && want_same_classifier)
        CHECK_MSG(!memcmp(m->p.cat[P_CLS_W], ref->p.cat[P_CLS_W], 9 * (size_t)ref->cfg.dim * sizeof(float)),
                  "%s: classifier differs", what);
    nerc_model_free(m);
}

static void check_hub_layouts(const nerc_model *bert, const char *bert_dir, const nerc_model *roberta,
                              const char *roberta_dir) {
    static float pooler_w[32 * 32], pooler_b[32], pos_ids[64], head_b[30522], nsp_w[2 * 32];
    char *bert_cfg = fs_join(bert_dir, "config.json"), *roberta_cfg = fs_join(roberta_dir, "config.json");
    char *dir = fs_join(tmpdir, "hub");
    ckpt c;
    /* 1. a fine-tuned BertForTokenClassification with the pooler and the position_ids buffer */
    ckpt_from_model(&c, bert, "", 0, 0);
    ckpt_add(&c, "bert.pooler.dense.weight", ST_F32, 2, 32, 32, pooler_w);
    ckpt_add(&c, "bert.pooler.dense.bias", ST_F32, 1, 32, 1, pooler_b);
    ckpt_add(&c, "bert.embeddings.position_ids", ST_F32, 2, 1, 64, pos_ids);
    write_ckpt(&c, dir, bert_cfg);
    expect_loads("bert + pooler + position_ids", dir, bert, 1);
    /* 2. BertForPreTraining (bert-base-cased's layout): MLM + NSP heads, old gamma/beta names */
    ckpt_from_model(&c, bert, "", 1, 1);
    ckpt_add(&c, "cls.predictions.bias", ST_F32, 1, 30522, 1, head_b);
    ckpt_add(&c, "cls.predictions.transform.dense.weight", ST_F32, 2, 32, 32, pooler_w);
    ckpt_add(&c, "cls.seq_relationship.weight", ST_F32, 2, 2, 32, nsp_w);
    write_ckpt(&c, dir, bert_cfg);
    expect_loads("BertForPreTraining with gamma/beta", dir, bert, 0);
    /* 3. BertModel: no prefix, pooler */
    ckpt_from_model(&c, bert, "bert.", 0, 1);
    ckpt_add(&c, "pooler.dense.weight", ST_F32, 2, 32, 32, pooler_w);
    write_ckpt(&c, dir, bert_cfg);
    expect_loads("BertModel without prefix", dir, bert, 0);
    /* 4. RobertaForMaskedLM: lm_head */
    ckpt_from_model(&c, roberta, "", 0, 1);
    ckpt_add(&c, "lm_head.bias", ST_F32, 1, 30522, 1, head_b);
    ckpt_add(&c, "lm_head.dense.weight", ST_F32, 2, 32, 32, pooler_w);
    write_ckpt(&c, dir, roberta_cfg);
    expect_loads("RobertaForMaskedLM", dir, roberta, 0);
    /* 5. an unknown tensor is still an error naming it */
    ckpt_from_model(&c, bert, "", 0, 0);
    ckpt_add(&c, "bert.encoder.layer.0.attention.self.rotary.weight", ST_F32, 1, 32, 1, pooler_b);
    write_ckpt(&c, dir, bert_cfg);
    nerc_model *m = NULL;
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "unknown tensor 'bert.encoder.layer.0.attention.self.rotary.weight' (not part "
                                        "of BertForTokenClassification)"),
              "%s", nerc_last_error());
    /* 6. pytorch_model.bin alone: a message saying how to convert it */
    char *st_path = fs_join(dir, "model.safetensors"), *bin = fs_join(dir, "pytorch_model.bin");
    unlink(st_path);
    CHECK_OK(fs_write_file_atomic(bin, "PK", 2));
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_IO);
    CHECK_MSG(strstr(nerc_last_error(), "has only pytorch_model.bin") && strstr(nerc_last_error(), "safe_serialization"),
              "%s", nerc_last_error());
    printf("  hub layouts: pooler/position_ids skipped, pre-training + MLM heads, base without prefix, gamma/beta, "
           "unknown tensor and pytorch_model.bin refused\n");
    free(st_path), free(bin), free(dir), free(bert_cfg), free(roberta_cfg);
}

/* BF16 weights (as many hub checkpoints ship) are widened on load: logits
 * within bf16 rounding of the F32 model's. */
static void check_bf16_weights(const nerc_model *bert, const char *bert_dir) {
    ckpt c;
    ckpt_from_model(&c, bert, "", 0, 0);
    uint16_t *half = malloc((size_t)bert->n_params * sizeof *half);
    for (int i = 0; i < c.n; i++) {
        const param_tensor *t = &bert->tensors[i];
        f32_to_bf16(half + t->offset, bert->params_mem + t->offset, t->numel);
        c.e[i].dtype = ST_BF16;
        c.e[i].data = half + t->offset;
    }
    char *dir = fs_join(tmpdir, "bf16"), *cfg = fs_join(bert_dir, "config.json");
    write_ckpt(&c, dir, cfg);
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    if (m) {
        float a[40 * 9], b[40 * 9];
        logits_of(bert, a);
        logits_of(m, b);
        double worst = 0.0;
        for (int i = 0; i < 40 * 9; i++)
            worst = fmax(worst, fabs(a[i] - b[i]));
        CHECK_MSG(worst < 1e-2, "BF16 checkpoint: logits differ by %.3g", worst);
        printf("  bf16 checkpoint widened on load: max |logit diff| %.2g vs F32 (tolerance 1e-2)\n", worst);
    }
    nerc_model_free(m);
    free(half), free(dir), free(cfg);
}

static char *write_subset(const char *src, const char *name, int lines) {
    char *dst = fs_join(tmpdir, name);
    test_conll_subset(src, dst, lines);
    return dst;
}

typedef struct {
    double first, last;
} loss_watch;

static void on_event(const nerc_train_event *ev, void *user) {
    loss_watch *w = user;
    if (ev->kind != NERC_EVENT_KIND_STEP)
        return;
    if (ev->step == 1)
        w->first = ev->loss;
    w->last = ev->loss;
}

/* The trained model directory predicts: its tokenizer files were copied next to the weights. */
static void check_predict(const char *out, const char *name) {
    nerc_predict_params pp = nerc_predict_default_params();
    nerc_predictor *pr = NULL;
    CHECK_OK(nerc_predictor_load(&pr, out, &pp));
    if (!pr)
        return;
    const char *text = "Angela Merkel visited Paris with the European Union delegation .";
    nerc_prediction pred;
    CHECK_OK(nerc_predict_text(pr, text, strlen(text), &pred));
    int bad = 0;
    for (int32_t i = 0; i < pred.n_entities; i++)
        bad += pred.entities[i].start < 0 || pred.entities[i].end > (int64_t)strlen(text) ||
               pred.entities[i].start >= pred.entities[i].end;
    CHECK_MSG(bad == 0, "%s: %d of %d predicted entities out of the text", name, bad, pred.n_entities);
    printf("  %-12s predicts from its saved directory: %d entities in the test sentence\n", name, pred.n_entities);
    nerc_predictor_free(pr);
}

/* A short fine-tuning run of each family on CoNLL sentences lowers the training loss. */
static void check_training(const char *dir, const char *name) {
    char *train = write_subset(SHARED_DIR "/data/conll2003/train.txt", "train.txt", 400);
    char *dev = write_subset(SHARED_DIR "/data/conll2003/dev.txt", "dev.txt", 100);
    char out[256];
    snprintf(out, sizeof out, "%s/train_%s", tmpdir, name);
    nerc_train_params p = nerc_train_default_params();
    loss_watch w = {0, 0};
    p.model = dir, p.train = train, p.validation = dev, p.out = out;
    p.lr = 2e-3, p.batch_size = 8, p.max_steps = 30, p.on_event = on_event, p.user = &w;
    p.labels = conll, p.n_labels = 9;
    nerc_train_result res;
    CHECK_OK(nerc_train(&p, &res));
    CHECK_MSG(res.steps == 30 && w.last < 0.7 * w.first, "%s: training loss %.3f -> %.3f in %lld steps", name,
              w.first, w.last, (long long)res.steps);
    printf("  %-12s 30 training steps: loss %.3f -> %.3f, validation F1 (word level) %.3f\n", name, w.first, w.last,
           res.best_f1);
    check_predict(out, name);
    free(train);
    free(dev);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nerc_test_family_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    nerc_model *models[3] = {NULL, NULL, NULL};
    char *dirs[3];
    for (int i = 0; i < 3; i++) {
        dirs[i] = fixture(families[i]);
        CHECK_OK(nerc_model_load(&models[i], dirs[i], NULL, 0, 0));
        if (!models[i])
            return test_report("test_family");
        nerc_model_set_dropout(models[i], 0.0f, 0.0f);
        check_finite_differences(models[i]);
        check_round_trip(models[i], families[i]);
    }
    check_hub_layouts(models[0], dirs[0], models[1], dirs[1]);
    check_bf16_weights(models[0], dirs[0]);
    nerc_set_log(NULL, NULL);
    for (int i = 0; i < 3; i++)
        check_training(dirs[i], families[i]);
    for (int i = 0; i < 3; i++) {
        nerc_model_free(models[i]);
        free(dirs[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_report("test_family");
}
