/* The tokenizer object: creation and release, added tokens, the model directory dispatch
 * (tokenizer.json > vocab.txt > vocab.json + merges.txt; a lone sentencepiece.bpe.model is refused)
 * and the small accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "nerc/hub.h"
#include "text/pipeline.h"
#include "text/tok_json.h"

const char *const nerc_tokenizer_file_names[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
    "merges.txt",     "sentencepiece.bpe.model", "spiece.model",     "added_tokens.json", NULL};

nerc_tokenizer *tokenizer_new(void) {
    nerc_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return NULL;
    tok->unk_id = tok->cls_id = tok->sep_id = tok->pad_id = -1;
    memcpy(tok->prefix, "##", 3);
    tok->prefix_len = 2;
    tok->max_chars = 100;
    for (int i = 0; i < 256; i++)
        tok->byte_ids[i] = -1;
    return tok;
}

void tok_pattern_free(tok_pattern *p) {
    tok_regex_free(p->re);
    p->re = NULL;
}

void nerc_tokenizer_free(nerc_tokenizer *tok) {
    if (!tok)
        return;
    vocab_free(&tok->vocab);
    for (int32_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].cps);
    }
    free(tok->added);
    for (int32_t i = 0; i < tok->n_norms; i++) {
        precompiled_free(tok->norms[i].pc);
        tok_pattern_free(&tok->norms[i].pat);
        free(tok->norms[i].text);
    }
    for (int32_t i = 0; i < tok->n_pres; i++)
        tok_pattern_free(&tok->pres[i].pat);
    free(tok->merges);
    free(tok->scores);
    free(tok);
}

/* ---- added tokens ---- */

static nerc_status utf8_to_cps(const char *s, size_t len, uint32_t **out, size_t *n) {
    *out = malloc((len + 1) * sizeof **out);
    *n = 0;
    if (!*out)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    size_t pos = 0;
    while (pos < len) {
        uint32_t cp;
        utf8_decode((const unsigned char *)s, len, &pos, &cp);
        (*out)[(*n)++] = cp;
    }
    return NERC_OK;
}

nerc_status tokenizer_add_token(nerc_tokenizer *tok, const char *where, const char *content, int32_t id,
                                bool special, bool normalized, bool lstrip, bool rstrip, bool single_word) {
    size_t len = strlen(content);
    if (len == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: empty added token", where);
    if (utf8_validate(content, len) != len)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: added token is not UTF-8", where);
    for (int32_t i = 0; i < tok->n_added; i++) {
        if (strcmp(tok->added[i].content, content))
            continue;
        if (tok->added[i].id != id)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: added token '%s' has two ids", where, content);
        tok->added[i].special |= special;
        return NERC_OK;
    }
    if (tok->n_added == TOK_MAX_ADDED)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: more than %d added tokens", where, TOK_MAX_ADDED);
    if (tok->n_added % 16 == 0) {
        tok_added *a = realloc(tok->added, ((size_t)tok->n_added + 16) * sizeof *a);
        if (!a)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
        tok->added = a;
    }
    tok_added *a = &tok->added[tok->n_added];
    *a = (tok_added){.id = id, .single_word = single_word, .lstrip = lstrip, .rstrip = rstrip,
                     .normalized = normalized, .special = special};
    if (!(a->content = strdup(content)))
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    nerc_status st = utf8_to_cps(content, len, &a->cps, &a->n_cps);
    tok->n_added++;
    return st;
}

nerc_status tokenizer_prepare_added(nerc_tokenizer *tok, const char *where) {
    memset(tok->added_first, 0, sizeof tok->added_first);
    for (int32_t i = 0; i < tok->n_added; i++) {
        tok_added *a = &tok->added[i];
        if (a->normalized && tok->n_norms > 0) {
            uint32_t *cps;
            size_t n;
            nerc_status st = normalize_cps(tok, a->cps, a->n_cps, &cps, &n);
            if (st != NERC_OK)
                return nerc_error_prefix(st, "%s: added token '%s'", where, a->content);
            free(a->cps);
            a->cps = cps;
            a->n_cps = n; /* an empty pattern never matches */
        }
        if (a->n_cps > 0)
            tok->added_first[a->normalized][a->cps[0] & 0xFF] = 1;
    }
    return NERC_OK;
}

int32_t tokenizer_token_id(const nerc_tokenizer *tok, const char *s) {
    for (int32_t i = 0; i < tok->n_added; i++)
        if (!strcmp(tok->added[i].content, s))
            return tok->added[i].id;
    return tok->vocab.n > 0 ? vocab_find(&tok->vocab, s, strlen(s)) : -1;
}

void tokenizer_set_template(nerc_tokenizer *tok, int32_t cls, int32_t sep) {
    tok->cls_id = cls;
    tok->sep_id = sep;
    tok->template_prefix[0] = cls;
    tok->template_suffix[0] = sep;
    tok->n_template_prefix = tok->n_template_suffix = 1;
}

void tokenizer_find_byte_ids(nerc_tokenizer *tok) {
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        tok->byte_ids[b] = vocab_find(&tok->vocab, s, strlen(s));
    }
}

