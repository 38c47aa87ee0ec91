/* nerc tokenize: tokenize text lines (or JSONL "text" fields) with a model's tokenizer (WordPiece,
 * byte-level BPE, Unigram) and print one JSON object each. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc/text.h"

typedef struct {
    const char *model_dir; /* --model DIR (required) */
    const char *input;     /* FILE, or "-" for stdin */
    int jsonl;             /* --jsonl: each input line is {"text": ...} */
} tokenize_params;

static const char *synopsis =
    "--model DIR [FILE|-] [--jsonl]\n\n"
    "Tokenizes each input line exactly as Hugging Face's tokenizer(text) does (BERT WordPiece, RoBERTa\n"
    "byte-level BPE, XLM-R SentencePiece Unigram) and prints one JSON object per line: input_ids,\n"
    "tokens, offsets (code points), byte_offsets, word_ids (null for the specials [CLS]/[SEP], <s>/</s>),\n"
    "special_tokens_mask. FILE defaults to standard input.";

static json_t *int_pairs(const int32_t *v, int32_t n) {
    json_t *arr = json_array();
    for (int32_t i = 0; i < n; i++) {
        json_t *pair = json_array();
        json_array_append_new(pair, json_integer(v[2 * i]));
        json_array_append_new(pair, json_integer(v[2 * i + 1]));
        json_array_append_new(arr, pair);
    }
    return arr;
}

static json_t *encoding_to_json(const nerc_encoding *e) {
    json_t *obj = json_object(), *ids = json_array(), *tokens = json_array(), *words = json_array();
    json_t *mask = json_array();
    for (int32_t i = 0; i < e->n; i++) {
        json_array_append_new(ids, json_integer(e->ids[i]));
        json_array_append_new(tokens, json_string(e->tokens[i]));
        json_array_append_new(words, e->word_ids[i] < 0 ? json_null() : json_integer(e->word_ids[i]));
        json_array_append_new(mask, json_integer(e->special_mask[i]));
    }
    json_object_set_new(obj, "input_ids", ids);
    json_object_set_new(obj, "tokens", tokens);
    json_object_set_new(obj, "offsets", int_pairs(e->offsets, e->n));
    json_object_set_new(obj, "byte_offsets", int_pairs(e->byte_offsets, e->n));
    json_object_set_new(obj, "word_ids", words);
    json_object_set_new(obj, "special_tokens_mask", mask);
    return obj;
}

/* The text of one input line: the line itself, or its "text" field with --jsonl. */
static int line_text(const tokenize_params *p, char *line, size_t len, long lineno, json_t **doc,
                     const char **text, size_t *text_len) {
    *doc = NULL;
    if (!p->jsonl) {
        *text = line;
        *text_len = len;
        return 0;
    }
    json_error_t err;
    *doc = json_loadb(line, len, JSON_ALLOW_NUL, &err);
    const json_t *t = json_object_get(*doc, "text");
    if (!json_is_string(t)) {
        fprintf(stderr, "nerc tokenize: %s:%ld: expected a JSON object with a string \"text\" (%s)\n",
                p->input, lineno, *doc ? "no text field" : err.text);
        json_decref(*doc);
        return 2;
    }
    *text = json_string_value(t);
    *text_len = json_string_length(t);
    return 0;
}

static int tokenize_line(const tokenize_params *p, const nerc_tokenizer *tok, char *line, size_t len,
                         long lineno) {
    json_t *doc;
    const char *text;
    size_t text_len;
    int rc = line_text(p, line, len, lineno, &doc, &text, &text_len);
    if (rc)
        return rc;
    nerc_encoding e;
    if (nerc_tokenizer_encode(tok, text, text_len, &e) != NERC_OK) {
        fprintf(stderr, "nerc tokenize: %s:%ld: %s\n", p->input, lineno, nerc_last_error());
        json_decref(doc);
        return nerc_last_status() == NERC_ERR_ARG || nerc_last_status() == NERC_ERR_FORMAT ? 2 : 1;
    }
    json_t *out = encoding_to_json(&e);
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(out);
    json_decref(doc);
    nerc_encoding_free(&e);
    return 0;
}

static int tokenize_stream(const tokenize_params *p, const nerc_tokenizer *tok, FILE *in) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        rc = tokenize_line(p, tok, line, len, ++lineno);
    }
    free(line);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    tokenize_params p = {NULL, "-", 0};
    cli_opt opts[] = {
        {.name = "model", .kind = OPT_STRING, .value = &p.model_dir, .help = "HF model directory or hub id: tokenizer.json, else vocab.txt or vocab.json + merges.txt", .required = 1},
        {.name = "jsonl", .kind = OPT_FLAG, .value = &p.jsonl, .help = "each input line is a JSON object whose \"text\" field is tokenized"},
        CLI_END,
    };
    const char *pos[1];
    int n_pos = 0, rc = cli_parse("tokenize", synopsis, opts, argc, argv, pos, 1, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (n_pos)
        p.input = pos[0];
    nerc_tokenizer *tok = NULL;
    if (nerc_tokenizer_load(&tok, p.model_dir) != NERC_OK)
        return cli_fail("tokenize");
    FILE *in = strcmp(p.input, "-") ? fopen(p.input, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "nerc tokenize: cannot open %s\n", p.input);
        nerc_tokenizer_free(tok);
        return 1;
    }
    rc = tokenize_stream(&p, tok, in);
    if (in != stdin)
        fclose(in);
    nerc_tokenizer_free(tok);
    return rc;
}
