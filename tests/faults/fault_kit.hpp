// Faults injected into a map on purpose, for the fault matrix, the resource
// tests and the soak program: what a work function does on its fault item,
// the results of the good items around it, and process measurements. Uses
// only the public header and no test framework, so the soak program can
// share it.
#ifndef PARMAPPER_TESTS_FAULTS_FAULT_KIT_HPP
#define PARMAPPER_TESTS_FAULTS_FAULT_KIT_HPP

#include <parmapper.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace faultkit {

// ---------------------------------------------------------------------------
// Good items and their results.

inline uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// A result that depends on the item's bytes and its index, 16 to 23 bytes
// long, so that a misrouted, shifted or truncated result shows.
inline std::string good_result(const void *item, size_t len, uint64_t index) {
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = static_cast<const unsigned char *>(item);
    for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    const uint64_t words[2] = {index, mix(h ^ index)};
    std::string r(reinterpret_cast<const char *>(words), sizeof words);
    r.append(static_cast<size_t>(h % 8), static_cast<char>('a' + index % 26));
    return r;
}

inline std::vector<uint64_t> good_items(size_t n, uint64_t seed) {
    std::vector<uint64_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = mix(i * 131 + seed);
    return v;
}

inline std::vector<std::string> good_results(const std::vector<uint64_t> &items) {
    std::vector<std::string> out;
    for (size_t i = 0; i < items.size(); ++i)
        out.push_back(good_result(&items[i], sizeof items[i], i));
    return out;
}

inline int good_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    const std::string r = good_result(item, len, index);
    return pm_sink_write(out, r.data(), r.size()) == PM_OK ? 0 : 1;
}

// ---------------------------------------------------------------------------
// The kinds of fault.

enum class Fault {
    segfault,   // a real invalid memory access in the worker
    abort_,     // abort(): SIGABRT
    exit0,      // _exit(0) in the middle of an item
    exit3,      // _exit(3)
    sigkill,    // the worker is killed from outside with SIGKILL
    timeout,    // an endless loop, which only an item timeout or a kill ends
    exception,  // the work function throws a C++ exception
    error,      // the work function returns nonzero with a message
    huge,       // one item's result is 64 MiB; not a failure, it must arrive
    generator,  // the input callback fails part-way
    abandon,    // the caller destroys the map part-way
};

inline const char *fault_name(Fault f) {
    switch (f) {
    case Fault::segfault: return "segfault";
    case Fault::abort_: return "abort";
    case Fault::exit0: return "exit0";
    case Fault::exit3: return "exit3";
    case Fault::sigkill: return "sigkill";
    case Fault::timeout: return "timeout";
    case Fault::exception: return "exception";
    case Fault::error: return "error";
    case Fault::huge: return "huge";
    case Fault::generator: return "generator";
    case Fault::abandon: return "abandon";
    }
    return "?";
}

// The worker process dies: only survivable with forked workers.
inline bool kills_worker(Fault f) {
    return f == Fault::segfault || f == Fault::abort_ || f == Fault::exit0 ||
           f == Fault::exit3 || f == Fault::sigkill;
}

// The work function fails the item itself (PM_EITEM).
inline bool fails_item(Fault f) { return f == Fault::exception || f == Fault::error; }

// The status a failed item of this fault comes back with.
inline int fault_status(Fault f) {
    if (fails_item(f)) return PM_EITEM;
    if (f == Fault::timeout) return PM_ETIMEOUT;
    if (kills_worker(f)) return PM_EWORKER;
    return PM_OK;
}

// Sanitizer runtimes catch SIGSEGV and SIGABRT themselves unless told not
// to (scripts/sanitize.sh does); then the worker exits with a status instead.
inline bool sanitizer_may_catch_signals() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const char *names[] = {"ASAN_OPTIONS", "TSAN_OPTIONS"};
    for (const char *name : names) {
        const char *v = getenv(name);
        if (v && strstr(v, "handle_segv=0") && strstr(v, "handle_abort=0")) return false;
    }
    return true;