/* ---- model directories ---- */

nerc_status tokenizer_load_wordpiece_dir(nerc_tokenizer *tok, const char *dir);
nerc_status tokenizer_load_bpe_dir(nerc_tokenizer *tok, const char *dir);

/* The pad token of tokenizer_config.json when tokenizer.json names none. */
static nerc_status pad_from_config(nerc_tokenizer *tok, const char *dir) {
    char *path = fs_join(dir, "tokenizer_config.json");
    if (!path)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", dir);
    json_t *cfg = NULL;
    nerc_status st = fs_exists(path) ? tj_load_path(path, &cfg) : NERC_OK;
    const char *pad = NULL;
    if (st == NERC_OK && cfg)
        st = tj_token_name(cfg, "pad_token", path, NULL, &pad);
    if (st == NERC_OK && pad && tokenizer_token_id(tok, pad) >= 0)
        tok->pad_id = tokenizer_token_id(tok, pad);
    json_decref(cfg);
    free(path);
    return st;
}

static bool dir_has(const char *dir, const char *name) {
    char *p = fs_join(dir, name);
    bool yes = p && fs_exists(p);
    free(p);
    return yes;
}

static nerc_status load_slow_dir(nerc_tokenizer **out, const char *dir) {
    nerc_tokenizer *tok = tokenizer_new();
    if (!tok)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", dir);
    nerc_status s;
    if (dir_has(dir, "vocab.txt"))
        s = tokenizer_load_wordpiece_dir(tok, dir);
    else if (dir_has(dir, "vocab.json"))
        s = tokenizer_load_bpe_dir(tok, dir);
    else if (dir_has(dir, "sentencepiece.bpe.model") || dir_has(dir, "spiece.model"))
        s = nerc_errorf(NERC_ERR_ARG, "%s: a SentencePiece model without tokenizer.json: nerc reads SentencePiece "
                        "tokenizers from tokenizer.json (write it with transformers: "
                        "AutoTokenizer.from_pretrained(dir).save_pretrained(dir))", dir);
    else
        s = nerc_errorf(NERC_ERR_IO, "%s: no tokenizer files (tokenizer.json, vocab.txt, or vocab.json + merges.txt)",
                        dir);
    if (s != NERC_OK) {
        nerc_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return NERC_OK;
}

nerc_status nerc_tokenizer_load(nerc_tokenizer **out, const char *name) {
    if (!out || !name)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_load: NULL argument");
    *out = NULL;
    char model_dir[4096]; /* a path, or a hub id found in the Hugging Face cache */
    NERC_TRY(nerc_hub_resolve(name, model_dir, sizeof model_dir));
    if (!dir_has(model_dir, "tokenizer.json"))
        return load_slow_dir(out, model_dir);
    char *json_path = fs_join(model_dir, "tokenizer.json");
    if (!json_path)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", model_dir);
    nerc_status s = nerc_tokenizer_load_file(out, json_path);
    free(json_path);
    if (s == NERC_OK && !(*out)->pad_from_padding)
        s = pad_from_config(*out, model_dir);
    if (s != NERC_OK) {
        nerc_tokenizer_free(*out);
        *out = NULL;
    }
    return s;
}

/* ---- accessors ---- */

int32_t nerc_tokenizer_vocab_size(const nerc_tokenizer *tok) {
    int32_t n = tok->vocab.n;
    for (int32_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id >= n)
            n = tok->added[i].id + 1;
    return n;
}

nerc_tokenizer_model nerc_tokenizer_model_type(const nerc_tokenizer *tok) { return tok->model; }

const char *nerc_tokenizer_model_name(nerc_tokenizer_model m) {
    return m == NERC_TOKENIZER_WORDPIECE ? "WordPiece" : m == NERC_TOKENIZER_BPE ? "BPE" : "Unigram";
}

const char *nerc_tokenizer_subword_prefix(const nerc_tokenizer *tok) {
    return tok->model == NERC_TOKENIZER_UNIGRAM ? "" : tok->prefix;
}

int32_t nerc_tokenizer_cls_id(const nerc_tokenizer *tok) { return tok->cls_id; }
int32_t nerc_tokenizer_sep_id(const nerc_tokenizer *tok) { return tok->sep_id; }
int32_t nerc_tokenizer_pad_id(const nerc_tokenizer *tok) { return tok->pad_id; }
int32_t nerc_tokenizer_unk_id(const nerc_tokenizer *tok) { return tok->unk_id; }

const char *nerc_tokenizer_id_to_token(const nerc_tokenizer *tok, int32_t id) {
    if (id >= 0 && id < tok->vocab.n && tok->vocab.tokens[id]) /* an added token there has the same string */
        return tok->vocab.tokens[id];
    for (int32_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id == id)
            return tok->added[i].content;
    return NULL;
}

int nerc_tokenizer_is_special(const nerc_tokenizer *tok, int32_t id) {
    for (int32_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id == id)
            return tok->added[i].special;
    return 0;
}
