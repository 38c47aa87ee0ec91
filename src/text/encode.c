/* Encoding, in HF's order: added tokens split out of the raw text (then out of each normalized
 * piece), normalizers, pre-tokenizers, the model per split (word id = split index), then the
 * post-processor (RoBERTa's offset trimming, the [CLS] ... [SEP] / <s> ... </s> template) and
 * code-point offsets converted as the Rust library converts them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/pipeline.h"

/* A content token of the encoding being built. */
typedef struct {
    int32_t id;
    int32_t b0, b1;     /* original bytes */
    int32_t word;
    int64_t arena_off;  /* Unigram unknown: its text in sc.arena; -1: the vocabulary string */
} enc_tok;

typedef struct {
    tok_scratch sc;
    nbuf orig;          /* the input's characters and their byte spans */
    nbuf piece;         /* the piece being normalized */
    split_list phase1, phase2;
    enc_tok *out;
    size_t n_out, out_cap;
    int32_t next_word;
} enc_ctx;

static void ctx_free(enc_ctx *x) {
    scratch_free(&x->sc);
    free(x->orig.c);
    free(x->piece.c);
    free(x->phase1.s);
    free(x->phase2.s);
    free(x->out);
    memset(x, 0, sizeof *x);
}

/* Each thread keeps one context between calls (words are encoded one call each: no allocation
 * once its buffers have grown); freed when the thread exits. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_destroy(void *p) {
    if (p) {
        ctx_free(p);
        free(p);
    }
}

static void ctx_key_init(void) { pthread_key_create(&ctx_key, ctx_destroy); }

static enc_ctx *ctx_acquire(void) {
    pthread_once(&ctx_once, ctx_key_init);
    enc_ctx *x = pthread_getspecific(ctx_key);
    if (x) {
        pthread_setspecific(ctx_key, NULL); /* in use: a nested call gets its own */
        return x;
    }
    return calloc(1, sizeof *x);
}

/* Keeps the context for the thread's next call unless it grew past 1 MiB of characters. */
static void ctx_release(enc_ctx *x) {
    if (!x)
        return;
    x->next_word = 0;
    if (x->orig.cap > (1u << 20) / sizeof(nchar) || pthread_getspecific(ctx_key)) {
        ctx_destroy(x);
        return;
    }
    pthread_setspecific(ctx_key, x);
}

static nerc_status decode_text(enc_ctx *x, const char *text, size_t len) {
    if (len > INT32_MAX / 2)
        return nerc_errorf(NERC_ERR_ARG, "tokenizer: text of %zu bytes is too long", len);
    size_t bad = utf8_validate(text, len);
    if (bad < len)
        return nerc_errorf(NERC_ERR_ARG, "tokenizer: invalid UTF-8 at byte %zu", bad);
    NERC_TRY(nbuf_reserve(&x->orig, len + 1));
    const unsigned char *u = (const unsigned char *)text;
    size_t pos = 0;
    x->orig.n = 0;
    while (pos < len) {
        size_t at = pos;
        uint32_t cp;
        utf8_decode(u, len, &pos, &cp);
        x->orig.c[x->orig.n++] = (nchar){cp, (int32_t)at, (int32_t)pos};
    }
    return NERC_OK;
}

/* ---- added tokens (HF AddedVocabulary::find_matches) ---- */

static bool cps_at(const nchar *c, const uint32_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (c[i].cp != p[i])
            return false;
    return true;
}

/* The longest added token of the set (normalized or not) starting at c[i], or -1. */
static int32_t longest_added(const nerc_tokenizer *tok, bool normalized, const nchar *c, size_t n, size_t i) {
    int32_t best = -1;
    size_t best_len = 0;
    for (int32_t k = 0; k < tok->n_added; k++) {
        const tok_added *a = &tok->added[k];
        if (a->normalized == normalized && a->n_cps > best_len && a->n_cps <= n - i && cps_at(c + i, a->cps, a->n_cps)) {
            best = k;
            best_len = a->n_cps;
        }
    }
    return best;
}

/* Cuts c[0, n) into text and added-token segments: leftmost-longest matches, single_word
 * matches only between non-word chars, lstrip/rstrip taking the whitespace beside them. */
