// The feeder thread: reads the input into chunks and sends each one to the
// worker with the fewest chunks, within the in-flight bound and the workers'
// credit. Items of a dead worker that must run again come first, each alone
// in a chunk. It stops at the end of the input once nothing is left to run
// again, at an input error, when no worker is left, or when asked to.
#include <cstring>
#include <new>

#include "errors.hpp"
#include "logging.hpp"
#include "pool_map_state.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

// Picks a usable worker with free credit, the least loaded one, starting the
// search after the last pick so that ties spread. SIZE_MAX if none.
size_t pick_worker(const pool_map_state& st, size_t start, bool* any_usable) {
    size_t best = SIZE_MAX;
    *any_usable = false;
    for (size_t k = 0; k < st.sched.size(); ++k) {
        size_t i = (start + k) % st.sched.size();
        const worker_schedule& s = st.sched[i];
        if (!s.usable) {
            // Worth waiting for: it comes back once recycled or replaced, or
            // its break is not yet handled (the collector may replace it).
            *any_usable = *any_usable || s.retiring || s.replacing || s.broken;
            continue;
        }
        *any_usable = true;
        if (s.held.size() < st.credits &&
            (best == SIZE_MAX || s.held.size() < st.sched[best].held.size()))
            best = i;
    }
    return best;
}

// A copy of a task's payload, as the worker will read it.
std::shared_ptr<const std::vector<char>> copy_items(const task_builder& chunk) {
    auto copy = std::make_shared<std::vector<char>>(chunk.count() * sizeof(uint64_t) +
                                                    chunk.byte_size());
    std::memcpy(copy->data(), chunk.lens(), chunk.count() * sizeof(uint64_t));
    if (chunk.byte_size())
        std::memcpy(copy->data() + chunk.count() * sizeof(uint64_t), chunk.bytes(),
                    chunk.byte_size());
    return copy;
}

enum class sent { ok, stop, rerun_first };

class feeder {
public:
    explicit feeder(pool_map_state& st) : st_(st) {}

    // Sends one chunk; a rerun is already counted in flight. rerun_first: a
    // rerun is waiting and the chunk was not sent.
    sent dispatch(task_builder& chunk, uint64_t first, bool is_rerun, int& status,
                  std::string& message) {
        const uint32_t n = chunk.count();
        size_t target;
        uint64_t generation;
        std::shared_ptr<channel> link;
        {
            std::unique_lock<std::mutex> hold(st_.mutex);
            for (;;) {
                if (st_.stop.load() || (!is_rerun && first >= st_.stop_at))
                    return sent::stop;
                if (!is_rerun && !st_.reruns.empty())
                    return sent::rerun_first;
                bool any_usable;
                size_t best = pick_worker(st_, next_pick_, &any_usable);
                if (!any_usable) {
                    status = PM_EWORKER;
                    message = "no live worker is left to take " + item_range(first, n);
                    if (!st_.last_loss.empty())
                        message += " (the last one: " + st_.last_loss + ")";
                    return sent::stop;
                }
                // No room check: a chunk is read only into the room the
                // bound leaves (wait_for_room), and a rerun is counted already.
                if (best != SIZE_MAX) {
                    target = best;
                    break;
                }
                st_.room.wait(hold);
            }
            next_pick_ = (target + 1) % st_.sched.size();
            worker_schedule& s = st_.sched[target];
            s.held.push_back({first, n, st_.rerun && !st_.item_at ? copy_items(chunk) : nullptr});
            generation = s.generation;
            link = st_.pool->workers()[target]->link;
            if (!is_rerun) {
                st_.in_flight += n;
                st_.dispatched = first + n;
            }
        }
        struct iovec iov[3];
        int iovcnt = chunk.to_iovecs(first, iov);
        bool ok = link->send(iov, iovcnt, st_.feeder_wake.get(), [this, target, generation] {
            // A one-shot pool is killed anyway; a shared pool's worker must
            // get the whole frame or it would read a torn one.
            if (st_.killable && st_.stop.load())
                return true;
            std::lock_guard<std::mutex> hold(st_.mutex);
            // A worker being recycled still gets the frame it was sent.
            const worker_schedule& s = st_.sched[target];
            return s.generation != generation || (!s.usable && !s.retiring);
        });
        if (!ok) {
            // The collector turns the chunks it held into failures or reruns.
            std::lock_guard<std::mutex> hold(st_.mutex);
            worker_schedule& s = st_.sched[target];
            if (s.generation == generation) {
                s.usable = false;
                s.broken = true;
            }
            st_.wake_collector();
        }
        return sent::ok;
    }

