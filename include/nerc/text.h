/* nerc/text.h — the tokenizers of BERT-family models, identical to Hugging Face's
 * Rust `tokenizers`: WordPiece (BERT, DistilBERT), byte-level BPE (RoBERTa) and
 * SentencePiece Unigram (XLM-RoBERTa), with their normalizers, pre-tokenizers,
 * added/special tokens and post-processors ([CLS] ... [SEP], <s> ... </s>).
 * Loaded from an HF model directory: tokenizer.json when present, else the slow
 * files (vocab.txt, or vocab.json + merges.txt). A loaded tokenizer is immutable:
 * encoding from several threads at once is safe. */
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
 * tokenize_chinese_chars, unk/sep/pad/cls/mask_token), else vocab.json +
 * merges.txt (byte-level BPE; special tokens from tokenizer_config.json and
 * special_tokens_map.json). A directory with only sentencepiece.bpe.model is
 * refused (NERC_ERR_ARG: provide tokenizer.json). Supported in tokenizer.json:
 * models WordPiece, BPE, Unigram; normalizers BertNormalizer, Precompiled,
 * Replace, Lowercase, Strip, Prepend, Sequence; pre-tokenizers BertPreTokenizer,
 * ByteLevel, Metaspace, Split, Whitespace, WhitespaceSplit, Sequence;
 * post-processors BertProcessing, RobertaProcessing, TemplateProcessing,
 * ByteLevel, Sequence. Anything else is NERC_ERR_ARG "unsupported tokenizer
 * option" naming the field. Malformed files are NERC_ERR_FORMAT with
 * "file:line" (text files), "file:line:column" (JSON syntax) or the field. */
nerc_status nerc_tokenizer_load(nerc_tokenizer **out, const char *model_dir);
/* Loads a tokenizer.json file directly. */
nerc_status nerc_tokenizer_load_file(nerc_tokenizer **out, const char *tokenizer_json);
void nerc_tokenizer_free(nerc_tokenizer *tok);

/* The file names a tokenizer may be read from in a model directory (NULL-terminated):
 * what a saved model copies next to its weights. */
extern const char *const nerc_tokenizer_file_names[];

typedef enum {
    NERC_TOKENIZER_WORDPIECE, /* BERT, DistilBERT */
    NERC_TOKENIZER_BPE,       /* RoBERTa (byte-level), GPT-2 */
    NERC_TOKENIZER_UNIGRAM    /* XLM-RoBERTa (SentencePiece) */
} nerc_tokenizer_model;

nerc_tokenizer_model nerc_tokenizer_model_type(const nerc_tokenizer *tok);
/* "WordPiece", "BPE", "Unigram". */
const char *nerc_tokenizer_model_name(nerc_tokenizer_model m);
/* The model's continuing-subword prefix ("##" for WordPiece, usually "" for BPE
 * and Unigram). HF's NER pipeline tells sub-words by token length when it is not
 * empty, else by the spaces around a token. */
const char *nerc_tokenizer_subword_prefix(const nerc_tokenizer *tok);

/* Number of ids (model vocabulary plus added tokens beyond it). */
int32_t nerc_tokenizer_vocab_size(const nerc_tokenizer *tok);
/* Ids of the special tokens the post-processor puts around a text: [CLS] / [SEP]
 * for BERT, <s> / </s> (HF's cls_token / sep_token, also BOS / EOS) for RoBERTa
 * and XLM-R; -1 when the template has none. Then [UNK] / <unk> (-1 when the model
 * has none) and the padding token (padding.pad_id, else tokenizer_config.json's
 * pad_token, else "[PAD]" or "<pad>"; -1 when none of these exists). */
int32_t nerc_tokenizer_cls_id(const nerc_tokenizer *tok);
int32_t nerc_tokenizer_sep_id(const nerc_tokenizer *tok);
int32_t nerc_tokenizer_pad_id(const nerc_tokenizer *tok);
int32_t nerc_tokenizer_unk_id(const nerc_tokenizer *tok);
/* The vocabulary string of `id` (NULL if out of range). */
const char *nerc_tokenizer_id_to_token(const nerc_tokenizer *tok, int32_t id);
/* 1 if `id` is an added token marked special (HF all_special_ids), else 0. */
int nerc_tokenizer_is_special(const nerc_tokenizer *tok, int32_t id);

/* Pre-tokenized input (is_split_into_words): the word pieces of one word,
 * tokenized on its own, without special tokens. Writes at most `cap` ids,
 * sets *n to the number of pieces (which may exceed cap: then call again
 * with a bigger buffer). `word` is UTF-8 of length `len` (invalid UTF-8 is
 * NERC_ERR_ARG). Literal special tokens inside the word are matched as in HF.
 * Byte-level BPE gives every word its leading space (HF add_prefix_space=True,
 * which HF requires for word input), Metaspace every word its "▁". */
nerc_status nerc_tokenizer_encode_word(const nerc_tokenizer *tok, const char *word, size_t len,
                                       int32_t *ids, int32_t cap, int32_t *n);

/* One encoded raw text, with its special tokens ([CLS] ... [SEP], <s> ... </s>). */
typedef struct {
    int32_t n;             /* number of tokens */
    int32_t *ids;          /* [n] */
    int32_t *offsets;      /* [2n] start,end in Unicode code points of the input; [0,0] for specials */
    int32_t *byte_offsets; /* [2n] start,end in UTF-8 bytes */
    int32_t *word_ids;     /* [n] pre-token index, -1 for the post-processor's specials */
    char **tokens;         /* [n] HF's encoding.tokens: the vocabulary string, or for a
                              Unigram unknown the normalized text it stands for */
    uint8_t *special_mask; /* [n] HF special_tokens_mask: 1 on the post-processor's specials */
} nerc_encoding;

/* Encodes raw UTF-8 text (any bytes; invalid UTF-8 is an error) as HF's
 * tokenizer(text) does, with tokenizer.json's own settings (e.g. RoBERTa's
 * add_prefix_space). The caller frees with nerc_encoding_free. */
nerc_status nerc_tokenizer_encode(const nerc_tokenizer *tok, const char *text, size_t len,
                                  nerc_encoding *out);
void nerc_encoding_free(nerc_encoding *enc);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
