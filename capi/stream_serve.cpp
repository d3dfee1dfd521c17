// pm_stream_serve(): the far end of a stream worker (pm_pool_create_streams()).
//
// Task frames arrive on one descriptor. Their items run on a local pool of
// forked workers, in one long ordered map in PM_ERRORS_RETURN mode whose pull
// input reads the stream, so the pool stays busy across chunks and across the
// maps of the pool at the other end. Results go back as result frames, each
// the next run of one chunk, in the order the chunks came. A crash, an abort
// or a timeout in the work function is one failed item here, as in any pool
// in return mode; the other end decides what it does to its map.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "capi_internal.hpp"
#include "errors.hpp"
#include "frame_codec.hpp"
#include "frame_reader.hpp"
#include "logging.hpp"
#include "parmapper.h"
#include "registry.hpp"
#include "sys_io.hpp"
#include "unique_fd.hpp"

using pm::core::frame_header;
using pm::core::frame_reader;
using pm::core::frame_type;
using pm::core::unique_fd;

namespace {

constexpr size_t batch_max = 4096;
constexpr int idle_wait_ms = 5;  // a pull callback's wait before PM_EAGAIN
constexpr int abandon_check_ms = 100;  // how often a closed stream is looked for
constexpr size_t runs_remembered = 256;  // popped runs kept to renumber messages

// A chunk as it came: its items are local indices local_first.. of the map.
struct run {
    uint64_t local_first;
    uint64_t global_first;
    uint32_t count;
    uint64_t arrived_ns;
};

struct stream_state {
    int task_fd = -1;
    unique_fd wake;  // eventfd: the serve loop ends the pull input
    frame_reader reader;
    std::vector<size_t> lens;  // scratch: a frame's items' lengths
    std::string packed;        // scratch: its items, each after its index
    uint64_t pushed = 0;       // local index of the next item (feeder thread)
    std::mutex mutex;
    std::deque<run> runs;      // under mutex: chunks not yet answered in full
    std::deque<run> answered;  // under mutex: the last ones answered
    // The stream brought its stop frame (or ended): the input is over.
    std::atomic<bool> input_done{false};
    // The stream ended without a stop, or closed after it: nobody reads
    // what is still running, which is then cancelled.
    std::atomic<bool> abandoned{false};
};

int pull_tasks(pm_feed* feed, void* user_data) {
    auto& st = *static_cast<stream_state*>(user_data);
    for (;;) {
        std::string problem;
        switch (st.reader.read(st.task_fd, PM_MAX_CHUNK_SIZE, &problem)) {
        case frame_reader::status::frame: {
            const frame_header h = st.reader.header();
            if (h.type == static_cast<uint16_t>(frame_type::stop)) {
                st.input_done.store(true);
                return PM_DONE;
            }
            pm::core::payload_buffer payload = st.reader.take_payload();
            pm::core::task_view view;
            std::string bad =
                h.type == static_cast<uint16_t>(frame_type::task)
                    ? pm::core::decode_task(h, payload.data(), &view)
                    : "a frame of type " + std::to_string(h.type) + " where tasks were due";
            if (!bad.empty()) {
                pm_feed_set_error(feed, ("the stream brought " + bad).c_str());
                return PM_EIO;
            }
            if (view.count == 0)
                continue;
            // Each item goes with its index in the caller's map in front,
            // for the work function (wrap_work()).
            st.lens.resize(view.count);
            st.packed.clear();
            const char* at = view.bytes;
            for (uint32_t i = 0; i < view.count; ++i) {
                const size_t len = static_cast<size_t>(view.len_at(i));
                const uint64_t global = h.first_index + i;
                st.packed.append(reinterpret_cast<const char*>(&global), sizeof global);
                st.packed.append(at, len);
                at += len;
                st.lens[i] = sizeof global + len;
            }
            {
                std::lock_guard<std::mutex> hold(st.mutex);
                st.runs.push_back({st.pushed, h.first_index, view.count, pm::core::monotonic_ns()});
            }
            int rc = pm_feed_push_packed(feed, st.packed.data(), st.lens.data(), view.count);
            if (rc != PM_OK)
                return rc;
            st.pushed += view.count;
            return PM_EAGAIN;  // a chunk as it came: send it now
        }
        case frame_reader::status::need_more: {
            struct pollfd p[2] = {{st.task_fd, POLLIN, 0}, {st.wake.get(), POLLIN, 0}};
            // Not for long: the feeder also sends the reruns of items whose
            // local worker died, and must get back to them.
            const int ready = ::poll(p, 2, idle_wait_ms);
            if (ready < 0 && errno != EINTR) {
                pm_feed_set_error(feed, "poll on the task stream failed");
                return PM_ESYS;
            }
            if (p[1].revents)
                return PM_DONE;  // the serve loop is ending
            if (ready == 0)
                return PM_EAGAIN;
            break;
        }
        case frame_reader::status::closed:
            if (!problem.empty())
                PM_LOG(warn, "pm_stream_serve: the task stream ended {}", problem);
            st.abandoned.store(true);
            st.input_done.store(true);
            return PM_DONE;
        case frame_reader::status::bad:
            pm_feed_set_error(feed, ("the stream brought a bad frame: " + problem).c_str());
            return PM_EIO;
        }
    }
}

// The user's work function, called in the local workers with the item's
// index in the caller's map, which travels in front of the item's bytes.
struct user_work {
    pm_work_fn fn = nullptr;
    pm_chunk_fn chunk_fn = nullptr;
    void* user_data = nullptr;
};

uint64_t index_in_front(const void* item) {
    uint64_t global;
    std::memcpy(&global, item, sizeof global);
    return global;
}

int wrap_work(const void* item, size_t len, uint64_t, pm_sink* out, void* user_data) {
    const auto& user = *static_cast<const user_work*>(user_data);
    if (len < sizeof(uint64_t))
        return 1;
    return user.fn(static_cast<const char*>(item) + sizeof(uint64_t), len - sizeof(uint64_t),
                   index_in_front(item), out, user.user_data);
}

// A local chunk may join the ends of two of the caller's chunks: the user's
// chunk function is called once per run of consecutive indices.
int wrap_chunk_work(uint64_t, size_t count, const void* const* items, const size_t* lens,
                    pm_sink* out, void* user_data) {
    const auto& user = *static_cast<const user_work*>(user_data);
    std::vector<const void*> bytes(count);
    std::vector<size_t> sizes(count);
    std::vector<uint64_t> globals(count);
    for (size_t i = 0; i < count; ++i) {
        if (lens[i] < sizeof(uint64_t))
            return 1;
        globals[i] = index_in_front(items[i]);
        bytes[i] = static_cast<const char*>(items[i]) + sizeof(uint64_t);
        sizes[i] = lens[i] - sizeof(uint64_t);
    }
    for (size_t i = 0; i < count;) {
        size_t j = i + 1;
        while (j < count && globals[j] == globals[j - 1] + 1)
            ++j;
        const int rc = user.chunk_fn(globals[i], j - i, bytes.data() + i, sizes.data() + i, out,
                                     user.user_data);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

// Global index of local item `local`, from the runs still held or lately
// answered; false if it is in none of them.
bool global_index(const stream_state& st, uint64_t local, uint64_t* global) {
    for (const auto* list : {&st.runs, &st.answered})
        for (const run& r : *list)
            if (local >= r.local_first && local < r.local_first + r.count) {
                *global = r.global_first + (local - r.local_first);
                return true;
            }
    return false;
}

// The engine's own messages name items by their index in the local map
// ("while running item 17", "items 3 to 5"); the caller knows them by their
// index in its map. Under the mutex.
std::string renumber_items(const stream_state& st, const std::string& message) {
    std::string out;
    size_t i = 0;
    while (i < message.size()) {
        const bool item_word = message.compare(i, 5, "item ") == 0 ||
                               message.compare(i, 6, "items ") == 0 ||
                               message.compare(i, 3, "to ") == 0;
        if (!item_word || (i > 0 && std::isalnum(static_cast<unsigned char>(message[i - 1])))) {
            out += message[i++];
            continue;
        }
        const size_t word = message.find(' ', i) + 1;
        size_t end = word;
        while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end])))
            ++end;
        out.append(message, i, word - i);
        uint64_t global;
        if (end > word && end - word < 20 &&
            global_index(st, std::stoull(message.substr(word, end - word)), &global))
            out += std::to_string(global);
        else
            out.append(message, word, end - word);
        i = end;
    }
    return out;
}

