/* nerc/text.h — a BERT WordPiece tokenizer identical to Hugging Face's Rust
 * `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP]).
 * Loaded from an HF model directory: tokenizer.json when present, else
 * vocab.txt + tokenizer_config.json. A loaded tokenizer is immutable: encoding
 * from several threads at once is safe. */
#ifndef NERC_TEXT_H
#define NERC_TEXT_H

#include "nerc/common.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nerc_tokenizer nerc_tokenizer;

/* Loads the tokenizer of an HF model directory (or of a hub id found in the
 * Hugging Face cache, nerc_hub_resolve): its tokenizer.json when present,
 * else vocab.txt (+ tokenizer_config.json: do_lower_case, strip_accents,
 * tokenize_chinese_chars, unk/sep/pad/cls/mask_token). Supported: BertNormalizer,
 * BertPreTokenizer, WordPiece, TemplateProcessing/BertProcessing; anything else
 * is NERC_ERR_ARG "unsupported tokenizer option". Malformed files are
 * NERC_ERR_FORMAT with "file:line" (vocab.txt) or "file:line:column" (JSON). */
nerc_status nerc_tokenizer_load(nerc_tokenizer **out, const char *model_dir);
/* Loads a tokenizer.json file directly. */
nerc_status nerc_tokenizer_load_file(nerc_tokenizer **out, const char *tokenizer_json);
void nerc_tokenizer_free(nerc_tokenizer *tok);

/* Number of ids (model vocabulary plus added tokens beyond it). */
int32_t nerc_tokenizer_vocab_size(const nerc_tokenizer *tok);
/* Ids of the template's [CLS] / [SEP], of [UNK] and of the padding token
 * (padding.pad_id, else the "[PAD]" / pad_token token). */
int32_t nerc_tokenizer_cls_id(const nerc_tokenizer *tok);
int32_t nerc_tokenizer_sep_id(const nerc_tokenizer *tok);
int32_t nerc_tokenizer_pad_id(const nerc_tokenizer *tok);
int32_t nerc_tokenizer_unk_id(const nerc_tokenizer *tok);
/* The vocabulary string of `id` (NULL if out of range). */
const char *nerc_tokenizer_id_to_token(const nerc_tokenizer *tok, int32_t id);

/* Pre-tokenized input (is_split_into_words): the word pieces of one word,
 * tokenized on its own, without special tokens. Writes at most `cap` ids,
 * sets *n to the number of pieces (which may exceed cap: then call again
 * with a bigger buffer). `word` is UTF-8 of length `len` (invalid UTF-8 is
 * NERC_ERR_ARG). Literal special tokens inside the word are matched as in HF. */
nerc_status nerc_tokenizer_encode_word(const nerc_tokenizer *tok, const char *word, size_t len,
                                       int32_t *ids, int32_t cap, int32_t *n);

/* One encoded raw text, with [CLS] ... [SEP]. */
typedef struct {
    int32_t n;             /* number of tokens */
    int32_t *ids;          /* [n] */
    int32_t *offsets;      /* [2n] start,end in Unicode code points of the input; [0,0] for specials */
    int32_t *byte_offsets; /* [2n] start,end in UTF-8 bytes */
    int32_t *word_ids;     /* [n] pre-token index, -1 for [CLS]/[SEP] */
} nerc_encoding;

/* Encodes raw UTF-8 text (any bytes; invalid UTF-8 is an error) as HF's
 * tokenizer(text) does. The caller frees with nerc_encoding_free. */
nerc_status nerc_tokenizer_encode(const nerc_tokenizer *tok, const char *text, size_t len,
                                  nerc_encoding *out);
void nerc_encoding_free(nerc_encoding *enc);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