static nerc_status find_added(const nerc_tokenizer *tok, bool normalized, const nchar *c, size_t n, split_list *out) {
    out->n = 0;
    size_t start_offset = 0;
    for (size_t i = 0; i < n;) {
        int32_t k = tok->added_first[normalized][c[i].cp & 0xFF] ? longest_added(tok, normalized, c, n, i) : -1;
        if (k < 0) {
            i++;
            continue;
        }
        const tok_added *a = &tok->added[k];
        size_t start = i, stop = i + a->n_cps;
        i = stop; /* the search goes on after the match, whatever becomes of it */
        if (a->single_word && ((start > 0 && uni_is_word(c[start - 1].cp)) || (stop < n && uni_is_word(c[stop].cp))))
            continue;
        if (a->lstrip) {
            size_t s = start;
            while (s > 0 && pretok_is_space(c[s - 1].cp))
                s--;
            start = s > start_offset ? s : start_offset;
        }
        while (a->rstrip && stop < n && pretok_is_space(c[stop].cp))
            stop++;
        if (start_offset < start)
            NERC_TRY(splits_push(out, start_offset, start - start_offset, -1));
        NERC_TRY(splits_push(out, start, stop - start, a->id));
        start_offset = stop;
    }
    if (start_offset < n)
        NERC_TRY(splits_push(out, start_offset, n - start_offset, -1));
    return NERC_OK;
}

/* Appends chars to the pre-tokenizer input as one split. */
static nerc_status push_piece(enc_ctx *x, const nchar *c, size_t n, int32_t token) {
    nbuf *pool = &x->sc.pool[0];
    NERC_TRY(nbuf_reserve(pool, pool->n + n + 1));
    memcpy(pool->c + pool->n, c, n * sizeof *c);
    NERC_TRY(splits_push(&x->sc.splits[0], pool->n, n, token));
    pool->n += n;
    return NERC_OK;
}

/* Normalizes a text segment, then splits the normalized added tokens out of it. */
static nerc_status normalize_piece(const nerc_tokenizer *tok, enc_ctx *x, const nchar *c, size_t n) {
    NERC_TRY(nbuf_reserve(&x->piece, n + 1));
    memcpy(x->piece.c, c, n * sizeof *c);
    x->piece.n = n;
    NERC_TRY(normalize_run(tok, &x->piece, c[0].o0, &x->sc));
    NERC_TRY(find_added(tok, true, x->piece.c, x->piece.n, &x->phase2));
    for (size_t k = 0; k < x->phase2.n; k++) {
        tok_split s = x->phase2.s[k];
        if (s.len > 0)
            NERC_TRY(push_piece(x, x->piece.c + s.start, s.len, s.token));
    }
    return NERC_OK;
}

/* The splits of the text before the model: added tokens, normalized pieces, pre-tokenized. */
static nerc_status split_text(const nerc_tokenizer *tok, enc_ctx *x, bool word_input, split_list **splits,
                              nbuf **pool) {
    x->sc.pool[0].n = 0;
    x->sc.splits[0].n = 0;
    x->sc.arena_len = 0;
    const nchar *c = x->orig.c;
    NERC_TRY(find_added(tok, false, c, x->orig.n, &x->phase1));
    for (size_t k = 0; k < x->phase1.n; k++) {
        tok_split s = x->phase1.s[k];
        if (s.token >= 0)
            NERC_TRY(push_piece(x, c + s.start, s.len, s.token));
        else if (s.len > 0)
            NERC_TRY(normalize_piece(tok, x, c + s.start, s.len));
    }
    return pretokenize_run(tok, &x->sc, word_input, splits, pool);
}

static nerc_status out_push(enc_ctx *x, int32_t id, int32_t b0, int32_t b1, int32_t word, int64_t arena_off) {
    NERC_TRY(scratch_grow((void **)&x->out, &x->out_cap, x->n_out + 1, sizeof *x->out));
    x->out[x->n_out++] = (enc_tok){id, b0, b1, word, arena_off};
    return NERC_OK;
}

