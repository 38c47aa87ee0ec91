/* nerc download: fetch a model repository from the Hugging Face hub into the
 * Hugging Face cache (or a directory), with a progress bar on a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"

static const char download_synopsis[] =
    "ORG/NAME [--revision REV] [--local-dir DIR] [--include GLOB...] [--offline] [--quiet]\n\n"
    "Downloads the files of a model repository from the Hugging Face hub, as huggingface-cli\n"
    "download does: into the Hugging Face cache (HF_HOME/hub/models--ORG--NAME/snapshots/<commit>/,\n"
    "where --model ORG/NAME finds it), or into --local-dir. Files already there are not fetched\n"
    "again; an interrupted download resumes where it stopped; every file is checked (size, and\n"
    "sha256 for large LFS files) before it is put in place. Prints the model directory on stdout.\n"
    "--include takes the words up to the next option ('*' also crosses '/'; quote the globs).\n"
    "Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated\n"
    "models), HF_HOME (default ~/.cache/huggingface), HF_HUB_OFFLINE=1 (use the cache only).\n"
    "Example: nerc download distilbert-base-uncased --include '*.json' vocab.txt model.safetensors";

/* ---- progress on stderr: a redrawn bar on a terminal, sparse lines otherwise ---- */

typedef struct {
    int tty, quiet;
    int bar_open;      /* a bar line is drawn and not yet ended */
    double t_start;    /* of the current file */
    double t_last;     /* last print */
    uint64_t start_at; /* bytes already there when the file started */
    int last_quarter;  /* sparse mode: last 25% step printed */
} progress_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void human(uint64_t bytes, char *out, size_t n) {
    if (bytes >= 1000000)
        snprintf(out, n, "%.1f MB", bytes / 1e6);
    else if (bytes >= 1000)
        snprintf(out, n, "%.1f kB", bytes / 1e3);
    else
        snprintf(out, n, "%llu B", (unsigned long long)bytes);
}

static void draw_bar(progress_state *ps, const char *file, uint64_t done, uint64_t total, double dt) {
    char d[32], t[32], rate[32] = "";
    human(done, d, sizeof d);
    human(total, t, sizeof t);
    if (dt > 0.2) {
        human((uint64_t)((double)(done - ps->start_at) / dt), rate, sizeof rate - 3);
        strcat(rate, "/s");
    }
    char bar[31];
    int fill = total ? (int)(30.0 * (double)done / (double)total) : 0;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-28.28s %3d%% [%s] %s / %s %s\033[K", file, total ? (int)(100.0 * done / total) : 0, bar,
            d, t, rate);
    ps->bar_open = 1;
}

static void end_bar(progress_state *ps) {
    if (ps->bar_open)
        fputc('\n', stderr);
    ps->bar_open = 0;
}

static void on_start(progress_state *ps, const char *file, uint64_t done, uint64_t total) {
    char t[32], d[32];
    human(total, t, sizeof t);
    human(done, d, sizeof d);
    ps->t_start = ps->t_last = now_s();
    ps->start_at = done;
    ps->last_quarter = total ? (int)(4 * done / total) : 0;
    if (ps->tty)
        draw_bar(ps, file, done, total, 0);
    else if (done)
        fprintf(stderr, "%s: %s, resuming at %s\n", file, t, d);
    else
        fprintf(stderr, "%s: %s\n", file, total ? t : "size unknown");
}

static void on_bytes(progress_state *ps, const char *file, uint64_t done, uint64_t total) {
    double t = now_s();
    if (ps->tty) {
        if (t - ps->t_last >= 0.1) {
            draw_bar(ps, file, done, total, t - ps->t_start);
            ps->t_last = t;
        }
        return;
    }
    int quarter = total ? (int)(4 * done / total) : 0; /* a line per quarter of a long transfer, or per 30 s */
    if ((quarter > ps->last_quarter && quarter < 4 && t - ps->t_start >= 2) || t - ps->t_last >= 30) {
        char d[32];
        human(done, d, sizeof d);
        fprintf(stderr, "%s: %d%% (%s)\n", file, total ? (int)(100.0 * done / total) : 0, d);
        ps->last_quarter = quarter;
        ps->t_last = t;
    }
}

