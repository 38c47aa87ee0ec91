/* learning_curve.svg: training loss per step (left axis) and validation F1
 * per evaluation (right axis), drawn as plain SVG from the log history. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "train/trainer.h"

#define W 800.0
#define H 420.0
#define X0 70.0
#define X1 730.0
#define Y0 40.0
#define Y1 360.0

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (!b->failed && !b->buf && !(b->buf = malloc(b->cap = 4096)))
        b->failed = 1;
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *nb = realloc(b->buf, ncap);
        if (!nb) {
            b->failed = 1;
            return;
        }
        b->buf = nb;
        b->cap = ncap;
    }
}

static double num(json_t *e, const char *k) { return json_number_value(json_object_get(e, k)); }

static void axes(sbuf *b, double max_step, double max_loss) {
    sb_printf(b, "<rect x='0' y='0' width='%g' height='%g' fill='white'/>\n", W, H);
    sb_printf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='black'/>\n", X0, Y1, X1, Y1);
    sb_printf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='black'/>\n", X0, Y0, X0, Y1);
    sb_printf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='black'/>\n", X1, Y0, X1, Y1);
    for (int i = 0; i <= 4; i++) {
        double y = Y1 - (Y1 - Y0) * i / 4.0;
        sb_printf(b, "<text x='%g' y='%g' font-size='11' text-anchor='end' fill='#1f77b4'>%.3g</text>\n", X0 - 5, y + 4,
                  max_loss * i / 4.0);
        sb_printf(b, "<text x='%g' y='%g' font-size='11' fill='#d62728'>%.2f</text>\n", X1 + 5, y + 4, i / 4.0);
        double x = X0 + (X1 - X0) * i / 4.0;
        sb_printf(b, "<text x='%g' y='%g' font-size='11' text-anchor='middle'>%.0f</text>\n", x, Y1 + 16,
                  max_step * i / 4.0);
    }
    sb_printf(b, "<text x='%g' y='%g' font-size='12' text-anchor='middle'>optimizer step</text>\n", (X0 + X1) / 2,
              Y1 + 34);
    sb_printf(b, "<text x='%g' y='22' font-size='14' text-anchor='middle'>nerc: training loss (blue) and validation "
                 "F1, word level (red)</text>\n",
              W / 2);
}

nerc_status plot_learning_curve(const json_t *history, const char *path) {
    double max_step = 1.0, max_loss = 1e-9;
    size_t i;
    json_t *e;
    json_array_foreach(history, i, e) {
        max_step = fmax(max_step, num(e, "step"));
        if (json_object_get(e, "loss") && !json_object_get(e, "split"))
            max_loss = fmax(max_loss, num(e, "loss"));
    }
    sbuf b = {0};
    sb_printf(&b, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g'>\n", W, H);
    axes(&b, max_step, max_loss);
    sb_printf(&b, "<polyline fill='none' stroke='#1f77b4' stroke-width='1.2' points='");
    json_array_foreach(history, i, e) {
        if (!json_object_get(e, "split"))
            sb_printf(&b, "%.1f,%.1f ", X0 + (X1 - X0) * num(e, "step") / max_step,
                      Y1 - (Y1 - Y0) * num(e, "loss") / max_loss);
    }
    sb_printf(&b, "'/>\n<polyline fill='none' stroke='#d62728' stroke-width='2' points='");
    json_array_foreach(history, i, e) {
        if (json_object_get(e, "split"))
            sb_printf(&b, "%.1f,%.1f ", X0 + (X1 - X0) * num(e, "step") / max_step, Y1 - (Y1 - Y0) * num(e, "f1"));
    }
    sb_printf(&b, "'/>\n");
    json_array_foreach(history, i, e) {
        if (json_object_get(e, "split"))
            sb_printf(&b, "<circle cx='%.1f' cy='%.1f' r='3' fill='#d62728'/>\n",
                      X0 + (X1 - X0) * num(e, "step") / max_step, Y1 - (Y1 - Y0) * num(e, "f1"));
    }
    sb_printf(&b, "</svg>\n");
    nerc_status st = b.failed ? nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path)
                              : fs_write_file_atomic(path, b.buf, b.len);
    free(b.buf);
    return st;
}
