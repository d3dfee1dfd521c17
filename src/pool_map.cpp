// The pool engine as the caller sees it: starts the feeder and collector
// threads (feeder.cpp, collector.cpp), hands out results from the sort buffer
// in pm_map_next(), and ends the map: at the end, at a final failure, or when
// destroyed part-way.
#include <chrono>
#include <thread>
#include <vector>
#include <utility>

#include "blocked_thread.hpp"
#include "logging.hpp"
#include "errors.hpp"
#include "map_engine.hpp"
#include "pool_map_state.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

constexpr uint64_t shutdown_grace_ns = 1'000'000'000;
constexpr uint64_t drain_limit_ns = 1'000'000'000;

class pool_map final : public map_engine {
public:
    pool_map(std::shared_ptr<worker_pool> pool, bool owns_pool, const map_settings& s,
             input_source&& input)
        : owns_pool_(owns_pool),
          input_(std::move(input)),
          st_(std::move(pool), owns_pool, s, input_.length()) {
        if (input_.random_access())
            st_.item_at = [this](uint64_t i, const char** data, size_t* len) {
                input_.item(i, data, len);
            };
        collector_ = start_blocked_thread([this] { run_collector(st_); });
        try {
            feeder_ = start_blocked_thread([this] { run_feeder(st_, input_); });
        } catch (...) {
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                st_.feeder_done = true;  // the collector waits for it
            }
            end_map(true);
            throw;
        }
    }

    ~pool_map() override { end_map(true); }

    void cancel() noexcept override {
        st_.drain_deadline_ns.store(0);
        st_.cancelled.store(true);
        st_.stop.store(true);
        st_.wake_feeder();
        st_.wake_collector();
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
        }
        st_.results.notify_all();
    }

    size_t take_more_of_chunk(map_entry* out, size_t max) noexcept override {
        if (!have_current_)
            return 0;
        return current_.take_results(max, [&out](uint64_t index, const char* data, size_t len) {
            map_entry& e = *out++;
            e.index = index;
            e.status = PM_OK;
            e.data = data;
            e.len = len;
            e.message = nullptr;
            e.message_len = 0;
        });
    }

    uint64_t total() const noexcept override {
        uint64_t n = input_.length();
        return n != UINT64_MAX ? n : st_.settings.total_hint;
    }

    int next_batch(map_entry* out, size_t max, uint64_t deadline_ns, size_t* count,
                   std::string& message) override {
        *count = 0;
        // The last batch's chunks are no longer referenced.
        spent_.clear();
        for (;;) {
            if (have_current_) {
                while (*count < max && !current_.exhausted()) {
                    const result_chunk::item it = current_.take();
                    map_entry& e = out[(*count)++];
                    e.index = it.index;
                    e.status = it.status;
                    e.data = it.data;
                    e.len = it.len;
                    e.message = it.message;
                    e.message_len = it.message_len;
                    if (it.status != PM_OK && st_.settings.error_mode != PM_ERRORS_RETURN) {
                        // Raise mode: this failure ends the map. The chunk stays
                        // alive with this batch's entries.
                        message.assign(it.message, it.message_len);
                        release_current();
                        end_map(true);
                        return it.status;
                    }
                }
                if (current_.exhausted())
                    release_current();
                if (*count == max)
                    return PM_OK;
            }
            std::unique_lock<std::mutex> hold(st_.mutex);
            if (*count > 0) {
                // Take what is ready, without waiting for more.
                if (!st_.sorter.pop_ready(current_))
                    return PM_OK;
                have_current_ = true;
                continue;
            }
            auto ready = [&] {
                return st_.cancelled.load() || st_.sorter.pop_ready(current_) ||
                       st_.collector_done || st_.collect_status != PM_OK;
            };
            if (deadline_ns == UINT64_MAX) {
                st_.results.wait(hold, ready);
            } else {
                const uint64_t now = monotonic_ns();
                const bool got =
                    now < deadline_ns
                        ? st_.results.wait_for(hold, std::chrono::nanoseconds(deadline_ns - now),
                                               ready)
                        : ready();
                if (!got)
                    return PM_EAGAIN;
            }
            if (st_.cancelled.load()) {
                hold.unlock();
                end_map(true);
                message = "the map was cancelled";
                return final_entry(out, count, PM_ECANCELED, 0, message);
            }
            if (current_.count()) {
                have_current_ = true;
                continue;
            }
            // Every result is delivered: report how the map ended. An input
            // error comes after every result before it.
            int status = st_.collect_status != PM_OK ? st_.collect_status : st_.feed_status;
            std::string why =
                st_.collect_status != PM_OK ? st_.collect_message : st_.feed_message;
            uint64_t index = st_.dispatched;
            if (status == PM_OK && !st_.sorter.empty()) {
                // A result that can never come would block an ordered map
                // forever: report the gap instead.
                status = PM_EINTERNAL;
                index = st_.sorter.next_index();
                why = "the result of item " + std::to_string(index) + " was lost";
            }
            hold.unlock();
            end_map(status != PM_OK);
            if (status == PM_OK)
                return PM_DONE;
            message = std::move(why);
            return final_entry(out, count, status, index, message);
        }
    }

