// The soak program: random maps with random faults for a given time. Each
// map's settings (error mode, order, processes, threads, chunk size, input
// kind and length, pool or one-shot, item timeout, retries, recycling by
// item count or memory, worker hooks) and its fault (kind, position, how
// many attempts it fails; abandonment by destroy or by pm_map_cancel from
// another thread) are drawn from a seeded generator; its outcome is checked against what was
// injected, and after every map no child may remain and the descriptor count
// must be what it was. Resident memory is sampled to show it stays flat.
//
// Usage: soak [--seconds N] [--seed S] [--only MAP] [--verbose]
//   --only MAP replays map number MAP of seed S alone (a failure prints both).
// Exit status: 0 all maps as expected, 1 a map was wrong, 2 a leak or a
// hang, 64 usage. Normally run through scripts/soak.sh.
#include "scenario.hpp"

#include <malloc.h>

#include <cinttypes>
#include <cstdio>
#include <set>
#include <thread>

namespace {

using namespace faultkit;
using namespace soak;

// ---------------------------------------------------------------------------
// A map's hang: the alarm names the map and ends the program.

char g_current[512] = "(setup)";

void on_hang(int) {
    static const char head[] = "\nsoak: HANG (no progress for 60 s) in ";
    ssize_t r = write(2, head, sizeof head - 1);
    r = write(2, g_current, strlen(g_current));
    r = write(2, "\n", 1);
    (void)r;
    _exit(2);
}

// ---------------------------------------------------------------------------
// Running one map and judging its outcome.

struct Tally {
    uint64_t maps = 0, wrong = 0, results = 0, bytes = 0;
    uint64_t by_fault[16] = {};
    uint64_t recovered = 0;  // crashes and timeouts a retry got past
    uint64_t cancelled = 0;  // maps abandoned by pm_map_cancel
};

struct Seen {
    int status;
    uint64_t index;
    bool data_ok;
    std::string error;
};

class Runner {
public:
    explicit Runner(bool verbose) : verbose_(verbose), shared_(map_shared()) {}
    ~Runner() { unmap_shared(shared_); }

    // Returns "" if the map did what its fault calls for, else what was wrong.
    std::string run(const Scenario &s, pm_pool *pool, Tally &tally) {
        snprintf(g_current, sizeof g_current, "%s", s.describe().c_str());
        alarm(60);
        s_ = &s;
        items_ = good_items(s.count, s.number);
        shared_->attempts = 0;
        shared_->stuck = 0;
        if (!pool) {
            // Read by the workers forked below; a pool's have their own copy.
            const bool in_work = s.faulty && (s.stuck || (s.fault != Fault::generator &&
                                                          s.fault != Fault::abandon));
            plan_.fault = s.stuck ? Fault::timeout : s.fault;
            plan_.at = in_work ? s.at : UINT64_MAX;
            plan_.huge_bytes = s.huge_bytes;
            plan_.shared = shared_;
            plan_.fail_attempts = s.fail_attempts;
            plan_.processes = s.hooks ? s.processes : 0;
            shared_->inits = 0;
            shared_->exits = 0;
            shared_->bad_state = 0;
        }
        gen_next_ = 0;

        pm_options *opts = nullptr;
        if (pm_options_create(&opts) != PM_OK) return "pm_options_create failed";
        pm_options_set_processes(opts, s.processes);
        pm_options_set_threads(opts, s.threads);
        pm_options_set_error_mode(opts, s.mode);
        pm_options_set_ordered(opts, s.ordered);
        pm_options_set_chunk_size(opts, s.chunk);
        pm_options_set_max_in_flight(opts, s.max_in_flight);
        pm_options_set_item_timeout(opts, s.timeout_ms);
        pm_options_set_retries(opts, s.retries);
        pm_options_set_max_items_per_worker(opts, s.max_items);
        pm_options_set_max_worker_rss(opts, s.max_rss);
        if (s.hooks && !pool) pm_options_set_worker_hooks(opts, init_hook, exit_hook, shared_);
        pm_input *in = nullptr;
        if (s.input == Input::array)
            pm_input_create_array(&in, items_.empty() ? nullptr : items_.data(), 8,
                                  items_.size());
        else
            pm_input_create_pull(&in, pull_fn, this, nullptr);
        pm_map *map = nullptr;
        const int rc = pool ? pm_pool_map(&map, pool, opts, in)
                            : pm_map_create(&map, opts, in, fault_work, &plan_, nullptr);
        pm_options_destroy(opts);
        if (rc != PM_OK) return std::string("map did not start: ") + pm_last_error();

        const bool abandoned = s.faulty && s.fault == Fault::abandon;
        std::string wrong = !abandoned ? drain_and_judge(map) : s.cancel ? cancel(map)
                                                                          : abandon(map);
        if (wrong.empty() && !abandoned) wrong = judge_attempts();
        if (wrong.empty() && !pool) wrong = judge_hooks();
        tally.maps++;
        tally.by_fault[s.faulty ? static_cast<int>(s.fault) + 1 : 0]++;
        tally.recovered += s.recovered();
        tally.cancelled += abandoned && s.cancel;
        tally.results += results_;
        tally.bytes += bytes_;
        results_ = bytes_ = 0;
        alarm(0);
        if (verbose_) fprintf(stderr, "%s: %s\n", s.describe().c_str(), wrong.empty() ? "ok" : wrong.c_str());
        return wrong;
    }

