/* nerc_hub_download / nerc_hub_resolve / `nerc download` against a fake hub
 * on 127.0.0.1 (tests/fake_hub.h): the huggingface_hub cache layout, no
 * transfer when cached, resume after a dropped connection (in the same call
 * and in the next one), a corrupted LFS file, 401/404/500 answers, tokens,
 * offline mode, --local-dir, --include, and loading a model by hub id.
 * No other address is contacted. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "fake_hub.h"
#include "hub/fetch.h"
#include "hub/http.h"
#include "nerc.h"
#include "test.h"

#define TINY SHARED_DIR "/fixtures/model/tiny"

static fake_hub hub;
static char tmp[64], endpoint[64], nerc[512];
static const hub_file *weights; /* model.safetensors, the big LFS file */

static char *path_of(const char *fmt, const char *a, const char *b) {
    char *p = NULL;
    if (asprintf(&p, fmt, a, b) < 0)
        return NULL;
    return p;
}

static nerc_hub_params params_for(const char *cache_name) {
    static char caches[8][256]; /* several params may be alive at once */
    static int next;
    char *cache = caches[next++ % 8];
    snprintf(cache, 256, "%s/%s", tmp, cache_name);
    nerc_hub_params p = nerc_hub_default_params();
    p.endpoint = endpoint;
    p.cache_dir = cache;
    p.offline = 0;
    p.connect_timeout_s = 5;
    p.stall_timeout_s = 10;
    return p;
}

static int file_equals(const char *path, const char *data, size_t len) {
    char *got = NULL;
    size_t n = 0;
    int eq = fs_read_file(path, 0, &got, &n) == NERC_OK && n == len && !memcmp(got, data, len);
    free(got);
    return eq;
}

static int one_line(const char *msg) { return msg[0] && !strchr(msg, '\n'); }

/* Output of a failed command: exactly one line. */
static int one_output_line(const char *out) {
    size_t n = strlen(out);
    return n > 1 && out[n - 1] == '\n' && strchr(out, '\n') == out + n - 1;
}

static off_t size_of(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static size_t total_bytes(void) {
    size_t n = 0;
    for (int i = 0; i < hub.n_files; i++)
        n += hub.files[i].len;
    return n;
}

/* ---- the cache ----------------------------------------------------------- */

static void test_full_download(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("cache");
    char out[1024];
    nerc_hub_stats st;
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, &st));
    char *snap = path_of("%s/models--org--tiny/snapshots/%s", p.cache_dir, HUB_COMMIT);
    CHECK_MSG(!strcmp(out, snap), "%s vs %s", out, snap);
    CHECK(st.n_files == hub.n_files && st.n_downloaded == hub.n_files && st.n_cached == 0);
    CHECK_MSG(st.bytes == total_bytes(), "%llu bytes received, files hold %zu", (unsigned long long)st.bytes,
              total_bytes());
    CHECK(!strcmp(st.commit, HUB_COMMIT));
    for (int i = 0; i < hub.n_files; i++) {
        const hub_file *f = &hub.files[i];
        char *file = path_of("%s/%s", out, f->path), link[512];
        CHECK_MSG(file_equals(file, f->data, f->len), "%s differs", file);
        ssize_t n = readlink(file, link, sizeof link - 1);
        link[n > 0 ? n : 0] = '\0';
        const char *want = strchr(f->path, '/') ? "../../../blobs/" : "../../blobs/"; /* relative, as huggingface_hub */
        CHECK_MSG(!strncmp(link, want, strlen(want)) && !strcmp(link + strlen(want), f->etag), "%s -> %s", file, link);
        free(file);
    }
    char *ref = path_of("%s/models--org--tiny/refs/%s", p.cache_dir, "main");
    CHECK_MSG(file_equals(ref, HUB_COMMIT, 40), "refs/main must hold the commit");
    char *partial = path_of("%s/models--org--tiny/blobs/%s.incomplete", p.cache_dir, weights->etag);
    CHECK(size_of(partial) < 0);
    CHECK_MSG(hub.n_api == 1 && hub.n_head == hub.n_files, "api %d head %d", hub.n_api, hub.n_head);
    free(snap), free(ref), free(partial);
}

static void test_cached_no_transfer(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("cache");
    char out[1024];
    nerc_hub_stats st;
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, &st));
    CHECK(st.n_cached == hub.n_files && st.n_downloaded == 0 && st.bytes == 0);
    CHECK_MSG(hub.n_head == 0 && hub.n_get == 0 && hub.n_lfs_get == 0 && hub.body_bytes == 0,
              "a cached download transferred: head %d get %d lfs %d bytes %ld", hub.n_head, hub.n_get, hub.n_lfs_get,
              hub.body_bytes);
    CHECK(hub.n_api == 1); /* the listing is asked, as snapshot_download does */
}

