#include "return_process.hpp"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "child_process.hpp"
#include "errors.hpp"
#include "item_runner.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

constexpr uint64_t exit_grace_ns = 5'000'000'000;
// Without a signalfd the watcher looks at its child this often.
constexpr int watcher_poll_ms = 10;

// Starts are serialized: a child forked by a concurrent start would inherit
// this start's write end, and then a crash of this child would go unseen
// (no end of stream) until that other child exited.
std::mutex start_lock;

// What the watcher tells us: 8 bytes each, so each write is atomic.
enum : int32_t { report_started = 1, report_fork_failed = 2, report_reaped = 3 };
struct report {
    int32_t kind;
    int32_t value;  // started: the child's pid; fork_failed: errno; reaped: wait status
};

struct child_job {
    process_call call;
    int result_fd;   // the child's end of the result pipe
    int status_fd;   // the watcher's end of the report pipe
    int control_fd;  // the watcher's end of the control pipe
    bool daemon;
    fork_hooks forks;
    bool reset_crash_signals;
};

// The process function seen as a work function, so that run_item gives it
// the same sink, exception barrier and failure message handling.
int call_process_fn(const void*, size_t, uint64_t, pm_sink* out, void* user_data) {
    const process_call* call = static_cast<const process_call*>(user_data);
    const int rc = call->fn(out, call->user_data);
    if (rc != 0 && !out->error_set) {
        out->error = "the process function returned " + std::to_string(rc);
        out->error_set = true;
    }
    return rc;
}

// The child's whole life: run the function, send one result frame.
int run_child(void* arg) {
    try {
        child_job* job = static_cast<child_job*>(arg);
        result_builder results;
        const uint64_t start = monotonic_ns();
        const worker_context where;  // worker id 0, no state, not watched
        work_spec spec;
        spec.fn = call_process_fn;
        spec.user_data = &job->call;
        run_item(spec, where, nullptr, 0, 0, results);
        struct iovec iov[3];
        const int n = results.to_iovecs(0, monotonic_ns() - start, iov);
        return writev_all(job->result_fd, iov, n) == io_result::done ? worker_exit_ok
                                                                     : worker_exit_channel;
    } catch (...) {
        return worker_exit_internal;
    }
}

void write_report(int fd, int32_t kind, int32_t value) noexcept {
    const report r = {kind, value};
    while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
    }
}

// The watcher: fork the child, kill it when asked, reap it and report its
// wait status, then leave. Single-threaded; logs nothing.
int run_watcher(void* arg) {
    child_job* job = static_cast<child_job*>(arg);
    // The child's exit must reach us whatever the host set up: SIGCHLD
    // ignored would have the kernel reap it unseen. The child gets the
    // host's disposition and mask back.
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    struct sigaction host_sigchld;
    ::sigaction(SIGCHLD, &dfl, &host_sigchld);
    sigset_t host_mask, chld;
    ::sigprocmask(SIG_SETMASK, nullptr, &host_mask);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    const int sigchld_fd = above_stdio(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    const pid_t self = ::getpid();
    job->forks.before();
    const pid_t child = ::fork();
    const int fork_errno = errno;
    if (child == 0) {
        job->forks.after_in_child();
        if (job->reset_crash_signals)
            reset_crash_signals();
        ::close(job->status_fd);
        ::close(job->control_fd);
        if (sigchld_fd >= 0)
            ::close(sigchld_fd);
        ::sigaction(SIGCHLD, &host_sigchld, nullptr);
        ::sigprocmask(SIG_SETMASK, &host_mask, nullptr);
        become_child(run_child, job, job->result_fd, job->daemon, self);
    }
    job->forks.after_in_parent();
    // Only the child holds the write end now: its death ends the stream.
    ::close(job->result_fd);
    if (child < 0) {
        write_report(job->status_fd, report_fork_failed, fork_errno);
        return 0;
    }
    write_report(job->status_fd, report_started, child);
    int control = job->control_fd;
    for (;;) {
        int st = 0;
        const pid_t r = ::waitpid(child, &st, WNOHANG);
        if (r == child) {
            write_report(job->status_fd, report_reaped, st);
            return 0;
        }
        if (r < 0 && errno != EINTR)
            return 0;  // cannot happen: we are its parent and reap nothing else
        struct pollfd pfds[2] = {{control, POLLIN, 0}, {sigchld_fd, POLLIN, 0}};
        if (::poll(pfds, 2, sigchld_fd >= 0 ? -1 : watcher_poll_ms) < 0 && errno != EINTR)
            return 0;
        if (pfds[0].revents) {
            char byte;
            const ssize_t n = ::read(control, &byte, 1);
            if (n > 0)
                ::kill(child, SIGKILL);  // not reaped yet: the pid is still its
            else if (n == 0)
                control = -1;  // the caller is gone or done: just wait
        }
        if (sigchld_fd >= 0 && pfds[1].revents) {
            struct signalfd_siginfo info;
            while (::read(sigchld_fd, &info, sizeof info) > 0) {
            }
        }
    }
}

}  // namespace