    // After a pool's maps: its workers' hooks ran consistently.
    std::string judge_hooks() const {
        if (shared_->bad_state.load())
            return std::to_string(shared_->bad_state.load()) +
                   " items or exit hooks saw the wrong worker state";
        if (shared_->exits.load() > shared_->inits.load())
            return "more exit hooks (" + std::to_string(shared_->exits.load()) + ") than init hooks (" +
                   std::to_string(shared_->inits.load()) + ")";
        return "";
    }

    Shared *shared() const { return shared_; }

    FaultPlan plan_;

private:
    // How often the fault item ran: a recovered crash or timeout once more
    // than it failed, a lasting one retries + 1 times.
    std::string judge_attempts() const {
        const Scenario &s = *s_;
        if (!s.faulty || s.on_pool || !(kills_worker(s.fault) || s.fault == Fault::timeout) ||
            s.retries == 0)
            return "";
        const uint32_t want = s.recovered() ? s.fail_attempts + 1 : s.retries + 1;
        const uint32_t got = shared_->attempts.load();
        if (got != want)
            return "the fault item ran " + std::to_string(got) + " times, not " +
                   std::to_string(want);
        return "";
    }

    // pm_map_cancel from another thread while this one steps the map (and
    // blocks behind a stuck item, if there is one).
    std::string cancel(pm_map *map) {
        const Scenario &s = *s_;
        std::atomic<uint64_t> taken{0};
        std::atomic<int> final_status{PM_OK};
        std::string wrong;
        std::chrono::steady_clock::time_point returned;
        std::thread consumer([&] {
            std::set<uint64_t> seen;
            for (uint64_t k = 0;; ++k) {
                const Seen x = step(map);
                const bool pool_failure = x.index == s.pool_fault_at && fails_item(s.pool_fault) &&
                                          x.status == fault_status(s.pool_fault);
                if (pool_failure && s.mode == PM_ERRORS_RETURN) {
                    taken++;
                    continue;  // in its place; the map goes on
                }
                if (x.status != PM_OK) {
                    returned = std::chrono::steady_clock::now();
                    final_status = pool_failure ? PM_DONE : x.status;  // raise: the end
                    if (pool_failure) taken = s.count;
                    break;
                }
                if (!x.data_ok || !seen.insert(x.index).second || (s.ordered && x.index != k)) {
                    wrong = "step " + std::to_string(k) + ": index " + std::to_string(x.index) +
                            " wrong or repeated";
                }
                taken++;
            }
        });
        // Cancel once `take` results came, or the stuck item started and the
        // consumer has had a moment to block behind it.
        const auto t0 = std::chrono::steady_clock::now();
        while (taken.load() < s.take && final_status.load() == PM_OK &&
               !(s.stuck && shared_->stuck.load() > 0) && seconds_since(t0) < 20)
            usleep(200);
        if (s.stuck) usleep(20000);
        const auto c0 = std::chrono::steady_clock::now();
        pm_map_cancel(map);
        consumer.join();
        const double waited = std::chrono::duration<double>(returned - c0).count();
        pm_map_destroy(map);
        const double total = seconds_since(c0);
        if (!wrong.empty()) return wrong;
        const int st = final_status.load();
        if (!(st == PM_ECANCELED || (st == PM_DONE && taken.load() == s.count)))
            return "the consumer ended with status " + std::to_string(st) + " after " +
                   std::to_string(taken.load()) + " results, not PM_ECANCELED";
        if (waited > 5.0 || total > 5.0)
            return "cancel took " + std::to_string(waited) + " s, destroy " + std::to_string(total) +
                   " s";
        return "";
    }

