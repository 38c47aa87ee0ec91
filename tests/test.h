/* A tiny test helper (Redis testhelp.h style): CHECK records a failure with
 * the expression, file and line; test_report prints the tally and returns the
 * process exit code. */
#ifndef NERC_TEST_H
#define NERC_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int test_checks = 0, test_failed = 0, test_skipped = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        test_checks++;                                                       \
        if (!(cond)) {                                                       \
            test_failed++;                                                   \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        test_checks++;                                                       \
        if (!(cond)) {                                                       \
            test_failed++;                                                   \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* |a - b| <= tol, NaN never passes. */
#define CHECK_NEAR(a, b, tol)                                                      \
    do {                                                                           \
        double ta_ = (double)(a), tb_ = (double)(b), tt_ = (double)(tol);          \
        CHECK_MSG(fabs(ta_ - tb_) <= tt_, "%.9g vs %.9g (tol %.3g)", ta_, tb_, tt_); \
    } while (0)

/* A status-returning call must succeed; prints nerc_last_error() otherwise. */
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        nerc_status tst_ = (expr);                                             \
        CHECK_MSG(tst_ == NERC_OK, "%s", nerc_last_error());                    \
    } while (0)

/* A case that cannot run on this machine (a CPU feature is missing): printed
 * with its reason and counted (tests/run.sh totals the SKIP lines); it never
 * passes silently. */
#define SKIP(...)                                   \
    do {                                            \
        test_skipped++;                             \
        printf("  SKIP %s:%d: ", __FILE__, __LINE__); \
        printf(__VA_ARGS__);                        \
        putchar('\n');                              \
    } while (0)

/* Path of the shared fixtures, relative to the repository root (tests run there). */
#define SHARED_DIR "../shared"

/* Decodes a hex string ("c3a9") into out; returns the byte count (the
 * fixtures carry exact UTF-8 bytes as hex). */
static inline size_t test_hex_decode(const char *hex, char *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

/* Runs a shell command (the caller adds 2>&1 to capture stderr too); the first
 * cap-1 bytes of its output go to out. Returns its exit status, -1 on a signal. */
static inline int test_run_capture(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    char drain[4096]; /* read the rest, or the child dies of SIGPIPE */
    while (fread(drain, 1, sizeof drain, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 1 when both files can be read and hold the same bytes. */
static inline int test_same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    char x[4096], y[4096];
    while (eq) {
        size_t nx = fread(x, 1, sizeof x, fa), ny = fread(y, 1, sizeof y, fb);
        eq = nx == ny && !memcmp(x, y, nx);
        if (nx < sizeof x)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

static inline int test_report(const char *name) {
    printf("%s: %d checks, %d failed, %d skipped -> %s\n", name, test_checks, test_failed, test_skipped,
           test_failed ? "FAIL" : "OK");
    return test_failed ? 1 : 0;
}

#endif