private:
    static int final_entry(map_entry* out, size_t* count, int status, uint64_t index,
                           const std::string& message) {
        map_entry& e = out[(*count)++];
        e = map_entry{};
        e.index = index;
        e.status = status;
        e.message = message.data();
        e.message_len = message.size();
        return status;
    }

    // The consumer has taken the current chunk's items: its room goes back
    // to the feeder; its memory lives until the next batch (the entries
    // handed out point into it).
    void release_current() {
        bool wake;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            st_.in_flight -= current_.count();
            using lack = pool_map_state::feeder_lack;
            wake = st_.feeder_lacks != lack::credit;
        }
        if (wake)
            st_.room.notify_one();
        have_current_ = false;
        spent_.push_back(std::move(current_));
        current_ = result_chunk();
    }

    // Stops the feeder; a one-shot pool's workers are killed (by the
    // collector, which owns them meanwhile) when the map failed or was
    // abandoned, and a shared pool's workers finish what they hold. Then the
    // threads are joined and, for a one-shot map, the pool is shut down.
    // Idempotent.
    void end_map(bool failed) noexcept {
        if (over_)
            return;
        over_ = true;
        if (failed) {
            // A shared pool's workers may finish what they hold, for a while.
            uint64_t deadline = monotonic_ns() + drain_limit_ns;
            if (st_.drain_deadline_ns.load() > deadline)
                st_.drain_deadline_ns.store(deadline);
            st_.stop.store(true);
            st_.wake_feeder();
            st_.wake_collector();
        }
        if (feeder_.joinable())
            feeder_.join();
        if (collector_.joinable())
            collector_.join();
        bool collector_failed;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            collector_failed = st_.collect_status != PM_OK;
        }
        if (collector_failed) {
            // Channels may be mid-frame: no later map may use these workers.
            for (auto& w : st_.pool->workers())
                if (w->alive)
                    st_.pool->retire(*w);
        }
        // The threads are joined: a retired stream's far end may be told.
        st_.pool->close_retired_streams();
        if (owns_pool_)
            st_.pool->shutdown(failed ? 0 : shutdown_grace_ns);
        // Chunks handed out (spent_) stay: the last entries point into them.
        if (have_current_)
            spent_.push_back(std::move(current_));
        have_current_ = false;
        current_ = result_chunk();
        std::lock_guard<std::mutex> hold(st_.mutex);
        st_.sorter = sort_buffer(st_.settings.ordered);
    }

    const bool owns_pool_;
    input_source input_;
    pool_map_state st_;
    std::thread feeder_;
    std::thread collector_;
    result_chunk current_;  // the chunk being handed out, outside the lock
    bool have_current_ = false;
    std::vector<result_chunk> spent_;  // taken in the last batch, still referenced
    bool over_ = false;
};

}  // namespace

