/* tokenizer.json: the model (WordPiece, BPE, Unigram), normalizers, pre-tokenizers, added tokens,
 * post-processor and padding, as HF's Rust library deserializes them. Every refusal names the
 * file and the field: NERC_ERR_ARG for what nerc does not support, NERC_ERR_FORMAT for what is
 * malformed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/pipeline.h"
#include "text/tok_json.h"

static nerc_status unsupported(const char *path, const char *field, const char *what, const char *supported) {
    return nerc_errorf(NERC_ERR_ARG, "%s: %s: unsupported tokenizer option '%s' (nerc supports %s)", path, field,
                       what ? what : "?", supported);
}

static const char *type_of(const json_t *obj) {
    return json_string_value(json_object_get(obj, "type"));
}

/* A string field holding exactly one code point (Metaspace replacement). */
static nerc_status one_char(const json_t *obj, const char *key, const char *where, uint32_t def, uint32_t *out) {
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v))
        return NERC_OK;
    const char *s = json_string_value(v);
    size_t len = s ? json_string_length(v) : 0, pos = 0;
    if (!s || len == 0 || !utf8_decode((const unsigned char *)s, len, &pos, out) || pos != len)
        return nerc_errorf(NERC_ERR_FORMAT, "%s.%s must be a one-character string", where, key);
    return NERC_OK;
}

/* A UTF-8 string field as code points. */
static nerc_status string_cps(const json_t *obj, const char *key, const char *where, uint32_t **out, size_t *n) {
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!json_is_string(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s.%s must be a string", where, key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), pos = 0;
    if (utf8_validate(s, len) != len)
        return nerc_errorf(NERC_ERR_FORMAT, "%s.%s is not UTF-8", where, key);
    if (!(*out = malloc((len + 1) * sizeof **out)))
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    while (pos < len)
        utf8_decode((const unsigned char *)s, len, &pos, &(*out)[(*n)++]);
    return NERC_OK;
}

/* ---- patterns: {"String": s} (matched literally) or {"Regex": r} ---- */

static nerc_status parse_pattern(tok_pattern *p, const json_t *obj, const char *where) {
    const json_t *pat = json_object_get(obj, "pattern");
    const json_t *str = json_object_get(pat, "String"), *re = json_object_get(pat, "Regex");
    if (!json_is_string(str) && !json_is_string(re))
        return nerc_errorf(NERC_ERR_FORMAT, "%s.pattern must be {\"String\": ...} or {\"Regex\": ...}", where);
    if (json_is_string(re))
        return tok_regex_compile(&p->re, json_string_value(re), json_string_length(re), where);
    const char *s = json_string_value(str);
    size_t len = json_string_length(str);
    char *esc = malloc(2 * len + 1);
    if (!esc)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    size_t m = 0;
    for (size_t i = 0; i < len; i++) { /* regex::escape's meta characters */
        if (strchr("\\.+*?()|[]{}^$#&-~", s[i]) && s[i])
            esc[m++] = '\\';
        esc[m++] = s[i];
    }
    nerc_status st = tok_regex_compile(&p->re, esc, m, where);
    free(esc);
    return st;
}

/* ---- model ---- */

nerc_status vocab_from_json(nerc_tokenizer *tok, const json_t *v, const char *path, const char *label) {
    if (!json_is_object(v) || json_object_size(v) == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s must be a non-empty object", path, label);
    if (json_object_size(v) > (1 << 28))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s is too large", path, label);
    NERC_TRY(vocab_init(&tok->vocab, (int32_t)json_object_size(v)));
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        int32_t dup = -1;
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= tok->vocab.n)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: %s['%.64s']: id must be in [0, %d)", path, label, key,
                               (int)tok->vocab.n);
        int32_t id = (int32_t)json_integer_value(val);
        nerc_status s = vocab_set(&tok->vocab, id, key, strlen(key), &dup);
        if (s == NERC_ERR_FORMAT)
            return nerc_errorf(s, "%s: %s['%.64s']: id %d is used twice", path, label, key, (int)id);
        NERC_TRY(s);
    }
    return NERC_OK;
}

static nerc_status copy_affix(char *dst, size_t cap, size_t *len, const json_t *model, const char *key,
                              const char *def, const char *path) {
    const json_t *v = json_object_get(model, key);
    const char *s = def;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: model.%s must be a string", path, key);
        s = json_string_value(v);
    }
    if (strlen(s) >= cap)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.%s is too long", path, key);
    *len = strlen(s);
    memcpy(dst, s, *len + 1);
    return NERC_OK;
}

