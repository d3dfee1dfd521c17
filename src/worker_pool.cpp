#include "worker_pool.hpp"

#include <poll.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "blocked_thread.hpp"
#include "errors.hpp"
#include "logging.hpp"
#include "pipe_channel.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

constexpr uint64_t status_report_wait_ns = 5'000'000'000ull;

void flush_stdio_before_fork() {
    // Buffered output would otherwise be printed once by us and once per worker.
    std::fflush(nullptr);
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
}

// Waits until the process behind an exit watch is gone, or deadline_ns.
bool wait_exit(int exit_watch, uint64_t deadline_ns) noexcept {
    for (;;) {
        uint64_t now = monotonic_ns();
        int ms = now >= deadline_ns ? 0 : static_cast<int>((deadline_ns - now) / 1'000'000 + 1);
        struct pollfd p = {exit_watch, POLLIN, 0};
        int rc = ::poll(&p, 1, ms);
        if (rc > 0)
            return true;
        if (rc == 0 || errno != EINTR)
            return false;
    }
}

// Reads and drops what fd still brings until its writer closes it, or
// deadline_ns.
void drain_until_closed(int fd, uint64_t deadline_ns) noexcept {
    char sink[4096];
    for (;;) {
        ssize_t n = ::read(fd, sink, sizeof sink);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
        if (n > 0)
            continue;
        const uint64_t now = monotonic_ns();
        if (now >= deadline_ns)
            return;
        struct pollfd p = {fd, POLLIN, 0};
        (void)::poll(&p, 1, static_cast<int>((deadline_ns - now) / 1'000'000 + 1));
    }
}

}  // namespace

std::string worker::describe() const {
    if (pid > 0)
        return "worker " + std::to_string(id) + " (pid " + std::to_string(pid) + ")";
    if (stream)
        return "stream worker " + std::to_string(id);
    return "in-process worker";
}

std::string worker::how_it_ended() const {
    if (stream)
        return "closed its stream";
    if (!is_process())
        return "stopped";
    if (!status_known)
        return "ended (its exit status was not reported)";
    std::string how = describe_wait_status(wait_status);
    // The statuses an exec-mode worker leaves with when it cannot start.
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == worker_exit_unknown_work)
        how += " (in exec mode: its work function or hooks are not registered under their "
               "name in the worker: register them before pm_worker_serve())";
    else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == worker_exit_no_serve)
        how += " (in exec mode: the program's main did not call pm_worker_serve() first)";
    return how;
}

worker_pool::worker_pool(const map_settings& settings, const work_spec& work,
                         bool in_process, const inherited_input& input)
    : threads_(settings.threads), in_process_(in_process), input_(input) {
    try {
        if (in_process) {
            pipe_link link = pipe_link::create();
            auto w = std::make_unique<worker>();
            w->link = std::make_shared<pipe_channel>(link);
            int task_read = link.tasks.read_end.get();
            int result_write = link.results.write_end.get();
            work_spec job = work;
            uint32_t threads = threads_;
            inherited_input shared = input;  // the same memory: ranges work
            w->thread = start_blocked_thread([task_read, result_write, job, threads, shared] {
                unique_fd in(task_read), out(result_write);
                (void)run_worker_loop(in.get(), out.get(), job, threads, 0, nullptr, shared);
            });
            // The thread owns them now; until it started, the link did.
            link.tasks.read_end.release();
            link.results.write_end.release();
            workers_.push_back(std::move(w));
            return;
        }
        flush_stdio_before_fork();
        worker_recipe recipe;
        recipe.work = work;
        recipe.threads = threads_;
        recipe.daemon = settings.daemon;
        recipe.input = input;
        recipe.forks = fork_hooks::of(settings);
        recipe.reset_crash_signals = settings.reset_crash_signals;
        if (settings.start_method == PM_START_EXEC) {
            // Fresh runs of the program: nothing inherited, not the input.
            recipe.exec = true;
            recipe.work_name = work.name;
            recipe.hooks_name = work.hooks_name;
            recipe.input = inherited_input{};
            input_ = inherited_input{};
        }
        spawner_ = std::make_unique<spawner>(recipe);
        start_first_processes(settings.processes);
        PM_LOG(debug, "started {} worker processes with {} threads each (template pid {})",
               settings.processes, threads_, spawner_->pid());
    } catch (...) {
        shutdown(0);
        throw;
    }
}

worker_pool::worker_pool(const map_settings& settings, std::vector<unique_fd> task_write_ends,
                         std::vector<unique_fd> result_read_ends)
    : threads_(settings.threads) {
    for (size_t i = 0; i < task_write_ends.size(); ++i) {
        auto w = std::make_unique<worker>();
        w->id = static_cast<uint32_t>(i);
        w->stream = true;
        w->link = std::make_shared<pipe_channel>(std::move(task_write_ends[i]),
                                                 std::move(result_read_ends[i]));
        workers_.push_back(std::move(w));
    }
}

