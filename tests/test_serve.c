/* nerc serve over real HTTP on 127.0.0.1: every answer equals `nerc predict` on the same text and
 * options; each error status; Content-Length and chunked bodies; keep-alive; 100 concurrent
 * connections; faults (byte-by-byte headers, disconnects mid-request and mid-response, a 100 MB
 * body, 10,000 tiny requests, malformed JSON) while a well-behaved client keeps getting right
 * answers and the server's RSS stays bounded; graceful SIGTERM; the library API's errors.
 * Servers are `nerc serve` child processes on free ports; a watchdog bounds the whole run. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "http_client.h"
#include "nerc/serve.h"
#include "test.h"

#define MODEL_DIR SHARED_DIR "/fixtures/model/small"
#define DEV_FILE SHARED_DIR "/data/conll2003/dev.txt"
#define RAW_TEXT SHARED_DIR "/fixtures/tokenizer/raw_text.jsonl"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

enum { N_DEV = 200, WATCHDOG_S = 600 };

static char nerc[512], tmp[64];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- server processes ------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int port;
} server_proc;

static volatile pid_t children[8];

static void on_watchdog(int sig) {
    (void)sig;
    for (int i = 0; i < 8; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
    static const char msg[] = "  FAIL test_serve: watchdog: the run took too long\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

static int server_stop(server_proc *sp, double wait_s);

/* `nerc serve --model MODEL --port 0 ARGS`; the port comes from its one line on stdout. */
static int server_start(server_proc *sp, const char *args) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    char cmd[2048], log[256];
    snprintf(log, sizeof log, "%s/server.log", tmp);
    snprintf(cmd, sizeof cmd, "exec %s serve --model %s --port 0 %s 2>>%s", nerc, MODEL_DIR, args, log);
    sp->pid = fork();
    if (sp->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]), close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    for (int i = 0; i < 8; i++)
        if (children[i] <= 0) {
            children[i] = sp->pid;
            break;
        }
    FILE *out = fdopen(fds[0], "r");
    char line[512] = "";
    int ok = out && fgets(line, sizeof line, out) != NULL;
    if (out)
        fclose(out);
    const char *url = strstr(line, "http://127.0.0.1:");
    sp->port = ok && url ? atoi(url + strlen("http://127.0.0.1:")) : 0;
    CHECK_MSG(sp->port > 0, "nerc serve %s printed '%s'", args, line);
    if (sp->port > 0)
        return 0;
    server_stop(sp, 5);
    return -1;
}

/* SIGTERM; returns the exit status (-1 on a signal or after `wait_s` seconds: then SIGKILL). */
static int server_stop(server_proc *sp, double wait_s) {
    kill(sp->pid, SIGTERM);
    double t0 = now_s();
    int st = 0;
    pid_t got = 0;
    while ((got = waitpid(sp->pid, &st, WNOHANG)) == 0 && now_s() - t0 < wait_s)
        sleep_ms(10);
    if (got == 0) {
        kill(sp->pid, SIGKILL);
        waitpid(sp->pid, &st, 0);
        return -1;
    }
    for (int i = 0; i < 8; i++)
        if (children[i] == sp->pid)
            children[i] = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* VmRSS or VmHWM of a process in kB. */
static long proc_kb(pid_t pid, const char *key) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)))
            kb = atol(line + strlen(key) + 1);
    if (f)
        fclose(f);
    return kb;
}

/* ---- the texts and what `nerc predict` says about them ------------------------------- */

typedef struct {
    int n;
    char **texts;
    json_t *expect[3]; /* per aggregation below: [n] entity arrays of nerc predict */
} corpus;

static const char *const aggs[3] = {"simple", "first", "none"};

static void corpus_add(corpus *c, const char *text, size_t len) {
    c->texts = realloc(c->texts, (size_t)(c->n + 1) * sizeof *c->texts);
    c->texts[c->n] = malloc(len + 1);
    memcpy(c->texts[c->n], text, len);
    c->texts[c->n++][len] = '\0';
}