static nerc_status parse_wordpiece(nerc_tokenizer *tok, const json_t *model, const char *path) {
    tok->model = NERC_TOKENIZER_WORDPIECE;
    NERC_TRY(vocab_from_json(tok, json_object_get(model, "vocab"), path, "model.vocab"));
    NERC_TRY(copy_affix(tok->prefix, sizeof tok->prefix, &tok->prefix_len, model, "continuing_subword_prefix", "##",
                        path));
    const json_t *mc = json_object_get(model, "max_input_chars_per_word");
    if (mc && !json_is_null(mc)) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 1 || json_integer_value(mc) > TOK_MAX_CHARS_LIMIT)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: model.max_input_chars_per_word must be in [1, %d]", path,
                               TOK_MAX_CHARS_LIMIT);
        tok->max_chars = (int32_t)json_integer_value(mc);
    }
    const char *unk;
    NERC_TRY(tj_token_name(model, "unk_token", path, "[UNK]", &unk));
    tok->unk_id = vocab_find(&tok->vocab, unk, strlen(unk));
    if (tok->unk_id < 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.unk_token '%s' is not in model.vocab", path, unk);
    return NERC_OK;
}

/* One merge, "left right" (legacy) or ["left", "right"]. */
static nerc_status merge_parts(const json_t *m, size_t i, const char *path, char *buf, size_t cap, const char **a,
                               const char **b) {
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        return NERC_OK;
    }
    const char *s = json_string_value(m);
    const char *sp = s ? strchr(s, ' ') : NULL;
    if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' ') || strlen(s) >= cap)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.merges[%zu] must be \"left right\" or [\"left\", \"right\"]",
                           path, i);
    memcpy(buf, s, strlen(s) + 1);
    buf[sp - s] = '\0';
    *a = buf;
    *b = buf + (sp - s) + 1;
    return NERC_OK;
}

/* Merge i (a, b): both and their concatenation (b without the continuing-subword prefix) must be
 * in the vocabulary. */
nerc_status bpe_register_merge(nerc_tokenizer *tok, const char *a, const char *b, size_t i, const char *where) {
    int32_t ia = vocab_find(&tok->vocab, a, strlen(a)), ib = vocab_find(&tok->vocab, b, strlen(b));
    if (ia < 0 || ib < 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: merge %zu ('%s %s'): token '%s' is not in the vocabulary", where,
                           i + 1, a, b, ia < 0 ? a : b);
    size_t la = strlen(a), lb = strlen(b);
    if (lb < tok->prefix_len) /* HF slices the prefix length off b */
        return nerc_errorf(NERC_ERR_FORMAT, "%s: merge %zu ('%s %s'): right token shorter than the prefix", where,
                           i + 1, a, b);
    char *joined = malloc(la + lb + 1);
    if (!joined)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    memcpy(joined, a, la);
    memcpy(joined + la, b + tok->prefix_len, lb - tok->prefix_len + 1);
    int32_t id = vocab_find(&tok->vocab, joined, strlen(joined));
    nerc_status st = id >= 0 ? bpe_add_merge(tok, ia, ib, (uint32_t)i, id)
                             : nerc_errorf(NERC_ERR_FORMAT, "%s: merge %zu ('%s %s'): merged token '%s' is not in the "
                                           "vocabulary", where, i + 1, a, b, joined);
    free(joined);
    return st;
}