/* Hub ids resolve through the cache for every loader; existing paths win. */
static void test_resolve_and_load(void) {
    char cache[256], out[1024], cwd[1024];
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    setenv("HF_HUB_CACHE", cache, 1);
    CHECK_OK(nerc_hub_resolve("org/tiny", out, sizeof out));
    char *snap = path_of("%s/models--org--tiny/snapshots/%s", cache, HUB_COMMIT);
    CHECK_MSG(!strcmp(out, snap), "%s", out);
    free(snap);
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, "org/tiny", NULL, 0, 0));
    nerc_model_free(m);
    nerc_predict_params pp = nerc_predict_default_params();
    nerc_predictor *pr = NULL;
    CHECK_OK(nerc_predictor_load(&pr, "org/tiny", &pp));
    nerc_prediction pred;
    if (pr)
        CHECK_OK(nerc_predict_text(pr, "John lives in Berlin .", 22, &pred));
    nerc_predictor_free(pr);

    CHECK(nerc_hub_resolve("org/missing", out, sizeof out) == NERC_ERR_IO);
    CHECK_MSG(one_line(nerc_last_error()) && strstr(nerc_last_error(), "nerc download org/missing"), "%s",
              nerc_last_error());
    CHECK(nerc_hub_resolve("no/such/path", out, sizeof out) == NERC_ERR_IO);
    CHECK(nerc_hub_resolve("org/tiny", out, 8) == NERC_ERR_ARG);
    /* a directory named like a hub id is a path */
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char *local = path_of("%s/%s", tmp, "org/tiny");
    CHECK_OK(fs_mkdirs(local));
    CHECK(chdir(tmp) == 0);
    CHECK_OK(nerc_hub_resolve("org/tiny", out, sizeof out));
    CHECK_MSG(!strcmp(out, "org/tiny"), "an existing path must stay a path: %s", out);
    CHECK(chdir(cwd) == 0);
    free(local);
    unsetenv("HF_HUB_CACHE");
}

/* ---- interrupted and corrupted transfers ---------------------------------- */

static const char *const only_weights[] = {"model.safetensors"};

static void test_resume_same_call(void) {
    fake_hub_reset(&hub);
    hub.drop_at = (long)weights->len / 2;
    nerc_hub_params p = params_for("resume1");
    p.include = only_weights;
    p.n_include = 1;
    char out[1024];
    nerc_hub_stats st;
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, &st));
    CHECK_MSG(hub.last_range == (long)weights->len / 2, "resumed from %ld, dropped at %zu", hub.last_range,
              weights->len / 2);
    CHECK_MSG(hub.body_bytes == (long)weights->len && hub.n_lfs_get == 2, "sent %ld bytes in %d GETs for %zu",
              hub.body_bytes, hub.n_lfs_get, weights->len);
    char *file = path_of("%s/%s", out, "model.safetensors");
    CHECK(file_equals(file, weights->data, weights->len));
    free(file);
}

static void test_resume_next_call(void) {
    fake_hub_reset(&hub);
    long cut = (long)weights->len / 3;
    hub.drop_at = cut;
    nerc_hub_params p = params_for("resume2");
    p.include = only_weights;
    p.n_include = 1;
    p.max_retries = 0;
    char out[1024];
    CHECK(nerc_hub_download("org/tiny", &p, out, sizeof out, NULL) == NERC_ERR_IO);
    CHECK_MSG(one_line(nerc_last_error()) && strstr(nerc_last_error(), "run again to resume"), "%s",
              nerc_last_error());
    char *partial = path_of("%s/models--org--tiny/blobs/%s.incomplete", p.cache_dir, weights->etag);
    char *blob = path_of("%s/models--org--tiny/blobs/%s", p.cache_dir, weights->etag);
    CHECK_MSG(size_of(partial) == cut, "partial file of %lld bytes, cut at %ld", (long long)size_of(partial), cut);
    CHECK(size_of(blob) < 0);
    p.max_retries = 5;
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, NULL));
    CHECK_MSG(hub.last_range == cut, "second call asked from %ld", hub.last_range);
    CHECK_MSG(hub.body_bytes == (long)weights->len, "%ld bytes sent over both calls for %zu", hub.body_bytes,
              weights->len);
    CHECK(size_of(partial) < 0 && file_equals(blob, weights->data, weights->len));
    free(partial), free(blob);
}