#else
    return false;
#endif
}

// What pm_map_error() must contain for a worker killed by this fault.
inline std::string death_text(Fault f) {
    switch (f) {
    case Fault::segfault: return "SIGSEGV";
    case Fault::abort_: return "SIGABRT";
    case Fault::exit0: return "exited with status 0";
    case Fault::exit3: return "exited with status 3";
    case Fault::sigkill: return "SIGKILL";
    case Fault::timeout: return "ms item timeout";
    default: return "";
    }
}

inline bool message_names_death(Fault f, const std::string &message) {
    if (message.find(death_text(f)) != std::string::npos) return true;
    // Under a sanitizer that handles the signal, the worker exits instead.
    return (f == Fault::segfault || f == Fault::abort_) && sanitizer_may_catch_signals() &&
           message.find("exited with status") != std::string::npos;
}

// ---------------------------------------------------------------------------
// The work function.

constexpr size_t kHugeBytes = size_t{64} << 20;

// Counters that the caller and every worker share: a MAP_SHARED page, mapped
// before the workers fork. Lock-free atomics work across processes.
struct Shared {
    std::atomic<uint32_t> attempts;     // runs of the fault item started
    std::atomic<uint32_t> inits;        // worker init hooks run
    std::atomic<uint32_t> exits;        // worker exit hooks run
    std::atomic<uint32_t> bad_state;    // items that saw the wrong worker state
    std::atomic<uint32_t> stuck;        // stuck items started
};

// Exec mode (PARMAPPER_START=exec): a worker is a fresh run of the test
// program and inherits no mapping, so the page is a file in /dev/shm that
// the worker maps by name (see publish()).
inline bool exec_start() {
    const char *s = getenv("PARMAPPER_START");
    return s && strcmp(s, "exec") == 0;
}

struct SharedPage {
    Shared counters;
    char path[64];  // the file behind it in exec mode, or ""
};

inline Shared *map_shared() {
    int fd = -1;
    char path[64] = "";
    if (exec_start()) {
        strcpy(path, "/dev/shm/pmtest-shared-XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, sizeof(SharedPage)) != 0) {
            if (fd >= 0) close(fd), unlink(path);
            return nullptr;
        }
    }
    void *p = mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE,
                   MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
    if (fd >= 0) close(fd);
    if (p == MAP_FAILED) {
        if (path[0]) unlink(path);
        return nullptr;
    }
    SharedPage *page = new (p) SharedPage();
    memcpy(page->path, path, sizeof path);
    return &page->counters;
}
inline void unmap_shared(Shared *s) {
    if (!s) return;
    SharedPage *page = reinterpret_cast<SharedPage *>(s);
    if (page->path[0]) unlink(page->path);
    munmap(page, sizeof(SharedPage));
}
// A worker's view of the page a caller made, by its file's name.
inline Shared *attach_shared(const char *path) {
    const int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return nullptr;
    void *p = mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? nullptr : &static_cast<SharedPage *>(p)->counters;
}

// What the work function does on item `at`; every other item gets
// good_result(). With `shared`, the fault fires only on the first
// `fail_attempts` runs of the item (retries), and runs are counted.
struct FaultPlan {
    Fault fault = Fault::error;
    uint64_t at = UINT64_MAX;
    size_t huge_bytes = kHugeBytes;
    Shared *shared = nullptr;
    uint32_t fail_attempts = UINT32_MAX;
    uint32_t processes = 0;  // nonzero: check the worker hooks' state
    std::atomic<int> destroyed{0};  // the map's destroy callback, in the caller
};

inline void plan_destroy(void *ud) { static_cast<FaultPlan *>(ud)->destroyed++; }

// In exec mode the plan travels to the workers in the environment, which a
// worker's run inherits: publish() writes it there before the map starts
// (and returns the plan, as the map's user_data), and a worker, whose
// user_data is NULL, reads it back once with worker_plan().
constexpr const char *kPlanVariable = "PMTEST_FAULT_PLAN";