worker_pool::~worker_pool() { shutdown(1'000'000'000); }

void worker_pool::start_first_processes(uint32_t n) {
    // Asked for in groups: the template forks a group back to back, and the
    // workers' ends of a group's channels are all open at once only here.
    constexpr uint32_t group = 16;
    for (uint32_t first = 0; first < n; first += group) {
        const uint32_t count = std::min(group, n - first);
        std::vector<pipe_link> links;
        std::vector<activity_board> boards;
        spawn_request reqs[group];
        spawned_worker started[group];
        for (uint32_t i = 0; i < count; ++i) {
            links.push_back(pipe_link::create());
            boards.push_back(activity_board::create(threads_));
            reqs[i] = {first + i, links[i].tasks.read_end.get(), links[i].results.write_end.get(),
                       boards[i].fd()};
        }
        spawner_->spawn_all(reqs, count, started);
        for (uint32_t i = 0; i < count; ++i) {
            auto w = std::make_unique<worker>();
            w->id = first + i;
            adopt_process(*w, links[i], std::move(boards[i]), std::move(started[i]));
            workers_.push_back(std::move(w));
        }
    }
}

void worker_pool::adopt_process(worker& w, pipe_link& link, activity_board board,
                                spawned_worker s) {
    board.close_fd();
    w.link = std::make_shared<pipe_channel>(link);  // takes our ends
    w.board = std::move(board);
    w.pid = s.pid;
    w.exit_watch = std::move(s.exit_watch);
    w.status_known = false;
    w.items_done = 0;
    w.alive = true;
}

void worker_pool::start_process(worker& w) {
    // The template holds no pipe of ours (it was forked before any existed),
    // so the new worker gets exactly its own two ends.
    pipe_link link = pipe_link::create();
    activity_board board = activity_board::create(threads_);
    spawned_worker s = spawner_->spawn(w.id, link.tasks.read_end.get(),
                                       link.results.write_end.get(), board.fd());
    adopt_process(w, link, std::move(board), std::move(s));
    // link's worker ends close here: the worker has its own copies.
}

uint32_t worker_pool::live_count() const noexcept {
    uint32_t n = 0;
    for (const auto& w : workers_)
        n += w->alive ? 1 : 0;
    return n;
}

void worker_pool::retire(worker& w) noexcept {
    if (!w.alive)
        return;
    w.alive = false;
    if (!w.is_process())
        return;  // a stream's link is closed by close_retired_streams()
    spawner_->kill(w.pid, w.exit_watch.get());
    w.status_known =
        spawner_->wait_status(w.pid, monotonic_ns() + status_report_wait_ns, &w.wait_status);
    w.exit_watch.reset();
}

bool worker_pool::replace(worker& w) noexcept {
    if (!can_replace() || w.alive)
        return false;
    try {
        ++w.generation;
        start_process(w);
        PM_LOG(debug, "{} started in place of the last one", w.describe());
        return true;
    } catch (const std::exception& e) {
        PM_LOG(warn, "could not replace worker {}: {}", w.id, e.what());
        return false;
    }
}

void worker_pool::kill(worker& w) noexcept {
    if (w.alive && w.is_process() && spawner_)
        spawner_->kill(w.pid, w.exit_watch.get());
}

void worker_pool::close_retired_streams() noexcept {
    for (auto& w : workers_)
        if (w->stream && !w->alive)
            w->link->close();
}

void worker_pool::kill_all() noexcept {
    for (auto& w : workers_)
        kill(*w);
}

void worker_pool::shutdown(uint64_t grace_ns) noexcept {
    if (shut_down_)
        return;
    shut_down_ = true;
    for (auto& w : workers_) {
        if (w->alive)
            w->link->send_stop();
        w->link->close_tasks();
    }
    const uint64_t deadline = monotonic_ns() + grace_ns;
    for (auto& w : workers_) {
        if (w->is_process()) {
            if (w->alive && !wait_exit(w->exit_watch.get(), deadline))
                kill(*w);
            retire(*w);
        } else if (w->stream) {
            // Its far end finishes what it holds and closes its side: wait
            // for that (what it still sends is no one's any more).
            if (w->alive)
                drain_until_closed(w->link->poll_fd(), deadline);
        } else if (w->thread.joinable()) {
            // The worker thread leaves at the stop frame or when its result
            // pipe is closed under it; it cannot be killed.
            w->link->close();
            w->thread.join();
        }
        w->alive = false;
        w->link->close();
    }
    if (spawner_)
        spawner_->close();
}

}  // namespace pm::core
