// The feeder thread: reads the input into chunks and sends them to the
// workers with free credit (counted in items), the least loaded first,
// within the in-flight bound. Several chunks for one worker go out in one
// write. Items of a dead worker that must run again come first, lowest index
// first, each alone in a chunk. A one-shot map over an array input sends
// index ranges only: its workers inherited the array. The feeder stops at
// the end of the input once nothing is left to run again, at an input
// error, when no worker is left, or when asked to.
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "errors.hpp"
#include "logging.hpp"
#include "pool_map_state.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

// Chunks read ahead of a send, at most.
constexpr size_t max_batch_chunks = 64;

// A copy of a task's payload, as the worker will read it.
std::shared_ptr<const std::vector<char>> copy_items(task_builder& chunk) {
    auto copy = std::make_shared<std::vector<char>>(chunk.count() * sizeof(uint64_t) +
                                                    chunk.byte_size());
    std::memcpy(copy->data(), chunk.lens(), chunk.count() * sizeof(uint64_t));
    if (chunk.byte_size())
        std::memcpy(copy->data() + chunk.count() * sizeof(uint64_t), chunk.bytes(),
                    chunk.byte_size());
    return copy;
}

// One chunk read and not yet sent: its items, or only its range.
struct outgoing {
    uint64_t first = 0;
    uint32_t count = 0;
    task_builder items;   // unused for a range
    frame_header range{};  // a range frame's header
    struct iovec iov[3];
    int iovcnt = 0;
};

enum class sent { ok, stop };

class feeder {
public:
    feeder(pool_map_state& st, input_source& input) : st_(st), input_(input) {}

