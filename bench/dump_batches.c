/* For bench/compare.sh: writes the exact batches nerc's benchmarks run, so
 * that PyTorch and ONNX Runtime see the same token ids. JSON:
 *   {"train": [[{"ids": [...], "labels": [...]}, ...], ...]   STEPS+2 shuffled batches of 16 (seed 42),
 *    "dev":   [[[ids...], ...], ...]                            dev in batches of 64, longest first}
 * The same batches as bench_model: nerc's WordPiece, first-sub-token labels.
 *   usage: dump_batches STEPS OUT.json */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "nerc.h"

static void write_ints(FILE *f, const int32_t *x, int32_t n) {
    fputc('[', f);
    for (int32_t i = 0; i < n; i++)
        fprintf(f, i ? ",%d" : "%d", x[i]);
    fputc(']', f);
}

/* One batch: its sequences as {"ids", "labels"} objects (with_labels) or bare id lists. */
static void write_batch(FILE *f, const nerc_batch *b, int with_labels) {
    fputc('[', f);
    for (int32_t q = 0; q < b->n_seqs; q++) {
        int32_t lo = b->seq_offsets[q], n = b->seq_offsets[q + 1] - lo;
        fputs(q ? "," : "", f);
        if (with_labels) {
            fputs("{\"ids\":", f);
            write_ints(f, b->input_ids + lo, n);
            fputs(",\"labels\":", f);
            write_ints(f, b->labels + lo, n);
            fputc('}', f);
        } else
            write_ints(f, b->input_ids + lo, n);
    }
    fputc(']', f);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: dump_batches STEPS OUT.json\n");
        return 2;
    }
    int steps = atoi(argv[1]);
    nerc_tokenizer *tok = NULL;
    nerc_label_set labels;
    nerc_labels_init(&labels, nerc_conll2003_labels, 9);
    if (nerc_tokenizer_load(&tok, SHARED "/models/distilbert-base-uncased") != NERC_OK) {
        fprintf(stderr, "dump_batches: %s\n", nerc_last_error());
        return 1;
    }
    nerc_dataset *train = NULL, *dev = NULL;
    nerc_sequences *enc = bench_encode_split(SHARED "/data/conll2003/train.txt", &labels, tok, &train);
    nerc_sequences *enc_dev = bench_encode_split(SHARED "/data/conll2003/dev.txt", &labels, tok, &dev);
    nerc_batcher *bt = NULL, *bd = NULL, *bo = NULL;
    FILE *f = fopen(argv[2], "w");
    if (!f || nerc_batcher_init(&bt, enc, 16) != NERC_OK || nerc_batcher_init(&bd, enc_dev, 64) != NERC_OK ||
        nerc_batcher_init(&bo, enc_dev, 64) != NERC_OK) {
        fprintf(stderr, "dump_batches: cannot write %s or batch the data\n", argv[2]);
        return 1;
    }
    nerc_batcher_shuffle(bt, 42, 0);
    nerc_batcher_sort_by_length(bd);
    fputs("{\"train\":[", f);
    for (int i = 0; i < steps + 2 && i < nerc_batcher_n_batches(bt); i++) {
        nerc_data_batch db;
        nerc_batcher_get(bt, i, &db);
        fputs(i ? "," : "", f);
        write_batch(f, &db.batch, 1);
    }
    fputs("],\n\"dev\":[", f);
    for (int i = 0; i < nerc_batcher_n_batches(bd); i++) {
        nerc_data_batch db;
        nerc_batcher_get(bd, i, &db);
        fputs(i ? "," : "", f);
        write_batch(f, &db.batch, 0);
    }
    fputs("],\n\"dev_order\":[", f); /* the same sentences in file order, unsorted */
    for (int i = 0; i < nerc_batcher_n_batches(bo); i++) {
        nerc_data_batch db;
        nerc_batcher_get(bo, i, &db);
        fputs(i ? "," : "", f);
        write_batch(f, &db.batch, 0);
    }
    fputs("]}\n", f);
    int bad = fclose(f) != 0;
    nerc_batcher_free(bt);
    nerc_batcher_free(bd);
    nerc_batcher_free(bo);
    nerc_sequences_free(enc);
    nerc_sequences_free(enc_dev);
    nerc_dataset_free(train);
    nerc_dataset_free(dev);
    nerc_labels_free(&labels);
    nerc_tokenizer_free(tok);
    return bad;
}