inline FaultPlan *publish(FaultPlan &plan) {
    if (!exec_start()) return &plan;
    const char *path = plan.shared ? reinterpret_cast<SharedPage *>(plan.shared)->path : "";
    char text[256];
    snprintf(text, sizeof text, "%d %llu %zu %u %u %s", static_cast<int>(plan.fault),
             static_cast<unsigned long long>(plan.at), plan.huge_bytes, plan.fail_attempts,
             plan.processes, path[0] ? path : "-");
    setenv(kPlanVariable, text, 1);
    return &plan;
}

inline const FaultPlan *worker_plan() {
    static FaultPlan *plan = [] {
        FaultPlan *p = new FaultPlan();
        const char *text = getenv(kPlanVariable);
        int fault = 0;
        unsigned long long at = 0;
        char path[64] = "";
        if (text && sscanf(text, "%d %llu %zu %u %u %63s", &fault, &at, &p->huge_bytes,
                           &p->fail_attempts, &p->processes, path) == 6) {
            p->fault = static_cast<Fault>(fault);
            p->at = at;
            if (strcmp(path, "-") != 0) p->shared = attach_shared(path);
        }
        return p;
    }();
    return plan;
}

// The plan of a call: the map's user_data, or in an exec-mode worker the
// published one.
inline const FaultPlan *plan_of(void *ud) {
    return ud ? static_cast<const FaultPlan *>(ud) : worker_plan();
}
inline Shared *shared_of(void *ud) { return ud ? static_cast<Shared *>(ud) : worker_plan()->shared; }

// Worker hooks: init gives each worker a state naming its id; the work
// function checks it (FaultPlan::processes); both count into Shared.
struct WorkerState {
    uint64_t magic;
    uint32_t id;
};
constexpr uint64_t kStateMagic = 0x5749524b53544154ull;

inline int init_hook(uint32_t worker_id, void **state, void *ud) {
    shared_of(ud)->inits++;
    *state = new WorkerState{kStateMagic, worker_id};
    return 0;
}
inline void exit_hook(uint32_t worker_id, void *state, void *ud) {
    WorkerState *ws = static_cast<WorkerState *>(state);
    if (!ws || ws->magic != kStateMagic || ws->id != worker_id)
        shared_of(ud)->bad_state++;
    delete ws;
    shared_of(ud)->exits++;
}


// Deterministic bytes for a large result: word w of item `index` is
// mix(index * 2^32 + w), so a shifted, truncated or misrouted buffer shows.
inline void fill_pattern(void *buf, size_t len, uint64_t index, uint64_t first_word = 0) {
    unsigned char *p = static_cast<unsigned char *>(buf);
    for (size_t w = 0; w * 8 < len; ++w) {
        const uint64_t v = mix((index << 32) + first_word + w);
        memcpy(p + w * 8, &v, std::min<size_t>(8, len - w * 8));
    }
}

// Checks bytes against fill_pattern() without building a copy.
inline bool matches_pattern(const void *buf, size_t len, uint64_t index,
                            uint64_t first_word = 0) {
    const unsigned char *p = static_cast<const unsigned char *>(buf);
    for (size_t w = 0; w * 8 < len; ++w) {
        const uint64_t v = mix((index << 32) + first_word + w);
        if (memcmp(p + w * 8, &v, std::min<size_t>(8, len - w * 8)) != 0) return false;
    }
    return true;
}

[[noreturn]] inline void real_segfault() {
    // A store to a page mapped without access: a genuine SIGSEGV from the
    // hardware, not raise(), and no null pointer for UBSan to intercept.
    void *page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) *static_cast<volatile int *>(page) = 1;
    raise(SIGSEGV);  // not reached
    _exit(99);
}