static nerc_status parse_bpe(nerc_tokenizer *tok, const json_t *model, const char *path) {
    tok->model = NERC_TOKENIZER_BPE;
    NERC_TRY(vocab_from_json(tok, json_object_get(model, "vocab"), path, "model.vocab"));
    NERC_TRY(copy_affix(tok->prefix, sizeof tok->prefix, &tok->prefix_len, model, "continuing_subword_prefix", "",
                        path));
    NERC_TRY(copy_affix(tok->suffix, sizeof tok->suffix, &tok->suffix_len, model, "end_of_word_suffix", "", path));
    NERC_TRY(tj_bool(model, "fuse_unk", path, false, &tok->fuse_unk));
    NERC_TRY(tj_bool(model, "byte_fallback", path, false, &tok->byte_fallback));
    NERC_TRY(tj_bool(model, "ignore_merges", path, false, &tok->ignore_merges));
    const json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return unsupported(path, "model.dropout", "non-zero dropout", "null or 0 (deterministic encoding)");
    const char *unk;
    NERC_TRY(tj_token_name(model, "unk_token", path, NULL, &unk));
    tok->unk_id = unk ? vocab_find(&tok->vocab, unk, strlen(unk)) : -1;
    tokenizer_find_byte_ids(tok);
    const json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.merges must be an array", path);
    NERC_TRY(bpe_init_merges(tok, json_array_size(merges)));
    char buf[1024];
    for (size_t i = 0; i < json_array_size(merges); i++) {
        const char *a = NULL, *b = NULL;
        NERC_TRY(merge_parts(json_array_get(merges, i), i, path, buf, sizeof buf, &a, &b));
        NERC_TRY(bpe_register_merge(tok, a, b, i, path));
    }
    return NERC_OK;
}

static nerc_status parse_unigram(nerc_tokenizer *tok, const json_t *model, const char *path) {
    tok->model = NERC_TOKENIZER_UNIGRAM;
    const json_t *v = json_object_get(model, "vocab");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > (1 << 28))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.vocab must be a non-empty array of [piece, score]", path);
    int32_t n = (int32_t)json_array_size(v);
    NERC_TRY(vocab_init(&tok->vocab, n));
    if (!(tok->scores = malloc((size_t)n * sizeof *tok->scores)))
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    tok->min_score = INFINITY;
    for (int32_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, (size_t)i), *p = json_array_get(e, 0), *sc = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) || !json_is_number(sc) ||
            !isfinite(json_number_value(sc)))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: model.vocab[%d] must be [piece, finite score]", path, (int)i);
        const char *s = json_string_value(p);
        size_t len = json_string_length(p);
        int32_t dup;
        if (len == 0 || utf8_validate(s, len) != len || memchr(s, 0, len))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: model.vocab[%d]: piece must be non-empty UTF-8", path, (int)i);
        nerc_status st = vocab_set(&tok->vocab, i, s, len, &dup);
        if (st == NERC_ERR_FORMAT)
            return nerc_errorf(st, "%s: model.vocab[%d]: piece '%.64s' appears twice", path, (int)i, s);
        NERC_TRY(st);
        tok->scores[i] = json_number_value(sc);
        tok->min_score = tok->scores[i] < tok->min_score ? tok->scores[i] : tok->min_score;
        tok->max_piece_len = len > tok->max_piece_len ? len : tok->max_piece_len;
    }
    const json_t *unk = json_object_get(model, "unk_id");
    if (unk && !json_is_null(unk)) {
        if (!json_is_integer(unk) || json_integer_value(unk) < 0 || json_integer_value(unk) >= n)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: model.unk_id must be an index into model.vocab [0, %d)", path,
                               (int)n);
        tok->unk_id = (int32_t)json_integer_value(unk);
    }
    NERC_TRY(tj_bool(model, "byte_fallback", path, false, &tok->byte_fallback));
    tokenizer_find_byte_ids(tok);
    return NERC_OK;
}

static nerc_status parse_model(nerc_tokenizer *tok, const json_t *model, const char *path) {
    if (!json_is_object(model))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model must be an object", path);
    const char *type = type_of(model);
    if (!type) /* old files omit the type: HF tries each model in turn */
        type = json_is_array(json_object_get(model, "vocab")) ? "Unigram"
               : json_object_get(model, "merges")             ? "BPE"
                                                              : "WordPiece";
    if (!strcmp(type, "WordPiece"))
        return parse_wordpiece(tok, model, path);
    if (!strcmp(type, "BPE"))
        return parse_bpe(tok, model, path);
    if (!strcmp(type, "Unigram"))
        return parse_unigram(tok, model, path);
    return unsupported(path, "model.type", type, "WordPiece, BPE, Unigram");
}

/* ---- normalizers ---- */

