#include "worker_loop.hpp"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "item_runner.hpp"
#include "logging.hpp"
#include "payload_buffer.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

constexpr size_t read_buffer_bytes = size_t(128) << 10;
constexpr size_t flush_bytes = size_t(256) << 10;
constexpr uint64_t flush_wait_ns = 20'000'000;
// The coarse clock is read once per this many items.
constexpr uint32_t clock_check_items = 16;

// A clock with a few milliseconds' steps that costs a few nanoseconds.
uint64_t coarse_ns() noexcept {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Reads task frames from the worker's end of its task pipe (nonblocking)
// through a buffer. A frame that fits the buffer is handed out in place; a
// larger one is read into a buffer of its own.
class task_reader {
public:
    enum class got { frame, stop, empty, end, failed, bad };

    // The buffer is not zeroed: a worker starts by touching only the pages
    // its first reads fill (zeroing 128 KiB was 32 page faults at each
    // worker's start, a third of a pool's start beyond its forks).
    explicit task_reader(int fd) : fd_(fd) { buf_.resize(read_buffer_bytes); }

    // The next whole frame (header() and payload(), valid until the next
    // call), or: stop (a stop frame), empty (no whole frame without waiting),
    // end (the stream closed at a frame boundary), failed (a read error or a
    // stream cut inside a frame), bad (*problem says what).
    got next(std::string* problem) {
        for (;;) {
            const size_t have = end_ - begin_;
            if (have >= sizeof header_) {
                std::memcpy(&header_, buf_.data() + begin_, sizeof header_);
                *problem = check_header(header_, PM_MAX_CHUNK_SIZE);
                if (problem->empty() && header_.type == static_cast<uint16_t>(frame_type::result))
                    *problem = "result frame sent to a worker";
                if (!problem->empty())
                    return got::bad;
                if (header_.type == static_cast<uint16_t>(frame_type::stop)) {
                    begin_ += sizeof header_;
                    return got::stop;
                }
                const uint64_t total = sizeof header_ + header_.payload_len;
                if (total > buf_.size())
                    return read_large();
                if (have >= total) {
                    payload_ = buf_.data() + begin_ + sizeof header_;
                    begin_ += static_cast<size_t>(total);
                    return got::frame;
                }
                if (begin_ + total > buf_.size())
                    compact();
            } else if (begin_ + sizeof header_ > buf_.size()) {
                compact();
            }
            ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
            if (n > 0) {
                end_ += static_cast<size_t>(n);
                continue;
            }
            if (n == 0)
                return end_ == begin_ ? got::end : got::failed;
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? got::empty : got::failed;
        }
    }

    // Blocks until the pipe has bytes, or is closed. False on an error.
    bool wait() noexcept {
        struct pollfd p = {fd_, POLLIN, 0};
        for (;;) {
            int rc = ::poll(&p, 1, -1);
            if (rc > 0)
                return true;
            if (rc < 0 && errno != EINTR)
                return false;
        }
    }

    const frame_header& header() const noexcept { return header_; }
    const char* payload() const noexcept { return payload_; }

private:
    void compact() noexcept {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }

    got read_large() {
        const size_t want = static_cast<size_t>(header_.payload_len);
        if (large_.size() < want) {  // the old bytes need not move with it
            large_.clear();
            large_.resize(want);
        }
        const size_t buffered = end_ - begin_ - sizeof header_;
        std::memcpy(large_.data(), buf_.data() + begin_ + sizeof header_, buffered);
        begin_ = end_ = 0;
        size_t got_bytes = buffered;
        while (got_bytes < want) {
            ssize_t n = ::read(fd_, large_.data() + got_bytes, want - got_bytes);
            if (n > 0) {
                got_bytes += static_cast<size_t>(n);
            } else if (n == 0) {
                return got::failed;
            } else if (errno == EAGAIN) {
                if (!wait())
                    return got::failed;
            } else if (errno != EINTR) {
                return got::failed;
            }
        }
        payload_ = large_.data();
        return got::frame;
    }

    int fd_;
    payload_buffer buf_;
    size_t begin_ = 0, end_ = 0;
    frame_header header_{};
    const char* payload_ = nullptr;
    payload_buffer large_;
};

// The result frame being filled, and its writing.
class result_stream {
public:
    explicit result_stream(int fd) : fd_(fd) {}

    // A new frame for the items from first_index on, filled through the
    // builder until flush().
    result_builder& open(uint64_t first_index) {
        results_.clear();
        first_index_ = first_index;
        opened_ns_ = coarse_ns();
        return results_;
    }
    bool over_bytes() const noexcept { return results_.byte_size() >= flush_bytes; }
    bool waited_too_long(uint64_t coarse_now) const noexcept {
        return coarse_now - opened_ns_ >= flush_wait_ns;
    }
    // Writes the frame (none if it is empty); false if the pipe failed.
    bool flush(uint64_t elapsed_ns) {
        if (results_.count() == 0)
            return true;
        struct iovec iov[3];
        const int n = results_.to_iovecs(first_index_, elapsed_ns, iov);
        results_.clear();
        return writev_all(fd_, iov, n) == io_result::done;
    }

private:
    int fd_;
    result_builder results_;
    uint64_t first_index_ = 0;
    uint64_t opened_ns_ = 0;
};

// Decodes a task or range frame into view; "" or the problem.
std::string decode(const frame_header& h, const char* payload, const inherited_input& input,
                   task_view* view) {
    if (h.type == static_cast<uint16_t>(frame_type::range))
        return decode_range(h, input, view);
    return decode_task(h, payload, view);
}

// Runs a task's items into out, and writes their results: once the task is
// done, or part of it whenever enough result bytes or enough time have
// gathered. False if the result pipe failed.
// A chunk work function gets the task's items as arrays: made here (the
// vectors are reused from task to task).
struct chunk_arrays {
    std::vector<const void*> items;
    std::vector<size_t> lens;
};

bool run_task(const task_view& task, const work_spec& work, const worker_context& where,
              result_stream& out, std::mutex* write_lock, chunk_arrays& arrays) {
    task_items items(task);
    if (work.chunk_fn) {
        arrays.items.resize(task.count);
        arrays.lens.resize(task.count);
        for (uint32_t i = 0; i < task.count; ++i) {
            const char* data;
            items.next(&data, &arrays.lens[i]);
            arrays.items[i] = data;
        }
        result_builder& frame = out.open(task.first_index);
        const uint64_t start = monotonic_ns();
        run_chunk_fn(work, where, task.first_index, task.count, arrays.items.data(),
                     arrays.lens.data(), frame);
        std::unique_lock<std::mutex> hold;
        if (write_lock)
            hold = std::unique_lock<std::mutex>(*write_lock);
        return out.flush(monotonic_ns() - start);
    }
    pm_sink sink;  // one for the task's items: no strings made per item
    while (items.more()) {
        result_builder& frame = out.open(items.next_index());
        const uint64_t start = monotonic_ns();
        while (items.more()) {
            const uint64_t index = items.next_index();
            const char* data;
            size_t len;
            items.next(&data, &len);
            run_item(work, where, data, len, index, frame, sink);
            if (out.over_bytes() ||
                (items.done() % clock_check_items == 0 && out.waited_too_long(coarse_ns())))
                break;
        }
        // Several threads share the pipe: one writer at a time, or frames
        // interleave.
        std::unique_lock<std::mutex> hold;
        if (write_lock)
            hold = std::unique_lock<std::mutex>(*write_lock);
        if (!out.flush(monotonic_ns() - start))
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
                            const worker_context& where, const inherited_input& input) {
    task_reader tasks(task_fd);
    result_stream results(result_fd);
    chunk_arrays arrays;
    std::string problem;
    for (;;) {
        switch (tasks.next(&problem)) {
        case task_reader::got::frame: {
            task_view view;
            problem = decode(tasks.header(), tasks.payload(), input, &view);
            if (!problem.empty()) {
                PM_LOG(err, "worker: {}", problem);
                return worker_exit_bad_frame;
            }
            if (!run_task(view, work, where, results, nullptr, arrays))
                return worker_exit_channel;
            break;
        }
        case task_reader::got::empty:
            if (!tasks.wait())
                return worker_exit_channel;
            break;
        case task_reader::got::stop:
        case task_reader::got::end:
            return worker_exit_ok;
        case task_reader::got::failed:
            return worker_exit_channel;
        case task_reader::got::bad:
            PM_LOG(err, "worker: {}", problem);
            return worker_exit_bad_frame;
        }
    }
}

struct owned_task {
    frame_header header;
    std::vector<char> payload;
};

// The reading thread queues tasks; each of `threads` threads runs whole
// chunks. The parent's credit limit keeps the queue short.
worker_exit multi_threaded(int task_fd, int result_fd, const work_spec& work,
                           uint32_t threads, const worker_context& base, activity_board* board,
                           const inherited_input& input) {
    std::mutex lock;
    std::condition_variable ready;
    std::deque<owned_task> queue;
    bool reading_done = false;
    worker_exit failure = worker_exit_ok;
    std::mutex write_lock;

    auto run = [&](uint32_t thread) {
        const worker_context where = context_for(base, board, thread);
        result_stream results(result_fd);
        chunk_arrays arrays;
        // A runtime attaches this thread before its first item and detaches
        // it after its last.
        if (work.thread_start)
            work.thread_start(where.worker_id, thread, work.thread_user_data);
        struct stop_hook {
            const work_spec& work;
            uint32_t id, thread;
            ~stop_hook() {
                if (work.thread_stop)
                    work.thread_stop(id, thread, work.thread_user_data);
            }
        } stop{work, where.worker_id, thread};
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
            task_view view;
            std::string problem = decode(task.header, task.payload.data(), input, &view);
            worker_exit exit = worker_exit_ok;
            if (!problem.empty()) {
                PM_LOG(err, "worker: {}", problem);
                exit = worker_exit_bad_frame;
            } else if (!run_task(view, work, where, results, &write_lock, arrays)) {
                exit = worker_exit_channel;
            }
            if (exit != worker_exit_ok) {
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

    task_reader tasks(task_fd);
    worker_exit exit = worker_exit_ok;
    std::string problem;
    for (;;) {
        task_reader::got got = tasks.next(&problem);
        if (got == task_reader::got::empty) {
            if (tasks.wait())
                continue;
            got = task_reader::got::failed;
        }
        owned_task task;
        if (got == task_reader::got::frame) {
            task.header = tasks.header();
            task.payload.assign(tasks.payload(), tasks.payload() + tasks.header().payload_len);
        } else if (got == task_reader::got::failed) {
            exit = worker_exit_channel;
        } else if (got == task_reader::got::bad) {
            PM_LOG(err, "worker: {}", problem);
            exit = worker_exit_bad_frame;
        }
        std::lock_guard<std::mutex> hold(lock);
        if (got != task_reader::got::frame || reading_done) {
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
                            uint32_t threads, uint32_t worker_id, activity_board* board,
                            const inherited_input& input) noexcept {
    try {
        set_nonblocking(task_fd);
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
                ? single_threaded(task_fd, result_fd, work, context_for(where, board, 0), input)
                : multi_threaded(task_fd, result_fd, work, threads, where, board, input);
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
