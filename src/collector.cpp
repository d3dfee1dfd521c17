// The collector thread: reads result frames from every worker as they come,
// returns the workers' credit, and files the results in the sort buffer, so
// workers keep going while the caller is busy (up to the in-flight bound).
// It notices dead workers by end of stream and by waitpid, and turns the
// chunks they held into failed results, so nothing is lost and nothing waits
// for them. It ends once the feeder has stopped and no worker holds a chunk.
#include <poll.h>

#include <algorithm>
#include <new>

#include "errors.hpp"
#include "logging.hpp"
#include "pool_map_state.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

constexpr int liveness_period_ms = 100;

class collector {
public:
    explicit collector(pool_map_state& st) : st_(st), workers_(st.pool->workers()) {}

    void run() {
        for (;;) {
            bool kill_now;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                bool holding = false;
                for (const auto& s : st_.sched)
                    holding = holding || !s.held.empty();
                if (st_.feeder_done && !holding)
                    return;
                kill_now = st_.killable && st_.stop.load() && !killed_;
            }
            if (kill_now) {
                // The caller gave up on a one-shot map: no result is wanted.
                st_.pool->kill_all();
                killed_ = true;
            }
            wait_and_read();
        }
    }

private:
    void wait_and_read() {
        pfds_.clear();
        owner_.clear();
        for (size_t i = 0; i < workers_.size(); ++i) {
            if (workers_[i]->alive) {
                pfds_.push_back({workers_[i]->link->poll_fd(), POLLIN, 0});
                owner_.push_back(i);
            }
        }
        pfds_.push_back({st_.collector_wake.get(), POLLIN, 0});
        int rc = ::poll(pfds_.data(), pfds_.size(), liveness_period_ms);
        if (rc < 0 && errno != EINTR)
            throw_system_error("poll", errno);
        if (rc > 0) {
            if (pfds_.back().revents)
                eventfd_drain(st_.collector_wake.get());
            for (size_t k = 0; k + 1 < pfds_.size(); ++k)
                if (pfds_[k].revents)
                    read_worker(owner_[k]);
        }
        handle_broken_channels();
        uint64_t now = monotonic_ns();
        if (rc == 0 || now - last_liveness_ns_ >= liveness_period_ms * 1'000'000ull) {
            last_liveness_ns_ = now;
            check_liveness();
        }
    }

    void read_worker(size_t i) {
        worker& w = *workers_[i];
        while (w.alive) {
            std::string problem;
            switch (w.link->read_frame(&problem)) {
            case frame_reader::status::need_more:
                return;
            case frame_reader::status::frame:
                problem = take_frame(i);
                if (!problem.empty()) {
                    lose_worker(i, "sent a bad frame (" + problem + ")", PM_EIO);
                    return;
                }
                break;
            case frame_reader::status::closed:
                lose_worker(i, problem);
                return;
            case frame_reader::status::bad:
                lose_worker(i, "sent a bad frame (" + problem + ")", PM_EIO);
                return;
            }
        }
    }

    // Files one result frame from worker i; returns what is wrong with it.
    std::string take_frame(size_t i) {
        channel& link = *workers_[i]->link;
        const frame_header h = link.frame();
        if (h.type != static_cast<uint16_t>(frame_type::result))
            return "frame of type " + std::to_string(h.type) + " where results were due";
        result_chunk chunk;
        std::string problem = chunk.decode(h, link.take_payload());
        if (!problem.empty())
            return problem;
        if (h.count) {
            uint64_t per_item = std::max<uint64_t>(1, h.aux / h.count);
            uint64_t old = st_.ns_per_item.load(std::memory_order_relaxed);
            st_.ns_per_item.store(old ? (3 * old + per_item) / 4 : per_item,
                                  std::memory_order_relaxed);
        }
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            auto& held = st_.sched[i].held;
            auto it = std::find_if(held.begin(), held.end(), [&](const held_chunk& c) {
                return c.first == h.first_index && c.count == h.count;
            });
            if (it == held.end())
                return "results for " + item_range(h.first_index, h.count) +
                       ", which it was not given";
            held.erase(it);
            if (st_.settings.error_mode != PM_ERRORS_RETURN && chunk.first_failed() != UINT64_MAX)
                st_.stop_at = std::min(st_.stop_at, chunk.first_failed() + 1);
            st_.received += h.count;
            st_.sorter.push(std::move(chunk));
        }
        st_.room.notify_one();
        st_.results.notify_one();
        return {};
    }

    // Worker i is gone, or must go: reap it, and turn the chunks it held into
    // failed results naming the worker and how it ended. status: PM_EWORKER
    // when it died, PM_EIO when its channel carried a bad frame (we stop it;
    // its exit is then our kill and not worth naming).
    void lose_worker(size_t i, const std::string& why, int status = PM_EWORKER) {
        worker& w = *workers_[i];
        if (!w.alive)
            return;
        st_.pool->retire(w);
        std::string what = w.describe();
        if (status == PM_EIO)
            what += " " + why + " and was stopped";
        else if (w.is_process())
            what += " " + describe_wait_status(w.process.wait_status());
        else
            what += " stopped";
        if (!why.empty() && status != PM_EIO)
            what += " after it " + why;
        std::vector<held_chunk> held;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            held.swap(st_.sched[i].held);
            st_.sched[i].usable = false;
            st_.last_loss = what;
            const bool expected = st_.killable && st_.stop.load();  // we killed it
            for (const held_chunk& c : held) {
                std::string message = what + " while holding " + item_range(c.first, c.count);
                if (!expected)
                    PM_LOG(warn, "{}", message);
                result_chunk lost;
                lost.make_failed(c.first, c.count, status, message);
                if (st_.settings.error_mode != PM_ERRORS_RETURN)
                    st_.stop_at = std::min(st_.stop_at, c.first + 1);
                st_.received += c.count;
                st_.sorter.push(std::move(lost));
            }
        }
        if (held.empty() && !(st_.killable && st_.stop.load()))
            PM_LOG(warn, "{}, holding no items", what);
        st_.room.notify_one();
        st_.results.notify_one();
    }

    void handle_broken_channels() {
        for (size_t i = 0; i < st_.sched.size(); ++i) {
            bool broken;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                broken = std::exchange(st_.sched[i].broken, false);
            }
            if (broken) {
                read_worker(i);  // keep what it finished before the break
                lose_worker(i, "stopped reading its tasks");
            }
        }
    }

    // A worker can die without its stream ending (another process may hold
    // a copy of its write end), so exits are also checked with waitpid.
    void check_liveness() {
        for (size_t i = 0; i < workers_.size(); ++i) {
            worker& w = *workers_[i];
            if (!w.alive || !w.is_process() || !w.process.try_reap())
                continue;
            read_worker(i);  // results it wrote before leaving still count
            lose_worker(i, "");
        }
    }

    pool_map_state& st_;
    std::vector<std::unique_ptr<worker>>& workers_;
    std::vector<struct pollfd> pfds_;
    std::vector<size_t> owner_;
    uint64_t last_liveness_ns_ = 0;
    bool killed_ = false;
};

}  // namespace

std::string item_range(uint64_t first, uint32_t count) {
    if (count == 1)
        return "item " + std::to_string(first);
    return "items " + std::to_string(first) + " to " + std::to_string(first + count - 1);
}

void run_collector(pool_map_state& st) noexcept {
    int status = PM_OK;
    std::string message;
    try {
        collector(st).run();
    } catch (const error& e) {
        status = e.status();
        message = e.what();
    } catch (const std::bad_alloc&) {
        status = PM_ENOMEM;
        message = "out of memory while reading results";
    } catch (const std::exception& e) {
        status = PM_EINTERNAL;
        message = std::string("collector: ") + e.what();
    }
    if (status != PM_OK) {
        // Results can no longer be read: stop everything. The caller's
        // thread retires the workers after joining us.
        PM_LOG(err, "collector stopped: {}", message);
        st.stop.store(true);
        st.wake_feeder();
    }
    {
        std::lock_guard<std::mutex> hold(st.mutex);
        if (status != PM_OK)
            for (auto& s : st.sched)
                s.usable = false;  // so a feeder mid-send gives up
        st.collector_done = true;
        st.collect_status = status;
        st.collect_message = std::move(message);
    }
    st.room.notify_all();
    st.results.notify_all();
}

}  // namespace pm::core