    // The main loop: reads chunks into the room the bound leaves and the
    // credit the workers have, and sends them.
    void run(int& status, std::string& message) {
        uint64_t first = 0;
        bool more = true;
        while (more && !st_.stop.load()) {
            if (!send_reruns(status, message))
                return;
            const uint64_t free_items = wait_for_work(status, message);
            if (free_items == 0)
                return;
            // Read what fits: the bound's room and the workers' credit.
            size_t n_chunks = 0;
            uint64_t read = 0;
            while (n_chunks < max_batch_chunks && read < free_items) {
                size_t want;
                {
                    std::lock_guard<std::mutex> hold(st_.mutex);
                    want = st_.planner.next_chunk_size(st_.costs());
                }
                want = static_cast<size_t>(std::min<uint64_t>(want, free_items - read));
                outgoing& c = slot(n_chunks);
                c.first = first + read;
                input_source::fill_status r;
                if (st_.ranges) {
                    c.count = static_cast<uint32_t>(input_.skip(want));
                    r = input_.at_end() ? input_source::fill_status::end
                                        : input_source::fill_status::more;
                } else {
                    std::string error;
                    r = input_.fill(c.items, want, &st_.stop, &error);
                    c.count = c.items.count();
                    if (r == input_source::fill_status::failed) {
                        status = PM_EINPUT;
                        message = std::move(error);
                    }
                }
                if (c.count) {
                    ++n_chunks;
                    read += c.count;
                }
                if (r == input_source::fill_status::idle)
                    break;  // send what was read; ask the generator again after
                if (r != input_source::fill_status::more) {
                    more = false;
                    break;
                }
                // A generator may block for its next item (waiting for a
                // result, say: the Go binding's inputs do): a full chunk of
                // what it gave goes out before it is asked again. Reading
                // chunks ahead from a quick generator, many to a write, ran
                // 2.3 times as fast at chunk size 1 but deadlocked such
                // inputs. Arrays are read ahead, many chunks to a write.
                if (st_.stop.load() || (!st_.ranges && !input_.random_access()))
                    break;
            }
            if (send_batch(n_chunks, status, message) == sent::stop)
                return;
            first += read;
        }
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
    outgoing& slot(size_t k) {
        while (batch_.size() <= k)
            batch_.emplace_back();
        return batch_[k];
    }

    // Builds chunk c's frame (the iovecs point into c).
    void frame(outgoing& c) {
        if (st_.ranges) {
            c.range = make_header(frame_type::range, c.count, c.first, 0);
            c.iov[0] = {&c.range, sizeof c.range};
            c.iovcnt = 1;
        } else {
            c.iovcnt = c.items.to_iovecs(c.first, c.iov);
        }
    }

    // Under the mutex: the usable worker with credit for n more items, the
    // least loaded one, searching from after the last pick so that ties
    // spread. SIZE_MAX if none; *any_usable: some worker is worth waiting
    // for.
    size_t pick_worker(size_t n, const item_costs& costs, bool* any_usable) {
        size_t best = SIZE_MAX;
        *any_usable = false;
        for (size_t k = 0; k < st_.sched.size(); ++k) {
            size_t i = (next_pick_ + k) % st_.sched.size();
            const worker_schedule& s = st_.sched[i];
            if (!s.usable) {
                // Worth waiting for: it comes back once recycled or replaced,
                // or its break is not yet handled (it may be replaced).
                *any_usable = *any_usable || s.retiring || s.replacing || s.broken;
                continue;
            }
            *any_usable = true;
            // Recycling by count: nothing past the limit (it may be passed
            // by the chunk that reaches it, at most).
            const uint64_t limit = st_.pool->can_replace() ? st_.settings.max_items_per_worker : 0;
            if (limit && s.items_sent >= limit)
                continue;
            if (st_.planner.has_credit(s.held_items, n, costs) &&
                (best == SIZE_MAX || s.held_items < st_.sched[best].held_items))
                best = i;
        }
        return best;
    }

    // Under the mutex: items the usable workers could take now (at least a
    // chunk of one for the one with the most credit). *worth_a_write: some
    // worker has a quarter of its credit free. Waiting for that, not for the
    // first free item, lets small chunks go out many to a write (and wakes
    // this thread once for them) while the worker still has three quarters
    // of its credit to run; a worker's credit all comes back as it runs.
    uint64_t free_credit(const item_costs& costs, bool* worth_a_write) {
        uint64_t free_items = 0;
        *worth_a_write = false;
        const size_t n = st_.planner.peek_chunk_size(costs);
        const uint64_t cap = st_.planner.credit_items(n, costs);
        for (const worker_schedule& s : st_.sched) {
            if (!s.usable || s.held_items >= cap)
                continue;
            free_items += cap - s.held_items;
            *worth_a_write =
                *worth_a_write || pool_map_state::credit_worth_a_write(cap, s.held_items);
        }
        return free_items;
    }

    // Waits until the bound leaves room and some worker has credit (sending
    // reruns meanwhile); returns how many items may be read now, 0 when the
    // feeder must stop.
    uint64_t wait_for_work(int& status, std::string& message) {
        for (;;) {
            {
                std::unique_lock<std::mutex> hold(st_.mutex);
                uint64_t room = 0, credit = 0;
                bool any_usable = true;
                st_.room.wait(hold, [&] {
                    if (st_.stop.load() || !st_.reruns.empty() || st_.dispatched >= st_.stop_at)
                        return true;
                    const item_costs costs = st_.costs();
                    const uint64_t bound = st_.planner.in_flight_bound(costs);
                    room = st_.in_flight < bound ? bound - st_.in_flight : 0;
                    bool worth_a_write;
                    credit = free_credit(costs, &worth_a_write);
                    pick_worker(1, costs, &any_usable);
                    using lack = pool_map_state::feeder_lack;
                    const bool has_room = room > 0, has_credit = credit > 0 && worth_a_write;
                    if (!any_usable || (has_room && has_credit)) {
                        st_.feeder_lacks = lack::anything;
                        return true;
                    }
                    st_.feeder_lacks = !has_room && !has_credit ? lack::room_and_credit
                                       : !has_room              ? lack::room
                                                                : lack::credit;
                    return false;
                });
                st_.feeder_lacks = pool_map_state::feeder_lack::anything;
                if (st_.stop.load() || st_.dispatched >= st_.stop_at)
                    return 0;
                if (!any_usable) {
                    status = PM_EWORKER;
                    message = "no live worker is left to take " + item_range(st_.dispatched, 1) +
                              " and the items after it";
                    if (!st_.last_loss.empty())
                        message += " (the last one: " + st_.last_loss + ")";
                    return 0;
                }
                if (st_.reruns.empty())
                    return std::min(room, credit);
            }
            if (!send_reruns(status, message))
                return 0;
        }
    }

    // Sends batch_[0 .. n): assigns each chunk to a worker with credit
    // (waiting for credit when none has any), then writes each worker's
    // chunks in one go. Every chunk counts as in flight once assigned.
    sent send_batch(size_t n, int& status, std::string& message) {
        size_t next = 0;
        while (next < n) {
            // Under the lock: assign as many chunks as the credit takes.
            std::vector<assignment>& plan = plan_;
            plan.clear();
            {
                std::unique_lock<std::mutex> hold(st_.mutex);
                for (;;) {
                    if (st_.stop.load() || batch_[next].first >= st_.stop_at)
                        return sent::stop;
                    const item_costs costs = st_.costs();
                    while (next < n) {
                        outgoing& c = batch_[next];
                        bool any_usable;
                        const size_t target = pick_worker(c.count, costs, &any_usable);
                        if (!any_usable) {
                            status = PM_EWORKER;
                            message = "no live worker is left to take " +
                                      item_range(c.first, c.count);
                            if (!st_.last_loss.empty())
                                message += " (the last one: " + st_.last_loss + ")";
                            return sent::stop;
                        }
                        if (target == SIZE_MAX)
                            break;
                        next_pick_ = (target + 1) % st_.sched.size();
                        worker_schedule& s = st_.sched[target];
                        s.held.push_back({c.first, c.count, 0,
                                          st_.rerun && !st_.item_at ? copy_items(c.items)
                                                                    : nullptr});
                        s.held_items += c.count;
                        s.items_sent += c.count;
                        st_.in_flight += c.count;
                        st_.dispatched = c.first + c.count;
                        plan.push_back({target, s.generation, next});
                        ++next;
                    }
                    if (!plan.empty())
                        break;
                    st_.room.wait(hold);
                }
            }
            // Outside the lock: one write per worker, its chunks in order.
            // (Often one chunk, or already grouped: no sort, whose buffer
            // would be an allocation per send.)
            const auto by_worker = [](const assignment& a, const assignment& b) {
                return a.worker < b.worker;
            };
            if (!std::is_sorted(plan.begin(), plan.end(), by_worker))
                std::stable_sort(plan.begin(), plan.end(), by_worker);
            for (size_t k = 0; k < plan.size();) {
                const size_t target = plan[k].worker;
                const uint64_t generation = plan[k].generation;
                iov_.clear();
                size_t j = k;
                for (; j < plan.size() && plan[j].worker == target; ++j) {
                    outgoing& c = batch_[plan[j].chunk];
                    frame(c);
                    iov_.insert(iov_.end(), c.iov, c.iov + c.iovcnt);
                }
                send_to(target, generation);
                k = j;
            }
        }
        return sent::ok;
    }

    // Writes iov_ to a worker. If it broke, the collector turns the chunks
    // it held into failures or reruns.
    void send_to(size_t target, uint64_t generation) {
        std::shared_ptr<channel> link;
        {
            std::lock_guard<std::mutex> hold(st_.mutex);
            const worker_schedule& s = st_.sched[target];
            // Replaced since the plan: the chunks went with the lost worker
            // (the collector settled them), its successor must not get them.
            if (s.generation != generation)
                return;
            link = s.link;
        }
        // Captures two pointers, so std::function holds it without an
        // allocation (this runs once per send).
        const struct {
            size_t target;
            uint64_t generation;
        } to{target, generation};
        bool ok = link->send(iov_.data(), static_cast<int>(iov_.size()), st_.feeder_wake.get(),
                             [this, &to] {
                                 // A one-shot pool is killed anyway; a shared
                                 // pool's worker must get whole frames, or it
                                 // would read a torn one.
                                 if (st_.killable && st_.stop.load())
                                     return true;
                                 std::lock_guard<std::mutex> hold(st_.mutex);
                                 // A worker being recycled still gets what it
                                 // was sent.
                                 const worker_schedule& s = st_.sched[to.target];
                                 return s.generation != to.generation ||
                                        (!s.usable && !s.retiring);
                             });
        if (!ok) {
            std::lock_guard<std::mutex> hold(st_.mutex);
            worker_schedule& s = st_.sched[target];
            if (s.generation == generation) {
                s.usable = false;
                s.broken = true;
            }
            st_.wake_collector();
        }
    }

    // Sends every waiting rerun, lowest index first, each alone in a chunk;
    // false when the feeder must stop. A rerun is counted in flight already.
    bool send_reruns(int& status, std::string& message) {
        for (;;) {
            uint64_t index;
            std::vector<char> bytes;
            size_t target;
            uint64_t generation;
            outgoing& c = rerun_;
            {
                std::unique_lock<std::mutex> hold(st_.mutex);
                if (st_.reruns.empty())
                    return true;
                auto it = st_.reruns.begin();
                index = it->first;
                bool any_usable;
                for (;;) {
                    if (st_.stop.load())
                        return false;
                    if (st_.reruns.empty())
                        return true;
                    it = st_.reruns.begin();
                    index = it->first;
                    target = pick_worker(1, st_.costs(), &any_usable);
                    if (!any_usable) {
                        status = PM_EWORKER;
                        message = "no live worker is left to take " + item_range(index, 1);
                        if (!st_.last_loss.empty())
                            message += " (the last one: " + st_.last_loss + ")";
                        return false;
                    }
                    if (target != SIZE_MAX)
                        break;
                    st_.room.wait(hold);
                }
                bytes = std::move(it->second);
                st_.reruns.erase(it);
                c.first = index;
                c.count = 1;
                c.items.clear();
                if (!st_.ranges) {
                    if (st_.item_at) {
                        const char* data;
                        size_t len;
                        st_.item_at(index, &data, &len);
                        c.items.push(data, len);
                    } else {
                        c.items.push(bytes.data(), bytes.size());
                    }
                }
                next_pick_ = (target + 1) % st_.sched.size();
                worker_schedule& s = st_.sched[target];
                s.held.push_back({index, 1, 0,
                                  st_.rerun && !st_.item_at
                                      ? std::make_shared<std::vector<char>>(copy_rerun(bytes))
                                      : nullptr});
                s.held_items += 1;
                s.items_sent += 1;
                generation = s.generation;
            }
            frame(c);
            iov_.assign(c.iov, c.iov + c.iovcnt);
            send_to(target, generation);
        }
    }

    // A lone item's payload as a task carries it: its length, then its bytes.
    static std::vector<char> copy_rerun(const std::vector<char>& bytes) {
        std::vector<char> payload(sizeof(uint64_t) + bytes.size());
        const uint64_t len = bytes.size();
        std::memcpy(payload.data(), &len, sizeof len);
        if (!bytes.empty())
            std::memcpy(payload.data() + sizeof len, bytes.data(), bytes.size());
        return payload;
    }

    struct assignment {
        size_t worker;
        uint64_t generation;
        size_t chunk;
    };

    pool_map_state& st_;
    input_source& input_;
    size_t next_pick_ = 0;
    std::deque<outgoing> batch_;  // a deque: the iovecs point into its elements
    outgoing rerun_;
    std::vector<assignment> plan_;
    std::vector<struct iovec> iov_;
};

}  // namespace

void run_feeder(pool_map_state& st, input_source& input) noexcept {
    int status = PM_OK;
    std::string message;
    try {
        feeder f(st, input);
        f.run(status, message);
        // Workers may still die holding items that must run again.
        if (status == PM_OK || status == PM_EINPUT)
            f.finish(status, message);
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
    // Whatever ended the feeder (a throw too), nothing serves reruns now.
    st.fail_reruns(status, message);
    st.feeder_done = true;
    if (st.feed_status == PM_OK) {
        st.feed_status = status;
        st.feed_message = std::move(message);
    }
    st.wake_collector();
}

}  // namespace pm::core