// Builds the result frames of the runs in order and writes them.
class answer_writer {
public:
    answer_writer(stream_state& st, int fd, std::string where)
        : st_(st), fd_(fd), where_(std::move(where)) {}

    // Entry for local item `local` (the next one: the map is ordered).
    void add(uint64_t local, int status, const void* data, size_t len, const char* message) {
        std::lock_guard<std::mutex> hold(st_.mutex);
        if (st_.runs.empty())
            throw pm::core::error(PM_EINTERNAL, "pm_stream_serve: a result for no chunk");
        const run& r = st_.runs.front();
        if (builder_.count() == 0)
            frame_first_ = r.global_first + (local - r.local_first);
        if (status == PM_OK) {
            builder_.begin_item();
            if (len)
                std::memcpy(builder_.append(len), data, len);
            builder_.end_item_ok();
        } else {
            // A work function's own message is the user's; the pool's (a
            // crash, a timeout) get the caller's item numbers and our place.
            std::string text = message ? message : "";
            if (status != PM_EITEM) {
                text = renumber_items(st_, text);
                if (!where_.empty())
                    text = where_ + ": " + text;
            }
            builder_.begin_item();
            builder_.end_item_failed(pm::core::result_status_for_wire(status), text,
                                     std::string(static_cast<const char*>(data), data ? len : 0));
        }
        next_local_ = local + 1;
        if (local + 1 == r.local_first + r.count) {
            flush_locked();
            st_.answered.push_back(st_.runs.front());
            st_.runs.pop_front();
            if (st_.answered.size() > runs_remembered)
                st_.answered.pop_front();
        }
    }