inline int fault_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    const FaultPlan *plan = plan_of(ud);
    if (plan->processes) {
        const WorkerState *ws = static_cast<const WorkerState *>(pm_sink_worker_state(out));
        const uint32_t id = pm_sink_worker_id(out);
        if (!ws || ws->magic != kStateMagic || ws->id != id || id >= plan->processes) {
            plan->shared->bad_state++;
            pm_sink_set_error(out, "wrong worker state");
            return 1;
        }
    }
    if (index != plan->at) return good_work(item, len, index, out, nullptr);
    if (plan->shared && plan->shared->attempts.fetch_add(1) >= plan->fail_attempts)
        return good_work(item, len, index, out, nullptr);
    switch (plan->fault) {
    case Fault::segfault: real_segfault();
    case Fault::abort_: abort();
    case Fault::exit0: _exit(0);
    case Fault::exit3: _exit(3);
    case Fault::sigkill:
        kill(getpid(), SIGKILL);
        for (;;) pause();
    case Fault::timeout:
        if (plan->shared) plan->shared->stuck++;
        // volatile: a loop with a side effect, which the compiler must keep.
        for (volatile uint64_t spin = 0;; spin = spin + 1) {
        }
    case Fault::exception:
        // Part of a result is written first: it must be dropped.
        pm_sink_write(out, "partial", 7);
        throw std::runtime_error("item " + std::to_string(index) + " threw");
    case Fault::error: {
        pm_sink_write(out, "partial", 7);
        const std::string msg = "item " + std::to_string(index) + " refused";
        pm_sink_set_error(out, msg.c_str());
        return 3;
    }
    case Fault::huge: {
        void *buf = nullptr;
        if (pm_sink_reserve(out, plan->huge_bytes, &buf) != PM_OK) return 1;
        fill_pattern(buf, plan->huge_bytes, index);
        return 0;
    }
    case Fault::generator:
    case Fault::abandon: break;
    }
    return good_work(item, len, index, out, nullptr);
}

// The message the work function gives its failed item.
inline std::string item_failure_text(Fault f, uint64_t index) {
    if (f == Fault::exception) return "item " + std::to_string(index) + " threw";
    return "item " + std::to_string(index) + " refused";
}

// ---------------------------------------------------------------------------
// A generator of gen_value(i) items that fails at position fail_at.

struct FailingGen {
    uint64_t next = 0;
    uint64_t fail_at = UINT64_MAX;
    std::atomic<int> destroyed{0};
};

inline uint64_t gen_value(uint64_t i) { return mix(i ^ 0x5eed); }

inline int failing_gen_fn(pm_feed *feed, void *ud) {
    FailingGen *g = static_cast<FailingGen *>(ud);
    if (g->next == g->fail_at) {
        const std::string msg = "generator broke at " + std::to_string(g->next);
        pm_feed_set_error(feed, msg.c_str());
        return -5;
    }
    const uint64_t v = gen_value(g->next++);
    return pm_feed_push(feed, &v, sizeof v) == PM_OK ? PM_OK : -1;
}

inline void failing_gen_destroy(void *ud) { static_cast<FailingGen *>(ud)->destroyed++; }

// ---------------------------------------------------------------------------
// Process measurements.

// A "VmXXX:   123 kB" line of /proc/self/status, in bytes (0 if absent).
inline uint64_t proc_status_bytes(const char *key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const size_t klen = strlen(key);
    while (std::getline(in, line)) {
        if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':')
            return std::strtoull(line.c_str() + klen + 1, nullptr, 10) * 1024;
    }
    return 0;
}

// Resets VmHWM (the peak resident size) to the current size (Linux >= 4.0).
inline bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Makes this process the reaper of its orphaned descendants, so that a
// worker outliving the library's template process shows up as our child.
inline bool adopt_orphans() { return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }

// Number of open descriptors.
inline int count_open_fds() {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (struct dirent *e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;  // the directory's own
}

// True if this process has a child, running or not yet reaped (a zombie is
// left for the caller to see: WNOWAIT).
inline bool has_children() {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1) return errno != ECHILD;
    return true;
}

}  // namespace faultkit

#endif
