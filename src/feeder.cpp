// The feeder thread: reads the input into chunks and sends each one to the
// worker with the fewest chunks, within the in-flight bound and the workers'
// credit. It stops at the end of the input, at an input error, when no worker
// is left, or when asked to.
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
        if (!s.usable)
            continue;
        *any_usable = true;
        if (s.held.size() < st.credits &&
            (best == SIZE_MAX || s.held.size() < st.sched[best].held.size()))
            best = i;
    }
    return best;
}

class feeder {
public:
    explicit feeder(pool_map_state& st) : st_(st) {}

    // Sends one chunk. False: stop feeding (status set if that is an error).
    bool dispatch(task_builder& chunk, uint64_t first, int& status, std::string& message) {
        const uint32_t n = chunk.count();
        size_t target;
        {
            std::unique_lock<std::mutex> hold(st_.mutex);
            for (;;) {
                if (st_.stop.load() || first >= st_.stop_at)
                    return false;
                bool any_usable;
                size_t best = pick_worker(st_, next_pick_, &any_usable);
                if (!any_usable) {
                    status = PM_EWORKER;
                    message = "no live worker is left to take " + item_range(first, n);
                    if (!st_.last_loss.empty())
                        message += " (the last one: " + st_.last_loss + ")";
                    return false;
                }
                bool room = st_.in_flight == 0 ||
                            st_.in_flight + n <= st_.planner.in_flight_bound();
                if (room && best != SIZE_MAX) {
                    target = best;
                    break;
                }
                st_.room.wait(hold);
            }
            next_pick_ = (target + 1) % st_.sched.size();
            st_.sched[target].held.push_back({first, n});
            st_.in_flight += n;
            st_.dispatched = first + n;
        }
        struct iovec iov[3];
        int iovcnt = chunk.to_iovecs(first, iov);
        channel& link = *st_.pool->workers()[target]->link;
        bool sent = link.send(iov, iovcnt, st_.feeder_wake.get(), [this, target] {
            // A one-shot pool is killed anyway; a shared pool's worker must
            // get the whole frame or it would read a torn one.
            if (st_.killable && st_.stop.load())
                return true;
            std::lock_guard<std::mutex> hold(st_.mutex);
            return !st_.sched[target].usable;
        });
        if (!sent) {
            // The collector turns the chunks it held into failures.
            std::lock_guard<std::mutex> hold(st_.mutex);
            st_.sched[target].usable = false;
            st_.sched[target].broken = true;
            st_.wake_collector();
        }
        return true;
    }

private:
    pool_map_state& st_;
    size_t next_pick_ = 0;
};

}  // namespace

void run_feeder(pool_map_state& st, input_source& input) noexcept {
    int status = PM_OK;
    std::string message;
    try {
        feeder f(st);
        task_builder chunk;
        uint64_t first = 0;
        while (!st.stop.load()) {
            size_t want = st.planner.next_chunk_size(st.ns_per_item.load());
            std::string error;
            auto r = input.fill(chunk, want, &st.stop, &error);
            if (!chunk.empty()) {
                if (!f.dispatch(chunk, first, status, message))
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
    if (status != PM_OK)
        PM_LOG(debug, "feeder stopped: {}", message);
    std::lock_guard<std::mutex> hold(st.mutex);
    st.feeder_done = true;
    st.feed_status = status;
    st.feed_message = std::move(message);
    st.wake_collector();
}

}  // namespace pm::core