    // Sends what the current run has so far (results stream back).
    void flush() {
        std::lock_guard<std::mutex> hold(st_.mutex);
        flush_locked();
    }

    // Every item still held fails with status and message.
    void fail_the_rest(int status, const std::string& message) {
        for (;;) {
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                if (st_.runs.empty())
                    return;
            }
            add(next_local_, status, nullptr, 0, message.c_str());
        }
    }

    bool broken() const noexcept { return broken_; }

private:
    void flush_locked() {
        if (builder_.count() == 0)
            return;
        const run& r = st_.runs.front();
        struct iovec iov[3];
        const int n = builder_.to_iovecs(frame_first_, pm::core::monotonic_ns() - r.arrived_ns, iov);
        if (!broken_ && pm::core::writev_all(fd_, iov, n) != pm::core::io_result::done)
            broken_ = true;  // the other end is gone: the serve loop ends
        builder_.clear();
    }

    stream_state& st_;
    int fd_;
    std::string where_;
    pm::core::result_builder builder_;
    uint64_t frame_first_ = 0;
    uint64_t next_local_ = 0;
    bool broken_ = false;
};

// SIGPIPE blocked on this thread while it serves: a write to a closed result
// stream is an error here, not the end of the process.
class sigpipe_blocked {
public:
    sigpipe_blocked() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_blocked() {
        sigset_t pending;
        sigemptyset(&pending);
        sigpending(&pending);
        if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

private:
    sigset_t pipe_, old_;
    bool was_pending_ = false;
};

bool is_final_failure(int rc) { return rc < 0 && rc != PM_EAGAIN; }

}  // namespace

