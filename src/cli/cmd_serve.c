/* nerc serve: the HTTP inference server (include/nerc/serve.h) until SIGTERM / SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"
#include "nerc/serve.h"

typedef struct {
    const char *model, *precision, *aggregation;
} serve_args;

/* Serves until SIGTERM or SIGINT, then stops gracefully. The signals are blocked before the
 * server's threads start (they inherit the mask) and taken here with sigwait. */
static int serve(const serve_args *a, const nerc_server_params *p) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    nerc_set_threads(p->threads);
    nerc_server *s = NULL;
    if (nerc_server_start(&s, a->model, p) != NERC_OK)
        return cli_fail("serve");
    const char *host = p->host;
    int v6 = strchr(host, ':') != NULL;
    printf("nerc serve: http://%s%s%s:%d/ (POST /predict, GET /health, GET /metrics; model %s)\n", v6 ? "[" : "",
           host, v6 ? "]" : "", (int)nerc_server_port(s), a->model);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "nerc serve: %s: stopping (answering the requests in flight)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    nerc_server_free(s);
    return 0;
}

int cmd_serve(int argc, char **argv) {
    nerc_server_params p = nerc_server_default_params();
    serve_args a = {.precision = "fp32", .aggregation = "simple"};
    cli_opt opts[] = {
        {.name = "model", .kind = OPT_STRING, .value = &a.model, .help = "HF model directory (config.json, model.safetensors, vocab.txt / tokenizer.json)", .required = 1},
        {.name = "host", .kind = OPT_STRING, .value = &p.host, .help = "numeric address to listen on (IPv4 or IPv6)"},
        {.name = "port", .kind = OPT_INT32, .value = &p.port, .help = "TCP port (0 = any free port, printed when ready)", .max = 65535},
        {.name = "threads", .kind = OPT_INT32, .value = &p.threads, .help = "compute threads of the batcher (0 = OMP_NUM_THREADS or all cores)", .max = 1024},
        {.name = "max-batch-tokens", .kind = OPT_INT32, .value = &p.max_batch_tokens, .help = "rows (sub-tokens + [CLS]/[SEP] per window) packed into one forward pass", .min = 1, .max = 1 << 17},
        {.name = "max-wait-ms", .kind = OPT_INT32, .value = &p.max_wait_ms, .help = "how long a batch waits to fill after its first text arrives", .max = 60000},
        {.name = "max-queue", .kind = OPT_INT32, .value = &p.max_queue, .help = "texts waiting at most; more is 503 with Retry-After", .min = 1, .max = 1 << 20},
        {.name = "max-body-bytes", .kind = OPT_INT, .value = &p.max_body_bytes, .help = "request body at most; more is 413", .min = 1, .max = (int64_t)1 << 40},
        {.name = "timeout-s", .kind = OPT_INT32, .value = &p.timeout_s, .help = "a request not answered by then is 504; idle connections close then", .min = 1, .max = 86400},
        {.name = "precision", .kind = OPT_CHOICE, .value = &a.precision, .help = "arithmetic of the linear layers, as nerc predict --precision: fp32 (exact) | bf16 (AVX512_BF16 or AMX-BF16) | int8 (dynamic quantization)", .parse = cli_choice_precision, .target = &p.predict.precision},
        {.name = "aggregation", .kind = OPT_CHOICE, .value = &a.aggregation, .help = "none|simple|first|average|max for requests without parameters.aggregation_strategy", .parse = cli_choice_aggregation, .target = &p.predict.aggregation},
        {.name = "max-length", .kind = OPT_INT32, .value = &p.predict.max_length, .help = "sub-tokens per window incl. [CLS]/[SEP] (0 = min(512, model positions))", .max = INT32_MAX},
        {.name = "stride", .kind = OPT_INT32, .value = &p.predict.stride, .help = "sub-tokens shared by consecutive windows (-1 = min(128, (max-length - 2) / 2))", .min = -1, .max = INT32_MAX},
        CLI_END,
    };
    const char *syn =
        "--model DIR [--host 127.0.0.1] [--port 8080] [--threads N] [--max-batch-tokens N] [--max-wait-ms N]\n"
        "       [--max-queue N] [--max-body-bytes N] [--timeout-s N] [--precision P] [--aggregation S]\n\n"
        "Serves the model over HTTP with the Hugging Face Inference API's JSON until SIGTERM / SIGINT:\n"
        "  POST /predict (or /)  {\"inputs\": \"text\" | [\"text\", ...], \"parameters\": {\"aggregation_strategy\": \"simple\"}}\n"
        "                        -> [{\"entity_group\", \"score\", \"word\", \"start\", \"end\"}] (a list of them for a list)\n"
        "  GET /health, GET /metrics (Prometheus). Errors are {\"error\": \"...\"} with 400/404/405/413/415/503/504.\n"
        "Waiting texts of all clients are packed into shared forward passes by one batcher thread.\n"
        "Prints one line with the URL when ready; on SIGTERM / SIGINT answers the requests in flight and exits 0.";
    int n_pos = 0;
    int rc = cli_parse("serve", syn, opts, argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    return serve(&a, &p);
}
