#include "template_process.hpp"

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
#include "exec_start.hpp"
#include "template_protocol.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

// Without pidfds, and if signalfd fails too, the template checks on its
// workers this often.
constexpr int reap_check_ms = 10;
// What the template changed of the caller's signal set-up, for its workers.
struct host_signals {
    struct sigaction sigchld;
    sigset_t mask;
};

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

}  // namespace

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
    // A template started by exec may run in a multithreaded runtime (Go's),
    // whose other threads would take the signal: it checks every
    // reap_check_ms instead.
    int sigchld_fd = -1;
    if (!use_pidfds && !recipe.exec) {
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
        pid_t pid;
        int fork_errno = 0;
        if (recipe.exec) {
            // A fresh run of the program, given its descriptors and role.
            exec_role role;
            role.what = exec_role::kind::worker;
            role.work_name = recipe.work_name;
            role.hooks_name = recipe.hooks_name;
            role.threads = recipe.threads;
            role.worker_id = req.worker_id;
            role.daemon = recipe.daemon;
            role.reset_crash_signals = recipe.reset_crash_signals;
            role.parent = self;
            const int worker_fds[3] = {fds[0].get(), fds[1].get(), fds[2].get()};
            pid = spawn_self(role, worker_fds, 3, &fork_errno);
        } else {
            recipe.forks.before();
            pid = ::fork();
            fork_errno = errno;
        }
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
        if (!recipe.exec)
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

}  // namespace pm::core