return_process::return_process(const process_call& call, bool daemon, const fork_hooks& forks,
                               bool reset_crash_signals) {
    std::lock_guard<std::mutex> hold(start_lock);
    pipe_pair result = make_pipe();
    pipe_pair status = make_pipe();
    pipe_pair control = make_pipe();
    // Best effort: a larger pipe means fewer wake-ups for a large result.
    try_grow_pipe(result.write_end.get(), 1 << 20);
    set_nonblocking(control.write_end.get());
    child_job job{call,   result.write_end.get(), status.write_end.get(), control.read_end.get(),
                  daemon, forks,                  reset_crash_signals};
    watcher_ = spawn_child(run_watcher, &job,
                           {result.write_end.get(), status.write_end.get(),
                            control.read_end.get()},
                           -1, daemon, forks)
                   .release();
    result_fd_ = std::move(result.read_end);
    status_fd_ = std::move(status.read_end);
    control_fd_ = std::move(control.write_end);
    // The child's and the watcher's ends close here: only they hold them.
    result.write_end.reset();
    status.write_end.reset();
    control.read_end.reset();
    report r{};
    if (read_exact(status_fd_.get(), &r, sizeof r) != io_result::done ||
        r.kind != report_started) {
        const int err = r.kind == report_fork_failed ? r.value : EIO;
        child_reaped_ = true;
        end_watcher();
        throw_system_error(r.kind == report_fork_failed
                               ? "fork (for a background process)"
                               : "starting a background process (its watcher process died)",
                           err);
    }
    pid_ = r.value;
}

return_process::~return_process() {
    if (!child_reaped_)
        kill_child();
    end_watcher();
}

bool return_process::wait_child(uint64_t deadline_ns) noexcept {
    while (!child_reaped_) {
        const uint64_t now = monotonic_ns();
        if (now >= deadline_ns)
            return false;
        struct pollfd p = {status_fd_.get(), POLLIN, 0};
        const int rc =
            ::poll(&p, 1, static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1,
                                                             1'000'000)));
        if (rc < 0 && errno != EINTR)
            return false;
        if (rc <= 0)
            continue;
        report r{};
        const io_result got = read_exact(status_fd_.get(), &r, sizeof r);
        if (got == io_result::done && r.kind == report_reaped) {
            wait_status_ = r.value;
            status_known_ = true;
            child_reaped_ = true;
        } else if (got != io_result::done) {
            // The watcher is gone without a report (killed from outside): the
            // child died with it (daemon) or lives on unwatched; either way
            // its status cannot be known.
            child_reaped_ = true;
        }
    }
    return true;
}

void return_process::kill_child() noexcept {
    if (child_reaped_)
        return;
    const char byte = 'k';
    (void)write_small_no_sigpipe(control_fd_.get(), &byte, 1);
    (void)wait_child(monotonic_ns() + exit_grace_ns);
}

void return_process::end_watcher() noexcept {
    if (watcher_ <= 0)
        return;
    // The watcher leaves right after its last report; its end of the report
    // pipe closes then. Until it does, it is not reaped, so its pid is safe
    // to signal if it overstays.
    control_fd_.reset();
    const uint64_t deadline = monotonic_ns() + exit_grace_ns;
    char buf[64];
    for (;;) {
        const uint64_t now = monotonic_ns();
        struct pollfd p = {status_fd_.get(), POLLIN, 0};
        const int rc = now >= deadline ? 0
                                       : ::poll(&p, 1,
                                                static_cast<int>((deadline - now) / 1'000'000 + 1));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            ::kill(watcher_, SIGKILL);
            break;
        }
        if (::read(status_fd_.get(), buf, sizeof buf) <= 0)
            break;
    }
    // ECHILD when the host ignores SIGCHLD or reaped it itself: fine.
    while (::waitpid(watcher_, nullptr, 0) < 0 && errno == EINTR) {
    }
    watcher_ = -1;
    status_fd_.reset();
}

