// The pool engine: a feeder thread reads the input into chunks and writes each
// to a worker with free credit; the caller's thread, inside next(), reads
// result frames from every worker, notices dead workers, and releases results
// through the sort buffer.
//
// Shared between the two threads (under mutex_): which chunks each worker
// holds, the in-flight count, and the feeder's end state. The feeder never
// closes a descriptor and the consumer never writes a task, so neither can
// pull an fd from under the other.
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "blocked_thread.hpp"
#include "chunk_planner.hpp"
#include "errors.hpp"
#include "channel.hpp"
#include "logging.hpp"
#include "map_engine.hpp"
#include "sort_buffer.hpp"
#include "sys_io.hpp"
#include "worker_pool.hpp"

namespace pm::core {

namespace {

constexpr int liveness_period_ms = 100;
constexpr uint64_t shutdown_grace_ns = 1'000'000'000;

struct held_chunk {
    uint64_t first;
    uint32_t count;
};

// The feeder's view of one worker.
struct worker_schedule {
    std::vector<held_chunk> held;  // in dispatch order
    bool usable = true;            // alive, and its task pipe works
    bool broken = false;           // the feeder saw its task pipe fail
};

std::string item_range(uint64_t first, uint32_t count) {
    if (count == 1)
        return "item " + std::to_string(first);
    return "items " + std::to_string(first) + " to " + std::to_string(first + count - 1);
}

class pool_map final : public map_engine {
public:
    pool_map(std::shared_ptr<worker_pool> pool, bool owns_pool, const map_settings& s,
             input_source&& input)
        : pool_(std::move(pool)),
          killable_(owns_pool && !pool_->in_process()),
          owns_pool_(owns_pool),
          settings_(s),
          input_(std::move(input)),
          planner_(s, static_cast<uint32_t>(pool_->workers().size()), input_.length()),
          credits_(2 * std::max(pool_->threads(), 1u)),
          sched_(pool_->workers().size()),
          sorter_(s.ordered) {
        for (size_t i = 0; i < sched_.size(); ++i)
            sched_[i].usable = pool_->workers()[i]->alive;
        consumer_wake_ = make_eventfd();
        feeder_wake_ = make_eventfd();
        feeder_ = start_blocked_thread([this] { feeder_main(); });
    }

    ~pool_map() override {
        if (!over_)
            end_map(true);
    }

    uint64_t total() const noexcept override {
        uint64_t n = input_.length();
        return n != UINT64_MAX ? n : settings_.total_hint;
    }

    map_step next(std::string& message) override {
        for (;;) {
            if (have_current_) {
                if (!current_.exhausted())
                    return deliver(current_.take(), message);
                release_current();
            }
            if (sorter_.pop_ready(current_)) {
                have_current_ = true;
                continue;
            }
            bool finished;
            int feed_status;
            uint64_t end_index;
            std::string feed_message;
            {
                std::lock_guard<std::mutex> hold(mutex_);
                finished = feeder_done_ && received_ == dispatched_ && sorter_.empty();
                feed_status = feed_status_;
                feed_message = feed_message_;
                end_index = dispatched_;
            }
            if (finished) {
                // An input error comes after every result before it.
                end_map(feed_status != PM_OK);
                if (feed_status == PM_OK)
                    return {PM_DONE, 0, nullptr, 0, true};
                message = std::move(feed_message);
                return {feed_status, end_index, nullptr, 0, true};
            }
            wait_and_read();
        }
    }

private:
    // ---- consumer side ---------------------------------------------------

    map_step deliver(result_chunk::item it, std::string& message) {
        if (it.status == PM_OK)
            return {PM_OK, it.index, it.data, it.len, false};
        message.assign(it.data, it.len);
        bool final = settings_.error_mode != PM_ERRORS_RETURN;
        if (final)
            end_map(true);
        return {it.status, it.index, nullptr, 0, final};
    }

    void release_current() {
        {
            std::lock_guard<std::mutex> hold(mutex_);
            in_flight_ -= current_.count();
        }
        room_.notify_one();
        have_current_ = false;
        current_ = result_chunk();  // free its buffer now, not at the next chunk
    }

