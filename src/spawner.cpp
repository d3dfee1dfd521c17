#include "spawner.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "activity_board.hpp"
#include "errors.hpp"
#include "fd_registry.hpp"
#include "pidfd.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

// Messages on the template's socket (SOCK_SEQPACKET: one message per send).
enum : uint32_t { op_spawn = 1, op_spawned = 2, op_exited = 3, op_kill = 4, op_quit = 5 };

// op_spawned's pid when no worker was started: which step failed.
enum : int32_t { failed_fork = -1, failed_receive = -2, failed_watch = -3 };

struct message {
    uint32_t op;
    uint32_t worker_id;
    int32_t pid;    // op_spawned, op_exited, op_kill
    int32_t value;  // op_spawned: errno of a failed step (0: ok); op_exited: wait status
};

// Without pidfds, and if signalfd fails too, the template checks on its
// workers this often.
constexpr int reap_check_ms = 10;

// What the template changed of the caller's signal set-up, for its workers.
struct host_signals {
    struct sigaction sigchld;
    sigset_t mask;
};

constexpr int max_passed_fds = 3;

bool send_message(int sock, const message& m, const int* fds, int nfds) noexcept {
    struct iovec iov = {const_cast<message*>(&m), sizeof m};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
    if (nfds > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do {
        n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof m);
}

// Receives one message and up to max_passed_fds descriptors (CLOEXEC).
// Returns 1 for a message, 0 at end of stream, -1 on error or a bad message,
// -2 for a message whose descriptors could not be received (EMFILE).
int receive_message(int sock, message* m, unique_fd* fds, int* nfds) noexcept {
    struct iovec iov = {m, sizeof *m};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int k = 0; k < count; ++k) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
            // In the template these become a worker's pipes: never its stdio.
            fd = above_stdio(fd);
            if (*nfds < max_passed_fds)
                fds[(*nfds)++].reset(fd);
            else
                ::close(fd);
        }
    }
    if (n == 0)
        return 0;
    if (n != static_cast<ssize_t>(sizeof *m) || (msg.msg_flags & MSG_TRUNC))
        return -1;
    return (msg.msg_flags & MSG_CTRUNC) ? -2 : 1;
}

struct template_child {
    pid_t pid;
    int watch;  // its pidfd, or the write end of its exit pipe (closed at the reap)
    uint32_t id;
};

// In a new worker, forked by the template: set up and run the worker loop.
[[noreturn]] void run_worker_process(const worker_recipe& recipe, pid_t template_pid,
                                     const host_signals& host, uint32_t id, unique_fd* fds) {
    begin_new_incarnation();
    if (recipe.daemon) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != template_pid)
            ::_exit(worker_exit_channel);
    }
    // The work function sees the caller's SIGCHLD disposition and signal
    // mask, as in the caller.
    ::sigaction(SIGCHLD, &host.sigchld, nullptr);
    ::sigprocmask(SIG_SETMASK, &host.mask, nullptr);
    if (recipe.reset_crash_signals)
        reset_crash_signals();
    int task_fd = fds[0].release();
    int result_fd = fds[1].release();
    activity_board board = activity_board::attach(fds[2].release(), recipe.threads);
    // Without its board the parent could not tell which item a crash or a
    // timeout is due to: such a worker does not start.
    if (board.size() == 0)
        ::_exit(worker_exit_internal);
    remember_outer_links(task_fd, result_fd);
    worker_exit code =
        run_worker_loop(task_fd, result_fd, recipe.work, recipe.threads, id, &board, recipe.input);
    ::_exit(code);
}