/* CoNLL dev sentences (words joined by spaces), raw-text fixture lines that are one line, a long text. */
static void corpus_build(corpus *c) {
    FILE *f = fopen(DEV_FILE, "r");
    char line[4096], sent[8192] = "";
    size_t len = 0;
    while (f && c->n < N_DEV && fgets(line, sizeof line, f)) {
        if (line[0] == '\n' || !strncmp(line, "-DOCSTART-", 10)) {
            if (len)
                corpus_add(c, sent, len);
            len = 0;
            continue;
        }
        size_t w = strcspn(line, " \n");
        if (len + w + 2 < sizeof sent)
            len += (size_t)snprintf(sent + len, sizeof sent - len, "%s%.*s", len ? " " : "", (int)w, line);
    }
    if (f)
        fclose(f);
    char *data = NULL;
    size_t n = 0;
    CHECK_OK(fs_read_file(RAW_TEXT, 0, &data, &n));
    for (char *l = data ? strtok(data, "\n") : NULL; l; l = strtok(NULL, "\n")) {
        json_t *o = json_loads(l, JSON_ALLOW_NUL, NULL);
        const json_t *t = json_object_get(o, "text");
        const char *s = json_string_value(t);
        size_t tl = json_string_length(t);
        if (s && tl && tl == strlen(s) && !strpbrk(s, "\r\n\v\f\x1c\x1d\x1e\x85") && !strstr(s, "\xe2\x80\xa8") &&
            !strstr(s, "\xe2\x80\xa9") && !strstr(s, "\xc2\x85"))
            corpus_add(c, s, tl);
        json_decref(o);
    }
    free(data);
    char longer[4000];
    size_t at = 0;
    for (int i = 0; i < 300; i++)
        at += (size_t)snprintf(longer + at, sizeof longer - at, "%sWord%d", i ? " " : "", i % 37);
    corpus_add(c, longer, at);
}

/* nerc predict over every text (one per line) with aggregation aggs[a] at `precision`. */
static void corpus_expect(corpus *c, int a, const char *precision) {
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/texts.txt", tmp);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < c->n; i++)
        fprintf(f, "%s\n", c->texts[i]);
    if (f)
        fclose(f);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --aggregation %s --precision %s %s", nerc, MODEL_DIR, aggs[a],
             precision, path);
    FILE *p = popen(cmd, "r");
    c->expect[a] = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (p && getline(&line, &cap, p) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        json_array_append(c->expect[a], json_object_get(o, "entities"));
        json_decref(o);
    }
    free(line);
    int st = p ? pclose(p) : -1;
    CHECK_MSG(st == 0 && (int)json_array_size(c->expect[a]) == c->n, "nerc predict --aggregation %s: %zu of %d lines",
              aggs[a], json_array_size(c->expect[a]), c->n);
}

static void corpus_free(corpus *c) {
    for (int i = 0; i < c->n; i++)
        free(c->texts[i]);
    free(c->texts);
    for (int a = 0; a < 3; a++)
        json_decref(c->expect[a]);
}

/* The server's HF entity equals nerc predict's: type, word, offsets exact; score within 1e-5. */
static int same_entity(const json_t *got, const json_t *want, int none) {
    const char *type = json_string_value(json_object_get(got, none ? "entity" : "entity_group"));
    const char *want_type = json_string_value(json_object_get(want, none ? "entity" : "type"));
    const json_t *w = json_object_get(got, "word"), *ww = json_object_get(want, none ? "word" : "text");
    double score = json_number_value(json_object_get(got, "score"));
    double want_score = json_number_value(json_object_get(want, "score"));
    return type && want_type && !strcmp(type, want_type) && json_equal(w, ww) &&
           json_equal(json_object_get(got, "start"), json_object_get(want, "start")) &&
           json_equal(json_object_get(got, "end"), json_object_get(want, "end")) &&
           (!none || json_equal(json_object_get(got, "index"), json_object_get(want, "index"))) &&
           fabs(score - want_score) <= 1e-5 && json_object_size(got) == (none ? 6u : 5u);
}

static int same_entities(const json_t *got, const json_t *want, int none) {
    if (!json_is_array(got) || !json_is_array(want) || json_array_size(got) != json_array_size(want))
        return 0;
    for (size_t i = 0; i < json_array_size(got); i++)
        if (!same_entity(json_array_get(got, i), json_array_get(want, i), none))
            return 0;
    return 1;
}