static nerc_status base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len, const char *where) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len % 4 != 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: precompiled_charsmap is not base64 (length %zu)", where, len);
    *out = malloc(len / 4 * 3 + 1);
    if (!*out)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    size_t m = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            const char *p = c ? strchr(alphabet, c) : NULL;
            if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!p || pad) {
                free(*out);
                *out = NULL;
                return nerc_errorf(NERC_ERR_FORMAT, "%s: precompiled_charsmap is not base64 (byte %zu)", where, i + k);
            }
            v = v << 6 | (uint32_t)(p - alphabet);
        }
        (*out)[m++] = (uint8_t)(v >> 16);
        if (pad < 2)
            (*out)[m++] = (uint8_t)(v >> 8);
        if (pad < 1)
            (*out)[m++] = (uint8_t)v;
    }
    *out_len = m;
    return NERC_OK;
}

static nerc_status parse_precompiled(tok_norm *nm, const json_t *obj, const char *where) {
    const json_t *cm = json_object_get(obj, "precompiled_charsmap");
    if (!json_is_string(cm))
        return nerc_errorf(NERC_ERR_FORMAT, "%s.precompiled_charsmap must be a base64 string", where);
    uint8_t *data = NULL;
    size_t len = 0;
    NERC_TRY(base64_decode(json_string_value(cm), json_string_length(cm), &data, &len, where));
    nerc_status st = precompiled_parse(&nm->pc, data, len, where);
    free(data);
    return st;
}

static nerc_status parse_bert_normalizer(tok_norm *nm, const json_t *obj, const char *where) {
    bool lower;
    int strip;
    NERC_TRY(tj_bool(obj, "clean_text", where, true, &nm->bert.clean_text));
    NERC_TRY(tj_bool(obj, "handle_chinese_chars", where, true, &nm->bert.handle_chinese_chars));
    NERC_TRY(tj_tristate(obj, "strip_accents", where, &strip));
    NERC_TRY(tj_bool(obj, "lowercase", where, true, &lower));
    nm->bert.fold = norm_fold_table(strip, lower);
    return NERC_OK;
}

typedef nerc_status (*stage_adder)(nerc_tokenizer *tok, const json_t *obj, const char *path, const char *field);

/* A "Sequence" stage: adds each element of its array `key` ("normalizers", "pretokenizers") in order. */
static nerc_status add_stage_list(nerc_tokenizer *tok, const json_t *seq, const char *key, const char *path,
                                  const char *field, stage_adder add) {
    const json_t *arr = json_object_get(seq, key);
    if (!json_is_array(arr))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s.%s must be an array", path, field, key);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char sub[96];
        snprintf(sub, sizeof sub, "%s.%s[%zu]", field, key, i);
        NERC_TRY(add(tok, json_array_get(arr, i), path, sub));
    }
    return NERC_OK;
}

static nerc_status add_normalizer(nerc_tokenizer *tok, const json_t *obj, const char *path, const char *field) {
    const char *type = type_of(obj);
    if (type && !strcmp(type, "Sequence"))
        return add_stage_list(tok, obj, "normalizers", path, field, add_normalizer);
    if (tok->n_norms == TOK_MAX_STAGES)
        return unsupported(path, field, "more normalizers", "16 at most");
    char where[160];
    snprintf(where, sizeof where, "%s: %s", path, field);
    tok_norm *nm = &tok->norms[tok->n_norms];
    memset(nm, 0, sizeof *nm);
    nerc_status st;
    if (!type)
        return nerc_errorf(NERC_ERR_FORMAT, "%s.type must be a string", where);
    if (!strcmp(type, "BertNormalizer")) {
        nm->kind = NORM_BERT;
        st = parse_bert_normalizer(nm, obj, where);
    } else if (!strcmp(type, "Precompiled")) {
        nm->kind = NORM_PRECOMPILED;
        st = parse_precompiled(nm, obj, where);
    } else if (!strcmp(type, "Replace")) {
        nm->kind = NORM_REPLACE;
        st = parse_pattern(&nm->pat, obj, where);
        if (st == NERC_OK)
            st = string_cps(obj, "content", where, &nm->text, &nm->text_len);
    } else if (!strcmp(type, "Lowercase")) {
        nm->kind = NORM_LOWERCASE;
        st = NERC_OK;
    } else if (!strcmp(type, "Strip")) {
        nm->kind = NORM_STRIP;
        st = tj_bool(obj, "strip_left", where, true, &nm->left);
        if (st == NERC_OK)
            st = tj_bool(obj, "strip_right", where, true, &nm->right);
    } else if (!strcmp(type, "Prepend")) {
        nm->kind = NORM_PREPEND;
        st = string_cps(obj, "prepend", where, &nm->text, &nm->text_len);
    } else {
        return unsupported(path, field, type,
                           "normalizers BertNormalizer, Precompiled, Replace, Lowercase, Strip, Prepend, Sequence");
    }
    tok->n_norms++; /* freed with the tokenizer even when half-parsed */
    return st;
}

