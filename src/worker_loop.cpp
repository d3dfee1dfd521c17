#include "worker_loop.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "frame_codec.hpp"
#include "item_runner.hpp"
#include "logging.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

struct owned_task {
    frame_header header;
    std::vector<char> payload;
};

// Reads one frame. Returns false at a stop frame or end of stream (exit set
// to ok), or on a bad frame or read error (exit set accordingly).
bool read_task(int fd, owned_task& t, worker_exit& exit) {
    switch (read_exact(fd, &t.header, sizeof t.header)) {
    case io_result::done:
        break;
    case io_result::closed:
        exit = worker_exit_ok;
        return false;
    default:
        exit = worker_exit_channel;
        return false;
    }
    std::string problem = check_header(t.header, PM_MAX_CHUNK_SIZE);
    if (problem.empty() && t.header.type == static_cast<uint16_t>(frame_type::result))
        problem = "result frame sent to a worker";
    if (!problem.empty()) {
        PM_LOG(err, "worker: {}", problem);
        exit = worker_exit_bad_frame;
        return false;
    }
    if (t.header.type == static_cast<uint16_t>(frame_type::stop)) {
        exit = worker_exit_ok;
        return false;
    }
    t.payload.resize(t.header.payload_len);
    if (read_exact(fd, t.payload.data(), t.payload.size()) != io_result::done) {
        exit = worker_exit_channel;
        return false;
    }
    return true;
}

// Runs one task and writes its results; false if the result pipe failed.
bool run_and_reply(const owned_task& t, const work_spec& work, const worker_context& where,
                   result_builder& results, int result_fd, std::mutex* write_lock,
                   worker_exit& exit) {
    task_view view;
    std::string problem = decode_task(t.header, t.payload.data(), &view);
    if (!problem.empty()) {
        PM_LOG(err, "worker: {}", problem);
        exit = worker_exit_bad_frame;
        return false;
    }
    results.clear();
    uint64_t start = monotonic_ns();
    run_chunk(work, where, view, results);
    struct iovec iov[3];
    int n = results.to_iovecs(view.first_index, monotonic_ns() - start, iov);
    io_result r;
    if (write_lock) {
        // One frame at a time on the shared pipe, or frames interleave.
        std::lock_guard<std::mutex> hold(*write_lock);
        r = writev_all(result_fd, iov, n);
    } else {
        r = writev_all(result_fd, iov, n);
    }
    if (r != io_result::done) {
        exit = worker_exit_channel;
        return false;
    }
    return true;
}

worker_context context_for(const worker_context& base, activity_board* board, uint32_t thread) {
    worker_context c = base;
    c.slot = board ? board->slot(thread) : nullptr;
    return c;
}

worker_exit single_threaded(int task_fd, int result_fd, const work_spec& work,
                            const worker_context& where) {
    owned_task task;
    result_builder results;
    worker_exit exit = worker_exit_ok;
    while (read_task(task_fd, task, exit)) {
        if (!run_and_reply(task, work, where, results, result_fd, nullptr, exit))
            return exit;
    }
    return exit;
}

// The reading thread queues tasks; each of `threads` threads runs whole
// chunks. The parent's credit limit keeps the queue short.
worker_exit multi_threaded(int task_fd, int result_fd, const work_spec& work,
                           uint32_t threads, const worker_context& base,
                           activity_board* board) {
    std::mutex lock;
    std::condition_variable ready;
    std::deque<owned_task> queue;
    bool reading_done = false;
    worker_exit failure = worker_exit_ok;
    std::mutex write_lock;

    auto run = [&](uint32_t thread) {
        const worker_context where = context_for(base, board, thread);
        result_builder results;
        worker_exit exit = worker_exit_ok;
        for (;;) {
            owned_task task;
            {
                std::unique_lock<std::mutex> hold(lock);
                ready.wait(hold, [&] { return !queue.empty() || reading_done; });
                if (queue.empty())
                    return;
                task = std::move(queue.front());
                queue.pop_front();
            }
            if (!run_and_reply(task, work, where, results, result_fd, &write_lock, exit)) {
                std::lock_guard<std::mutex> hold(lock);
                failure = exit;
                reading_done = true;
                ready.notify_all();
                return;
            }
        }
    };

    std::vector<std::thread> pool;
    pool.reserve(threads);
    try {
        for (uint32_t i = 0; i < threads; ++i)
            pool.emplace_back(run, i);
    } catch (...) {
        // Joinable threads must be joined before the vector unwinds.
        {
            std::lock_guard<std::mutex> hold(lock);
            reading_done = true;
            ready.notify_all();
        }
        for (auto& t : pool)
            t.join();
        throw;
    }

    worker_exit exit = worker_exit_ok;
    for (;;) {
        owned_task task;
        bool more = read_task(task_fd, task, exit);
        std::lock_guard<std::mutex> hold(lock);
        if (!more || reading_done) {
            reading_done = true;
            ready.notify_all();
            break;
        }
        queue.push_back(std::move(task));
        ready.notify_one();
    }
    for (auto& t : pool)
        t.join();
    return failure != worker_exit_ok ? failure : exit;
}

}  // namespace

worker_exit run_worker_loop(int task_fd, int result_fd, const work_spec& work,
                            uint32_t threads, uint32_t worker_id,
                            activity_board* board) noexcept {
    try {
        worker_context where;
        where.worker_id = worker_id;
        if (work.init) {
            // The parent does not take a slow init hook for a worker stuck
            // outside its items (item timeout).
            for (uint32_t t = 0; board && t < board->size(); ++t)
                board->slot(t)->index.store(activity_slot::starting, std::memory_order_relaxed);
            const int rc = work.init(worker_id, &where.state, work.hooks_user_data);
            for (uint32_t t = 0; board && t < board->size(); ++t)
                board->slot(t)->index.store(activity_slot::idle, std::memory_order_relaxed);
            if (rc != 0)
                return worker_exit_init_failed;
        }
        worker_exit exit =
            threads <= 1
                ? single_threaded(task_fd, result_fd, work, context_for(where, board, 0))
                : multi_threaded(task_fd, result_fd, work, threads, where, board);
        // A worker that lost its channel is being torn down: no exit hook.
        if (work.exit && exit == worker_exit_ok)
            work.exit(worker_id, where.state, work.hooks_user_data);
        return exit;
    } catch (const std::exception& e) {
        PM_LOG(err, "worker: {}", e.what());
        return worker_exit_internal;
    } catch (...) {
        return worker_exit_internal;
    }
}

}  // namespace pm::core