    static int pull_fn(pm_feed *feed, void *ud) {
        Runner *r = static_cast<Runner *>(ud);
        const Scenario &s = *r->s_;
        if (s.faulty && s.fault == Fault::generator && r->gen_next_ == s.at) {
            pm_feed_set_error(feed, ("generator broke at " + std::to_string(s.at)).c_str());
            return -7;
        }
        if (r->gen_next_ == r->items_.size()) return PM_DONE;
        const uint64_t v = r->items_[r->gen_next_++];
        return pm_feed_push(feed, &v, sizeof v) == PM_OK ? PM_OK : -1;
    }

    Seen step(pm_map *map) {
        Seen out{};
        const void *d = nullptr;
        size_t n = 0;
        out.status = pm_map_next(map, &out.index, &d, &n);
        out.error = pm_map_error(map);
        if (out.status == PM_OK && out.index < items_.size()) {
            const bool huge = (s_->faulty && s_->fault == Fault::huge && out.index == s_->at) ||
                              (s_->pool_fault == Fault::huge && out.index == s_->pool_fault_at);
            if (huge)
                out.data_ok = n == s_->huge_bytes && matches_pattern(d, n, out.index);
            else
                out.data_ok = good_result(&items_[out.index], 8, out.index) ==
                              std::string(static_cast<const char *>(d), n);
            results_++;
            bytes_ += n;
        }
        return out;
    }

    std::string abandon(pm_map *map) {
        const Scenario &s = *s_;
        std::string wrong;
        std::set<uint64_t> seen;
        for (uint64_t k = 0; k < s.take; ++k) {
            const Seen x = step(map);
            if (x.status != PM_OK || !x.data_ok || !seen.insert(x.index).second ||
                (s.ordered && x.index != k)) {
                wrong = "step " + std::to_string(k) + ": status " + std::to_string(x.status) +
                        " index " + std::to_string(x.index) + " " + x.error;
                break;
            }
        }
        const auto t0 = std::chrono::steady_clock::now();
        pm_map_destroy(map);
        const double secs = seconds_since(t0);
        if (wrong.empty() && secs > 5.0)
            wrong = "pm_map_destroy took " + std::to_string(secs) + " s";
        return wrong;
    }

    std::string drain_and_judge(pm_map *map) {
        const Scenario &s = *s_;
        const bool keep_going = s.mode == PM_ERRORS_RETURN;
        std::vector<Seen> steps;
        for (;;) {
            steps.push_back(step(map));
            const int st = steps.back().status;
            if (st == PM_DONE) break;
            if (st < 0 && !(keep_going && (st == PM_EITEM || st == PM_EWORKER ||
                                           st == PM_ETIMEOUT)))
                break;
            if (steps.size() > s.count + 2) break;
        }
        std::string wrong = judge(steps);
        if (pm_map_next(map, nullptr, nullptr, nullptr) != PM_ESTATE && wrong.empty())
            wrong = "a step after the end was not refused";
        pm_map_destroy(map);
        return wrong;
    }