static void test_corrupt(void) {
    fake_hub_reset(&hub);
    hub.corrupt = 1;
    nerc_hub_params p = params_for("corrupt");
    p.include = only_weights;
    p.n_include = 1;
    char out[1024];
    CHECK(nerc_hub_download("org/tiny", &p, out, sizeof out, NULL) == NERC_ERR_FORMAT);
    CHECK_MSG(one_line(nerc_last_error()) && strstr(nerc_last_error(), "sha256"), "%s", nerc_last_error());
    char *blob = path_of("%s/models--org--tiny/blobs/%s", p.cache_dir, weights->etag);
    char *partial = path_of("%s.incomplete%s", blob, "");
    char *pointer = path_of("%s/models--org--tiny/snapshots/%s/model.safetensors", p.cache_dir, HUB_COMMIT);
    CHECK_MSG(size_of(blob) < 0 && size_of(partial) < 0 && size_of(pointer) < 0,
              "a corrupt download must leave nothing in place");
    free(blob), free(partial), free(pointer);
}

/* ---- answers that are failures -------------------------------------------- */

static void expect_failure(const char *repo, nerc_hub_params *p, nerc_status want, const char *needle) {
    char out[1024];
    nerc_status st = nerc_hub_download(repo, p, out, sizeof out, NULL);
    CHECK_MSG(st == want, "%s: status %d, expected %d (%s)", repo, st, want, nerc_last_error());
    CHECK_MSG(one_line(nerc_last_error()) && strstr(nerc_last_error(), needle), "expected '%s' in: %s", needle,
              nerc_last_error());
}

static void test_http_errors(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("errors");
    expect_failure("org/none", &p, NERC_ERR_IO, "repository not found (HTTP 404");
    hub.api_status = 404;
    hub.api_error = "RevisionNotFound";
    p.revision = "v9";
    expect_failure("org/tiny", &p, NERC_ERR_IO, "revision 'v9' not found");
    p.revision = "main";
    hub.api_status = 401;
    hub.api_error = NULL;
    expect_failure("org/tiny", &p, NERC_ERR_IO, "HTTP 401");
    CHECK(strstr(nerc_last_error(), "set HF_TOKEN") != NULL);
    hub.api_status = 500;
    expect_failure("org/tiny", &p, NERC_ERR_IO, "HTTP 500 (server error)");
    /* a 500 with a snapshot in the cache falls back to it, as snapshot_download */
    nerc_hub_params cached = params_for("cache");
    char out[1024];
    CHECK_OK(nerc_hub_download("org/tiny", &cached, out, sizeof out, NULL));
    fake_hub_reset(&hub);
    /* malformed requests never reach the network */
    expect_failure("not a repo", &p, NERC_ERR_ARG, "not a hub model id");
    expect_failure("a/b/c", &p, NERC_ERR_ARG, "not a hub model id");
    p.revision = "../../x";
    expect_failure("org/tiny", &p, NERC_ERR_ARG, "not a valid revision");
    CHECK(hub.n_api == 0);
}

static void test_token(void) {
    fake_hub_reset(&hub);
    hub.require_token = 1;
    nerc_hub_params p = params_for("private");
    p.token = "";
    expect_failure("org/tiny", &p, NERC_ERR_IO, "HTTP 401");
    p.token = "wrong";
    expect_failure("org/tiny", &p, NERC_ERR_IO, "the token in HF_TOKEN was refused");
    p.token = "secret";
    char out[1024];
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, NULL));
    CHECK_MSG(!hub.lfs_saw_auth, "the token must not follow the redirect to the LFS storage");
}

static void test_offline_and_unreachable(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("cache");
    p.offline = -1;
    setenv("HF_HUB_OFFLINE", "1", 1);
    char out[1024];
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, NULL));
    CHECK(strstr(out, HUB_COMMIT) != NULL && hub.n_api == 0);
    nerc_hub_params empty = params_for("empty");
    empty.offline = -1;
    expect_failure("org/tiny", &empty, NERC_ERR_IO, "offline mode (HF_HUB_OFFLINE=1)");
    unsetenv("HF_HUB_OFFLINE");
    /* a port nobody listens on: refused at once */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    CHECK(bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 && getsockname(s, (struct sockaddr *)&sa, &len) == 0);
    close(s);
    char closed[64];
    snprintf(closed, sizeof closed, "http://127.0.0.1:%u", ntohs(sa.sin_port));
    empty.endpoint = p.endpoint = closed;
    empty.offline = p.offline = 0;
    expect_failure("org/tiny", &empty, NERC_ERR_IO, "cannot reach the hub at");
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, NULL)); /* the cached snapshot */
}