pool_map_state::pool_map_state(std::shared_ptr<worker_pool> p, bool owns_pool,
                               const map_settings& s, uint64_t input_length)
    : pool(std::move(p)),
      killable(owns_pool && !pool->in_process()),
      settings(s),
      planner(s, static_cast<uint32_t>(pool->workers().size()), input_length),
      // Every item a dead worker held but was not running runs again on
      // another worker (only the running ones are its fault), and an ordered
      // raise-mode map may need those results before its failure: so a dead
      // worker is always replaced while the map goes on.
      rerun(pool->can_replace()),
      replace(pool->can_replace()),
      ranges(pool->workers_have_input()),
      feeder_wake(make_eventfd()),
      collector_wake(make_eventfd()),
      sched(pool->workers().size()),
      sorter(s.ordered) {
    const uint64_t now = monotonic_ns();
    for (size_t i = 0; i < sched.size(); ++i) {
        sched[i].usable = pool->workers()[i]->alive;
        sched[i].generation = pool->workers()[i]->generation;
        sched[i].link = pool->workers()[i]->link;
        sched[i].last_result_ns = now;
    }
}

void pool_map_state::note_final_failure(uint64_t index) {
    if (index >= stop_at)
        return;
    stop_at = index + 1;
    reruns.erase(reruns.lower_bound(stop_at), reruns.end());
}

void pool_map_state::fail_reruns(int status, const std::string& message) {
    std::vector<uint64_t> lost;
    for (const auto& r : reruns)
        lost.push_back(r.first);
    reruns.clear();
    if (stop.load())
        return;  // nobody waits for results any more
    for (uint64_t index : lost) {
        result_chunk failed;
        failed.make_failed(index, 1, status != PM_OK ? status : PM_EWORKER,
                           "item " + std::to_string(index) + " could not run again: " +
                               (message.empty() ? "the map stopped" : message));
        if (settings.error_mode != PM_ERRORS_RETURN)
            note_final_failure(index);
        sorter.push(std::move(failed));
    }
    results.notify_one();
}

uint64_t pool_map_state::credit_cap() const noexcept {
    const item_costs c = costs();
    return planner.credit_items(planner.peek_chunk_size(c), c);
}

bool pool_map_state::work_outstanding() const noexcept {
    if (!reruns.empty())
        return true;
    for (const auto& s : sched)
        if (!s.held.empty())
            return true;
    return false;
}

void pool_map_state::wake_feeder() noexcept {
    eventfd_signal(feeder_wake.get());
    {
        // Taking the lock orders the caller's state change before a feeder
        // that checked it and is about to wait, so the wake-up is not lost.
        std::lock_guard<std::mutex> hold(mutex);
    }
    room.notify_all();
}

void pool_map_state::wake_collector() noexcept { eventfd_signal(collector_wake.get()); }

std::unique_ptr<map_engine> start_pool_map(std::shared_ptr<worker_pool> pool, bool owns_pool,
                                           const map_settings& settings, input_source&& input) {
    // Workers of a pool may have died between maps, or been given up by an
    // earlier map: every slot gets a live worker again, so a pool never
    // shrinks for good (only a template that is gone leaves slots empty).
    for (auto& w : pool->workers()) {
        if (w->alive && w->is_process() && worker_exited(w->exit_watch.get())) {
            pool->retire(*w);
            PM_LOG(warn, "{} {} while the pool was idle", w->describe(), w->how_it_ended());
        }
        if (!w->alive && pool->can_replace())
            pool->replace(*w);
    }
    if (pool->live_count() == 0)
        throw error(PM_EWORKER, "every worker of this pool has died");
    return std::make_unique<pool_map>(std::move(pool), owns_pool, settings, std::move(input));
}

}  // namespace pm::core
