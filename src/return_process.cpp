#include "return_process.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "errors.hpp"
#include "item_runner.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

constexpr uint64_t exit_grace_ns = 5'000'000'000;

// Starts are serialized: a child forked by a concurrent start would inherit
// this start's write end, and then a crash of this child would go unseen
// (no end of stream) until that other child exited.
std::mutex start_lock;

struct child_job {
    process_call call;
    int result_fd;
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
        run_item(work_spec{call_process_fn, &job->call}, where, nullptr, 0, 0, results);
        struct iovec iov[3];
        const int n = results.to_iovecs(0, monotonic_ns() - start, iov);
        return writev_all(job->result_fd, iov, n) == io_result::done ? worker_exit_ok
                                                                     : worker_exit_channel;
    } catch (...) {
        return worker_exit_internal;
    }
}

}  // namespace

return_process::return_process(const process_call& call, bool daemon) {
    std::lock_guard<std::mutex> hold(start_lock);
    pipe_pair link = make_pipe();
    // Best effort: a larger pipe means fewer wake-ups for a large result.
    try_grow_pipe(link.write_end.get(), 1 << 20);
    child_job job{call, link.write_end.get()};
    child_ = spawn_child(run_child, &job, {link.read_end.get()}, link.write_end.get(), daemon);
    pid_ = child_.pid();
    result_fd_ = std::move(link.read_end);
    // Our copy of the write end closes here: only the child holds one, so
    // its death is seen as the end of the stream.
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
    try {
        return read_outcome();
    } catch (...) {
        child_.kill_and_reap();
        result_fd_.reset();
        status_ = PM_ENOMEM;
        try {
            message_ = "out of memory";
        } catch (...) {
        }
        return status_;
    }
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
    std::vector<char> payload;
    if (problem.empty()) {
        try {
            payload.resize(h.payload_len);
        } catch (const std::bad_alloc&) {
            child_.kill_and_reap();
            return finish(PM_ENOMEM, "out of memory for a result frame of " +
                                         std::to_string(h.payload_len) + " bytes");
        }
        if (read_exact(result_fd_.get(), payload.data(), payload.size()) != io_result::done)
            return ended_early(true);
        problem = chunk_.decode(h, std::move(payload));
    }
    if (!problem.empty()) {
        child_.kill_and_reap();
        return finish(PM_EIO, describe() + " sent a bad result frame: " + problem);
    }
    // The child leaves right after its frame.
    if (!child_.reap_until(monotonic_ns() + exit_grace_ns))
        child_.kill_and_reap();
    const result_chunk::item item = chunk_.take();
    if (item.status == PM_OK) {
        data_ = item.data;
        size_ = item.len;
        return finish(PM_OK, std::string());
    }
    if (item.status == PM_EITEM)
        return finish(PM_EITEM, std::string(item.data, item.len));
    return finish(PM_EIO, describe() + " sent a result with status " +
                              std::to_string(item.status));
}

int return_process::ended_early(bool part_way) {
    const int read_errno = errno;  // EPIPE: the stream ended inside the frame
    if (part_way && read_errno != EPIPE) {
        child_.kill_and_reap();
        return finish(PM_EIO, describe() + ": reading its result failed: " +
                                  std::strerror(read_errno));
    }
    // The stream ends when the child exits; one that closed its end and
    // lives on can never deliver, so it is not waited on for long.
    bool lingered = false;
    if (!child_.reap_until(monotonic_ns() + exit_grace_ns)) {
        lingered = true;
        child_.kill_and_reap();
    }
    const int st = child_.wait_status();
    if (lingered)
        return finish(PM_EWORKER, describe() + " closed its result pipe without a result " +
                                      "and was killed");
    const bool died = WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
    if (part_way && !died)
        return finish(PM_EIO, describe() + " " + describe_wait_status(st) +
                                  " part-way through its result frame");
    return finish(PM_EWORKER, describe() + " " + describe_wait_status(st) +
                                  (part_way ? " while sending its result"
                                            : " before returning a result"));
}

}  // namespace pm::core