/* {"inputs": text} or {"inputs": [texts]}, with parameters.aggregation_strategy unless a < 0. */
static char *predict_body(const corpus *c, int first, int count, int list, int a) {
    json_t *in = list ? json_array() : json_string(c->texts[first]);
    for (int i = 0; list && i < count; i++)
        json_array_append_new(in, json_string(c->texts[first + i]));
    json_t *o = json_pack("{s:o}", "inputs", in);
    if (a >= 0)
        json_object_set_new(o, "parameters", json_pack("{s:s}", "aggregation_strategy", aggs[a]));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Sends texts [first, first+count) on `conn` and checks the answer against nerc predict. */
static int check_predict(http_conn *conn, const corpus *c, int first, int count, int list, int a, size_t chunk) {
    char *body = predict_body(c, first, count, list, a);
    http_resp r = {0};
    int ok = http_send(conn, "POST", first % 2 ? "/predict" : "/", "application/json", NULL, body, strlen(body),
                       chunk) == 0 &&
             http_read(conn, &r) == 0 && r.status == 200;
    json_t *got = ok ? json_loads(r.body, 0, NULL) : NULL;
    int aa = a < 0 ? 0 : a;
    if (list)
        for (int i = 0; ok && i < count; i++)
            ok = same_entities(json_array_get(got, (size_t)i), json_array_get(c->expect[aa], (size_t)(first + i)),
                               aa == 2);
    else
        ok = ok && same_entities(got, json_array_get(c->expect[aa], (size_t)first), aa == 2);
    if (ok && list)
        ok = json_array_size(got) == (size_t)count;
    if (!ok)
        fprintf(stderr, "  texts %d..%d (%s, %s): status %d, answer %.300s\n", first, first + count - 1,
                list ? "list" : "one", aggs[aa], r.status, r.body ? r.body : "(none)");
    json_decref(got);
    if (r.status)
        http_resp_free(&r);
    free(body);
    return ok;
}

/* ---- correctness over keep-alive connections from several threads -------------------------- */

typedef struct {
    const corpus *c;
    int port, thread, n_threads, requests, bad, reconnects;
} client_job;

/* Thread t sends texts t, t + n_threads, ... one per request, then lists of 5 with other strategies,
 * all on one keep-alive connection. */
static void *client_main(void *arg) {
    client_job *j = arg;
    http_conn conn;
    if (http_open(&conn, j->port, 60) != 0) {
        j->bad++;
        return NULL;
    }
    for (int i = j->thread; i < j->c->n; i += j->n_threads, j->requests++)
        j->bad += !check_predict(&conn, j->c, i, 1, 0, -1, 0);
    for (int i = 5 * j->thread; i + 5 <= j->c->n; i += 5 * j->n_threads, j->requests++)
        j->bad += !check_predict(&conn, j->c, i, 5, 1, 1 + (i / 5) % 2, (i / 5) % 3 == 0 ? 7 : 0);
    http_close(&conn, 0);
    return NULL;
}

static int run_clients(const corpus *c, int port, int n_threads, int *requests) {
    pthread_t th[128];
    client_job jobs[128];
    int bad = 0;
    *requests = 0;
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (client_job){c, port, t, n_threads, 0, 0, 0};
        pthread_create(&th[t], NULL, client_main, &jobs[t]);
    }
    for (int t = 0; t < n_threads; t++) {
        pthread_join(th[t], NULL);
        bad += jobs[t].bad;
        *requests += jobs[t].requests;
    }
    return bad;
}

/* nerc serve --precision int8 answers as nerc predict --precision int8 (weights quantized once at load). */
static void test_int8(const corpus *c) {
    corpus c8 = {.texts = c->texts, .n = c->n};
    for (int a = 0; a < 3; a++)
        corpus_expect(&c8, a, "int8");
    server_proc sp;
    if (server_start(&sp, "--precision int8 --max-wait-ms 2") == 0) {
        int requests = 0;
        int bad = run_clients(&c8, sp.port, 4, &requests);
        CHECK_MSG(bad == 0, "--precision int8: %d of %d requests differ from nerc predict --precision int8", bad,
                  requests);
        printf("  --precision int8: %d requests as nerc predict --precision int8\n", requests);
        CHECK_MSG(server_stop(&sp, 60) == 0, "the int8 server did not exit 0 after SIGTERM");
    }
    for (int a = 0; a < 3; a++)
        json_decref(c8.expect[a]);
}

static void test_answers(const corpus *c, int port) {
    int requests = 0;
    double t0 = now_s();
    int bad = run_clients(c, port, 8, &requests);
    CHECK_MSG(bad == 0, "%d of %d requests differ from nerc predict", bad, requests);
    printf("  %d texts (%d requests, 8 keep-alive clients; single texts, lists, chunked bodies, 3 strategies):"
           " as nerc predict (%.1f s)\n", c->n, requests, now_s() - t0);
}

/* 100 connections opened at once, each sending 3 single-text requests. */
typedef struct {
    const corpus *c;
    int port, index, bad;
    pthread_barrier_t *barrier;
} burst_job;

static void *burst_main(void *arg) {
    burst_job *j = arg;
    http_conn conn;
    int opened = http_open(&conn, j->port, 60) == 0;
    pthread_barrier_wait(j->barrier);
    if (!opened) {
        j->bad = 3;
        return NULL;
    }
    for (int k = 0; k < 3; k++)
        j->bad += !check_predict(&conn, j->c, (j->index * 3 + k) % j->c->n, 1, 0, -1, 0);
    http_close(&conn, 0);
    return NULL;
}