/* Every split through the model: tokens with their original byte spans and word ids. */
static nerc_status tokenize_splits(const nerc_tokenizer *tok, enc_ctx *x, bool word_input) {
    split_list *splits;
    nbuf *pool;
    NERC_TRY(split_text(tok, x, word_input, &splits, &pool));
    x->n_out = 0;
    for (size_t k = 0; k < splits->n; k++) {
        tok_split s = splits->s[k];
        const nchar *c = pool->c + s.start;
        int32_t word = x->next_word++;
        if (s.token >= 0) {
            NERC_TRY(out_push(x, s.token, c[0].o0, c[s.len - 1].o1, word, -1));
            continue;
        }
        x->sc.toks.n = 0;
        NERC_TRY(model_tokenize(tok, &x->sc, c, s.len));
        for (size_t t = 0; t < x->sc.toks.n; t++) {
            const model_token *m = &x->sc.toks.t[t];
            NERC_TRY(out_push(x, m->id, c[m->first].o0, c[m->last].o1, word, m->text_off));
        }
    }
    return NERC_OK;
}

nerc_status nerc_tokenizer_encode_word(const nerc_tokenizer *tok, const char *word, size_t len,
                                       int32_t *ids, int32_t cap, int32_t *n) {
    *n = 0;
    if (!tok || (!word && len) || (!ids && cap > 0) || cap < 0)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_encode_word: bad argument");
    enc_ctx *x = ctx_acquire();
    if (!x)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    nerc_status s = decode_text(x, word ? word : "", len);
    if (s == NERC_OK)
        s = tokenize_splits(tok, x, true);
    if (s == NERC_OK && x->n_out > INT32_MAX)
        s = nerc_errorf(NERC_ERR_NOMEM, "tokenizer: too many pieces");
    if (s == NERC_OK) {
        for (size_t i = 0; i < x->n_out && i < (size_t)cap; i++)
            ids[i] = x->out[i].id;
        *n = (int32_t)x->n_out;
    }
    ctx_release(x);
    return s;
}

/* ---- the encoding ---- */

/* The token string of a content token. */
static const char *tok_text(const nerc_tokenizer *tok, const enc_ctx *x, const enc_tok *t) {
    if (t->arena_off >= 0)
        return x->sc.arena + t->arena_off;
    const char *s = nerc_tokenizer_id_to_token(tok, t->id);
    return s ? s : "";
}

/* HF's BytesToCharOffsetConverter: byte offsets to code points; a start at the end of the text
 * leaves the offsets as they are. */
static void to_code_points(const nbuf *orig, size_t len, int32_t b0, int32_t b1, int32_t *c0, int32_t *c1) {
    if ((size_t)b0 >= len) {
        *c0 = b0, *c1 = b1;
        return;
    }
    int32_t boff[2] = {b0, (size_t)b1 < len ? b1 : b1 - 1};
    int32_t idx[2];
    for (int k = 0; k < 2; k++) {
        size_t lo = 0, hi = orig->n - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo + 1) / 2;
            if (orig->c[mid].o0 <= boff[k])
                lo = mid;
            else
                hi = mid - 1;
        }
        idx[k] = (int32_t)lo;
    }
    *c0 = idx[0];
    *c1 = (size_t)b1 < len ? idx[1] : idx[1] + 1;
}

/* Leading / trailing chars of s that are 'Ġ' or whitespace (HF process_offsets). */
static void count_spaces(const char *s, size_t *lead, size_t *trail) {
    size_t len = strlen(s), pos = 0, run = 0;
    bool leading = true;
    *lead = 0;
    while (pos < len) {
        uint32_t cp;
        if (!utf8_decode((const unsigned char *)s, len, &pos, &cp))
            break;
        bool sp = cp == 0x120 || pretok_is_space(cp);
        if (leading && sp)
            (*lead)++;
        else
            leading = false;
        run = sp ? run + 1 : 0;
    }
    *trail = run;
}

/* RobertaProcessing / ByteLevel trim_offsets on one token's offsets. */
static void trim_span(int32_t *o, size_t lead, size_t trail, bool keep_one) {
    if (lead > 0 && !keep_one)
        o[0] = o[0] + (int32_t)lead < o[1] ? o[0] + (int32_t)lead : o[1];
    if (trail > 0 && o[1] >= (int32_t)trail)
        o[1] = o[1] - (int32_t)trail > o[0] ? o[1] - (int32_t)trail : o[0];
}