std::string return_process::describe() const {
    return "process (pid " + std::to_string(pid_) + ")";
}

int return_process::finish(int status, std::string message) {
    status_ = status;
    message_ = std::move(message);
    result_fd_.reset();
    return status_;
}

int return_process::join() noexcept {
    if (joined_)
        return status_;
    joined_ = true;
    int status;
    try {
        status = read_outcome();
    } catch (...) {
        kill_child();
        result_fd_.reset();
        status_ = status = PM_ENOMEM;
        try {
            message_ = "out of memory";
        } catch (...) {
        }
    }
    end_watcher();
    return status;
}

int return_process::read_outcome() {
    frame_header h{};
    switch (read_exact(result_fd_.get(), &h, sizeof h)) {
    case io_result::done:
        break;
    case io_result::closed:
        return ended_early(false);
    default:
        return ended_early(true);
    }
    std::string problem = check_header(h, 1);
    if (problem.empty() &&
        (h.type != static_cast<uint16_t>(frame_type::result) || h.count != 1))
        problem = "expected a result frame for one item";
    payload_buffer payload;
    if (problem.empty()) {
        // Grown as bytes arrive, so a header that claims more than the
        // child sends costs no memory up front.
        uint64_t got = 0;
        while (got < h.payload_len) {
            const size_t step =
                static_cast<size_t>(std::min<uint64_t>(h.payload_len - got, 1u << 20));
            try {
                payload.resize(static_cast<size_t>(got) + step);
            } catch (const std::bad_alloc&) {
                kill_child();
                return finish(PM_ENOMEM, "out of memory for a result frame of " +
                                             std::to_string(h.payload_len) + " bytes");
            }
            if (read_exact(result_fd_.get(), payload.data() + got, step) != io_result::done)
                return ended_early(true);
            got += step;
        }
        problem = chunk_.decode(h, std::move(payload));
    }
    if (!problem.empty()) {
        kill_child();
        return finish(PM_EIO, describe() + " sent a bad result frame: " + problem);
    }
    // The child leaves right after its frame.
    if (!wait_child(monotonic_ns() + exit_grace_ns))
        kill_child();
    const result_chunk::item item = chunk_.take();
    if (item.status == PM_OK) {
        data_ = item.data;
        size_ = item.len;
        return finish(PM_OK, std::string());
    }
    if (item.status == PM_EITEM)
        return finish(PM_EITEM, std::string(item.message, item.message_len));
    return finish(PM_EIO, describe() + " sent a result with status " +
                              std::to_string(item.status));
}

int return_process::ended_early(bool part_way) {
    const int read_errno = errno;  // EPIPE: the stream ended inside the frame
    if (part_way && read_errno != EPIPE) {
        kill_child();
        return finish(PM_EIO, describe() + ": reading its result failed: " +
                                  std::strerror(read_errno));
    }
    // The stream ends when the child exits; one that closed its end and
    // lives on can never deliver, so it is not waited on for long.
    if (!wait_child(monotonic_ns() + exit_grace_ns)) {
        kill_child();
        return finish(PM_EWORKER, describe() + " closed its result pipe without a result " +
                                      "and was killed");
    }
    const char* when = part_way ? " while sending its result" : " before returning a result";
    if (!status_known_)
        // Never a status that was not seen.
        return finish(PM_EWORKER, describe() + " ended" + when +
                                      "; how it ended is not known (its watcher process "
                                      "was killed from outside)");
    const int st = wait_status_;
    const bool died = WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
    if (part_way && !died)
        return finish(PM_EIO, describe() + " " + describe_wait_status(st) +
                                  " part-way through its result frame");
    return finish(PM_EWORKER, describe() + " " + describe_wait_status(st) + when);
}

}  // namespace pm::core