// The template's main loop: fork workers on request, report their exits.
// Single-threaded, and logs nothing (the logger's lock may have been held by
// another thread of the caller when we were forked).
[[noreturn]] void run_template(int sock, const worker_recipe& recipe, pid_t host,
                               bool use_pidfds) {
    begin_new_incarnation();
    close_outer_links();
    // Other maps' and pools' descriptors, inherited from the caller: held
    // here (and in our workers) they would keep those pipes and sockets open.
    close_library_fds(sock);
    if (recipe.daemon) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != host)
            ::_exit(0);
    }
    // A handler the caller installed for SIGCHLD must not run here and reap
    // our workers before we do; workers get it back.
    host_signals caller_signals;
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGCHLD, &dfl, &caller_signals.sigchld);
    ::sigprocmask(SIG_SETMASK, nullptr, &caller_signals.mask);
    const pid_t self = ::getpid();

    // Without pidfds, a SIGCHLD through a signalfd says when to reap (a
    // signal blocked in this single-threaded process waits for us there).
    int sigchld_fd = -1;
    if (!use_pidfds) {
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        ::sigprocmask(SIG_BLOCK, &chld, nullptr);
        sigchld_fd = above_stdio(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
        if (sigchld_fd < 0)
            ::sigprocmask(SIG_SETMASK, &caller_signals.mask, nullptr);
    }

    std::vector<template_child> children;
    std::vector<struct pollfd> pfds;
    for (;;) {
        pfds.clear();
        pfds.push_back({sock, POLLIN, 0});
        if (use_pidfds)
            for (const auto& c : children)
                pfds.push_back({c.watch, POLLIN, 0});
        else if (sigchld_fd >= 0)
            pfds.push_back({sigchld_fd, POLLIN, 0});
        int timeout = use_pidfds || sigchld_fd >= 0 || children.empty() ? -1 : reap_check_ms;
        if (::poll(pfds.data(), pfds.size(), timeout) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (sigchld_fd >= 0) {
            struct signalfd_siginfo info;
            while (::read(sigchld_fd, &info, sizeof info) > 0) {
            }
        }
        for (size_t k = children.size(); k-- > 0;) {
            if (use_pidfds && !pfds[k + 1].revents)
                continue;
            int st = 0;
            pid_t r;
            do {
                r = ::waitpid(children[k].pid, &st, WNOHANG);
            } while (r < 0 && errno == EINTR);
            if (r == 0)
                continue;
            // The status first: whoever sees the watch close finds it waiting.
            message m = {op_exited, children[k].id, children[k].pid, r > 0 ? st : 0};
            send_message(sock, m, nullptr, 0);
            ::close(children[k].watch);
            children.erase(children.begin() + static_cast<long>(k));
        }
        if (!pfds[0].revents)
            continue;
        message req;
        unique_fd fds[max_passed_fds];
        int nfds = 0;
        int got = receive_message(sock, &req, fds, &nfds);
        // The pool is closing (or its caller died). op_quit says so even
        // when a process the caller forked holds a copy of its socket end.
        if (got == 0 || got == -1 || req.op == op_quit)
            break;
        if (req.op == op_kill) {
            // Only a child not yet reaped: its pid cannot have been reused.
            for (const auto& c : children)
                if (c.pid == req.pid)
                    ::kill(c.pid, SIGKILL);
            continue;
        }
        if (req.op != op_spawn || nfds != max_passed_fds) {
            message m = {op_spawned, req.worker_id, failed_receive, got == -2 ? EMFILE : EINVAL};
            send_message(sock, m, nullptr, 0);
            continue;
        }
        int exit_pipe[2] = {-1, -1};
        if (!use_pidfds && ::pipe2(exit_pipe, O_CLOEXEC) != 0) {
            message m = {op_spawned, req.worker_id, failed_watch, errno};
            send_message(sock, m, nullptr, 0);
            continue;
        }
        exit_pipe[0] = above_stdio(exit_pipe[0]);
        exit_pipe[1] = above_stdio(exit_pipe[1]);
        recipe.forks.before();
        pid_t pid = ::fork();
        const int fork_errno = errno;
        if (pid == 0) {
            recipe.forks.after_in_child();
            forget_library_fd(sock);
            ::close(sock);
            if (sigchld_fd >= 0)
                ::close(sigchld_fd);
            for (const auto& c : children)
                ::close(c.watch);
            if (!use_pidfds) {
                ::close(exit_pipe[0]);
                ::close(exit_pipe[1]);
            }
            run_worker_process(recipe, self, caller_signals, req.worker_id, fds);
        }
        recipe.forks.after_in_parent();
        int err = fork_errno;
        // Our copies of the worker's ends go before the caller hears of it:
        // held any longer, a worker that exits fast could look alive to the
        // caller's read of its result stream after its pidfd said it died.
        for (auto& fd : fds)
            fd.reset();
        int watch = -1;  // what the caller gets
        int kept = -1;   // what we keep until the reap
        if (pid > 0 && use_pidfds) {
            watch = kept = open_pidfd(pid);
            err = errno;
        } else if (pid > 0) {
            watch = exit_pipe[0];
            kept = exit_pipe[1];
        }
        if (pid < 0 || watch < 0) {
            // Without a watch the pool could not see the worker die: refuse it.
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
                }
            }
            if (!use_pidfds) {
                ::close(exit_pipe[0]);
                ::close(exit_pipe[1]);
            }
            message m = {op_spawned, req.worker_id, pid < 0 ? failed_fork : failed_watch, err};
            send_message(sock, m, nullptr, 0);
            continue;
        }
        children.push_back({pid, kept, req.worker_id});
        message m = {op_spawned, req.worker_id, pid, 0};
        send_message(sock, m, &watch, 1);
        if (!use_pidfds)
            ::close(watch);  // the caller has its copy
    }
    // The pool is gone: wait for the workers it left (stopped, killed, or,
    // without daemon, finishing on their own) so none becomes a zombie.
    for (const auto& c : children)
        while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    ::_exit(0);
}

}  // namespace

struct spawner::reply {
    message m;
    unique_fd fd;
};