/* ---- local directory, include globs, listing safety, renamed repos --------- */

static void test_local_dir(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("unused");
    char dir[256], out[1024];
    snprintf(dir, sizeof dir, "%s/local", tmp);
    p.local_dir = dir;
    nerc_hub_stats st;
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, &st));
    CHECK(!strcmp(out, dir) && st.n_downloaded == hub.n_files);
    for (int i = 0; i < hub.n_files; i++) {
        char *file = path_of("%s/%s", dir, hub.files[i].path);
        struct stat sb;
        CHECK_MSG(lstat(file, &sb) == 0 && S_ISREG(sb.st_mode) && file_equals(file, hub.files[i].data, hub.files[i].len),
                  "%s", file);
        free(file);
    }
    char *meta = path_of("%s/.cache/huggingface/download/%s.metadata", dir, "model.safetensors");
    char *text = NULL;
    size_t n = 0;
    CHECK(fs_read_file(meta, 0, &text, &n) == NERC_OK && !strncmp(text, HUB_COMMIT "\n", 41) &&
          !strncmp(text + 41, weights->etag, 64));
    free(text), free(meta);
    CHECK(size_of(p.cache_dir) < 0); /* the cache is not used */
    fake_hub_reset(&hub);
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, &st));
    CHECK(st.n_cached == hub.n_files && hub.n_head == 0 && hub.body_bytes == 0);
}

static void test_include(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("include");
    const char *const globs[] = {"*.json", "sub/"};
    p.include = globs;
    p.n_include = 2;
    char out[1024];
    nerc_hub_stats st;
    CHECK_OK(nerc_hub_download("org/tiny", &p, out, sizeof out, &st));
    CHECK_MSG(st.n_files == 3 && hub.n_lfs_get == 0, "%d files", st.n_files); /* config, tokenizer_config, sub/README.md */
    const char *const none[] = {"*.bin"};
    p.include = none;
    p.n_include = 1;
    expect_failure("org/tiny", &p, NERC_ERR_ARG, "none of its");
}

static void test_unsafe_listing(void) {
    fake_hub_reset(&hub);
    hub.unsafe_listing = 1;
    nerc_hub_params p = params_for("unsafe");
    expect_failure("org/tiny", &p, NERC_ERR_FORMAT, "unsafe file path '../escape.txt'");
    char *escaped = path_of("%s/%s", p.cache_dir, "models--org--tiny/snapshots/escape.txt");
    CHECK(size_of(escaped) < 0 && hub.n_head == 0);
    free(escaped);
    fake_hub_reset(&hub);
}

static void test_renamed(void) {
    fake_hub_reset(&hub);
    nerc_hub_params p = params_for("renamed");
    p.include = only_weights;
    p.n_include = 1;
    char out[1024];
    CHECK_OK(nerc_hub_download("org/renamed", &p, out, sizeof out, NULL));
    char *file = path_of("%s/%s", out, "model.safetensors");
    CHECK(file_equals(file, weights->data, weights->len));
    free(file);
}

/* ---- pieces ---------------------------------------------------------------- */

static void test_headers_and_sha(void) {
    hub_headers h;
    hub_headers_reset(&h);
    const char *lines[] = {"HTTP/1.1 302 Found\r\n", "etag: W/\"abc\"\r\n", "X-LINKED-ETAG:  \"ff00\" \r\n",
                           "X-Linked-Size: 123456789012\r\n", "Content-Range: bytes 100-199/200\r\n",
                           "Content-Length: 12x\r\n", "no colon here\r\n"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        hub_headers_line(&h, lines[i], strlen(lines[i]));
    CHECK(h.status == 302 && !strcmp(h.etag, "abc") && !strcmp(h.linked_etag, "ff00"));
    CHECK(h.linked_size == 123456789012LL && h.range_start == 100 && h.content_length == -1);
    hub_headers_line(&h, "HTTP/2 200\r\n", 12);
    CHECK(h.status == 200 && h.etag[0] == '\0' && h.linked_size == -1); /* a new response starts afresh */

    char *abc = path_of("%s/%s", tmp, "abc.txt"), hex[65];
    CHECK_OK(fs_write_file_atomic(abc, "abc", 3));
    CHECK_OK(hub_sha256_file(abc, hex));
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")); /* FIPS 180-2 */
    free(abc);
    char *esc = hub_url_escape("refs/pr/1 ü", 0);
    CHECK(!strcmp(esc, "refs%2Fpr%2F1%20%C3%BC"));
    free(esc);
}

/* ---- the command line ------------------------------------------------------ */

static int run_cli(const char *args, char *out, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "HF_HOME=%s/clihome HF_ENDPOINT=%s %s %s 2>&1", tmp, endpoint, nerc, args);
    return test_run_capture(cmd, out, cap);
}