    // Waits for result frames, a feeder event, or the liveness period.
    void wait_and_read() {
        auto& workers = pool_->workers();
        pfds_.clear();
        poll_owner_.clear();
        for (size_t i = 0; i < workers.size(); ++i) {
            if (workers[i]->alive) {
                pfds_.push_back({workers[i]->link->poll_fd(), POLLIN, 0});
                poll_owner_.push_back(i);
            }
        }
        pfds_.push_back({consumer_wake_.get(), POLLIN, 0});
        int rc = ::poll(pfds_.data(), pfds_.size(), liveness_period_ms);
        if (rc < 0 && errno != EINTR)
            throw_system_error("poll", errno);
        if (rc > 0) {
            if (pfds_.back().revents)
                eventfd_drain(consumer_wake_.get());
            for (size_t k = 0; k + 1 < pfds_.size(); ++k)
                if (pfds_[k].revents)
                    read_worker(poll_owner_[k]);
        }
        handle_broken_pipes();
        uint64_t now = monotonic_ns();
        if (rc == 0 || now - last_liveness_ns_ >= liveness_period_ms * 1'000'000ull) {
            last_liveness_ns_ = now;
            check_liveness();
        }
    }

    void read_worker(size_t i) {
        worker& w = *pool_->workers()[i];
        for (;;) {
            if (!w.alive)
                return;
            std::string problem;
            switch (w.link->read_frame(&problem)) {
            case frame_reader::status::need_more:
                return;
            case frame_reader::status::frame:
                problem = take_frame(i);
                if (!problem.empty()) {
                    lose_worker(i, "sent a bad frame (" + problem + ")");
                    return;
                }
                continue;
            case frame_reader::status::closed:
                lose_worker(i, problem);
                return;
            case frame_reader::status::bad:
                lose_worker(i, "sent a bad frame (" + problem + ")");
                return;
            }
        }
    }

    // Accepts one result frame from worker i; returns what is wrong with it.
    std::string take_frame(size_t i) {
        channel& link = *pool_->workers()[i]->link;
        const frame_header h = link.frame();
        if (h.type != static_cast<uint16_t>(frame_type::result))
            return "frame of type " + std::to_string(h.type) + " where results were due";
        result_chunk chunk;
        std::string problem = chunk.decode(h, link.take_payload());
        if (!problem.empty())
            return problem;
        {
            std::lock_guard<std::mutex> hold(mutex_);
            auto& held = sched_[i].held;
            auto it = std::find_if(held.begin(), held.end(), [&](const held_chunk& c) {
                return c.first == h.first_index && c.count == h.count;
            });
            if (it == held.end())
                return "results for " + item_range(h.first_index, h.count) +
                       ", which it was not given";
            held.erase(it);
            if (settings_.error_mode != PM_ERRORS_RETURN)
                note_failure_locked(chunk);
        }
        room_.notify_one();
        if (h.count) {
            uint64_t per_item = std::max<uint64_t>(1, h.aux / h.count);
            uint64_t old = ns_per_item_.load(std::memory_order_relaxed);
            ns_per_item_.store(old ? (3 * old + per_item) / 4 : per_item,
                               std::memory_order_relaxed);
        }
        received_ += h.count;
        sorter_.push(std::move(chunk));
        return {};
    }

    // Raise mode: nothing past the first failure will be delivered, so the
    // feeder need not hand out chunks that start after it.
    void note_failure_locked(const result_chunk& chunk) {
        uint64_t failed = chunk.first_failed();
        if (failed != UINT64_MAX)
            stop_at_ = std::min(stop_at_, failed + 1);
    }

    // Worker i is gone (or must go): reap it and turn the chunks it held into
    // failed results, so no item is silently lost and nothing waits for them.
    void lose_worker(size_t i, const std::string& why) {
        worker& w = *pool_->workers()[i];
        if (!w.alive)
            return;
        pool_->retire(w);
        std::string what = w.describe();
        if (w.is_process())
            what += " " + describe_wait_status(w.process.wait_status());
        else
            what += " stopped";
        if (!why.empty())
            what += " after it " + why;
        std::vector<held_chunk> held;
        {
            std::lock_guard<std::mutex> hold(mutex_);
            held.swap(sched_[i].held);
            sched_[i].usable = false;
        }
        room_.notify_one();
        if (held.empty()) {
            PM_LOG(warn, "{}, holding no items", what);
            return;
        }
        for (const held_chunk& c : held) {
            std::string message = what + " while holding " + item_range(c.first, c.count);
            PM_LOG(warn, "{}", message);
            result_chunk lost;
            lost.make_failed(c.first, c.count, PM_EWORKER, message);
            if (settings_.error_mode != PM_ERRORS_RETURN) {
                std::lock_guard<std::mutex> hold(mutex_);
                stop_at_ = std::min(stop_at_, c.first + 1);
            }
            received_ += c.count;
            sorter_.push(std::move(lost));
        }
    }

