/* nerc_hub_download: list a repository through the model API, then fetch
 * each selected file into the Hugging Face cache (blobs + snapshot symlinks)
 * or into a plain directory, skipping what is already there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "hub/cache.h"
#include "hub/fetch.h"
#include "hub/listing.h"

nerc_hub_params nerc_hub_default_params(void) {
    nerc_hub_params p = {0};
    p.revision = "main";
    p.offline = -1;
    p.max_retries = 5;
    p.connect_timeout_s = 10;
    p.stall_timeout_s = 60;
    return p;
}

/* Where the session puts files and finds them again. */
typedef struct {
    hub_session s;
    char *cache;   /* the hub cache directory */
    char *storage; /* <cache>/models--ORG--NAME */
    char *locks;   /* <cache>/.locks/models--ORG--NAME */
    long api_status; /* HTTP status of the model API answer */
} downloader;

static nerc_status oom(void) { return nerc_errorf(NERC_ERR_NOMEM, "out of memory"); }

/* mkdir -p of the directory part of `path`. */
static nerc_status mkdirs_for(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return oom();
    char *slash = strrchr(copy, '/');
    nerc_status st = slash && slash != copy ? (*slash = '\0', fs_mkdirs(copy)) : NERC_OK;
    free(copy);
    return st;
}

static void notify(const hub_session *s, nerc_hub_event ev, const char *file, uint64_t size) {
    if (s->params->progress)
        s->params->progress(ev, file, size, size, s->params->progress_user);
}