/* ---- pre-tokenizers ---- */

static const char *const behavior_names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                             "Contiguous"};

static nerc_status parse_split(tok_pretok *pt, const json_t *obj, const char *where) {
    const char *b = json_string_value(json_object_get(obj, "behavior"));
    int k = 0;
    while (k < 5 && (!b || strcmp(b, behavior_names[k])))
        k++;
    if (k == 5)
        return nerc_errorf(NERC_ERR_FORMAT, "%s.behavior must be one of Removed, Isolated, MergedWithPrevious, "
                           "MergedWithNext, Contiguous", where);
    pt->behavior = (split_behavior)k;
    NERC_TRY(tj_bool(obj, "invert", where, false, &pt->invert));
    return parse_pattern(&pt->pat, obj, where);
}

static nerc_status parse_metaspace(tok_pretok *pt, const json_t *obj, const char *where) {
    NERC_TRY(one_char(obj, "replacement", where, 0x2581, &pt->replacement));
    NERC_TRY(tj_bool(obj, "split", where, true, &pt->split));
    const json_t *scheme = json_object_get(obj, "prepend_scheme");
    if (!scheme || json_is_null(scheme)) { /* before tokenizers 0.19: add_prefix_space */
        bool add = true;
        NERC_TRY(tj_bool(obj, "add_prefix_space", where, true, &add));
        pt->prepend = add ? PREPEND_ALWAYS : PREPEND_NEVER;
        return NERC_OK;
    }
    const char *s = json_string_value(scheme);
    if (s && !strcmp(s, "always"))
        pt->prepend = PREPEND_ALWAYS;
    else if (s && !strcmp(s, "first"))
        pt->prepend = PREPEND_FIRST;
    else if (s && !strcmp(s, "never"))
        pt->prepend = PREPEND_NEVER;
    else
        return nerc_errorf(NERC_ERR_FORMAT, "%s.prepend_scheme must be \"always\", \"first\" or \"never\"", where);
    return NERC_OK;
}

static nerc_status add_pretok(nerc_tokenizer *tok, const json_t *obj, const char *path, const char *field) {
    const char *type = type_of(obj);
    if (type && !strcmp(type, "Sequence"))
        return add_stage_list(tok, obj, "pretokenizers", path, field, add_pretok);
    if (tok->n_pres == TOK_MAX_STAGES)
        return unsupported(path, field, "more pre-tokenizers", "16 at most");
    char where[160];
    snprintf(where, sizeof where, "%s: %s", path, field);
    tok_pretok *pt = &tok->pres[tok->n_pres];
    memset(pt, 0, sizeof *pt);
    nerc_status st = NERC_OK;
    if (!type)
        return nerc_errorf(NERC_ERR_FORMAT, "%s.type must be a string", where);
    if (!strcmp(type, "BertPreTokenizer")) {
        pt->kind = PRE_BERT;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        pt->kind = PRE_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "ByteLevel")) {
        pt->kind = PRE_BYTE_LEVEL;
        st = tj_bool(obj, "add_prefix_space", where, true, &pt->add_prefix_space);
        if (st == NERC_OK)
            st = tj_bool(obj, "use_regex", where, true, &pt->use_regex);
    } else if (!strcmp(type, "Metaspace")) {
        pt->kind = PRE_METASPACE;
        st = parse_metaspace(pt, obj, where);
    } else if (!strcmp(type, "Split")) {
        pt->kind = PRE_SPLIT;
        st = parse_split(pt, obj, where);
    } else if (!strcmp(type, "Whitespace")) { /* \w+|[^\w\s]+ kept, the rest removed */
        pt->kind = PRE_SPLIT;
        pt->behavior = SPLIT_REMOVED;
        pt->invert = true;
        static const char re[] = "\\w+|[^\\w\\s]+";
        st = tok_regex_compile(&pt->pat.re, re, sizeof re - 1, where);
    } else {
        return unsupported(path, field, type,
                           "pre-tokenizers BertPreTokenizer, ByteLevel, Metaspace, Split, Whitespace, "
                           "WhitespaceSplit, Sequence");
    }
    tok->n_pres++;
    return st;
}

