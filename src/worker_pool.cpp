#include "worker_pool.hpp"

#include <cstdio>
#include <iostream>

#include "blocked_thread.hpp"
#include "errors.hpp"
#include "frame_codec.hpp"
#include "logging.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

constexpr int pipe_bytes = 1 << 20;

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
        std::vector<pipe_pair> task_pipes, result_pipes;
        for (uint32_t i = 0; i < count; ++i) {
            auto w = std::make_unique<worker>();
            w->id = i;
            pipe_pair task = make_pipe();
            pipe_pair result = make_pipe();
            try_grow_pipe(task.write_end.get(), pipe_bytes);
            try_grow_pipe(result.write_end.get(), pipe_bytes);
            set_nonblocking(task.write_end.get());
            set_nonblocking(result.read_end.get());
            w->task_fd = std::move(task.write_end);
            w->result_fd = std::move(result.read_end);
            task_pipes.push_back(std::move(task));
            result_pipes.push_back(std::move(result));
            workers_.push_back(std::move(w));
        }
        if (in_process) {
            worker& w = *workers_[0];
            int task_read = task_pipes[0].read_end.release();
            int result_write = result_pipes[0].write_end.release();
            work_spec job = work;
            uint32_t threads = threads_;
            w.thread = start_blocked_thread([task_read, result_write, job, threads] {
                unique_fd in(task_read), out(result_write);
                (void)run_worker_loop(in.get(), out.get(), job, threads);
            });
            return;
        }
        // Every child closes the parent's ends of every worker's pipes; the
        // child-side ends of earlier workers are already closed below.
        std::vector<int> parent_ends;
        for (auto& w : workers_) {
            parent_ends.push_back(w->task_fd.get());
            parent_ends.push_back(w->result_fd.get());
        }
        flush_stdio_before_fork();
        for (uint32_t i = 0; i < count; ++i) {
            worker_spawn spawn{task_pipes[i].read_end.get(), result_pipes[i].write_end.get(),
                               parent_ends, settings.daemon, work, threads_};
            workers_[i]->process = spawn_worker(spawn);
            workers_[i]->pid = workers_[i]->process.pid();
            // The child has its copies; ours would keep the pipes open forever.
            task_pipes[i].read_end.reset();
            result_pipes[i].write_end.reset();
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
    const frame_header stop = make_header(frame_type::stop, 0, 0, 0);
    for (auto& w : workers_) {
        // A stop frame ends the worker even if some other process has
        // inherited a copy of our end of its task pipe.
        if (w->task_fd && w->alive)
            (void)write_small_no_sigpipe(w->task_fd.get(), &stop, sizeof stop);
        w->task_fd.reset();
    }
    const uint64_t deadline = monotonic_ns() + grace_ns;
    for (auto& w : workers_) {
        if (w->is_process()) {
            if (!w->process.reap_until(deadline))
                w->process.kill_and_reap();
        } else if (w->thread.joinable()) {
            // The worker thread leaves at the stop frame or when its result
            // pipe is closed under it; it cannot be killed.
            w->result_fd.reset();
            w->thread.join();
        }
        w->alive = false;
        w->result_fd.reset();
    }
}

}  // namespace pm::core