/* An exclusive lock held while a blob is fetched (huggingface_hub's .locks/). */
static int lock_acquire(const char *path) {
    if (mkdirs_for(path) != NERC_OK)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    while (fd >= 0 && flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    return fd;
}

static void lock_release(int fd) {
    if (fd >= 0)
        close(fd); /* also drops the flock */
}

/* ---- the cache: blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag> ---- */

/* Points `pointer` (snapshots/<commit>/<file>) at blobs/<etag> with a relative
 * symlink, atomically (a temporary link renamed over it). */
static nerc_status link_pointer(const char *file, const char *pointer, const char *etag) {
    size_t depth = 2; /* snapshots/<commit>/ */
    for (const char *c = file; *c; c++)
        depth += *c == '/';
    size_t cap = 3 * depth + strlen(etag) + 8;
    char *target = malloc(cap), *tmp = hub_strf("%s.tmp.%ld", pointer, (long)getpid());
    nerc_status st = target && tmp ? NERC_OK : oom();
    if (st == NERC_OK) {
        target[0] = '\0';
        for (size_t i = 0; i < depth; i++)
            strcat(target, "../");
        strcat(target, "blobs/");
        strcat(target, etag);
        unlink(tmp);
        if (symlink(target, tmp) != 0 || rename(tmp, pointer) != 0) {
            st = nerc_errorf(NERC_ERR_IO, "%s: cannot link to %s: %s", pointer, target, strerror(errno));
            unlink(tmp);
        }
    }
    free(target);
    free(tmp);
    return st;
}

/* Fetches blobs/<etag> (unless present) under its lock. */
static nerc_status fetch_blob(downloader *d, const char *file, const hub_file_meta *meta, const char *blob,
                              int *fetched) {
    char *lock = hub_strf("%s/%s.lock", d->locks, meta->etag);
    char *incomplete = hub_strf("%s.incomplete", blob);
    nerc_status st = lock && incomplete ? NERC_OK : oom();
    int fd = st == NERC_OK ? lock_acquire(lock) : -1;
    if (st == NERC_OK && fd < 0)
        st = nerc_errorf(NERC_ERR_IO, "%s: cannot lock: %s", lock, strerror(errno));
    if (st == NERC_OK && !fs_exists(blob)) { /* another process may have fetched it meanwhile */
        st = hub_file_fetch(&d->s, file, meta, incomplete);
        if (st == NERC_OK && rename(incomplete, blob) != 0)
            st = nerc_errorf(NERC_ERR_IO, "%s: cannot rename into place: %s", blob, strerror(errno));
        if (st == NERC_OK)
            fs_fsync_parent_dir(blob);
        *fetched = st == NERC_OK;
    }
    lock_release(fd);
    free(lock);
    free(incomplete);
    return st;
}

static nerc_status fetch_into_cache(downloader *d, const char *file) {
    hub_session *s = &d->s;
    char *pointer = hub_strf("%s/snapshots/%s/%s", d->storage, s->commit, file);
    if (!pointer)
        return oom();
    struct stat sb;
    if (stat(pointer, &sb) == 0) { /* pointer and blob there: no network at all */
        notify(s, NERC_HUB_FILE_CACHED, file, (uint64_t)sb.st_size);
        s->stats->n_cached++;
        free(pointer);
        return NERC_OK;
    }
    hub_file_meta meta;
    nerc_status st = hub_file_head(s, file, &meta);
    char *blob = st == NERC_OK ? hub_strf("%s/blobs/%s", d->storage, meta.etag) : NULL;
    if (st == NERC_OK && !blob)
        st = oom();
    if (st == NERC_OK)
        st = mkdirs_for(blob);
    if (st == NERC_OK)
        st = mkdirs_for(pointer);
    int fetched = 0;
    if (st == NERC_OK)
        st = fetch_blob(d, file, &meta, blob, &fetched);
    if (st == NERC_OK)
        st = link_pointer(file, pointer, meta.etag);
    if (st == NERC_OK) {
        notify(s, fetched ? NERC_HUB_FILE_DONE : NERC_HUB_FILE_CACHED, file, meta.size >= 0 ? (uint64_t)meta.size : 0);
        fetched ? s->stats->n_downloaded++ : s->stats->n_cached++;
    }
    hub_file_meta_free(&meta);
    free(blob);
    free(pointer);
    return st;
}

/* ---- a local directory: DIR/<file>, metadata in DIR/.cache/huggingface/download/ ---- */

typedef struct {
    char commit[64];
    char etag[160];
    double timestamp;
} local_meta;

/* "<commit>\n<etag>\n<timestamp>\n" (huggingface_hub's _local_folder.py);
 * 0 when present, well formed and the file is unchanged since. */
static int local_meta_read(const char *meta_path, const char *target, local_meta *m) {
    char *data = NULL;
    size_t len = 0;
    if (fs_read_file(meta_path, 4096, &data, &len) != NERC_OK)
        return -1;
    int ok = sscanf(data, "%63s %159s %lf", m->commit, m->etag, &m->timestamp) == 3;
    free(data);
    struct stat sb;
    return ok && stat(target, &sb) == 0 && (double)sb.st_mtime - 1.0 <= m->timestamp ? 0 : -1;
}

static nerc_status local_meta_write(const char *meta_path, const char *commit, const char *etag) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[320];
    int n = snprintf(buf, sizeof buf, "%s\n%s\n%.3f\n", commit, etag, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    return fs_write_file_atomic(meta_path, buf, (size_t)n);
}

static nerc_status local_dir_prepare(const char *dir) {
    char *hf = hub_strf("%s/.cache/huggingface", dir);
    char *ignore = hf ? hub_strf("%s/.gitignore", hf) : NULL;
    nerc_status st = ignore ? fs_mkdirs(hf) : oom();
    if (st == NERC_OK && !fs_exists(ignore))
        st = fs_write_file_atomic(ignore, "*\n", 2);
    free(hf);
    free(ignore);
    return st;
}

static nerc_status fetch_into_dir(downloader *d, const char *file) {
    hub_session *s = &d->s;
    const char *dir = s->params->local_dir;
    char *target = hub_strf("%s/%s", dir, file);
    char *meta_path = hub_strf("%s/.cache/huggingface/download/%s.metadata", dir, file);
    if (!target || !meta_path) {
        free(target);
        free(meta_path);
        return oom();
    }
    local_meta old;
    int have_old = local_meta_read(meta_path, target, &old) == 0;
    hub_file_meta meta = {0};
    nerc_status st = NERC_OK;
    int fetched = 0;
    if (!(have_old && !strcmp(old.commit, s->commit))) {
        st = hub_file_head(s, file, &meta);
        char *incomplete =
            st == NERC_OK ? hub_strf("%s/.cache/huggingface/download/%s.%s.incomplete", dir, file, meta.etag) : NULL;
        if (st == NERC_OK && !incomplete)
            st = oom();
        fetched = st == NERC_OK && !(have_old && !strcmp(old.etag, meta.etag));
        if (st == NERC_OK && fetched)
            st = mkdirs_for(target);
        if (st == NERC_OK && fetched)
            st = mkdirs_for(meta_path);
        if (st == NERC_OK && fetched)
            st = hub_file_fetch(s, file, &meta, incomplete);
        if (st == NERC_OK && fetched && rename(incomplete, target) != 0)
            st = nerc_errorf(NERC_ERR_IO, "%s: cannot rename into place: %s", target, strerror(errno));
        if (st == NERC_OK)
            st = local_meta_write(meta_path, s->commit, meta.etag);
        free(incomplete);
    }
    if (st == NERC_OK) {
        struct stat sb;
        uint64_t size = stat(target, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        notify(s, fetched ? NERC_HUB_FILE_DONE : NERC_HUB_FILE_CACHED, file, size);
        fetched ? s->stats->n_downloaded++ : s->stats->n_cached++;
    }
    hub_file_meta_free(&meta);
    free(target);
    free(meta_path);
    return st;
}

/* ---- the repository --------------------------------------------------------- */

/* GET the model API at the revision; *listing on success. */
static nerc_status list_repo(downloader *d, hub_listing *listing) {
    hub_session *s = &d->s;
    char *rev = hub_url_escape(s->params->revision, 0);
    char *url = rev ? hub_strf("%s/api/models/%s/revision/%s", s->endpoint, s->repo_id, rev) : NULL;
    free(rev);
    if (!url)
        return oom();
    hub_headers hd;
    char *body = NULL;
    size_t len = 0;
    nerc_status st = hub_http_get(s->http, url, 1, 64u << 20, &hd, &body, &len);
    d->api_status = hd.status;
    if (st != NERC_OK)
        st = hub_net_error(s);
    else if (hd.status != 200)
        st = hub_http_status_error(s, NULL, url, &hd);
    else
        st = hub_listing_parse(listing, body, len, url);
    free(body);
    free(url);
    return st;
}

/* The snapshot already in the cache, used when the hub cannot be asked. */
static nerc_status use_cached(downloader *d, const char *why, char *out, size_t out_size) {
    hub_session *s = &d->s;
    const nerc_hub_params *p = s->params;
    if (p->local_dir) {
        if (!fs_exists(p->local_dir))
            return nerc_errorf(NERC_ERR_IO, "%s: %s, and %s does not exist yet", s->repo_id, why, p->local_dir);
        nerc_logf("%s: %s: using %s as it is", s->repo_id, why, p->local_dir);
        return hub_copy_out(out, out_size, p->local_dir, p->local_dir);
    }
    char *snap = hub_cached_snapshot(d->storage, p->revision);
    if (!snap)
        return nerc_errorf(NERC_ERR_IO, "%s: %s, and revision '%s' is not in the cache %s", s->repo_id, why,
                           p->revision, d->cache);
    hub_read_ref(d->storage, p->revision, s->stats->commit);
    nerc_logf("%s: %s: using the cached snapshot %s", s->repo_id, why, snap);
    nerc_status st = hub_copy_out(out, out_size, snap, snap);
    free(snap);
    return st;
}

static nerc_status fetch_all(downloader *d, const hub_listing *listing, char *out, size_t out_size) {
    hub_session *s = &d->s;
    const nerc_hub_params *p = s->params;
    memcpy(s->stats->commit, listing->commit, 41);
    s->commit = s->stats->commit;
    if (!p->local_dir)
        NERC_TRY(hub_write_ref(d->storage, p->revision, listing->commit));
    else
        NERC_TRY(local_dir_prepare(p->local_dir));
    for (int32_t i = 0; i < listing->n_files; i++) {
        if (!hub_glob_match(p->include, p->n_include, listing->files[i]))
            continue;
        s->stats->n_files++;
        NERC_TRY(p->local_dir ? fetch_into_dir(d, listing->files[i]) : fetch_into_cache(d, listing->files[i]));
    }
    if (s->stats->n_files == 0)
        return nerc_errorf(NERC_ERR_ARG, "%s: none of its %d files matches --include", s->repo_id, listing->n_files);
    if (p->local_dir)
        return hub_copy_out(out, out_size, p->local_dir, p->local_dir);
    char *snap = hub_strf("%s/snapshots/%s", d->storage, listing->commit);
    nerc_status st = snap ? fs_mkdirs(snap) : oom();
    if (st == NERC_OK)
        st = hub_copy_out(out, out_size, snap, snap);
    free(snap);
    return st;
}

/* 1 if use_cached has something to use. */
static int have_cached(const downloader *d) {
    if (d->s.params->local_dir)
        return fs_exists(d->s.params->local_dir);
    char *snap = hub_cached_snapshot(d->storage, d->s.params->revision);
    free(snap);
    return snap != NULL;
}

/* Asks the hub, falling back to the cache when it cannot be reached or fails. */
static nerc_status run(downloader *d, char *out, size_t out_size) {
    hub_listing listing;
    nerc_status st = list_repo(d, &listing);
    if (st != NERC_OK) {
        int unreachable = hub_http_net(d->s.http) == HUB_NET_UNREACHABLE;
        char why[1024];
        snprintf(why, sizeof why, "%s", nerc_last_error());
        if (!(unreachable || d->api_status >= 500) || !have_cached(d))
            return nerc_errorf(st, "%s", why);
        return use_cached(d, why, out, out_size);
    }
    st = fetch_all(d, &listing, out, out_size);
    hub_listing_free(&listing);
    return st;
}

static nerc_status check_args(const char *repo_id, const nerc_hub_params *p, char *out) {
    if (!repo_id || !out)
        return nerc_errorf(NERC_ERR_ARG, "nerc_hub_download: NULL argument");
    if (!hub_is_repo_id(repo_id))
        return nerc_errorf(NERC_ERR_ARG, "'%s' is not a hub model id (ORG/NAME or NAME: letters, digits, '-', '_', '.')",
                           repo_id);
    if (!p->revision || strlen(p->revision) > 255 || !hub_path_is_safe(p->revision))
        return nerc_errorf(NERC_ERR_ARG, "'%s' is not a valid revision", p->revision ? p->revision : "(null)");
    for (int i = 0; i < p->n_include; i++)
        if (!p->include || !p->include[i])
            return nerc_errorf(NERC_ERR_ARG, "nerc_hub_download: include[%d] is NULL", i);
    return NERC_OK;
}

nerc_status nerc_hub_download(const char *repo_id, const nerc_hub_params *params, char *out, size_t out_size,
                              nerc_hub_stats *stats) {
    nerc_hub_params defaults = nerc_hub_default_params();
    const nerc_hub_params *p = params ? params : &defaults;
    NERC_TRY(check_args(repo_id, p, out));
    nerc_hub_stats local_stats;
    memset(stats ? stats : &local_stats, 0, sizeof local_stats);
    char *endpoint = hub_endpoint_for(p->endpoint), *token = hub_token_for(p->token);
    downloader d = {.s = {.repo_id = repo_id, .endpoint = endpoint, .has_token = token != NULL, .params = p,
                          .stats = stats ? stats : &local_stats}};
    d.cache = hub_cache_dir_for(p->cache_dir);
    d.storage = d.cache ? hub_storage_dir(d.cache, repo_id) : NULL;
    d.locks = d.cache ? hub_strf("%s/.locks/%s", d.cache, d.storage ? strrchr(d.storage, '/') + 1 : "") : NULL;
    nerc_status st = endpoint && d.storage && d.locks ? NERC_OK : oom();
    int offline = p->offline < 0 ? hub_offline_env() : p->offline;
    if (st == NERC_OK && offline)
        st = use_cached(&d, "offline mode (HF_HUB_OFFLINE=1)", out, out_size);
    else if (st == NERC_OK && (st = hub_http_init(&d.s.http, token, p->connect_timeout_s, p->stall_timeout_s)) ==
                                  NERC_OK)
        st = run(&d, out, out_size);
    hub_http_free(d.s.http);
    free(endpoint);
    free(token);
    free(d.cache);
    free(d.storage);
    free(d.locks);
    return st;
}