    // Sends every waiting rerun, lowest index first; false when the feeder
    // must stop.
    bool send_reruns(int& status, std::string& message) {
        for (;;) {
            uint64_t index;
            std::vector<char> bytes;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                if (st_.reruns.empty())
                    return true;
                auto it = st_.reruns.begin();
                index = it->first;
                bytes = std::move(it->second);
                st_.reruns.erase(it);
            }
            single_.clear();
            if (st_.item_at) {
                const char* data;
                size_t len;
                st_.item_at(index, &data, &len);
                single_.push(data, len);
            } else {
                single_.push(bytes.data(), bytes.size());
            }
            if (dispatch(single_, index, true, status, message) == sent::stop) {
                std::lock_guard<std::mutex> hold(st_.mutex);
                if (index < st_.stop_at)
                    st_.reruns.emplace(index, std::move(bytes));
                return false;
            }
        }
    }

    // Waits until the in-flight bound leaves room for at least one item
    // (reruns, already counted, may be sent meanwhile); returns how many
    // items may be read now, 0 when the feeder must stop.
    size_t wait_for_room(int& status, std::string& message) {
        for (;;) {
            {
                std::unique_lock<std::mutex> hold(st_.mutex);
                st_.room.wait(hold, [&] {
                    return st_.stop.load() || !st_.reruns.empty() ||
                           st_.in_flight < st_.planner.in_flight_bound() ||
                           st_.dispatched >= st_.stop_at;
                });
                if (st_.stop.load() || st_.dispatched >= st_.stop_at)
                    return 0;
                if (st_.reruns.empty())
                    return static_cast<size_t>(st_.planner.in_flight_bound() - st_.in_flight);
            }
            if (!send_reruns(status, message))
                return 0;
        }
    }

    // The feeder is stopping: items waiting to run again get a result, so
    // that an ordered consumer is not left waiting for them.
    void fail_reruns(int status, const std::string& message) {
        std::lock_guard<std::mutex> hold(st_.mutex);
        std::vector<uint64_t> lost;
        for (const auto& r : st_.reruns)
            lost.push_back(r.first);
        st_.reruns.clear();
        if (st_.stop.load())
            return;  // nobody waits for results any more
        for (uint64_t index : lost) {
            result_chunk failed;
            failed.make_failed(index, 1, status != PM_OK ? status : PM_EWORKER,
                               "item " + std::to_string(index) + " could not run again: " +
                                   (message.empty() ? "the map stopped" : message));
            if (st_.settings.error_mode != PM_ERRORS_RETURN)
                st_.note_final_failure(index);
            st_.sorter.push(std::move(failed));
        }
        st_.results.notify_one();
    }

    // After the input: serve reruns until no worker holds anything.
    void finish(int& status, std::string& message) {
        for (;;) {
            {
                std::unique_lock<std::mutex> hold(st_.mutex);
                st_.room.wait(hold, [&] {
                    return st_.stop.load() || !st_.reruns.empty() || !st_.work_outstanding();
                });
                if (st_.stop.load() || !st_.work_outstanding())
                    return;
            }
            if (!send_reruns(status, message))
                return;
        }
    }

private:
    pool_map_state& st_;
    size_t next_pick_ = 0;
    task_builder single_;
};

}  // namespace

void run_feeder(pool_map_state& st, input_source& input) noexcept {
    int status = PM_OK;
    std::string message;
    try {
        feeder f(st);
        task_builder chunk;
        uint64_t first = 0;
        bool more = true;
        while (more && !st.stop.load()) {
            if (!f.send_reruns(status, message))
                break;
            // Cut at the bound: the input is never read past it.
            const size_t room = f.wait_for_room(status, message);
            if (room == 0)
                break;
            size_t want = std::min(st.planner.next_chunk_size(st.ns_per_item.load()), room);
            std::string error;
            auto r = input.fill(chunk, want, &st.stop, &error);
            while (!chunk.empty()) {
                sent s = f.dispatch(chunk, first, false, status, message);
                if (s == sent::rerun_first) {
                    if (!f.send_reruns(status, message))
                        s = sent::stop;
                    else
                        continue;
                }
                if (s == sent::stop) {
                    more = false;
                    break;
                }
                first += chunk.count();
                chunk.clear();
            }
            if (!more)
                break;
            if (r == input_source::fill_status::end)
                break;
            if (r == input_source::fill_status::failed) {
                status = PM_EINPUT;
                message = std::move(error);
                break;
            }
        }
        // Workers may still die holding items that must run again.
        if (status == PM_OK || status == PM_EINPUT)
            f.finish(status, message);
        f.fail_reruns(status, message);
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
    if (status != PM_OK)
        PM_LOG(debug, "feeder stopped: {}", message);
    std::lock_guard<std::mutex> hold(st.mutex);
    st.feeder_done = true;
    if (st.feed_status == PM_OK) {
        st.feed_status = status;
        st.feed_message = std::move(message);
    }
    st.wake_collector();
}

}  // namespace pm::core
