/* The WordPiece model (greedy longest match with the continuing-subword prefix) and the dispatch
 * from a split to its model. */
#include "core/error.h"
#include "text/pipeline.h"

nerc_status model_bpe(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n);
nerc_status model_unigram(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n);

/* [UNK] for the whole split when it is longer than max_input_chars_per_word or some remainder
 * matches nothing; else the greedy longest-match pieces. */
static nerc_status model_wordpiece(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n) {
    if (n > (size_t)tok->max_chars)
        return tokens_push(&sc->toks, tok->unk_id, 0, n - 1);
    size_t bytes, mark = sc->toks.n;
    NERC_TRY(utf8_of_chars(sc, c, n, &bytes));
    for (size_t start = 0; start < n;) {
        size_t end = n;
        int32_t id = -1;
        for (; end > start; end--) {
            size_t plen = start > 0 ? tok->prefix_len : 0;
            id = vocab_find2(&tok->vocab, tok->prefix, plen, sc->utf8 + sc->boff[start],
                             (size_t)(sc->boff[end] - sc->boff[start]));
            if (id >= 0)
                break;
        }
        if (id < 0) {
            sc->toks.n = mark;
            return tokens_push(&sc->toks, tok->unk_id, 0, n - 1);
        }
        NERC_TRY(tokens_push(&sc->toks, id, start, end - 1));
        start = end;
    }
    return NERC_OK;
}

nerc_status model_tokenize(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n) {
    if (n == 0)
        return NERC_OK;
    switch (tok->model) {
    case NERC_TOKENIZER_WORDPIECE: return model_wordpiece(tok, sc, c, n);
    case NERC_TOKENIZER_BPE: return model_bpe(tok, sc, c, n);
    case NERC_TOKENIZER_UNIGRAM: return model_unigram(tok, sc, c, n);
    }
    return nerc_errorf(NERC_ERR_INTERNAL, "tokenizer: unknown model %d", (int)tok->model);
}
