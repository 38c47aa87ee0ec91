/* Load benchmark of nerc serve: CLIENTS keep-alive connections send one sentence per request
 * (closed loop) for SECONDS; prints throughput, p50 / p99 latency and errors.
 *   build/bench/bench_serve PORT SENTENCES.txt [CLIENTS=16] [SECONDS=20]
 * (bench/serve.sh starts the servers and runs it; see bench/README.md.) */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/http_client.h"

typedef struct {
    int port, index, n_clients;
    char **bodies;
    int n_bodies;
    double until;
    double *lat; /* latencies in seconds */
    size_t n_lat, cap;
    int errors;
} client;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *client_main(void *arg) {
    client *c = arg;
    http_conn conn;
    int open = 0;
    for (int i = c->index; now_s() < c->until; i += c->n_clients) {
        if (!open && !(open = http_open(&conn, c->port, 60) == 0)) {
            c->errors++;
            continue;
        }
        const char *body = c->bodies[i % c->n_bodies];
        http_resp r;
        double t0 = now_s();
        int ok = http_roundtrip(&conn, "POST", "/predict", body, strlen(body), &r) == 0;
        double dt = now_s() - t0;
        if (!ok || r.status != 200) {
            c->errors++;
            http_close(&conn, 0);
            open = 0;
        }
        if (ok)
            http_resp_free(&r);
        if (c->n_lat == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
        }
        c->lat[c->n_lat++] = dt;
    }
    if (open)
        http_close(&conn, 0);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One {"inputs": line} body per non-empty line. */
static char **read_bodies(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    char **bodies = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while (f && (len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len)
            continue;
        json_t *o = json_pack("{s:s%}", "inputs", line, (size_t)len);
        bodies = realloc(bodies, (size_t)(*n + 1) * sizeof *bodies);
        bodies[(*n)++] = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    free(line);
    if (f)
        fclose(f);
    return bodies;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_serve PORT SENTENCES.txt [CLIENTS=16] [SECONDS=20]\n");
        return 2;
    }
    int port = atoi(argv[1]), n_clients = argc > 3 ? atoi(argv[3]) : 16;
    double seconds = argc > 4 ? atof(argv[4]) : 20;
    int n_bodies = 0;
    char **bodies = read_bodies(argv[2], &n_bodies);
    if (!n_bodies || n_clients < 1 || n_clients > 1024) {
        fprintf(stderr, "bench_serve: no sentences in %s, or a bad client count\n", argv[2]);
        return 1;
    }
    client *cs = calloc((size_t)n_clients, sizeof *cs);
    pthread_t *th = calloc((size_t)n_clients, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < n_clients; i++) {
        cs[i] = (client){.port = port, .index = i, .n_clients = n_clients, .bodies = bodies, .n_bodies = n_bodies,
                         .until = t0 + seconds};
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    size_t total = 0;
    int errors = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].n_lat;
        errors += cs[i].errors;
    }
    double wall = now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t at = 0;
    for (int i = 0; i < n_clients; i++) {
        memcpy(all + at, cs[i].lat, cs[i].n_lat * sizeof *all);
        at += cs[i].n_lat;
        free(cs[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)(0.99 * (double)(total - 1))] : 0;
    printf("clients %d  requests %zu  errors %d  wall %.1f s  throughput %.1f sentences/s  p50 %.1f ms  p99 %.1f ms\n",
           n_clients, total, errors, wall, (double)(total - (size_t)errors) / wall, 1000 * p50, 1000 * p99);
    free(all);
    for (int i = 0; i < n_bodies; i++)
        free(bodies[i]);
    free(bodies);
    free(cs);
    free(th);
    return errors ? 1 : 0;
}
