#include "worker_pool.hpp"

#include <cstdio>
#include <iostream>

#include "blocked_thread.hpp"
#include "errors.hpp"
#include "pipe_channel.hpp"
#include "logging.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

void flush_stdio_before_fork() {
    // Buffered output would otherwise be printed once by us and once per worker.
    std::fflush(nullptr);
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
}

}  // namespace

std::string worker::describe() const {
    if (pid > 0)
        return "worker " + std::to_string(id) + " (pid " + std::to_string(pid) + ")";
    return "in-process worker";
}

worker_pool::worker_pool(const map_settings& settings, const work_spec& work,
                         bool in_process)
    : threads_(settings.threads), in_process_(in_process) {
    const uint32_t count = in_process ? 1 : settings.processes;
    try {
        std::vector<pipe_link> links;
        std::vector<int> parent_ends;  // closed in every worker
        for (uint32_t i = 0; i < count; ++i) {
            links.push_back(pipe_link::create());
            auto link = std::make_unique<pipe_channel>(links.back());
            parent_ends.push_back(link->task_fd());
            parent_ends.push_back(link->result_fd());
            auto w = std::make_unique<worker>();
            w->id = i;
            w->link = std::move(link);
            workers_.push_back(std::move(w));
        }
        if (in_process) {
            int task_read = links[0].tasks.read_end.get();
            int result_write = links[0].results.write_end.get();
            work_spec job = work;
            uint32_t threads = threads_;
            workers_[0]->thread = start_blocked_thread([task_read, result_write, job, threads] {
                unique_fd in(task_read), out(result_write);
                (void)run_worker_loop(in.get(), out.get(), job, threads);
            });
            // The thread owns them now; until it started, the links did.
            links[0].tasks.read_end.release();
            links[0].results.write_end.release();
            return;
        }
        flush_stdio_before_fork();
        for (uint32_t i = 0; i < count; ++i) {
            // A worker must hold no end of another worker's pipes: a copy of
            // a result write end would hide that worker's death (no EOF), and
            // a copy of a task read end would turn writes to a dead worker
            // into a wait instead of EPIPE.
            std::vector<int> close_in_child = parent_ends;
            for (uint32_t j = i + 1; j < count; ++j) {
                close_in_child.push_back(links[j].tasks.read_end.get());
                close_in_child.push_back(links[j].results.write_end.get());
            }
            worker_spawn spawn{links[i].tasks.read_end.get(), links[i].results.write_end.get(),
                               std::move(close_in_child), settings.daemon, work, threads_};
            workers_[i]->process = spawn_worker(spawn);
            workers_[i]->pid = workers_[i]->process.pid();
            // The child has its copies; ours would keep the pipes open forever.
            links[i].tasks.read_end.reset();
            links[i].results.write_end.reset();
        }
        PM_LOG(debug, "started {} worker processes with {} threads each", count, threads_);
    } catch (...) {
        shutdown(0);
        throw;
    }
}

worker_pool::~worker_pool() { shutdown(1'000'000'000); }

uint32_t worker_pool::live_count() const noexcept {
    uint32_t n = 0;
    for (const auto& w : workers_)
        n += w->alive ? 1 : 0;
    return n;
}

void worker_pool::retire(worker& w) noexcept {
    w.alive = false;
    if (w.is_process())
        w.process.kill_and_reap();
}

void worker_pool::kill_all() noexcept {
    for (auto& w : workers_)
        if (w->is_process())
            w->process.kill();
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
            if (!w->process.reap_until(deadline))
                w->process.kill_and_reap();
        } else if (w->thread.joinable()) {
            // The worker thread leaves at the stop frame or when its result
            // pipe is closed under it; it cannot be killed.
            w->link->close();
            w->thread.join();
        }
        w->alive = false;
        w->link->close();
    }
}

}  // namespace pm::core