/* ---- added tokens ---- */

static nerc_status parse_added_token(nerc_tokenizer *tok, const json_t *t, const char *path, size_t i) {
    char where[96];
    snprintf(where, sizeof where, "%s: added_tokens[%zu]", path, i);
    const json_t *content = json_object_get(t, "content");
    int32_t id = -1;
    if (!json_is_object(t) || !json_is_string(content) || memchr(json_string_value(content), 0,
                                                                  json_string_length(content)))
        return nerc_errorf(NERC_ERR_FORMAT, "%s needs a string 'content'", where);
    NERC_TRY(tj_id(json_object_get(t, "id"), where, "id", &id));
    bool f[5] = {false, false, false, false, false};
    static const char *const flags[] = {"special", "normalized", "lstrip", "rstrip", "single_word"};
    for (int k = 0; k < 5; k++)
        NERC_TRY(tj_bool(t, flags[k], where, k == 1 ? !f[0] : false, &f[k]));
    const char *s = json_string_value(content);
    int32_t in_vocab = vocab_find(&tok->vocab, s, json_string_length(content));
    if (in_vocab >= 0 && in_vocab != id)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' has id %d but %d in model.vocab", where, s, (int)id,
                           (int)in_vocab);
    if (in_vocab < 0 && id < tok->vocab.n)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: id %d already names '%s'", where, (int)id, tok->vocab.tokens[id]);
    return tokenizer_add_token(tok, where, s, id, f[0], f[1], f[2], f[3], f[4]);
}

static nerc_status parse_added_tokens(nerc_tokenizer *tok, const json_t *arr, const char *path) {
    if (!arr || json_is_null(arr))
        return NERC_OK;
    if (!json_is_array(arr))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: added_tokens must be an array", path);
    for (size_t i = 0; i < json_array_size(arr); i++)
        NERC_TRY(parse_added_token(tok, json_array_get(arr, i), path, i));
    return NERC_OK;
}

/* ---- post-processors ---- */

static nerc_status known_id(const nerc_tokenizer *tok, int32_t id, const char *path, const char *field) {
    if (!nerc_tokenizer_id_to_token(tok, id))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s: id %d is not a token", path, field, (int)id);
    return NERC_OK;
}

/* The ids of one template piece: {"SpecialToken": {"id": "[CLS]"}} -> special_tokens["[CLS]"].ids. */
static nerc_status template_special(nerc_tokenizer *tok, const json_t *specials, const json_t *piece,
                                    const char *path, int32_t *ids, int32_t *n) {
    const json_t *name = json_object_get(json_object_get(piece, "SpecialToken"), "id");
    const json_t *entry = json_is_string(name) ? json_object_get(specials, json_string_value(name)) : NULL;
    const json_t *arr = json_object_get(entry, "ids");
    if (!json_is_array(arr))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor.single: special token without ids", path);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (*n == TOK_MAX_TEMPLATE)
            return unsupported(path, "post_processor.single", "a longer template", "8 special ids on each side");
        NERC_TRY(tj_id(json_array_get(arr, i), path, "post_processor id", &ids[*n]));
        NERC_TRY(known_id(tok, ids[(*n)++], path, "post_processor.special_tokens"));
    }
    return NERC_OK;
}

static nerc_status parse_template(nerc_tokenizer *tok, const json_t *pp, const char *path) {
    const json_t *single = json_object_get(pp, "single"), *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor.single must be an array", path);
    bool seen_a = false;
    tok->n_template_prefix = tok->n_template_suffix = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *piece = json_array_get(single, i);
        if (json_object_get(piece, "Sequence")) {
            if (seen_a)
                return unsupported(path, "post_processor.single", "$A twice", "one $A");
            seen_a = true;
        } else if (seen_a) {
            NERC_TRY(template_special(tok, specials, piece, path, tok->template_suffix, &tok->n_template_suffix));
        } else {
            NERC_TRY(template_special(tok, specials, piece, path, tok->template_prefix, &tok->n_template_prefix));
        }
    }
    if (!seen_a)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor.single has no $A", path);
    return NERC_OK;
}