    // What the outcome must be, from what was injected.
    std::string judge(const std::vector<Seen> &steps) const {
        const Scenario &s = *s_;
        const Seen &last = steps.back();
        const bool item_fault = s.faulty && fails_item(s.fault);
        // A crash or a timeout that no retry got past.
        const bool crash = s.faulty && (kills_worker(s.fault) || s.fault == Fault::timeout) &&
                           !s.recovered();
        // Only the fault item itself fails: a timeout blames only it, and
        // with retries the other items its worker ran were run again.
        const bool exact = item_fault || (crash && (s.fault == Fault::timeout || s.retries > 0));
        const std::string attempts_text =
            crash && s.retries > 0 ? "failed " + std::to_string(s.retries + 1) + " attempts" : "";
        const bool gen_fault = s.faulty && s.fault == Fault::generator;
        const bool keep_going = s.mode == PM_ERRORS_RETURN;
        auto bad = [&](const std::string &why, const Seen &x) {
            return why + " (status " + std::to_string(x.status) + ", index " +
                   std::to_string(x.index) + ", \"" + x.error + "\")";
        };

        // How the map must end.
        int end_status = PM_DONE;
        if (gen_fault)
            end_status = PM_EINPUT;
        else if ((item_fault || crash) && !keep_going)
            end_status = fault_status(s.fault);
        if (last.status != end_status) return bad("the map ended wrongly", last);

        // Every step before the last: each index at most once, in order if
        // ordered, good bytes, and only the injected failures.
        std::vector<int> count(s.count, 0);
        std::string worker;
        for (size_t k = 0; k + 1 < steps.size(); ++k) {
            const Seen &x = steps[k];
            if (x.index >= s.count) return bad("index out of range", x);
            if (s.ordered && x.index != k) return bad("out of order at step " + std::to_string(k), x);
            if (++count[x.index] > 1) return bad("delivered twice", x);
            if (x.status == PM_OK) {
                if (!x.data_ok) return bad("wrong result bytes", x);
                continue;
            }
            // A failed item in return mode.
            if (item_fault && x.status == PM_EITEM && x.index == s.at &&
                x.error.find(item_failure_text(s.fault, s.at)) != std::string::npos)
                continue;
            if (crash && x.status == fault_status(s.fault) &&
                message_names_death(s.fault, x.error) && (!exact || x.index == s.at) &&
                (x.index != s.at || x.error.find(attempts_text) != std::string::npos)) {
                // Only the crashed worker's items are lost with it.
                if (worker.empty()) worker = x.error.substr(0, x.error.find(')') + 1);
                if (x.error.compare(0, worker.size(), worker) == 0) continue;
            }
            return bad("unexpected failure", x);
        }
        if (last.status == PM_DONE || gen_fault) {
            const uint64_t results_due = gen_fault ? s.at : s.count;
            for (uint64_t i = 0; i < results_due; ++i)
                if (count[i] != 1) return "item " + std::to_string(i) + " never came";
            // In return mode the injected item came once (above), failed.
            const int due = item_fault || crash ? fault_status(s.fault) : PM_OK;
            for (size_t k = 0; due != PM_OK && k + 1 < steps.size(); ++k)
                if (steps[k].index == s.at && steps[k].status != due)
                    return bad("the failing item came as a result", steps[k]);
            if (gen_fault && last.index != s.at) return bad("wrong input position", last);
            if (gen_fault && last.error.find("generator broke at") == std::string::npos)
                return bad("the generator's message is lost", last);
            return "";
        }
        // The map ended at a failure (raise or inline mode).
        if (item_fault) {
            if (last.index != s.at) return bad("wrong failing index", last);
            if (last.error.find(item_failure_text(s.fault, s.at)) == std::string::npos)
                return bad("the item's message is lost", last);
        } else {
            if (last.index > s.at || (exact && last.index != s.at))
                return bad("wrong failing index", last);
            if (!message_names_death(s.fault, last.error))
                return bad("the message does not say how the worker died", last);
            if (last.error.find(attempts_text) == std::string::npos)
                return bad("the message does not count the attempts", last);
        }
        if (last.index < s.count && count[last.index] != 0)
            return bad("the failed item also came as a result", last);
        if (s.ordered && steps.size() != last.index + 1)
            return bad("results before the failure are missing", last);
        return "";
    }