static void test_cli(void) {
    fake_hub_reset(&hub);
    char out[16384];
    int rc = run_cli("download org/tiny --include '*.json' vocab.txt model.safetensors", out, sizeof out);
    char *snap = path_of("%s/clihome/hub/models--org--tiny/snapshots/%s\n", tmp, HUB_COMMIT);
    size_t n = strlen(out), m = strlen(snap);
    CHECK_MSG(rc == 0 && n >= m && !strcmp(out + n - m, snap), "exit %d: %s", rc, out);
    CHECK_MSG(strstr(out, "model.safetensors: done") && strstr(out, "4 files (4 fetched"), "%s", out);
    free(snap);
    rc = run_cli("predict --model org/tiny", out, sizeof out); /* stdin is empty: loads, predicts nothing */
    CHECK_MSG(rc == 0, "nerc predict --model org/tiny: exit %d: %s", rc, out);
    rc = run_cli("download org/none", out, sizeof out);
    CHECK_MSG(rc == 1 && one_output_line(out) && strstr(out, "HTTP 404"), "exit %d: %s", rc, out);
    rc = run_cli("download", out, sizeof out);
    CHECK_MSG(rc == 2, "exit %d: %s", rc, out);
    rc = run_cli("download org/tiny --include", out, sizeof out);
    CHECK_MSG(rc == 2 && strstr(out, "--include needs"), "exit %d: %s", rc, out);
}

/* ---- setup ------------------------------------------------------------------ */

static char *read_fixture(const char *name, size_t *len) {
    char *path = path_of("%s/%s", TINY, name), *data = NULL;
    if (fs_read_file(path, 0, &data, len) != NERC_OK)
        fprintf(stderr, "%s\n", nerc_last_error());
    free(path);
    return data;
}

static void add_files(void) {
    const char *small[] = {"config.json", "tokenizer_config.json", "vocab.txt"};
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        char *data = read_fixture(small[i], &len);
        fake_hub_add(&hub, small[i], data, len, 0);
    }
    size_t len = 0;
    char *data = read_fixture("model.safetensors", &len);
    fake_hub_add(&hub, "model.safetensors", data, len, 1);
    weights = &hub.files[hub.n_files - 1];
    char *readme = strdup("# tiny\nA fixture model.\n"), *h5 = malloc(1000);
    for (int i = 0; i < 1000; i++)
        h5[i] = (char)(i * 7);
    fake_hub_add(&hub, "sub/README.md", readme, strlen(readme), 0);
    fake_hub_add(&hub, "tf_model.h5", h5, 1000, 1);
}

int main(int argc, char **argv) {
    (void)argc;
    snprintf(nerc, sizeof nerc, "%s", argv[0]); /* build/tests/test_hub -> build/nerc */
    char *slash = strrchr(nerc, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(nerc, '/');
    snprintf(slash ? slash + 1 : nerc, sizeof nerc - (size_t)(slash ? slash + 1 - nerc : 0), "nerc");
    snprintf(tmp, sizeof tmp, "/tmp/nerc_test_hub_XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    /* only the fake hub: no proxy, no token or cache of the person running the tests */
    const char *unset[] = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE",
                           "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "http_proxy", "HTTP_PROXY",
                           "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
        unsetenv(unset[i]);
    char home[128];
    snprintf(home, sizeof home, "%s/home", tmp);
    setenv("HF_HOME", home, 1);
    add_files();
    nerc_set_log(NULL, NULL); /* notices ("resuming", "using the cached snapshot") would clutter the output */
    if (fake_hub_start(&hub) != 0) {
        fprintf(stderr, "test_hub: cannot start the fake hub on 127.0.0.1\n");
        return 1;
    }
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", hub.port);
    test_headers_and_sha();
    test_full_download();
    test_cached_no_transfer();
    test_resolve_and_load();
    test_resume_same_call();
    test_resume_next_call();
    test_corrupt();
    test_http_errors();
    test_token();
    test_offline_and_unreachable();
    test_local_dir();
    test_include();
    test_unsafe_listing();
    test_renamed();
    test_cli();
    fake_hub_stop(&hub);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return test_report("test_hub");
}
