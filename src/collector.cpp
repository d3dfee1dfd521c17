// The collector thread: reads result frames from every worker as they come,
// returns the workers' credit, and files the results in the sort buffer, so
// workers keep going while the caller is busy (up to the in-flight bound).
// It watches the workers: a worker that dies (its exit watch or its stream tells),
// or runs an item past the timeout, is retired; the chunks it held become
// failed results or items to run again, so nothing is lost and nothing waits
// for it; and a new worker takes its place when the map (or the pool) goes
// on. It also recycles workers that ran enough items or grew too large. It
// ends once the feeder has stopped and no worker holds a chunk.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <set>

#include "errors.hpp"
#include "logging.hpp"
#include "pool_map_state.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

constexpr int idle_poll_ms = 100;
constexpr uint64_t rss_check_period_ns = 10'000'000;
// A slot whose workers die this many times in a row, in one map, while
// running no item and before any result (a broken init hook, a crash at
// start) is not refilled again in that map. A death while running an item is
// that item's fault, and never counts.
constexpr uint32_t max_deaths_without_result = 3;
// A worker writes a result frame in one go, and we read every worker as its
// bytes come; so a frame that stops part-way for this long means a worker
// that wrote bytes of its own into its result pipe, or was stopped
// (SIGSTOP). Shorter with an item timeout: the timeout, at least 1 s.
constexpr uint64_t frame_stall_limit_ms = 10'000;
constexpr uint64_t min_frame_stall_limit_ms = 1'000;
// How long a failed pool map waits for a stream worker to answer what it
// holds, past the drain deadline, before it gives the stream up.
constexpr uint64_t stream_drain_limit_ns = 10'000'000'000;

