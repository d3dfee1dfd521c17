/* The hand-written fork+pipe pool and the plain costs beside it; see
 * ceiling.h. No libparmapper code here: this is what it is measured against. */
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */

#include "ceiling.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A task message: this header, then count * item_size bytes if send_bytes. */
struct task_hdr {
    uint64_t first;
    uint64_t count;
};

/* A result frame: this header, count uint32_t lengths padded to 8 bytes,
 * then the results' bytes back to back. */
struct frame_hdr {
    uint64_t first;
    uint64_t count;
    uint64_t bytes;
};

/* Frames at least this large are read header first, then exactly the rest,
 * so that a buffer holds one whole frame and an early one can be parked by
 * swapping pointers instead of copying a megabyte. */
#define BIG_FRAME ((size_t)64 << 10)
#define SMALL_READ ((size_t)64 << 10)
#define BIG_PIPE (1 << 20)

double ceil_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t lens_bytes(uint64_t count)
{
    return (size_t)((count * 4 + 7) & ~(uint64_t)7);
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Worker side. */

static void worker_main(const struct ceil_cfg *cfg, int task_fd, int res_fd)
{
    size_t msg_max = sizeof(struct task_hdr) + (cfg->send_bytes ? cfg->chunk * cfg->item_size : 0);
    size_t rcap = msg_max > SMALL_READ ? msg_max : SMALL_READ;
    size_t frame_max = sizeof(struct frame_hdr) + lens_bytes(cfg->chunk) +
                       cfg->chunk * cfg->max_result;
    unsigned char *rbuf = malloc(rcap);
    unsigned char *fbuf = malloc(frame_max);
    void *scratch = cfg->send_bytes ? NULL : malloc(cfg->chunk * cfg->item_size + 1);
    size_t have = 0, pos = 0;

    if (!rbuf || !fbuf || (!cfg->send_bytes && !scratch))
        _exit(5);
    for (;;) {
        struct task_hdr th;
        size_t msg_len = sizeof th;
        const unsigned char *items;
        struct frame_hdr fh;
        uint32_t *lens;
        unsigned char *payload;
        size_t off = 0;
        uint64_t k;

        if (have - pos >= sizeof th) {
            memcpy(&th, rbuf + pos, sizeof th);
            if (th.count == 0 || th.count > cfg->chunk)
                _exit(6);
            if (cfg->send_bytes)
                msg_len += (size_t)th.count * cfg->item_size;
        }
        if (have - pos < msg_len) {
            ssize_t n;

            if (pos > 0) {
                memmove(rbuf, rbuf + pos, have - pos);
                have -= pos;
                pos = 0;
            }
            n = read(task_fd, rbuf + have, rcap - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                _exit(4);
            if (n == 0)
                _exit(have == 0 ? 0 : 3); /* end of tasks: leave (part of a message: an error) */
            have += (size_t)n;
            continue;
        }
        items = cfg->send_bytes ? rbuf + pos + sizeof th
                                : cfg->items(th.first, (size_t)th.count, scratch, cfg->ctx);
        lens = (uint32_t *)(void *)(fbuf + sizeof fh);
        payload = fbuf + sizeof fh + lens_bytes(th.count);
        for (k = 0; k < th.count; k++) {
            size_t len = cfg->work(items + k * cfg->item_size, cfg->item_size, th.first + k,
                                   payload + off, cfg->ctx);
            lens[k] = (uint32_t)len;
            off += len;
        }
        fh.first = th.first;
        fh.count = th.count;
        fh.bytes = off;
        memcpy(fbuf, &fh, sizeof fh);
        if (write_all(res_fd, fbuf, sizeof fh + lens_bytes(th.count) + off) != 0)
            _exit(4);
        pos += msg_len;
    }
}

/* ------------------------------------------------------------------------ */
/* Parent side. */

struct wk {
    pid_t pid;
    int task_fd, res_fd;
    unsigned inflight;           /* messages sent, their frame not yet received */
    int writing;                 /* a message is partly written */
    struct task_hdr hdr;         /* the message being written */
    const unsigned char *wdata;  /* its items' bytes (send_bytes) */
    size_t wdata_len, woff;      /* woff counts header bytes too */
    void *scratch;               /* generated items of the message being written */
    unsigned char *rbuf;         /* result bytes read, frames from pos */
    size_t rcap, have, pos;
};

struct slot {                    /* a frame that came before its turn */
    unsigned char *buf;
    size_t cap;
    int full;
};

struct run {
    const struct ceil_cfg *cfg;
    struct wk *w;
    struct slot *slots;          /* ordered: indexed by chunk number mod nslots */
    size_t nslots;
    uint64_t next_send;          /* first item not yet sent */
    uint64_t next_deliver;       /* ordered: next item to deliver */
    uint64_t delivered;
    int big_frames;
    int stop;                    /* consume asked to stop */
};

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    unsigned char *p;

    if (*cap >= need)
        return 0;
    p = realloc(*buf, need);
    if (!p)
        return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* Deliver a whole frame's results. */
static int deliver(struct run *R, const unsigned char *frame)
{
    const struct ceil_cfg *cfg = R->cfg;
    struct frame_hdr fh;
    const uint32_t *lens;
    const unsigned char *p;
    uint64_t k;

    memcpy(&fh, frame, sizeof fh);
    lens = (const uint32_t *)(const void *)(frame + sizeof fh);
    p = frame + sizeof fh + lens_bytes(fh.count);
    for (k = 0; k < fh.count && !R->stop; k++) {
        int rc = cfg->consume(fh.first + k, p, lens[k], cfg->ctx);
        if (rc < 0)
            return -1;
        if (rc > 0)
            R->stop = 1;
        p += lens[k];
        R->delivered++;
    }
    R->next_deliver = fh.first + fh.count;
    return 0;
}

/* A complete frame arrived from worker w at buf (which holds exactly this
 * frame when whole is set). Returns 1 if buf was taken over (parked), 0 if
 * not, -1 on error. */
static int on_frame(struct run *R, struct wk *w, unsigned char *buf, size_t flen, int whole)
{
    const struct ceil_cfg *cfg = R->cfg;
    struct frame_hdr fh;
    const uint32_t *lens;
    uint64_t k, sum = 0;

    memcpy(&fh, buf, sizeof fh);
    lens = (const uint32_t *)(const void *)(buf + sizeof fh);
    for (k = 0; k < fh.count; k++)
        sum += lens[k];
    if (sum != fh.bytes) {
        fprintf(stderr, "ceiling: worker %d: result lengths do not add up\n", (int)w->pid);
        return -1;
    }
    w->inflight--;
    if (!cfg->ordered || fh.first == R->next_deliver) {
        if (deliver(R, buf) != 0)
            return -1;
        /* Frames parked for the items that follow are now due. */
        while (cfg->ordered && !R->stop) {
            struct slot *s = &R->slots[(R->next_deliver / cfg->chunk) % R->nslots];
            if (!s->full)
                break;
            s->full = 0;
            if (deliver(R, s->buf) != 0)
                return -1;
        }
        return 0;
    }
    {
        struct slot *s = &R->slots[(fh.first / cfg->chunk) % R->nslots];
        if (s->full) {
            fprintf(stderr, "ceiling: two frames for one slot (bug)\n");
            return -1;
        }
        s->full = 1;
        if (whole) {
            /* Park the buffer itself; the worker reads on into the slot's old one. */
            unsigned char *b = s->buf;
            size_t c = s->cap;
            s->buf = w->rbuf;
            s->cap = w->rcap;
            w->rbuf = b;
            w->rcap = c;
            return 1;
        }
        if (grow(&s->buf, &s->cap, flen) != 0)
            return -1;
        memcpy(s->buf, buf, flen);
        return 0;
    }
}

/* Check a frame header; its total length into *flen. */
static int check_header(const struct run *R, const struct wk *w, const unsigned char *buf,
                        size_t *flen)
{
    const struct ceil_cfg *cfg = R->cfg;
    struct frame_hdr fh;
    uint64_t expect;

    memcpy(&fh, buf, sizeof fh);
    expect = cfg->count - fh.first < cfg->chunk ? cfg->count - fh.first : cfg->chunk;
    if (fh.first % cfg->chunk != 0 || fh.first >= R->next_send || fh.count != expect ||
        fh.bytes > fh.count * cfg->max_result) {
        fprintf(stderr, "ceiling: worker %d sent a bad frame header\n", (int)w->pid);
        return -1;
    }
    *flen = sizeof fh + lens_bytes(fh.count) + (size_t)fh.bytes;
    return 0;
}

/* Read what worker w has sent and handle the complete frames. Returns 0,
 * 1 at end of file, -1 on error. */
static int wk_read(struct run *R, struct wk *w)
{
    size_t flen = 0, want;
    ssize_t n;

    if (w->pos > 0) {
        memmove(w->rbuf, w->rbuf + w->pos, w->have - w->pos);
        w->have -= w->pos;
        w->pos = 0;
    }
    if (w->have >= sizeof(struct frame_hdr)) {
        if (check_header(R, w, w->rbuf, &flen) != 0)
            return -1;
        if (grow(&w->rbuf, &w->rcap, flen) != 0)
            return -1;
    } else if (grow(&w->rbuf, &w->rcap, SMALL_READ) != 0) {
        return -1;
    }
    if (R->big_frames)
        want = (w->have < sizeof(struct frame_hdr) ? sizeof(struct frame_hdr) : flen) - w->have;
    else
        want = w->rcap - w->have;
    do
        n = read(w->res_fd, w->rbuf + w->have, want);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? 0 : -1;
    if (n == 0)
        return 1;
    w->have += (size_t)n;

    while (w->have - w->pos >= sizeof(struct frame_hdr) && !R->stop) {
        int taken;

        if (check_header(R, w, w->rbuf + w->pos, &flen) != 0)
            return -1;
        if (w->have - w->pos < flen)
            break;
        taken = on_frame(R, w, w->rbuf + w->pos, flen, w->pos == 0 && w->have == flen);
        if (taken < 0)
            return -1;
        if (taken) {
            w->have = w->pos = 0;
            break;
        }
        w->pos += flen;
    }
    return 0;
}

/* Write as much of w's pending message as the pipe takes. Returns 1 when it
 * is all written, 0 if the pipe is full, -1 on error. */
static int wk_flush(struct wk *w)
{
    size_t total = sizeof w->hdr + w->wdata_len;

    while (w->woff < total) {
        struct iovec iov[2];
        int n = 0;
        ssize_t r;

        if (w->woff < sizeof w->hdr) {
            iov[n].iov_base = (unsigned char *)&w->hdr + w->woff;
            iov[n++].iov_len = sizeof w->hdr - w->woff;
            if (w->wdata_len > 0) {
                iov[n].iov_base = (void *)w->wdata;
                iov[n++].iov_len = w->wdata_len;
            }
        } else {
            iov[n].iov_base = (void *)(w->wdata + (w->woff - sizeof w->hdr));
            iov[n++].iov_len = total - w->woff;
        }
        r = writev(w->task_fd, iov, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        w->woff += (size_t)r;
    }
    w->writing = 0;
    return 1;
}

/* Send messages to w while it has room and the window allows. */
static int feed(struct run *R, struct wk *w)
{
    const struct ceil_cfg *cfg = R->cfg;
    uint64_t window = (uint64_t)R->nslots * cfg->chunk;

    while (!w->writing && w->inflight < cfg->depth && R->next_send < cfg->count && !R->stop &&
           (!cfg->ordered || R->next_send - R->next_deliver < window)) {
        uint64_t left = cfg->count - R->next_send;
        size_t cnt = left < cfg->chunk ? (size_t)left : cfg->chunk;
        int rc;

        w->hdr.first = R->next_send;
        w->hdr.count = cnt;
        w->wdata = NULL;
        w->wdata_len = 0;
        if (cfg->send_bytes) {
            w->wdata = cfg->items(R->next_send, cnt, w->scratch, cfg->ctx);
            w->wdata_len = cnt * cfg->item_size;
        }
        w->woff = 0;
        w->writing = 1;
        w->inflight++;
        R->next_send += cnt;
        rc = wk_flush(w);
        if (rc < 0) {
            fprintf(stderr, "ceiling: write to worker %d: %s\n", (int)w->pid, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void stop_workers(struct run *R, int kill_them)
{
    unsigned i;

    for (i = 0; i < R->cfg->workers; i++) {
        if (R->w[i].pid > 0 && kill_them)
            kill(R->w[i].pid, SIGKILL);
        if (R->w[i].task_fd >= 0)
            close(R->w[i].task_fd);
        R->w[i].task_fd = -1;
    }
}

static int reap_workers(struct run *R, int expect_clean)
{
    unsigned i;
    int rc = 0;

    for (i = 0; i < R->cfg->workers; i++) {
        int status;

        if (R->w[i].pid <= 0)
            continue;
        while (waitpid(R->w[i].pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (expect_clean && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "ceiling: worker %d ended with status 0x%x\n", (int)R->w[i].pid,
                    (unsigned)status);
            rc = -1;
        }
        if (R->w[i].res_fd >= 0)
            close(R->w[i].res_fd);
        R->w[i].res_fd = -1;
        R->w[i].pid = 0;
    }
    return rc;
}

static int start_workers(struct run *R)
{
    const struct ceil_cfg *cfg = R->cfg;
    size_t msg_max = sizeof(struct task_hdr) + (cfg->send_bytes ? cfg->chunk * cfg->item_size : 0);
    size_t frame_max = sizeof(struct frame_hdr) + lens_bytes(cfg->chunk) +
                       cfg->chunk * cfg->max_result;
    unsigned i, j;

    fflush(NULL); /* or the workers' copies of stdio buffers print twice */
    for (i = 0; i < cfg->workers; i++) {
        struct wk *w = &R->w[i];
        int tp[2], rp[2];

        if (pipe2(tp, O_CLOEXEC) != 0)
            return -1;
        if (pipe2(rp, O_CLOEXEC) != 0) {
            close(tp[0]);
            close(tp[1]);
            return -1;
        }
        /* Bigger pipes for big messages: fewer wake-ups per frame. */
        if (frame_max > BIG_FRAME)
            (void)fcntl(rp[1], F_SETPIPE_SZ, BIG_PIPE);
        if (msg_max > BIG_FRAME)
            (void)fcntl(tp[1], F_SETPIPE_SZ, BIG_PIPE);
        w->pid = fork();
        if (w->pid < 0) {
            close(tp[0]);
            close(tp[1]);
            close(rp[0]);
            close(rp[1]);
            w->pid = 0;
            return -1;
        }
        if (w->pid == 0) {
            /* The parent's ends, of this worker and the earlier ones: kept
             * open here, an earlier worker's task pipe would never see EOF. */
            for (j = 0; j < i; j++) {
                close(R->w[j].task_fd);
                close(R->w[j].res_fd);
            }
            close(tp[1]);
            close(rp[0]);
            worker_main(cfg, tp[0], rp[1]);
            _exit(0);
        }
        close(tp[0]);
        close(rp[1]);
        w->task_fd = tp[1];
        w->res_fd = rp[0];
        (void)fcntl(w->task_fd, F_SETFL, O_NONBLOCK);
        (void)fcntl(w->res_fd, F_SETFL, O_NONBLOCK);
    }
    return 0;
}

int ceil_run(const struct ceil_cfg *cfg)
{
    struct run R;
    struct pollfd *pfd = NULL;
    unsigned i, rot = 0;
    int rc = -1, clean = 0;

    if (cfg->workers == 0 || cfg->chunk == 0 || cfg->depth == 0) {
        fprintf(stderr, "ceiling: bad configuration\n");
        return -1;
    }
    memset(&R, 0, sizeof R);
    R.cfg = cfg;
    R.nslots = (size_t)cfg->workers * cfg->depth;
    R.big_frames = sizeof(struct frame_hdr) + lens_bytes(cfg->chunk) +
                       cfg->chunk * cfg->max_result >= BIG_FRAME;
    R.w = calloc(cfg->workers, sizeof *R.w);
    R.slots = calloc(R.nslots, sizeof *R.slots);
    pfd = calloc(2 * (size_t)cfg->workers, sizeof *pfd);
    if (!R.w || !R.slots || !pfd)
        goto out;
    for (i = 0; i < cfg->workers; i++) {
        R.w[i].task_fd = R.w[i].res_fd = -1;
        if (cfg->send_bytes && !(R.w[i].scratch = malloc(cfg->chunk * cfg->item_size + 1)))
            goto out;
    }
    if (start_workers(&R) != 0) {
        fprintf(stderr, "ceiling: starting workers: %s\n", strerror(errno));
        goto out;
    }

    while (R.delivered < cfg->count && !R.stop) {
        nfds_t n = 0;
        int pr;

        /* Rotate who is fed first, so no worker always waits for the others. */
        for (i = 0; i < cfg->workers; i++)
            if (feed(&R, &R.w[(i + rot) % cfg->workers]) != 0)
                goto out;
        rot++;
        for (i = 0; i < cfg->workers; i++) {
            pfd[n].fd = R.w[i].res_fd;
            pfd[n++].events = POLLIN;
            if (R.w[i].writing) {
                pfd[n].fd = R.w[i].task_fd;
                pfd[n++].events = POLLOUT;
            }
        }
        do
            pr = poll(pfd, n, -1);
        while (pr < 0 && errno == EINTR);
        if (pr < 0) {
            fprintf(stderr, "ceiling: poll: %s\n", strerror(errno));
            goto out;
        }
        for (nfds_t k = 0; k < n; k++) {
            struct wk *w = NULL;

            if (!pfd[k].revents)
                continue;
            for (i = 0; i < cfg->workers; i++)
                if (R.w[i].res_fd == pfd[k].fd || R.w[i].task_fd == pfd[k].fd)
                    w = &R.w[i];
            if (pfd[k].events == POLLOUT) {
                if (wk_flush(w) < 0) {
                    fprintf(stderr, "ceiling: worker %d stopped taking tasks\n", (int)w->pid);
                    goto out;
                }
            } else {
                int r = wk_read(&R, w);
                if (r < 0)
                    goto out;
                if (r > 0 && R.delivered < cfg->count && !R.stop) {
                    fprintf(stderr, "ceiling: worker %d closed its result pipe early\n",
                            (int)w->pid);
                    goto out;
                }
            }
        }
    }
    clean = !R.stop;
    rc = 0;
out:
    if (R.w) {
        stop_workers(&R, rc != 0 || !clean);
        if (reap_workers(&R, rc == 0 && clean) != 0)
            rc = -1;
        for (i = 0; i < cfg->workers; i++) {
            free(R.w[i].rbuf);
            free(R.w[i].scratch);
        }
    }
    if (R.slots)
        for (size_t s = 0; s < R.nslots; s++)
            free(R.slots[s].buf);
    free(R.w);
    free(R.slots);
    free(pfd);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The plain costs. */

double ceil_pipe_seconds(size_t total, size_t block, size_t pipe_size)
{
    unsigned char *buf = malloc(block);
    int p[2], status;
    size_t got = 0;
    double t0;
    pid_t pid;

    if (!buf || pipe2(p, O_CLOEXEC) != 0) {
        free(buf);
        return -1;
    }
    if (pipe_size)
        (void)fcntl(p[1], F_SETPIPE_SZ, (int)pipe_size);
    memset(buf, 0x5a, block);
    fflush(NULL);
    t0 = ceil_now();
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        free(buf);
        return -1;
    }
    if (pid == 0) {
        size_t sent = 0;
        close(p[0]);
        while (sent < total) {
            size_t n = total - sent < block ? total - sent : block;
            if (write_all(p[1], buf, n) != 0)
                _exit(4);
            sent += n;
        }
        _exit(0);
    }
    close(p[1]);
    for (;;) {
        ssize_t n = read(p[0], buf, block);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    free(buf);
    if (got != total || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ceiling: pipe bandwidth: got %zu of %zu bytes\n", got, total);
        return -1;
    }
    return ceil_now() - t0;
}

double ceil_memcpy_seconds(size_t total, size_t block)
{
    unsigned char *src = malloc(block), *dst = malloc(block);
    size_t done;
    double t0, t;

    if (!src || !dst) {
        free(src);
        free(dst);
        return -1;
    }
    memset(src, 0x5a, block);
    memset(dst, 0, block);
    t0 = ceil_now();
    for (done = 0; done < total; done += block) {
        memcpy(dst, src, block);
        /* The copy must happen: tell the compiler dst is read. */
        __asm__ __volatile__("" : : "r"(dst) : "memory");
    }
    t = ceil_now() - t0;
    if (dst[block - 1] != 0x5a)
        t = -1;
    free(src);
    free(dst);
    return t;
}

int ceil_fork_cost(unsigned n, double *start, double *stop)
{
    pid_t *pids = calloc(n ? n : 1, sizeof *pids);
    unsigned i;
    double t0, t1;
    int p[2], rc = 0;

    if (!pids)
        return -1;
    if (pipe2(p, O_CLOEXEC) != 0) {
        free(pids);
        return -1;
    }
    fflush(NULL);
    /* The children wait for end of file on p: a child that exited at once
     * would tear down its copy of a big parent's page tables during the
     * next fork, and the forks' figure would pay for exits as well. */
    t0 = ceil_now();
    for (i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            char c;
            close(p[1]);
            while (read(p[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        if (pids[i] < 0) {
            rc = -1;
            break;
        }
    }
    t1 = ceil_now();
    close(p[1]);
    close(p[0]);
    for (i = 0; i < n; i++) {
        int status;
        if (pids[i] <= 0)
            continue;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = -1;
    }
    *start = t1 - t0;
    *stop = ceil_now() - t1;
    free(pids);
    return rc;
}

int ceil_pool_start_stop(unsigned n, double *start, double *stop)
{
    struct ceil_cfg cfg;
    struct run R;
    double t0, t1;
    int rc;

    /* The same start_workers() as the timed pool, with workers that only
     * wait for their end of file (no task ever comes). */
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = n;
    cfg.chunk = 1;
    cfg.item_size = 8;
    cfg.max_result = 8;
    cfg.depth = 1;
    memset(&R, 0, sizeof R);
    R.cfg = &cfg;
    R.w = calloc(n ? n : 1, sizeof *R.w);
    if (!R.w)
        return -1;
    for (unsigned i = 0; i < n; i++)
        R.w[i].task_fd = R.w[i].res_fd = -1;
    t0 = ceil_now();
    rc = start_workers(&R);
    t1 = ceil_now();
    stop_workers(&R, rc != 0);
    if (reap_workers(&R, rc == 0) != 0)
        rc = -1;
    *start = t1 - t0;
    *stop = ceil_now() - t1;
    free(R.w);
    return rc;
}
