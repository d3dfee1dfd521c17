#include "spawner.hpp"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "errors.hpp"
#include "fd_registry.hpp"
#include "pidfd.hpp"
#include "sys_io.hpp"

#include "exec_start.hpp"
#include "template_process.hpp"
#include "template_protocol.hpp"
#include "worker_loop.hpp"

namespace pm::core {

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
    if (recipe.exec) {
        // posix_spawn: no fork of this (perhaps multithreaded) process.
        exec_role role;
        role.what = exec_role::kind::template_process;
        role.work_name = recipe.work_name;
        role.hooks_name = recipe.hooks_name;
        role.threads = recipe.threads;
        role.daemon = recipe.daemon;
        role.reset_crash_signals = recipe.reset_crash_signals;
        role.use_pidfds = use_pidfds_;
        role.parent = host;
        const int sock = theirs.get();
        int err = 0;
        const pid_t pid = spawn_self(role, &sock, 1, &err);
        if (pid < 0)
            throw_system_error("posix_spawn (an exec-mode template process)", err);
        template_ = child_process(pid);
        sock_ = std::move(ours);
        return;
    }
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

// Why the template is gone, when it is: in exec mode it is a run of the
// program, which may leave before it serves (see worker_serve.hpp).
std::string spawner::template_end() {
    if (!template_gone_ || !template_.reap_until(monotonic_ns() + 1'000'000'000ull))
        return "";
    const int status = template_.wait_status();
    std::string how = ": it " + describe_wait_status(status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == worker_exit_no_serve)
        how += " (in exec mode: the program's main did not call pm_worker_serve() first)";
    return how;
}

spawned_worker spawner::spawn(uint32_t id, int task_read_fd, int result_write_fd, int board_fd) {
    const spawn_request req = {id, task_read_fd, result_write_fd, board_fd};
    spawned_worker w;
    spawn_all(&req, 1, &w);
    return w;
}

void spawner::spawn_all(const spawn_request* reqs, size_t n, spawned_worker* out) {
    std::lock_guard<std::mutex> hold(mutex_);
    for (size_t i = 0; i < n; ++i)
        send_spawn(reqs[i]);
    const uint64_t deadline = monotonic_ns() + 10'000'000'000ull;
    for (size_t i = 0; i < n; ++i)
        out[i] = await_spawned(reqs[i].id, deadline);
}

void spawner::send_spawn(const spawn_request& req) {
    if (template_gone_)
        throw error(PM_ESYS, "the pool's template process is gone; no worker can be started");
    message m = {op_spawn, req.id, 0, 0};
    int fds[max_passed_fds] = {req.task_read_fd, req.result_write_fd, req.board_fd};
    bool sent;
    {
        std::lock_guard<std::mutex> hold_send(send_mutex_);
        sent = send_message(sock_.get(), m, fds, max_passed_fds);
    }
    if (!sent) {
        const int e = errno;
        if (e != EPIPE && e != ECONNRESET)
            throw_system_error("sending a spawn request to the template process", e);
        template_gone_ = true;
        throw error(PM_ESYS, "the pool's template process is gone; worker " +
                                 std::to_string(req.id) + " cannot be started" + template_end());
    }
}

spawned_worker spawner::await_spawned(uint32_t id, uint64_t deadline) {
    for (;;) {
        uint64_t now = monotonic_ns();
        reply r;
        if (now >= deadline ||
            !read_reply(static_cast<int>((deadline - now) / 1'000'000 + 1), &r))
            throw error(PM_ESYS, "the pool's template process did not start worker " +
                                     std::to_string(id) + template_end());
        // The template answers requests in the order they came, which is
        // the order we wait in; an answer for another id is a late one to
        // an earlier request, and skipped. A failure is taken whatever id it
        // names: the template may not have been able to read the request.
        if (r.m.op != op_spawned || (r.m.worker_id != id && r.m.pid > 0))
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