// Resident memory of a process in bytes, 0 if unknown.
uint64_t resident_bytes(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
    FILE* f = std::fopen(path, "re");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int got = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

// Item j's bytes inside a copied task payload (length table, then bytes).
std::vector<char> item_bytes(const std::vector<char>& payload, uint32_t count, uint32_t j) {
    uint64_t offset = count * sizeof(uint64_t), len = 0;
    for (uint32_t k = 0; k <= j; ++k) {
        uint64_t l;
        std::memcpy(&l, payload.data() + k * sizeof(uint64_t), sizeof l);
        if (k < j)
            offset += l;
        else
            len = l;
    }
    return std::vector<char>(payload.begin() + static_cast<long>(offset),
                             payload.begin() + static_cast<long>(offset + len));
}

class collector {
public:
    explicit collector(pool_map_state& st)
        : st_(st), workers_(st.pool->workers()), last_bytes_ns_(workers_.size()) {
        const uint64_t t = st.settings.item_timeout_ms;
        check_ms_ = t ? static_cast<int>(std::clamp<uint64_t>(t / 4, 10, 100)) : idle_poll_ms;
        stall_limit_ms_ = t ? std::clamp(t, min_frame_stall_limit_ms, frame_stall_limit_ms)
                            : frame_stall_limit_ms;
    }

    void run() {
        for (;;) {
            bool kill_now;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                if (st_.feeder_done && !st_.work_outstanding())
                    return;
                kill_now = st_.killable && st_.stop.load() && !killed_;
            }
            if (kill_now) {
                // The caller gave up on a one-shot map: no result is wanted.
                st_.pool->kill_all();
                killed_ = true;
            }
            if (!st_.killable && st_.stop.load() &&
                monotonic_ns() >= st_.drain_deadline_ns.load())
                kill_holders();
            wait_and_read();
        }
    }

private:
    void wait_and_read() {
        pfds_.clear();
        owner_.clear();
        for (size_t i = 0; i < workers_.size(); ++i) {
            worker& w = *workers_[i];
            if (!w.alive)
                continue;
            pfds_.push_back({w.link->poll_fd(), POLLIN, 0});
            owner_.push_back({i, w.generation, false});
            if (w.exit_watch) {
                pfds_.push_back({w.exit_watch.get(), POLLIN, 0});
                owner_.push_back({i, w.generation, true});
            }
        }
        pfds_.push_back({st_.collector_wake.get(), POLLIN, 0});
        int rc = ::poll(pfds_.data(), pfds_.size(), check_ms_);
        if (rc < 0 && errno != EINTR)
            throw_system_error("poll", errno);
        if (rc > 0) {
            if (pfds_.back().revents)
                eventfd_drain(st_.collector_wake.get());
            const uint64_t polled_ns = monotonic_ns();
            for (size_t k = 0; k + 1 < pfds_.size(); ++k) {
                const size_t i = owner_[k].worker;
                // A worker replaced earlier in this round is not the one polled.
                if (!pfds_[k].revents || workers_[i]->generation != owner_[k].generation)
                    continue;
                if (!owner_[k].exited)
                    last_bytes_ns_[i] = polled_ns;
                if (owner_[k].exited) {
                    // Results it wrote before leaving still count.
                    read_then_lose(i, "");
                } else {
                    read_worker(i);
                }
            }
            // One wake-up of the consumer for every frame this round read:
            // at chunk size 1 it was one per result, each a futex call here
            // and a context switch there.
            tell_results();
        }
        handle_broken_channels();
        const uint64_t now = monotonic_ns();
        if (now - last_check_ns_ >= static_cast<uint64_t>(check_ms_) * 1'000'000) {
            last_check_ns_ = now;
            if (st_.settings.item_timeout_ms)
                check_timeouts(now);
            check_stalled_frames(now);
        }
        retire_recycled();
        tell_results();
    }

    void tell_results() {
        if (!results_to_tell_)
            return;
        results_to_tell_ = false;
        untold_bytes_ = 0;
        st_.results.notify_one();
    }

    // Reads what worker i left, then retires it. Reading may already have
    // lost it (end of stream) and started a replacement in its slot, which
    // must not be retired in its place.
    void read_then_lose(size_t i, const std::string& why) {
        const uint64_t generation = workers_[i]->generation;
        read_worker(i);
        if (workers_[i]->generation != generation || !workers_[i]->alive)
            return;
        // Its stream is still open (another process holds its write end):
        // say how far its last frame got.
        const std::string where = workers_[i]->link->partial_frame();
        if (why.empty() && !where.empty())
            lose_worker(i, "left its stream " + where, UINT64_MAX);
        else
            lose_worker(i, why, UINT64_MAX);
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
                    lose_worker(i, "sent a bad frame (" + problem + ")", UINT64_MAX, PM_EIO);
                    return;
                }
                break;
            case frame_reader::status::closed:
                lose_worker(i, problem, UINT64_MAX);
                return;
            case frame_reader::status::bad:
                lose_worker(i, "sent a bad frame (" + problem + ")", UINT64_MAX, PM_EIO);
                return;
            }
        }
    }

    // Files one result frame from worker i; returns what is wrong with it.
    std::string take_frame(size_t i) {
        worker& w = *workers_[i];
        channel& link = *w.link;
        const frame_header h = link.frame();
        if (h.type != static_cast<uint16_t>(frame_type::result))
            return "frame of type " + std::to_string(h.type) + " where results were due";
        result_chunk chunk;
        std::string problem = chunk.decode(h, link.take_payload());
        if (!problem.empty())
            return problem;
        if (h.count) {
            // Means over recent frames, for the chunk planner.
            const uint64_t ns = std::max<uint64_t>(1, h.aux / h.count);
            const uint64_t bytes = std::max<uint64_t>(1, h.payload_len / h.count);
            const uint64_t old_ns = st_.ns_per_item.load(std::memory_order_relaxed);
            const uint64_t old_bytes = st_.result_bytes_per_item.load(std::memory_order_relaxed);
            st_.ns_per_item.store(old_ns ? (3 * old_ns + ns) / 4 : ns, std::memory_order_relaxed);
            st_.result_bytes_per_item.store(old_bytes ? (3 * old_bytes + bytes) / 4 : bytes,
                                            std::memory_order_relaxed);
        }
        w.items_done += h.count;
        const bool recycle = should_recycle(i);
        bool wake_feeder;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            worker_schedule& s = st_.sched[i];
            // A frame answers the next items of one chunk it holds: all of
            // them, or (results stream) the next run of them.
            auto& held = s.held;
            auto it = std::find_if(held.begin(), held.end(), [&](const held_chunk& c) {
                return c.first + c.done == h.first_index && h.count <= c.count - c.done;
            });
            if (it == held.end() || h.count == 0)
                return "results for " + item_range(h.first_index, h.count) +
                       ", which it was not given";
            it->done += h.count;
            s.held_items -= h.count;
            if (it->done == it->count)
                held.erase(it);
            s.deaths_without_result = 0;
            s.last_result_ns = monotonic_ns();
            if (recycle && !s.retiring) {
                s.retiring = true;
                s.usable = false;
            }
            const bool failed = chunk.first_failed() != UINT64_MAX;
            if (st_.settings.error_mode != PM_ERRORS_RETURN && failed)
                st_.note_final_failure(chunk.first_failed());
            st_.sorter.push(std::move(chunk));
            // The credit came back; the feeder waits for a quarter of it
            // (or for room, which only the consumer gives back).
            using lack = pool_map_state::feeder_lack;
            const lack l = st_.feeder_lacks;
            wake_feeder = l == lack::anything || failed || s.retiring ||
                          (l != lack::room && pool_map_state::credit_worth_a_write(st_.credit_cap(), s.held_items));
        }
        if (wake_feeder)
            st_.room.notify_one();
        // Small results wait for the end of the poll round to be told (one
        // wake-up for many frames); large ones are told at once, so that
        // the consumer takes each while the next is read, instead of the
        // round's results all piling up in memory (1 MiB results: 9-10
        // MiB above start held at the peak, against 6 told one by one).
        results_to_tell_ = true;
        untold_bytes_ += h.payload_len;
        if (untold_bytes_ >= tell_at_bytes)
            tell_results();
        return {};
    }

    bool should_recycle(size_t i) {
        worker& w = *workers_[i];
        if (!w.is_process() || !st_.pool->can_replace())
            return false;
        if (st_.settings.max_items_per_worker &&
            w.items_done >= st_.settings.max_items_per_worker)
            return true;
        if (st_.settings.max_worker_rss) {
            const uint64_t now = monotonic_ns();
            worker_schedule& s = st_.sched[i];  // rss_checked_ns: collector only
            if (now - s.rss_checked_ns >= rss_check_period_ns) {
                s.rss_checked_ns = now;
                return resident_bytes(w.pid) > st_.settings.max_worker_rss;
            }
        }
        return false;
    }

    // A recycled worker that holds nothing more gets a stop frame; it then
    // exits, and lose_worker replaces it.
    void retire_recycled() {
        for (size_t i = 0; i < workers_.size(); ++i) {
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                worker_schedule& s = st_.sched[i];
                if (!s.retiring || s.stop_sent || !s.held.empty() || !workers_[i]->alive)
                    continue;
                s.stop_sent = true;
            }
            PM_LOG(debug, "recycling {} after {} items", workers_[i]->describe(),
                   workers_[i]->items_done);
            workers_[i]->link->send_stop();
        }
    }

    // Stops workers whose result stream stopped part-way through a frame
    // (see frame_stall_limit_ms): their chunks would wait forever.
    void check_stalled_frames(uint64_t now) {
        for (size_t i = 0; i < workers_.size(); ++i) {
            worker& w = *workers_[i];
            if (!w.alive || !w.is_process() ||
                now - last_bytes_ns_[i] < stall_limit_ms_ * 1'000'000)
                continue;
            const std::string where = w.link->partial_frame();
            if (where.empty())
                continue;
            lose_worker(i,
                        "sent nothing for " + std::to_string(stall_limit_ms_) +
                            " ms part-way through a result frame (" + where + ")",
                        UINT64_MAX, PM_EIO);
        }
    }

    // Kills workers that run an item past the timeout, and workers that hold
    // chunks but have run no item for as long (stuck outside the work
    // function: stopped, or blocked in code of the program's that is not an
    // item; the init hook is not counted).
    void check_timeouts(uint64_t now) {
        const uint64_t limit = st_.settings.item_timeout_ms * 1'000'000;
        for (size_t i = 0; i < workers_.size(); ++i) {
            worker& w = *workers_[i];
            if (!w.alive || !w.is_process())
                continue;
            std::vector<seen_activity>& seen = st_.sched[i].seen;  // collector only
            seen.resize(w.board.size());
            bool any_activity = false;
            bool timed_out = false;
            for (uint32_t t = 0; t < w.board.size(); ++t) {
                uint64_t index = w.board.slot(t)->index.load(std::memory_order_relaxed);
                any_activity = any_activity || index != activity_slot::idle;
                if (index != seen[t].index) {
                    seen[t] = {index, now};
                    continue;
                }
                if (!activity_slot::runs_item(index) || now - seen[t].since_ns < limit)
                    continue;
                PM_LOG(debug, "item {} ran past {} ms on {}", index,
                       st_.settings.item_timeout_ms, w.describe());
                st_.pool->kill(w);
                lose_worker(i, "", index);
                timed_out = true;
                break;
            }
            if (timed_out)
                continue;
            bool holding;
            uint64_t idle_since;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                worker_schedule& s = st_.sched[i];
                holding = !s.held.empty();
                if (!holding || any_activity)
                    s.idle_since_ns = 0;
                else if (s.idle_since_ns == 0)
                    s.idle_since_ns = std::max(now, s.last_result_ns);
                idle_since = s.idle_since_ns;
            }
            // A stream stopped part-way through a frame is the stall check's.
            if (holding && idle_since && now - idle_since >= limit &&
                w.link->partial_frame().empty()) {
                PM_LOG(debug, "{} held chunks without running an item for {} ms",
                       w.describe(), st_.settings.item_timeout_ms);
                st_.pool->kill(w);
                lose_worker(i,
                            "held items for " + std::to_string(st_.settings.item_timeout_ms) +
                                " ms (the item timeout) without running any",
                            UINT64_MAX, PM_EWORKER, true);
            }
        }
    }

    // A stream worker cannot be killed or replaced: it gets longer to answer
    // what it holds before it is given up.
    uint64_t stream_drain_deadline() {
        if (!stop_seen_ns_)
            stop_seen_ns_ = monotonic_ns();
        return stop_seen_ns_ + stream_drain_limit_ns;
    }

    // A pool map that is ending without its results: workers that still
    // hold chunks past the drain deadline are killed (and replaced).
    void kill_holders() {
        for (size_t i = 0; i < workers_.size(); ++i) {
            bool holding;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                holding = !st_.sched[i].held.empty();
            }
            if (holding && workers_[i]->alive && workers_[i]->is_process()) {
                st_.pool->kill(*workers_[i]);
                lose_worker(i, "", UINT64_MAX);
            } else if (holding && workers_[i]->alive && workers_[i]->stream &&
                       monotonic_ns() >= stream_drain_deadline()) {
                // No process to kill: the stream is closed (its far end then
                // stops), and the pool goes on without it.
                lose_worker(i, "held items past the end of a map that failed", UINT64_MAX);
            }
        }
    }

    // Worker i is gone, or must go: collect it, and turn the chunks it held
    // into failed results or items to run again. timed_out: the item it was
    // killed for running too long, else UINT64_MAX. fault: PM_EWORKER when
    // it died, PM_EIO when its channel carried a bad frame (we stop it, so
    // how it ended is our kill and not worth naming). stuck: we killed it
    // for holding items without running any.
    void lose_worker(size_t i, const std::string& why, uint64_t timed_out,
                     int fault = PM_EWORKER, bool stuck = false) {
        worker& w = *workers_[i];
        if (!w.alive)
            return;
        // What its threads were running when it went: the items to blame.
        // Read after the death, so these are its last stores.
        std::set<uint64_t> running;
        for (uint32_t t = 0; t < w.board.size(); ++t) {
            uint64_t index = w.board.slot(t)->index.load(std::memory_order_relaxed);
            if (activity_slot::runs_item(index))
                running.insert(index);
        }
        if (timed_out != UINT64_MAX)
            running = {timed_out};
        st_.pool->retire(w);
        bool ending;
        std::string what = w.describe();
        if (fault == PM_EIO)
            what += " " + why + " and was stopped";
        else if (timed_out != UINT64_MAX)
            what += " was killed because item " + std::to_string(timed_out) + " ran past the " +
                    std::to_string(st_.settings.item_timeout_ms) + " ms item timeout";
        else if (stuck)
            what += " was killed because it " + why;
        else
            what += " " + w.how_it_ended();
        if (!why.empty() && fault != PM_EIO && !stuck)
            what += " after it " + why;
        held_chunks held;
        bool retiring;
        bool counts_as_fruitless;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            // Read under the mutex: the feeder, which fails or drops the
            // reruns as it ends, reads it there too.
            ending = st_.stop.load();
            worker_schedule& s = st_.sched[i];
            held.swap(s.held);
            s.held_items = 0;
            retiring = s.stop_sent && held.empty();
            // A bad frame cannot be traced to an item: blamed are the items
            // the worker ran since its last good frame. One thread runs its
            // chunks in the order it got them, so those are the items up to
            // the one it runs now; the rest it had not started. Otherwise
            // (several threads, or no item running) every item it held.
            size_t eio_chunk = held.size();
            uint64_t eio_last = UINT64_MAX;
            if (fault == PM_EIO && w.board.size() == 1 && running.size() == 1) {
                const uint64_t r = *running.begin();
                for (size_t k = 0; k < held.size(); ++k)
                    if (r >= held[k].first + held[k].done && r < held[k].first + held[k].count) {
                        eio_chunk = k;
                        eio_last = r;
                    }
            }
            // Only a death no item explains counts against the slot.
            counts_as_fruitless = !retiring && running.empty() && fault == PM_EWORKER;
            if (counts_as_fruitless)
                ++s.deaths_without_result;
            s.usable = false;
            s.replacing = will_replace(s, retiring);
            if (!retiring)
                st_.last_loss = what;
            for (size_t k = 0; k < held.size(); ++k) {
                const uint64_t eio_upto = k < eio_chunk    ? UINT64_MAX
                                          : k == eio_chunk ? eio_last
                                                           : 0;
                settle_lost_chunk(held[k], what, running, timed_out, fault, ending,
                                  k > eio_chunk ? false : true, eio_upto);
            }
        }
        if (!retiring && !ending)
            PM_LOG(warn, "{}{}", what, held.empty() ? ", holding no items" : "");
        st_.room.notify_all();
        st_.results.notify_one();
        replace_worker(i, retiring);
    }

    // Under the mutex: each item of a lost chunk fails or waits to run again.
    // The items the worker was running are blamed: charged an attempt, and
    // failed once out of attempts. The others (not started yet, or done but
    // not sent) run again uncharged. A bad frame cannot be traced to an item:
    // the items it ran since its last good frame fail with PM_EIO.
    // For a bad frame (PM_EIO), eio_blamed says whether the chunk's items
    // up to eio_upto (all: UINT64_MAX) are blamed; the others run again.
    void settle_lost_chunk(const held_chunk& c, const std::string& what,
                           const std::set<uint64_t>& running, uint64_t timed_out, int fault,
                           bool ending, bool eio_blamed, uint64_t eio_upto) {
        if (ending)
            return;  // nobody waits for these results any more
        const bool raise = st_.settings.error_mode != PM_ERRORS_RETURN;
        for (uint32_t j = c.done; j < c.count; ++j) {
            const uint64_t index = c.first + j;
            if (raise && index >= st_.stop_at)
                continue;  // a lower item already ends the map
            const bool blamed = fault == PM_EIO ? eio_blamed && index <= eio_upto
                                                : running.count(index) > 0;
            uint32_t attempts = 0;
            if (blamed)
                attempts = ++st_.attempts[index];
            // Once the feeder is gone nothing would send a rerun, and the
            // collector would wait for it for ever: the item fails here
            // (a feeder that stopped early left the items workers held).
            const bool again = !(fault == PM_EIO && blamed) && st_.rerun &&
                               attempts <= st_.settings.retries && !st_.feeder_done;
            if (again) {
                std::vector<char> bytes;
                if (c.items)
                    bytes = item_bytes(*c.items, c.count, j);
                st_.reruns.emplace(index, std::move(bytes));
                continue;
            }
            std::string message = what;
            if (fault == PM_EIO)
                message += " while holding " + item_range(c.first + c.done, c.count - c.done);
            else if (blamed && index != timed_out)
                message += " while running item " + std::to_string(index);
            else if (!blamed)
                message += " while holding item " + std::to_string(index) +
                           ", which could not run again";
            if (attempts > 1)
                message += " (item " + std::to_string(index) + " failed " +
                           std::to_string(attempts) + " attempts)";
            const int status = index == timed_out ? PM_ETIMEOUT : fault;
            result_chunk lost;
            lost.make_failed(index, 1, status, message);
            if (raise)
                st_.note_final_failure(index);
            st_.sorter.push(std::move(lost));
        }
    }

    bool will_replace(const worker_schedule& s, bool recycled) const {
        return st_.replace && st_.pool->can_replace() && !(st_.killable && st_.stop.load()) &&
               (recycled || s.deaths_without_result < max_deaths_without_result);
    }

    // Starts a new worker in slot i when the map or its pool goes on.
    void replace_worker(size_t i, bool recycled) {
        worker& w = *workers_[i];
        bool started = false;
        bool replace;
        uint32_t deaths;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            replace = will_replace(st_.sched[i], recycled);
            deaths = st_.sched[i].deaths_without_result;
        }
        if (replace) {
            started = st_.pool->replace(w);
        } else if (st_.replace && deaths >= max_deaths_without_result) {
            PM_LOG(warn, "worker {} died {} times in a row while running no item and before "
                         "returning a result; it is not replaced again in this map",
                   i, deaths);
        }
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            worker_schedule& s = st_.sched[i];
            s.replacing = false;
            if (!started) {
                st_.room.notify_all();  // the feeder may be waiting for it
                return;
            }
            s.generation = w.generation;
            s.link = w.link;
            s.usable = true;
            s.broken = false;
            s.retiring = false;
            s.stop_sent = false;
            s.idle_since_ns = 0;
            s.last_result_ns = monotonic_ns();
            s.items_sent = 0;
            s.seen.clear();
            st_.room.notify_all();
        }
    }

    // The flag stays up until the worker is lost and its replacement decided,
    // so the feeder never sees a moment with no worker worth waiting for.
    void handle_broken_channels() {
        for (size_t i = 0; i < st_.sched.size(); ++i) {
            uint64_t generation;
            {
                std::lock_guard<std::mutex> hold(st_.mutex);
                if (!st_.sched[i].broken)
                    continue;
                generation = st_.sched[i].generation;
            }
            // Keep what it finished before the break.
            read_then_lose(i, "stopped reading its tasks");
            std::lock_guard<std::mutex> hold(st_.mutex);
            if (st_.sched[i].generation == generation) {  // else replace_worker cleared it
                st_.sched[i].broken = false;
                st_.room.notify_all();
            }
        }
    }

    struct polled {
        size_t worker;
        uint64_t generation;
        bool exited;  // its exit watch, else its result stream
    };

    pool_map_state& st_;
    std::vector<std::unique_ptr<worker>>& workers_;
    std::vector<struct pollfd> pfds_;
    std::vector<polled> owner_;
    std::vector<uint64_t> last_bytes_ns_;  // per worker slot: when its stream last polled readable
    uint64_t last_check_ns_ = 0;
    bool results_to_tell_ = false;  // results filed since the consumer was woken
    uint64_t untold_bytes_ = 0;     // their frames' bytes
    static constexpr uint64_t tell_at_bytes = uint64_t(256) << 10;
    uint64_t stall_limit_ms_ = frame_stall_limit_ms;
    int check_ms_ = idle_poll_ms;
    bool killed_ = false;
    uint64_t stop_seen_ns_ = 0;  // when kill_holders() first ran
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