    void handle_broken_pipes() {
        for (size_t i = 0; i < sched_.size(); ++i) {
            bool broken;
            {
                std::lock_guard<std::mutex> hold(mutex_);
                broken = std::exchange(sched_[i].broken, false);
            }
            if (broken) {
                read_worker(i);  // keep whatever it finished before the break
                lose_worker(i, "stopped reading its tasks");
            }
        }
    }

    // A worker can die without its pipe closing (another process may hold a
    // copy of the write end), so exits are also checked with waitpid.
    void check_liveness() {
        auto& workers = pool_->workers();
        for (size_t i = 0; i < workers.size(); ++i) {
            worker& w = *workers[i];
            if (!w.alive || !w.is_process() || !w.process.try_reap())
                continue;
            read_worker(i);  // results it wrote before leaving still count
            lose_worker(i, "");
        }
    }

    // Ends the map: stops the feeder, then stops the workers (killing them
    // when failed and the pool is ours) or drains what they hold (a shared or
    // in-process pool), and joins the feeder. Idempotent.
    void end_map(bool failed) noexcept {
        if (over_)
            return;
        over_ = true;
        stop_.store(true);
        eventfd_signal(feeder_wake_.get());
        {
            // Taking the lock orders the store before a feeder that checked
            // stop_ and is about to wait, so the wake-up is not lost.
            std::lock_guard<std::mutex> hold(mutex_);
        }
        room_.notify_all();
        if (killable_ && failed)
            pool_->kill_all();
        if (!killable_) {
            try {
                drain();
            } catch (...) {
                // Draining failed (poll error): the workers' state is unknown,
                // so a shared pool loses them rather than risk a stale frame.
                for (auto& w : pool_->workers())
                    if (w->alive)
                        pool_->retire(*w);
            }
        }
        if (feeder_.joinable())
            feeder_.join();
        if (owns_pool_)
            pool_->shutdown(failed ? 0 : shutdown_grace_ns);
        have_current_ = false;
        current_ = result_chunk();
        sorter_ = sort_buffer(settings_.ordered);
    }

    // Reads and discards results until the feeder has stopped and no worker
    // holds a chunk of this map, leaving every channel at a frame boundary.
    void drain() {
        for (;;) {
            {
                std::lock_guard<std::mutex> hold(mutex_);
                bool holding = false;
                for (const auto& s : sched_)
                    holding = holding || !s.held.empty();
                if (feeder_done_ && !holding)
                    return;
            }
            wait_and_read();
            sorter_ = sort_buffer(settings_.ordered);
        }
    }

    // ---- feeder side -----------------------------------------------------

    void feeder_main() noexcept {
        int status = PM_OK;
        std::string message;
        try {
            task_builder chunk;
            uint64_t first = 0;
            for (;;) {
                if (stop_.load())
                    break;
                size_t want = planner_.next_chunk_size(ns_per_item_.load());
                std::string error;
                auto r = input_.fill(chunk, want, &stop_, &error);
                if (!chunk.empty()) {
                    if (!dispatch(chunk, first, status, message))
                        break;
                    first += chunk.count();
                }
                if (r == input_source::fill_status::end)
                    break;
                if (r == input_source::fill_status::failed) {
                    status = PM_EINPUT;
                    message = std::move(error);
                    break;
                }
            }
        } catch (const error& e) {
            status = e.status();
            message = e.what();
        } catch (const std::bad_alloc&) {
            status = PM_ENOMEM;
            message = "out of memory while reading the input";
        } catch (const std::exception& e) {
            status = PM_EINTERNAL;
            message = std::string("feeder: ") + e.what();
        }
        {
            std::lock_guard<std::mutex> hold(mutex_);
            feeder_done_ = true;
            feed_status_ = status;
            feed_message_ = std::move(message);
        }
        eventfd_signal(consumer_wake_.get());
    }