static void on_event(nerc_hub_event ev, const char *file, uint64_t done, uint64_t total, void *user) {
    progress_state *ps = user;
    if (ps->quiet)
        return;
    char size[32];
    human(total, size, sizeof size);
    switch (ev) {
    case NERC_HUB_FILE_START: on_start(ps, file, done, total); break;
    case NERC_HUB_FILE_PROGRESS: on_bytes(ps, file, done, total); break;
    case NERC_HUB_FILE_DONE:
        if (ps->tty)
            draw_bar(ps, file, done, total, now_s() - ps->t_start);
        end_bar(ps);
        if (!ps->tty)
            fprintf(stderr, "%s: done (%s in %.1f s)\n", file, size, now_s() - ps->t_start);
        break;
    case NERC_HUB_FILE_CACHED: fprintf(stderr, "%s: already there (%s)\n", file, size); break;
    }
}

/* Library notices (e.g. "connection dropped; resuming") go below the bar. */
static void on_log(const char *msg, void *user) {
    end_bar(user);
    fprintf(stderr, "nerc: %s\n", msg);
}

/* ---- arguments ----------------------------------------------------------- */

/* Takes "--include A B ..." (huggingface-cli style: the words up to the next
 * option) and "--include=A" out of argv into globs; returns the new argc, or
 * -1 when an --include has no glob. */
static int take_includes(int argc, char **argv, const char **globs, int *n_globs) {
    int out = 1;
    *n_globs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--include=", 10)) {
            globs[(*n_globs)++] = argv[i] + 10;
        } else if (!strcmp(argv[i], "--include")) {
            int before = *n_globs;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                globs[(*n_globs)++] = argv[++i];
            if (*n_globs == before)
                return -1;
        } else {
            argv[out++] = argv[i];
        }
    }
    return out;
}

int cmd_download(int argc, char **argv) {
    nerc_hub_params p = nerc_hub_default_params();
    const char *include_help = NULL;
    int offline = 0, quiet = 0;
    cli_opt opts[] = {
        {.name = "revision", .kind = OPT_STRING, .value = &p.revision, .help = "branch, tag or commit"},
        {.name = "local-dir", .kind = OPT_STRING, .value = &p.local_dir,
         .help = "put the files in this directory instead of the cache"},
        {.name = "include", .kind = OPT_STRING, .value = &include_help,
         .help = "only files matching one of these globs (fnmatch; 'dir/' = everything under dir)"},
        {.name = "cache-dir", .kind = OPT_STRING, .value = &p.cache_dir,
         .help = "the hub cache (default: HF_HUB_CACHE or HF_HOME/hub)"},
        {.name = "offline", .kind = OPT_FLAG, .value = &offline,
         .help = "no network: use the cache only, as HF_HUB_OFFLINE=1 (default: off)"},
        {.name = "quiet", .kind = OPT_FLAG, .value = &quiet, .help = "no progress output (default: off)"},
        CLI_END,
    };
    const char **globs = malloc((size_t)argc * sizeof *globs);
    if (!globs)
        return 1;
    int rc = 0;
    argc = take_includes(argc, argv, globs, &p.n_include);
    if (argc < 0) {
        fprintf(stderr, "nerc download: --include needs at least one glob\n");
        rc = 2;
    }
    const char *repo = NULL;
    int n_pos = 0;
    if (rc == 0)
        rc = cli_parse("download", download_synopsis, opts, argc, argv, &repo, 1, &n_pos);
    if (rc == 0 && n_pos != 1) {
        fprintf(stderr, "nerc download: which model? (nerc download ORG/NAME; see nerc download --help)\n");
        rc = 2;
    }
    if (rc != 0) {
        free(globs);
        return rc == 1 ? 0 : rc;
    }
    progress_state ps = {.tty = isatty(STDERR_FILENO), .quiet = quiet};
    p.include = globs;
    p.offline = offline ? 1 : -1;
    p.progress = on_event;
    p.progress_user = &ps;
    nerc_set_log(on_log, &ps);
    char dir[4096];
    nerc_hub_stats stats;
    double t0 = now_s();
    nerc_status st = nerc_hub_download(repo, &p, dir, sizeof dir, &stats);
    end_bar(&ps);
    free(globs);
    if (st != NERC_OK)
        return cli_fail("download");
    char got[32];
    human(stats.bytes, got, sizeof got);
    if (!quiet && stats.n_files > 0)
        fprintf(stderr, "nerc download: %s at %.12s: %d files (%d fetched, %s; %d already there) in %.1f s\n", repo,
                stats.commit, stats.n_files, stats.n_downloaded, got, stats.n_cached, now_s() - t0);
    printf("%s\n", dir);
    return fflush(stdout) == 0 ? 0 : 1;
}