static void test_concurrent(const corpus *c, int port) {
    enum { N = 100 };
    pthread_t th[N];
    burst_job jobs[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        jobs[i] = (burst_job){c, port, i, 0, &barrier};
        pthread_create(&th[i], NULL, burst_main, &jobs[i]);
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    pthread_barrier_destroy(&barrier);
    CHECK_MSG(bad == 0, "100 concurrent connections: %d of 300 requests wrong", bad);
    printf("  100 concurrent connections x 3 requests: all as nerc predict\n");
}

/* ---- statuses ------------------------------------------------------------------------ */

static void expect_status(int port, const char *method, const char *path, const char *ctype, const char *body,
                          size_t len, size_t chunk, int want, const char *needle) {
    http_conn conn;
    http_resp r = {0};
    int ok = http_open(&conn, port, 30) == 0 &&
             http_send(&conn, method, path, ctype, NULL, body, len, chunk) == 0 && http_read(&conn, &r) == 0;
    json_t *o = ok ? json_loads(r.body, 0, NULL) : NULL;
    const char *err = json_string_value(json_object_get(o, "error"));
    CHECK_MSG(ok && r.status == want && err && strstr(err, needle) && strstr(r.content_type, "application/json"),
              "%s %s: status %d (want %d), body %.200s", method, path, r.status, want, r.body ? r.body : "(none)");
    if (want == 405)
        CHECK_MSG(r.allow[0] != '\0', "405 without Allow");
    json_decref(o);
    http_resp_free(&r);
    http_close(&conn, 0);
}

#define BODY(x) {x, sizeof(x) - 1}
static const struct {
    const char *s;
    size_t len;
} malformed[] = {
    BODY(""), BODY(" "), BODY("{"), BODY("}"), BODY("["), BODY("null"), BODY("true"), BODY("42"), BODY("\"text\""),
    BODY("[\"a\"]"), BODY("{\"inputs\"}"), BODY("{\"inputs\":}"), BODY("{\"inputs\": \"a\",}"),
    BODY("{\"inputs\": \"a\"} {}"), BODY("{\"inputs\": 'a'}"), BODY("{\"input\": \"a\"}"), BODY("{\"inputs\": null}"),
    BODY("{\"inputs\": 1}"), BODY("{\"inputs\": {}}"), BODY("{\"inputs\": []}"), BODY("{\"inputs\": [1]}"),
    BODY("{\"inputs\": [\"a\", null]}"), BODY("{\"inputs\": [[\"a\"]]}"), BODY("{\"inputs\": \"a\", \"inputs\": \"b\"}"),
    BODY("{\"inputs\": \"\\ud800\"}"), BODY("{\"inputs\": \"\\x\"}"), BODY("{\"inputs\": \"a\xff\"}"),
    BODY("{\"inputs\": \"\xc0\xaf\"}"), BODY("{\"inputs\": \"\xed\xa0\x80\"}"), BODY("{\"inputs\": \"a\", \"parameters\": 1}"),
    BODY("{\"inputs\": \"a\", \"parameters\": []}"),
    BODY("{\"inputs\": \"a\", \"parameters\": {\"aggregation_strategy\": 1}}"),
    BODY("{\"inputs\": \"a\", \"parameters\": {\"aggregation_strategy\": \"mean\"}}"),
    BODY("{\"inputs\": \"a\", \"parameters\": {\"aggregation_strategy\": \"SIMPLE\"}}"),
    BODY("\xef\xbb\xbf{\"inputs\": \"a\"}"), BODY("{\"inputs\": \"a\"\x00}"), BODY("{\"inputs\": \"a\x00\"}"),
    BODY("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
    BODY("{\"inputs\": 1e999999}"), BODY("{\"inputs\": \"a\" /* c */}"), BODY("{\"inputs\": \"\\u0000\\ud83d\"}"),
};
enum { N_MALFORMED = sizeof malformed / sizeof *malformed };

/* The malformed corpus on one keep-alive connection: each 400 with {"error"}, the connection stays. */
static int send_malformed(int port) {
    http_conn conn;
    if (http_open(&conn, port, 30) != 0)
        return N_MALFORMED;
    int bad = 0;
    for (int i = 0; i < N_MALFORMED; i++) {
        http_resp r = {0};
        int ok = http_send(&conn, "POST", "/predict", "application/json", NULL, malformed[i].s, malformed[i].len, 0) ==
                     0 &&
                 http_read(&conn, &r) == 0;
        json_t *o = ok ? json_loads(r.body, 0, NULL) : NULL;
        if (!ok || r.status != 400 || !json_is_string(json_object_get(o, "error"))) {
            fprintf(stderr, "  malformed #%d: status %d, %.200s\n", i, ok ? r.status : -1, ok ? r.body : "");
            bad++;
        }
        json_decref(o);
        if (ok)
            http_resp_free(&r);
    }
    http_close(&conn, 0);
    return bad;
}

static void test_statuses(int port) {
    const char *one = "{\"inputs\": \"Angela Merkel visited Paris\"}";
    expect_status(port, "GET", "/nope", NULL, NULL, 0, 0, 404, "no such path");
    expect_status(port, "POST", "/predict/x", "application/json", one, strlen(one), 0, 404, "no such path");
    expect_status(port, "GET", "/predict", NULL, NULL, 0, 0, 405, "POST");
    expect_status(port, "PUT", "/", "application/json", one, strlen(one), 0, 405, "POST");
    expect_status(port, "DELETE", "/health", NULL, NULL, 0, 0, 405, "GET");
    expect_status(port, "POST", "/metrics", "application/json", one, strlen(one), 0, 405, "GET");
    expect_status(port, "POST", "/predict", "text/plain", one, strlen(one), 0, 415, "application/json");
    expect_status(port, "POST", "/predict", NULL, one, strlen(one), 0, 415, "application/json");
    expect_status(port, "POST", "/predict", "application/jsonx", one, strlen(one), 0, 415, "application/json");
    expect_status(port, "POST", "/predict", "application/json", "{\"inputs\": []}", 14, 0, 400, "empty");
    expect_status(port, "POST", "/predict", "application/json", "{\"inputs\": [\"a\", 2]}", 20, 0, 400, "[1]");
    expect_status(port, "POST", "/predict", "application/json", "{\"inputs\": \"\xff\"}", 15, 0, 400, "JSON");
    expect_status(port, "POST", "/predict", "application/json", "{\"inputs\": [\"a\", 2]}", 20, 3, 400, "[1]");
    /* bodies over --max-body-bytes (64 KiB here), by Content-Length and chunked */
    size_t big = 70000;
    char *body = malloc(big);
    memset(body, ' ', big);
    memcpy(body, one, strlen(one));
    expect_status(port, "POST", "/predict", "application/json", body, big, 0, 413, "--max-body-bytes");
    expect_status(port, "POST", "/predict", "application/json", body, big, 1000, 413, "--max-body-bytes");
    /* more texts than --max-queue (1024) */
    json_t *many = json_array();
    for (int i = 0; i < 1025; i++)
        json_array_append_new(many, json_string("a"));
    json_t *o = json_pack("{s:o}", "inputs", many);
    char *m = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    expect_status(port, "POST", "/", "application/json", m, strlen(m), 0, 413, "--max-queue");
    free(m);
    free(body);
    int bad = send_malformed(port);
    CHECK_MSG(bad == 0, "%d of %d malformed bodies not answered 400", bad, (int)N_MALFORMED);
    /* health */
    http_resp r;
    CHECK(http_once(port, "GET", "/health", NULL, &r) == 0 && r.status == 200);
    json_t *h = json_loads(r.body ? r.body : "", 0, NULL);
    CHECK_MSG(h && !strcmp(json_string_value(json_object_get(h, "status")), "ok") &&
                  json_array_size(json_object_get(h, "labels")) == 9 &&
                  !strcmp(json_string_value(json_array_get(json_object_get(h, "labels"), 1)), "B-PER") &&
                  strstr(json_string_value(json_object_get(h, "model")), "fixtures/model/small"),
              "health: %s", r.body);
    json_decref(h);
    http_resp_free(&r);
    printf("  404 / 405 (+Allow) / 415 / 400 / 413 (Content-Length, chunked, too many texts), %d malformed"
           " bodies -> 400, /health\n", (int)N_MALFORMED);
}

/* 503 + Retry-After when the queue is full; 504 past the timeout. The batch waits 3 s to fill
 * (--max-wait-ms 3000), longer than --timeout-s 1, and the queue holds 8 texts. */
static void test_queue_full_and_timeout(void) {
    server_proc sp;
    if (server_start(&sp, "--max-queue 8 --max-wait-ms 3000 --timeout-s 1 --max-batch-tokens 100000") != 0)
        return;
    const char *five = "{\"inputs\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}";
    http_conn first;
    http_resp r, r2;
    CHECK(http_open(&first, sp.port, 30) == 0 &&
          http_send(&first, "POST", "/predict", "application/json", NULL, five, strlen(five), 0) == 0);
    sleep_ms(300); /* the 5 texts are queued, the batcher waits */
    double t0 = now_s();
    CHECK(http_once(sp.port, "POST", "/predict", five, &r) == 0);
    CHECK_MSG(r.status == 503 && atoi(r.retry_after) >= 1 && strstr(r.body, "queue is full"),
              "queue full: %d, Retry-After '%s', %s", r.status, r.retry_after, r.body);
    CHECK_MSG(now_s() - t0 < 1.0, "503 took %.2f s", now_s() - t0);
    http_resp_free(&r);
    CHECK(http_read(&first, &r2) == 0);
    CHECK_MSG(r2.status == 504 && strstr(r2.body, "--timeout-s"), "timeout: %d %s", r2.status, r2.body);
    http_resp_free(&r2);
    http_close(&first, 0);
    /* /metrics counts them, with the other families */
    CHECK(http_once(sp.port, "GET", "/metrics", NULL, &r) == 0 && r.status == 200);
    CHECK_MSG(strstr(r.body, "nerc_requests_total{code=\"503\"} 1\n") &&
                  strstr(r.body, "nerc_requests_total{code=\"504\"} 1\n") && strstr(r.body, "nerc_queue_texts 0\n") &&
                  strstr(r.body, "nerc_request_duration_seconds_bucket{le=\"+Inf\"} 2\n") &&
                  strstr(r.body, "# TYPE nerc_batch_tokens histogram") && strstr(r.body, "nerc_tokens_per_second") &&
                  strstr(r.content_type, "text/plain"),
              "metrics: %s", r.body);
    http_resp_free(&r);
    CHECK(server_stop(&sp, 30) == 0);
    printf("  queue full -> 503 with Retry-After; over --timeout-s -> 504; /metrics counts both\n");
}

/* ---- keep-alive ------------------------------------------------------------------------- */

static void test_keep_alive(const corpus *c, int port) {
    http_conn conn;
    CHECK(http_open(&conn, port, 30) == 0);
    int bad = 0;
    for (int i = 0; i < 50; i++) {
        http_resp r;
        const char *path = i % 3 == 0 ? "/health" : i % 3 == 1 ? "/metrics" : NULL;
        if (path) {
            bad += http_roundtrip(&conn, "GET", path, NULL, 0, &r) != 0 || r.status != 200 || r.close;
            if (r.body)
                http_resp_free(&r);
        } else {
            bad += !check_predict(&conn, c, i, 1, 0, -1, 0);
        }
    }
    CHECK_MSG(bad == 0, "keep-alive: %d of 50 requests failed on one connection", bad);
    http_close(&conn, 0);
    printf("  50 requests (predict, health, metrics) on one keep-alive connection\n");
}

/* ---- faults, while a well-behaved client checks its answers ------------------------------ */

typedef struct {
    const corpus *c;
    int port;
    volatile int stop;
    int requests, bad;
    double worst;
} watcher;

static void *watcher_main(void *arg) {
    watcher *w = arg;
    http_conn conn;
    int open = 0;
    for (int i = 0; !w->stop; i++, w->requests++) {
        if (!open && !(open = http_open(&conn, w->port, 30) == 0)) {
            w->bad++;
            sleep_ms(50);
            continue;
        }
        double t0 = now_s();
        int ok = check_predict(&conn, w->c, i % w->c->n, 1, 0, -1, 0);
        double dt = now_s() - t0;
        w->worst = dt > w->worst ? dt : w->worst;
        if (!ok) {
            w->bad++;
            http_close(&conn, 0);
            open = 0;
        }
        sleep_ms(5);
    }
    if (open)
        http_close(&conn, 0);
    return NULL;
}

/* Headers (and a small body) sent one byte at a time; the answer must still be right. */
static void *slow_main(void *arg) {
    int *res = arg, port = res[0];
    const char *req = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: 19\r\n\r\n{\"inputs\": \"Paris\"}";
    http_conn conn;
    http_resp r = {0};
    res[1] = 0;
    if (http_open(&conn, port, 30) != 0)
        return NULL;
    int ok = 1;
    for (const char *p = req; ok && *p; p++) {
        ok = http_send_all(&conn, p, 1) == 0;
        sleep_ms(15);
    }
    res[1] = ok && http_read(&conn, &r) == 0 && r.status == 200 && r.body[0] == '[';
    http_resp_free(&r);
    http_close(&conn, 0);
    return NULL;
}

/* Connections dropped mid-request (after part of the body) and mid-response (before or while reading). */
static void *drop_main(void *arg) {
    int port = *(int *)arg;
    char big[4096];
    size_t at = (size_t)snprintf(big, sizeof big, "{\"inputs\": [");
    for (int i = 0; i < 60; i++)
        at += (size_t)snprintf(big + at, sizeof big - at, "%s\"Angela Merkel met Nicolas Sarkozy in Paris %d\"",
                               i ? "," : "", i);
    snprintf(big + at, sizeof big - at, "]}");
    for (int i = 0; i < 150; i++) {
        http_conn conn;
        if (http_open(&conn, port, 30) != 0)
            continue;
        if (i % 3 == 0) { /* mid-request: 10 of 1000 announced bytes */
            http_send(&conn, "POST", "/predict", "application/json", "Content-Length: 1000\r\n", NULL, 0, 0);
            http_send_all(&conn, "{\"inputs\":", 10);
        } else { /* mid-response: the answer to 60 texts is not (fully) read */
            http_send(&conn, "POST", "/predict", "application/json", NULL, big, strlen(big), 0);
            if (i % 3 == 2) {
                char head[64];
                sleep_ms(20);
                if (recv(conn.fd, head, sizeof head, 0) < 0) {
                }
            }
        }
        http_close(&conn, i % 2);
    }
    return NULL;
}

/* 10,000 tiny requests: 20 keep-alive clients x 500. */
static void *tiny_main(void *arg) {
    int *res = arg, port = res[0];
    http_conn conn;
    res[1] = 0;
    if (http_open(&conn, port, 60) != 0)
        return NULL;
    for (int i = 0; i < 500; i++) {
        http_resp r;
        int ok = http_roundtrip(&conn, "POST", "/predict", "{\"inputs\":\"x\"}", 14, &r) == 0;
        res[1] += ok && r.status == 200 && r.body[0] == '[';
        if (ok)
            http_resp_free(&r);
        else
            break;
    }
    http_close(&conn, 0);
    return NULL;
}

/* A 100 MB body: announced with Expect: 100-continue (413 before it is sent), and streamed chunked. */
static void test_huge_bodies(int port, int *ok_expect, int *ok_chunked) {
    http_conn conn;
    http_resp r = {0};
    *ok_expect = http_open(&conn, port, 30) == 0 &&
                 http_send(&conn, "POST", "/predict", "application/json",
                           "Expect: 100-continue\r\nContent-Length: 104857600\r\n", NULL, 0, 0) == 0 &&
                 http_read(&conn, &r) == 0 && r.status == 413;
    http_resp_free(&r);
    http_close(&conn, 0);
    *ok_chunked = 0;
    if (http_open(&conn, port, 60) != 0)
        return;
    size_t chunk = 1 << 16;
    char *block = malloc(chunk);
    memset(block, 'a', chunk);
    int ok = http_send(&conn, "POST", "/predict", "application/json", "Transfer-Encoding: chunked\r\n", NULL, 0,
                       0) == 0;
    char size[32];
    int m = snprintf(size, sizeof size, "%zx\r\n", chunk);
    for (size_t sent = 0; ok && sent < ((size_t)100 << 20); sent += chunk)
        ok = http_send_all(&conn, size, (size_t)m) == 0 && http_send_all(&conn, block, chunk) == 0 &&
             http_send_all(&conn, "\r\n", 2) == 0;
    ok = ok && http_send_all(&conn, "0\r\n\r\n", 5) == 0;
    *ok_chunked = ok && http_read(&conn, &r) == 0 && r.status == 413;
    http_resp_free(&r);
    free(block);
    http_close(&conn, 0);
}

static void test_faults(const corpus *c, server_proc *sp) {
    long rss0 = proc_kb(sp->pid, "VmRSS:");
    watcher w = {c, sp->port, 0, 0, 0, 0};
    pthread_t wt, slow[16], drop[2], tiny[20];
    int slow_res[16][2], tiny_res[20][2];
    pthread_create(&wt, NULL, watcher_main, &w);
    double t0 = now_s();
    for (int i = 0; i < 16; i++) {
        slow_res[i][0] = sp->port;
        pthread_create(&slow[i], NULL, slow_main, slow_res[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&drop[i], NULL, drop_main, &sp->port);
    for (int i = 0; i < 20; i++) {
        tiny_res[i][0] = sp->port;
        pthread_create(&tiny[i], NULL, tiny_main, tiny_res[i]);
    }
    int ok_expect = 0, ok_chunked = 0, bad_malformed = send_malformed(sp->port);
    test_huge_bodies(sp->port, &ok_expect, &ok_chunked);
    int slow_ok = 0, tiny_ok = 0;
    for (int i = 0; i < 16; i++)
        pthread_join(slow[i], NULL), slow_ok += slow_res[i][1];
    for (int i = 0; i < 2; i++)
        pthread_join(drop[i], NULL);
    for (int i = 0; i < 20; i++)
        pthread_join(tiny[i], NULL), tiny_ok += tiny_res[i][1];
    double dt = now_s() - t0;
    w.stop = 1;
    pthread_join(wt, NULL);
    long rss1 = proc_kb(sp->pid, "VmRSS:"), hwm = proc_kb(sp->pid, "VmHWM:");
    CHECK_MSG(slow_ok == 16, "byte-by-byte clients: %d of 16 answered right", slow_ok);
    CHECK_MSG(tiny_ok == 10000, "tiny requests: %d of 10000 answered 200", tiny_ok);
    CHECK_MSG(ok_expect && ok_chunked, "100 MB body: 413 with Expect %d, chunked %d", ok_expect, ok_chunked);
    CHECK_MSG(bad_malformed == 0, "%d malformed bodies not answered 400 under load", bad_malformed);
    CHECK_MSG(w.bad == 0 && w.requests > 10, "well-behaved client: %d of %d requests wrong", w.bad, w.requests);
    /* bounded memory: the 100 MB body was never held; nothing grew with 10,000 requests */
    long bound = UNDER_ASAN ? 400 * 1024 : 64 * 1024;
    CHECK_MSG(rss1 - rss0 < bound && hwm - rss0 < bound, "RSS %ld -> %ld kB, peak %ld kB (bound +%ld kB)", rss0,
              rss1, hwm, bound);
    printf("  faults for %.1f s: 16 byte-by-byte clients answered, 150 dropped connections, 10000 tiny requests,\n"
           "  100 MB bodies -> 413, malformed -> 400; the well-behaved client: %d right answers, slowest %.0f ms;\n"
           "  server RSS %ld -> %ld kB (peak %ld kB)\n",
           dt, w.requests, 1000 * w.worst, rss0, rss1, hwm);
}

/* ---- graceful stop ---------------------------------------------------------------------- */

typedef struct {
    const corpus *c;
    int port, index, ok;
} inflight_job;

static void *inflight_main(void *arg) {
    inflight_job *j = arg;
    http_conn conn;
    if (http_open(&conn, j->port, 30) != 0)
        return NULL;
    j->ok = check_predict(&conn, j->c, j->index, 1, 0, -1, 0);
    http_close(&conn, 0);
    return NULL;
}

/* Requests in flight when SIGTERM arrives are answered; then the port is closed and the exit is 0. */
static void test_graceful_stop(const corpus *c) {
    server_proc sp;
    if (server_start(&sp, "--max-wait-ms 400 --max-batch-tokens 100000") != 0)
        return;
    enum { N = 10 };
    pthread_t th[N];
    inflight_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (inflight_job){c, sp.port, i, 0};
        pthread_create(&th[i], NULL, inflight_main, &jobs[i]);
    }
    sleep_ms(150); /* all queued; the batch waits up to 400 ms to fill */
    double t0 = now_s();
    int rc = server_stop(&sp, 30);
    int ok = 0;
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL), ok += jobs[i].ok;
    CHECK_MSG(rc == 0, "exit status %d after SIGTERM", rc);
    CHECK_MSG(ok == N, "%d of %d requests in flight answered right", ok, N);
    http_conn conn;
    CHECK_MSG(http_open(&conn, sp.port, 5) != 0, "the port still accepts after the stop");
    printf("  SIGTERM with %d requests in flight: all answered, exit 0 after %.2f s\n", N, now_s() - t0);
}

/* ---- the library API ------------------------------------------------------------------------ */

static void test_library(int busy_port) {
    nerc_set_log(NULL, NULL);
    nerc_server *s = NULL;
    nerc_server_params p = nerc_server_default_params();
    p.port = 0;
    CHECK(nerc_server_start(&s, "/nonexistent/model", &p) != NERC_OK && !s);
    CHECK_MSG(strstr(nerc_last_error(), "/nonexistent/model"), "%s", nerc_last_error());
    p.port = busy_port;
    CHECK(nerc_server_start(&s, MODEL_DIR, &p) == NERC_ERR_IO && !s);
    CHECK_MSG(strstr(nerc_last_error(), "port"), "%s", nerc_last_error());
    p.port = 0, p.host = "localhost";
    CHECK(nerc_server_start(&s, MODEL_DIR, &p) == NERC_ERR_ARG && strstr(nerc_last_error(), "numeric"));
    p.host = "127.0.0.1", p.max_batch_tokens = 0;
    CHECK(nerc_server_start(&s, MODEL_DIR, &p) == NERC_ERR_ARG && strstr(nerc_last_error(), "max_batch_tokens"));
    p.max_batch_tokens = 512;
    CHECK_OK(nerc_server_start(&s, MODEL_DIR, &p));
    if (!s)
        return;
    http_resp r;
    CHECK(nerc_server_port(s) > 0 && http_once(nerc_server_port(s), "POST", "/predict", "{\"inputs\": \"Paris\"}", &r) ==
                                          0 && r.status == 200);
    http_resp_free(&r);
    nerc_server_stop(s);
    nerc_server_stop(s);
    nerc_server_free(s);
    printf("  library: bad model / busy port / host / parameters named; start on port 0, stop twice, free\n");
}

int main(int argc, char **argv) {
    (void)argc;
    snprintf(nerc, sizeof nerc, "%s", argv[0]); /* build/tests/test_serve -> build/nerc */
    char *slash = strrchr(nerc, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(nerc, '/');
    snprintf(slash ? slash + 1 : nerc, sizeof nerc - (size_t)(slash ? slash + 1 - nerc : 0), "nerc");
    snprintf(tmp, sizeof tmp, "/tmp/nerc_test_serve_XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    signal(SIGALRM, on_watchdog);
    signal(SIGPIPE, SIG_IGN);
    alarm(WATCHDOG_S);
    corpus c = {0};
    corpus_build(&c);
    for (int a = 0; a < 3; a++)
        corpus_expect(&c, a, "fp32");
    printf("  %d texts: %d CoNLL dev sentences, raw-text fixture lines, one of 300 words (windows)\n", c.n, N_DEV);
    server_proc sp;
    if (server_start(&sp, "--max-wait-ms 2 --max-body-bytes 65536 --max-batch-tokens 2048") == 0) {
        test_answers(&c, sp.port);
        test_concurrent(&c, sp.port);
        test_statuses(sp.port);
        test_keep_alive(&c, sp.port);
        test_faults(&c, &sp);
        test_library(sp.port);
        CHECK_MSG(server_stop(&sp, 60) == 0, "the server did not exit 0 after SIGTERM");
    }
    test_int8(&c);
    test_queue_full_and_timeout();
    test_graceful_stop(&c);
    corpus_free(&c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmp);
    return test_report("test_serve");
}