    // Hands one chunk to a worker, waiting for room under the in-flight bound
    // and for a worker with free credit. False: stop feeding.
    bool dispatch(task_builder& chunk, uint64_t first, int& status, std::string& message) {
        const uint32_t n = chunk.count();
        size_t target;
        {
            std::unique_lock<std::mutex> hold(mutex_);
            for (;;) {
                if (stop_.load() || first >= stop_at_)
                    return false;
                bool room = in_flight_ == 0 || in_flight_ + n <= planner_.in_flight_bound();
                bool any_usable = false;
                size_t best = SIZE_MAX;
                for (size_t k = 0; k < sched_.size(); ++k) {
                    size_t i = (next_pick_ + k) % sched_.size();
                    const worker_schedule& s = sched_[i];
                    if (!s.usable)
                        continue;
                    any_usable = true;
                    if (s.held.size() < credits_ &&
                        (best == SIZE_MAX || s.held.size() < sched_[best].held.size()))
                        best = i;
                }
                if (!any_usable) {
                    status = PM_EWORKER;
                    message = "no live worker is left to take " + item_range(first, n);
                    return false;
                }
                if (room && best != SIZE_MAX) {
                    target = best;
                    break;
                }
                room_.wait(hold);
            }
            next_pick_ = static_cast<uint32_t>((target + 1) % sched_.size());
            sched_[target].held.push_back({first, n});
            in_flight_ += n;
            dispatched_ = first + n;
        }
        struct iovec iov[3];
        int iovcnt = chunk.to_iovecs(first, iov);
        if (!write_task(target, iov, iovcnt)) {
            std::lock_guard<std::mutex> hold(mutex_);
            sched_[target].usable = false;
            sched_[target].broken = true;
            eventfd_signal(consumer_wake_.get());
        }
        return true;
    }

    // Sends a task frame to worker i. Gives up when the channel breaks, when
    // the worker is found dead, or, on a pool we own and will kill anyway,
    // when the map is stopped. On a shared pool a started frame is finished,
    // or the worker would read a torn one.
    bool write_task(size_t i, struct iovec* iov, int iovcnt) {
        return pool_->workers()[i]->link->send(iov, iovcnt, feeder_wake_.get(), [this, i] {
            if (killable_ && stop_.load())
                return true;
            std::lock_guard<std::mutex> hold(mutex_);
            return !sched_[i].usable;
        });
    }

    std::shared_ptr<worker_pool> pool_;
    const bool killable_;   // a one-shot pool of processes: kill on early end
    const bool owns_pool_;  // shut the pool down when the map ends
    const map_settings settings_;
    input_source input_;
    chunk_planner planner_;
    const size_t credits_;  // chunks a worker may hold at once

    // Shared by the feeder and the consumer.
    std::mutex mutex_;
    std::condition_variable room_;
    std::vector<worker_schedule> sched_;
    uint64_t in_flight_ = 0;   // read from the input, not yet released
    uint64_t dispatched_ = 0;  // items handed to workers (= next chunk's index)
    uint64_t stop_at_ = UINT64_MAX;
    bool feeder_done_ = false;
    int feed_status_ = PM_OK;
    std::string feed_message_;
    uint32_t next_pick_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> ns_per_item_{0};
    unique_fd consumer_wake_;  // feeder -> consumer: state changed
    unique_fd feeder_wake_;    // consumer -> feeder: stop
    std::thread feeder_;

    // Consumer only.
    std::vector<struct pollfd> pfds_;
    std::vector<size_t> poll_owner_;
    sort_buffer sorter_;
    result_chunk current_;
    bool have_current_ = false;
    uint64_t received_ = 0;  // items whose results (or loss) have arrived
    uint64_t last_liveness_ns_ = 0;
    bool over_ = false;
};

}  // namespace

std::unique_ptr<map_engine> start_pool_map(std::shared_ptr<worker_pool> pool, bool owns_pool,
                                           const map_settings& settings, input_source&& input) {
    if (pool->live_count() == 0)
        throw error(PM_EWORKER, "every worker of this pool has died");
    return std::make_unique<pool_map>(std::move(pool), owns_pool, settings, std::move(input));
}

}  // namespace pm::core