static nerc_status encoding_alloc(nerc_encoding *e, size_t n, size_t text_bytes) {
    size_t m = n ? n : 1;
    e->n = (int32_t)n;
    e->ids = malloc(m * sizeof *e->ids);
    e->offsets = malloc(2 * m * sizeof *e->offsets);
    e->byte_offsets = malloc(2 * m * sizeof *e->byte_offsets);
    e->word_ids = malloc(m * sizeof *e->word_ids);
    e->special_mask = malloc(m);
    e->tokens = malloc(m * sizeof *e->tokens + text_bytes + 1);
    if (!e->ids || !e->offsets || !e->byte_offsets || !e->word_ids || !e->special_mask || !e->tokens)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    return NERC_OK;
}

/* Sets entry i of the encoding; *text is where its token string goes. */
static void encoding_set(nerc_encoding *e, size_t i, int32_t id, const int32_t *cp, const int32_t *bo, int32_t word,
                         const char *s, char **text) {
    size_t l = strlen(s);
    e->ids[i] = id;
    e->offsets[2 * i] = cp[0], e->offsets[2 * i + 1] = cp[1];
    e->byte_offsets[2 * i] = bo[0], e->byte_offsets[2 * i + 1] = bo[1];
    e->word_ids[i] = word;
    e->special_mask[i] = word < 0;
    e->tokens[i] = memcpy(*text, s, l + 1);
    *text += l + 1;
}

static nerc_status encoding_build(const nerc_tokenizer *tok, const enc_ctx *x, size_t len, nerc_encoding *e) {
    size_t np = (size_t)tok->n_template_prefix, ns = (size_t)tok->n_template_suffix, n = np + x->n_out + ns;
    size_t bytes = 0;
    for (size_t i = 0; i < np; i++)
        bytes += strlen(nerc_tokenizer_id_to_token(tok, tok->template_prefix[i])) + 1;
    for (size_t i = 0; i < ns; i++)
        bytes += strlen(nerc_tokenizer_id_to_token(tok, tok->template_suffix[i])) + 1;
    for (size_t i = 0; i < x->n_out; i++)
        bytes += strlen(tok_text(tok, x, &x->out[i])) + 1;
    if (n > INT32_MAX)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: too many tokens");
    NERC_TRY(encoding_alloc(e, n, bytes));
    char *text = (char *)(e->tokens + (n ? n : 1));
    const int32_t zero[2] = {0, 0};
    for (size_t i = 0; i < np; i++)
        encoding_set(e, i, tok->template_prefix[i], zero, zero, -1,
                     nerc_tokenizer_id_to_token(tok, tok->template_prefix[i]), &text);
    for (size_t i = 0; i < x->n_out; i++) {
        const enc_tok *t = &x->out[i];
        const char *s = tok_text(tok, x, t);
        int32_t bo[2] = {t->b0, t->b1}, cp[2];
        to_code_points(&x->orig, len, t->b0, t->b1, &cp[0], &cp[1]);
        if (tok->trim_offsets) {
            size_t lead, trail;
            count_spaces(s, &lead, &trail);
            bool keep = (i == 0 || cp[0] == 0) && tok->trim_prefix_space && lead == 1;
            trim_span(cp, lead, trail, keep);
            trim_span(bo, lead, trail, keep);
        }
        encoding_set(e, np + i, t->id, cp, bo, t->word, s, &text);
    }
    for (size_t i = 0; i < ns; i++)
        encoding_set(e, np + x->n_out + i, tok->template_suffix[i], zero, zero, -1,
                     nerc_tokenizer_id_to_token(tok, tok->template_suffix[i]), &text);
    return NERC_OK;
}

nerc_status nerc_tokenizer_encode(const nerc_tokenizer *tok, const char *text, size_t len, nerc_encoding *out) {
    if (!out)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_encode: NULL output");
    memset(out, 0, sizeof *out);
    if (!tok || (!text && len))
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_encode: bad argument");
    enc_ctx *x = ctx_acquire();
    if (!x)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    nerc_status s = decode_text(x, text ? text : "", len);
    if (s == NERC_OK)
        s = tokenize_splits(tok, x, false);
    if (s == NERC_OK)
        s = encoding_build(tok, x, len, out);
    if (s != NERC_OK)
        nerc_encoding_free(out);
    ctx_release(x);
    return s;
}

void nerc_encoding_free(nerc_encoding *enc) {
    if (!enc)
        return;
    free(enc->ids);
    free(enc->offsets);
    free(enc->byte_offsets);
    free(enc->word_ids);
    free(enc->tokens);
    free(enc->special_mask);
    memset(enc, 0, sizeof *enc);
}