spawner::spawner(const worker_recipe& recipe) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        throw_system_error("socketpair", errno);
    sv[0] = above_stdio(sv[0]);
    sv[1] = above_stdio(sv[1]);
    unique_fd ours(sv[0]), theirs(sv[1]);
    const pid_t host = ::getpid();
    use_pidfds_ = pidfds_work();
    recipe.forks.before();
    pid_t pid = ::fork();
    const int fork_errno = errno;
    if (pid == 0) {
        recipe.forks.after_in_child();
        ours.reset();
        run_template(theirs.get(), recipe, host, use_pidfds_);
    }
    recipe.forks.after_in_parent();
    if (pid < 0)
        throw_system_error("fork", fork_errno);
    template_ = child_process(pid);
    sock_ = std::move(ours);
}

void spawner::close() noexcept {
    std::lock_guard<std::mutex> hold(mutex_);
    {
        std::lock_guard<std::mutex> hold_send(send_mutex_);
        if (sock_ && !template_gone_) {
            message quit = {op_quit, 0, 0, 0};
            send_message(sock_.get(), quit, nullptr, 0);
        }
        sock_.reset();
    }
    template_gone_ = true;
    template_.reap_until(monotonic_ns() + 2'000'000'000ull);
    template_.kill_and_reap();
}

bool spawner::read_reply(int timeout_ms, reply* out) {
    if (template_gone_)
        return false;
    struct pollfd p = {sock_.get(), POLLIN, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return false;
    unique_fd fds[max_passed_fds];
    int nfds = 0;
    int got = receive_message(sock_.get(), &out->m, fds, &nfds);
    if (got == 0 || got == -1) {
        template_gone_ = true;  // nothing more will come
        return false;
    }
    if (out->m.op == op_exited) {
        exits_[out->m.pid] = out->m.value;
    } else if (nfds > 0) {
        out->fd = std::move(fds[0]);
    }
    return true;
}

spawned_worker spawner::spawn(uint32_t id, int task_read_fd, int result_write_fd, int board_fd) {
    std::lock_guard<std::mutex> hold(mutex_);
    if (template_gone_)
        throw error(PM_ESYS, "the pool's template process is gone; no worker can be started");
    message req = {op_spawn, id, 0, 0};
    int fds[max_passed_fds] = {task_read_fd, result_write_fd, board_fd};
    bool sent;
    {
        std::lock_guard<std::mutex> hold_send(send_mutex_);
        sent = send_message(sock_.get(), req, fds, max_passed_fds);
    }
    if (!sent)
        throw_system_error("sending a spawn request to the template process", errno);
    const uint64_t deadline = monotonic_ns() + 10'000'000'000ull;
    for (;;) {
        uint64_t now = monotonic_ns();
        reply r;
        if (now >= deadline ||
            !read_reply(static_cast<int>((deadline - now) / 1'000'000 + 1), &r))
            throw error(PM_ESYS, "the pool's template process did not start worker " +
                                     std::to_string(id));
        if (r.m.op != op_spawned)
            continue;
        if (r.m.pid <= 0)
            throw_system_error(r.m.pid == failed_fork      ? "fork (in the template process)"
                               : r.m.pid == failed_watch ? "watching a new worker (in the template process)"
                                                         : "passing descriptors to the template process",
                               r.m.value ? r.m.value : EIO);
        if (!r.fd)  // it runs, but we could not take its watch: it ends at
                    // the end of its task stream, when our ends close
            throw_system_error("receiving a worker's exit watch", EMFILE);
        spawned_worker w;
        w.pid = r.m.pid;
        w.exit_watch = std::move(r.fd);
        return w;
    }
}

bool spawner::wait_status(pid_t pid, uint64_t deadline_ns, int* status) {
    std::lock_guard<std::mutex> hold(mutex_);
    for (;;) {
        auto it = exits_.find(pid);
        if (it != exits_.end()) {
            *status = it->second;
            exits_.erase(it);
            return true;
        }
        uint64_t now = monotonic_ns();
        if (now >= deadline_ns)
            return false;
        reply r;
        if (!read_reply(static_cast<int>((deadline_ns - now) / 1'000'000 + 1), &r) &&
            template_gone_)
            return false;
    }
}

void spawner::kill(pid_t pid, int exit_watch) noexcept {
    if (exit_watch < 0)
        return;
    if (use_pidfds_) {
        signal_pidfd(exit_watch, SIGKILL);
        return;
    }
    // The template is the worker's parent: only it knows for sure that the
    // pid is not reaped (and so not reused) when the signal goes.
    message req = {op_kill, 0, pid, 0};
    // If the template is gone (killed from outside), so is this way: a
    // daemon worker died with it, another one leaves when its task stream
    // closes. A kill by bare pid could hit a stranger once init reaped it.
    std::lock_guard<std::mutex> hold_send(send_mutex_);
    if (sock_)
        send_message(sock_.get(), req, nullptr, 0);
}

bool worker_exited(int exit_watch) noexcept {
    struct pollfd p = {exit_watch, POLLIN, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

}  // namespace pm::core