/* BertProcessing / RobertaProcessing: "cls": [token, id], "sep": [token, id]. */
static nerc_status parse_cls_sep(nerc_tokenizer *tok, const json_t *pp, const char *path) {
    int32_t cls, sep;
    NERC_TRY(tj_id(json_array_get(json_object_get(pp, "cls"), 1), path, "post_processor.cls", &cls));
    NERC_TRY(tj_id(json_array_get(json_object_get(pp, "sep"), 1), path, "post_processor.sep", &sep));
    NERC_TRY(known_id(tok, cls, path, "post_processor.cls"));
    NERC_TRY(known_id(tok, sep, path, "post_processor.sep"));
    tokenizer_set_template(tok, cls, sep);
    return NERC_OK;
}

static nerc_status parse_post(nerc_tokenizer *tok, const json_t *pp, const char *path, const char *field) {
    const char *type = type_of(pp);
    if (!type)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s.type must be a string", path, field);
    if (!strcmp(type, "TemplateProcessing"))
        return parse_template(tok, pp, path);
    if (!strcmp(type, "BertProcessing"))
        return parse_cls_sep(tok, pp, path);
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "ByteLevel")) {
        NERC_TRY(tj_bool(pp, "trim_offsets", path, true, &tok->trim_offsets));
        NERC_TRY(tj_bool(pp, "add_prefix_space", path, true, &tok->trim_prefix_space));
        return strcmp(type, "ByteLevel") ? parse_cls_sep(tok, pp, path) : NERC_OK;
    }
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(pp, "processors");
        if (!json_is_array(arr))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: %s.processors must be an array", path, field);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.processors[%zu]", field, i);
            NERC_TRY(parse_post(tok, json_array_get(arr, i), path, sub));
        }
        return NERC_OK;
    }
    return unsupported(path, field, type,
                       "post-processors BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, Sequence");
}

/* ---- the whole file ---- */

static nerc_status parse_tokenizer_json(nerc_tokenizer *tok, const json_t *root, const char *path) {
    NERC_TRY(parse_model(tok, json_object_get(root, "model"), path));
    const json_t *norm = json_object_get(root, "normalizer"), *pre = json_object_get(root, "pre_tokenizer");
    const json_t *post = json_object_get(root, "post_processor"), *pad = json_object_get(root, "padding");
    if (norm && !json_is_null(norm))
        NERC_TRY(add_normalizer(tok, norm, path, "normalizer"));
    if (pre && !json_is_null(pre))
        NERC_TRY(add_pretok(tok, pre, path, "pre_tokenizer"));
    NERC_TRY(parse_added_tokens(tok, json_object_get(root, "added_tokens"), path));
    NERC_TRY(tokenizer_prepare_added(tok, path));
    if (post && !json_is_null(post))
        NERC_TRY(parse_post(tok, post, path, "post_processor"));
    tok->cls_id = tok->n_template_prefix ? tok->template_prefix[0] : -1;
    tok->sep_id = tok->n_template_suffix ? tok->template_suffix[tok->n_template_suffix - 1] : -1;
    if (pad && !json_is_null(pad)) {
        NERC_TRY(tj_id(json_object_get(pad, "pad_id"), path, "padding.pad_id", &tok->pad_id));
        tok->pad_from_padding = true;
    } else if ((tok->pad_id = tokenizer_token_id(tok, "[PAD]")) < 0) {
        tok->pad_id = tokenizer_token_id(tok, "<pad>");
    }
    return NERC_OK;
}

/* Builds a tokenizer from a parsed tokenizer.json root (consumed). */
static nerc_status tokenizer_from_json(nerc_tokenizer **out, json_t *root, nerc_status parsed, const char *path) {
    nerc_tokenizer *tok = tokenizer_new();
    nerc_status s = parsed;
    if (s == NERC_OK && !tok)
        s = nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    if (s == NERC_OK)
        s = parse_tokenizer_json(tok, root, path);
    json_decref(root);
    if (s != NERC_OK) {
        nerc_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return NERC_OK;
}

nerc_status nerc_tokenizer_load_file(nerc_tokenizer **out, const char *path) {
    if (!out || !path)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_load_file: NULL argument");
    *out = NULL;
    json_t *root = NULL;
    nerc_status s = tj_load_path(path, &root);
    return tokenizer_from_json(out, root, s, path);
}

nerc_status tokenizer_parse_json(nerc_tokenizer **out, const char *data, size_t len, const char *name) {
    *out = NULL;
    json_t *root = NULL;
    nerc_status s = tj_parse_object(data, len, name, &root);
    return tokenizer_from_json(out, root, s, name);
}