int pm_stream_serve(int task_fd, int result_fd, const pm_options* opts, const char* work_name,
                    const char* where) {
    unique_fd tasks(task_fd), results(result_fd);
    using pm::capi::fail;
    if (task_fd < 0 || result_fd < 0 || task_fd == result_fd || !work_name)
        return fail(PM_EINVAL, "pm_stream_serve: a bad pair of descriptors, or work_name NULL");
    return pm::capi::guard([&]() -> int {
        sigpipe_blocked no_sigpipe;
        stream_state st;
        st.task_fd = tasks.get();
        st.wake = pm::core::make_eventfd();
        pm::core::set_nonblocking(tasks.get());
        const int fl = ::fcntl(results.get(), F_GETFL);
        if (fl < 0 || ::fcntl(results.get(), F_SETFL, fl & ~O_NONBLOCK) < 0)
            return fail(PM_EINVAL, "pm_stream_serve: result_fd is not open");

        // The local pool: the caller's settings for processes, threads,
        // timeouts, retries and hooks; one ordered map in return mode.
        pm_options local;
        local.settings = pm::capi::resolved_settings(opts);
        local.settings.ordered = true;
        local.settings.error_mode = PM_ERRORS_RETURN;
        local.settings.chunk_size = PM_CHUNK_AUTO;
        local.settings.total_hint = PM_TOTAL_UNKNOWN;
        local.settings.progress = nullptr;
        local.settings.progress_bar = false;
        local.settings.max_in_flight = PM_MAX_IN_FLIGHT;  // the other end's credit bounds it
        // Forked: the wrapper and the user's function are inherited.
        local.settings.start_method = PM_START_FORK;
        pm::core::registered_work found;
        if (!pm::core::find_work(work_name, &found))
            return fail(PM_EINVAL, (std::string("pm_stream_serve: no work function is "
                                                "registered as \"") +
                                    work_name + "\" (pm_register_work())")
                                       .c_str());
        user_work user{found.fn, found.chunk_fn, found.user_data};
        pm_pool* pool = nullptr;
        int rc = found.chunk_fn
                     ? pm_pool_create_chunked(&pool, &local, wrap_chunk_work, &user, nullptr)
                     : pm_pool_create(&pool, &local, wrap_work, &user, nullptr);
        if (rc != PM_OK)
            return rc;
        pm_input* input = nullptr;
        rc = pm_input_create_pull(&input, pull_tasks, &st, nullptr);
        pm_map* map = nullptr;
        if (rc == PM_OK)
            rc = pm_pool_map(&map, pool, &local, input);
        if (rc != PM_OK) {
            pm_pool_destroy(pool);
            return rc;
        }
        answer_writer out(st, results.get(), where ? where : "");
        std::vector<uint64_t> indices(batch_max);
        std::vector<int> statuses(batch_max);
        std::vector<const void*> data(batch_max);
        std::vector<size_t> lens(batch_max);
        int final_status = PM_OK;
        std::string final_message;
        bool cancelled = false;
        for (;;) {
            if (!cancelled && st.input_done.load() && !st.abandoned.load()) {
                // After the stop frame: a closed stream means nobody waits.
                struct pollfd p = {tasks.get(), POLLIN, 0};
                if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
                    st.abandoned.store(true);
            }
            if (!cancelled && st.abandoned.load()) {
                cancelled = true;
                pm_map_cancel(map);
            }
            size_t n = 0;
            rc = pm_map_next_batch(map, batch_max, abandon_check_ms, indices.data(),
                                   statuses.data(), data.data(), lens.data(), &n);
            if (cancelled) {
                if (rc == PM_EAGAIN || rc == PM_OK)
                    continue;
                break;  // what was running is dropped: nobody reads it
            }
            const bool failed = is_final_failure(rc);
            const size_t results_here = failed && n > 0 ? n - 1 : n;
            for (size_t i = 0; i < results_here; ++i) {
                out.add(indices[i], statuses[i], data[i], lens[i], pm_map_entry_error(map, i));
            }
            out.flush();
            if (out.broken()) {
                final_status = PM_EIO;
                final_message = "pm_stream_serve: the result stream is closed";
                break;
            }
            if (failed) {
                final_status = rc;
                final_message = pm_map_error(map);
                if (final_message.empty() && n > 0)
                    final_message = pm_map_entry_error(map, n - 1);
                break;
            }
            if (rc == PM_DONE)
                break;
        }
        if (final_status != PM_OK) {
            // The map is over: nothing it held will run. Say so for each item.
            pm::core::eventfd_signal(st.wake.get());
            if (!out.broken()) {
                out.fail_the_rest(final_status == PM_EINPUT ? PM_EIO : final_status,
                                  final_message);
                out.flush();
            }
        }
        pm_map_destroy(map);
        pm_pool_destroy(pool);
        if (final_status != PM_OK)
            return fail(final_status, final_message.c_str());
        return PM_OK;
    });
}