    bool verbose_;
    Shared *shared_;  // counters shared with the workers
    const Scenario *s_ = nullptr;
    std::vector<uint64_t> items_;
    uint64_t gen_next_ = 0;
    uint64_t results_ = 0, bytes_ = 0;
};

uint64_t parse_u64(const char *s) { return std::strtoull(s, nullptr, 0); }

}  // namespace

int main(int argc, char **argv) {
    double seconds = 60;
    uint64_t seed = static_cast<uint64_t>(time(nullptr));
    uint64_t only = UINT64_MAX;
    bool verbose = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (a == "--seed" && i + 1 < argc)
            seed = parse_u64(argv[++i]);
        else if (a == "--only" && i + 1 < argc)
            only = parse_u64(argv[++i]);
        else if (a == "--verbose")
            verbose = true;
        else {
            fprintf(stderr, "usage: %s [--seconds N] [--seed S] [--only MAP] [--verbose]\n",
                    argv[0]);
            return 64;
        }
    }
    // Fixed thresholds: glibc otherwise raises them after each large free,
    // and its per-thread arenas then keep tens of MiB of freed results
    // resident, which would hide a real leak in the resident size.
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    mallopt(M_TRIM_THRESHOLD, 1 << 20);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hang;
    sigaction(SIGALRM, &sa, nullptr);

    fprintf(stderr, "soak: seed %" PRIu64 ", %.0f s\n", seed, seconds);
    const int fds0 = count_open_fds();
    Tally tally;
    Runner runner(verbose);
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t rss_warm = 0, rss_peak = 0, rss_last = 0;
    uint64_t heap_warm = 0, heap_peak = 0, heap_last = 0;
    uint64_t number = only == UINT64_MAX ? 0 : only;
    int status = 0;
    // A wrong map is reported and the run goes on, to give a rate; a leak
    // ends it (the counts after it would mean nothing).
    while (status != 2 && seconds_since(t0) < seconds) {
        // About one draw in eight is a pool with a few maps; the rest are
        // one-shot maps.
        Dice d(mix(seed ^ 0x9001) ^ number);
        std::vector<Scenario> batch;
        pm_pool *pool = nullptr;
        if (d.chance(12) && only == UINT64_MAX) {
            const PoolPlan plan = draw_pool(seed, number);
            const uint64_t maps = 1 + d.below(4);
            for (uint64_t k = 0; k < maps; ++k) batch.push_back(draw(seed, number++, &plan));
            // The workers fork now, with this plan.
            runner.plan_.fault = plan.fault;
            runner.plan_.at = plan.at;
            runner.plan_.huge_bytes = plan.huge_bytes;
            runner.plan_.shared = runner.shared();
            runner.plan_.fail_attempts = UINT32_MAX;
            runner.plan_.processes = plan.hooks ? plan.processes : 0;
            runner.shared()->inits = 0;
            runner.shared()->exits = 0;
            runner.shared()->bad_state = 0;
            pm_options *o = nullptr;
            pm_options_create(&o);
            pm_options_set_processes(o, plan.processes);
            pm_options_set_threads(o, plan.threads);
            if (plan.hooks) pm_options_set_worker_hooks(o, init_hook, exit_hook, runner.shared());
            if (pm_pool_create(&pool, o, fault_work, &runner.plan_, nullptr) != PM_OK) {
                fprintf(stderr, "soak: pm_pool_create failed: %s\n", pm_last_error());
                status = 1;
            }
            pm_options_destroy(o);
        } else {
            batch.push_back(draw(seed, number++, nullptr));
        }
        for (const Scenario &s : batch) {
            if (status == 2) break;
            const std::string wrong = runner.run(s, pool, tally);
            if (!wrong.empty() && ++tally.wrong <= 10) {
                fprintf(stderr, "soak: WRONG: %s: %s\n", s.describe().c_str(), wrong.c_str());
                if (s.on_pool)
                    fprintf(stderr, "  replay: --seed %" PRIu64 " (a map on a pool)\n", seed);
                else
                    fprintf(stderr, "  replay: --seed %" PRIu64 " --only %" PRIu64 "\n", seed,
                            s.number);
            }
            if (!wrong.empty()) status = std::max(status, 1);
        }
        if (pool) {
            pm_pool_destroy(pool);
            const std::string wrong = runner.judge_hooks();
            if (!wrong.empty()) {
                fprintf(stderr, "soak: WRONG: a pool before %s: %s\n", g_current, wrong.c_str());
                tally.wrong++;
                status = std::max(status, 1);
            }
        }
        if (has_children()) {
            fprintf(stderr, "soak: LEAK: a child process remains after %s\n", g_current);
            status = 2;
        }
        const int fds = count_open_fds();
        if (fds != fds0) {
            fprintf(stderr, "soak: LEAK: %d descriptors open, %d at the start, after %s\n", fds,
                    fds0, g_current);
            status = 2;
        }
        // Sampled with the allocator's free memory given back, so that what
        // it keeps for reuse (per-thread arenas, large results) is not
        // counted as growth; heap in use is the sharper leak signal.
        malloc_trim(0);
        rss_last = proc_status_bytes("VmRSS");
        const struct mallinfo2 mi = mallinfo2();
        heap_last = mi.uordblks + mi.hblkhd;
        if (!rss_warm && seconds_since(t0) > std::min(30.0, seconds / 10)) {
            rss_warm = rss_last;
            heap_warm = heap_last;
        }
        if (rss_warm) {
            rss_peak = std::max(rss_peak, rss_last);
            heap_peak = std::max(heap_peak, heap_last);
        }
        if (only != UINT64_MAX) break;
    }
    if (!rss_warm) {
        rss_warm = rss_peak = rss_last;
        heap_warm = heap_peak = heap_last;
    }
    // Flat means: the heap in use at the end within a few MiB of what it was
    // once warm, and resident size (with fixed malloc thresholds) too.
    const uint64_t heap_growth = heap_last > heap_warm ? heap_last - heap_warm : 0;
    const uint64_t rss_growth = rss_last > rss_warm ? rss_last - rss_warm : 0;
    if (status == 0 && (heap_growth > (uint64_t{8} << 20) || rss_growth > (uint64_t{16} << 20))) {
        fprintf(stderr, "soak: LEAK: heap in use grew by %" PRIu64 " KiB, resident size by %" PRIu64
                " MiB\n", heap_growth >> 10, rss_growth >> 20);
        status = 2;
    }
    std::string kinds = "none " + std::to_string(tally.by_fault[0]);
    const Fault all[] = {Fault::segfault, Fault::abort_,    Fault::exit0, Fault::exit3,
                         Fault::sigkill,  Fault::timeout,   Fault::exception, Fault::error,
                         Fault::huge,     Fault::generator, Fault::abandon};
    for (Fault f : all)
        kinds += std::string(", ") + fault_name(f) + " " +
                 std::to_string(tally.by_fault[static_cast<int>(f) + 1]);
    printf("soak: %s: %" PRIu64 " maps in %.0f s (seed %" PRIu64 "), %" PRIu64
           " wrong; faults: %s (%" PRIu64 " recovered by a retry, %" PRIu64
           " cancelled); %" PRIu64 " results, %" PRIu64
           " MiB; descriptors %d at start, %d at end; children left: %s; RSS %" PRIu64
           " MiB warm, %" PRIu64 " MiB peak, %" PRIu64 " MiB end; heap in use %" PRIu64
           " KiB warm, %" PRIu64 " KiB peak, %" PRIu64 " KiB end\n",
           status == 0 ? "PASS" : "FAIL", tally.maps, seconds_since(t0), seed, tally.wrong,
           kinds.c_str(), tally.recovered, tally.cancelled, tally.results, tally.bytes >> 20, fds0, count_open_fds(),
           has_children() ? "yes" : "none", rss_warm >> 20, rss_peak >> 20, rss_last >> 20, heap_warm >> 10,
           heap_peak >> 10, heap_last >> 10);
    return status;
}
