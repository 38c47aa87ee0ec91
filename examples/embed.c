/* Embedding nerc in a C program: load a fine-tuned model once, predict the
 * entities of a few texts. Only the public header is used.
 *
 *   make build/examples/embed && build/examples/embed runs/tutorial "Angela Merkel visited Paris ."
 */
#include <stdio.h>
#include <string.h>

#include "nerc.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR TEXT...\n", argv[0]);
        return 2;
    }
    nerc_predict_params params = nerc_predict_default_params(); /* simple aggregation, windows of 512 */
    nerc_predictor *pr = NULL;
    if (nerc_predictor_load(&pr, argv[1], &params) != NERC_OK) {
        fprintf(stderr, "error: %s\n", nerc_last_error());
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        nerc_prediction p;
        if (nerc_predict_text(pr, argv[i], strlen(argv[i]), &p) != NERC_OK) {
            fprintf(stderr, "error: %s\n", nerc_last_error());
            break;
        }
        printf("%s\n", argv[i]);
        for (int32_t e = 0; e < p.n_entities; e++)
            printf("  %-5s [%d, %d) %-24s %.3f\n", p.entities[e].type, p.entities[e].start, p.entities[e].end,
                   p.entities[e].text, p.entities[e].score);
    }
    nerc_predictor_free(pr);
    return 0;
}
