// The MPI backend (parmapper_mpi.h): rank 0's pools over the worker ranks,
// and the worker ranks' serve loop.
//
// Between pools a worker rank waits for a control message from rank 0. A
// pool's creation sends each rank its settings and work name; the rank
// checks the name, answers, and serves one stream (pm_stream_serve()) whose
// bytes a relay thread carries over MPI (mpi_relay.hpp), until rank 0's pool
// closes it. Then it waits again. pm_mpi_finalize() sends the last control
// message: the ranks finalize and exit.
#include "parmapper_mpi.h"

#include <mpi.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi_internal.hpp"  // reads the settings behind a pm_options
#include "mpi_relay.hpp"

namespace {

using pm::mpi::owned_fd;
using pm::mpi::relay;
using pm::mpi::relay_peer;

constexpr int tag_control = 1;
constexpr int tag_ack = 2;
constexpr uint32_t control_pool = 1;
constexpr uint32_t control_shutdown = 2;
constexpr size_t name_bytes = 256;
constexpr int relay_grace_ms = 2000;

// What rank 0 sends a worker rank to start a pool. Plain bytes: every rank
// runs the same program.
struct pool_message {
    uint32_t kind;
    uint32_t processes;
    uint32_t threads;
    uint32_t retries;
    uint64_t item_timeout_ms;
    uint64_t max_items_per_worker;
    uint64_t max_worker_rss;
    uint32_t reset_crash_signals;
    uint32_t daemon;
    char work_name[name_bytes];
    char hooks_name[name_bytes];
};

struct ack_message {
    int32_t status;
    char text[512];
};

struct backend {
    bool initialized = false;
    bool finalized = false;
    int rank = 0;
    int size = 1;
    MPI_Comm comm = MPI_COMM_NULL;
    std::string where;  // "MPI rank 2 (node7)"
    std::unique_ptr<relay> live_relay;  // rank 0: the live pool's
    bool pool_alive = false;
};

backend& the_backend() {
    static backend b;
    return b;
}

// pm_mpi_last_error(): our own message when our code failed the last
// pm_mpi_ call of this thread, else the main library's (pm_last_error()).
thread_local std::string last_error;
thread_local bool last_error_is_ours = false;

void begin_call() { last_error_is_ours = false; }

int fail(int status, const std::string& message) {
    last_error = message;
    last_error_is_ours = true;
    return status;
}

std::string host_name() {
    char name[256] = {0};
    if (::gethostname(name, sizeof name - 1) != 0)
        return "?";
    return name;
}

// MPI_Init on every rank, once; SERIALIZED: our calls come from one thread
// at a time (the caller's, or a relay's while it runs).
int ensure_mpi(int* argc, char*** argv) {
    backend& b = the_backend();
    if (b.initialized)
        return PM_OK;
    int already = 0;
    MPI_Initialized(&already);
    int provided = 0;
    if (already)
        MPI_Query_thread(&provided);
    else if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return PM_ESYS;
    if (provided < MPI_THREAD_SERIALIZED)
        return PM_ESYS;
    MPI_Comm_dup(MPI_COMM_WORLD, &b.comm);
    MPI_Comm_rank(b.comm, &b.rank);
    MPI_Comm_size(b.comm, &b.size);
    b.where = "MPI rank " + std::to_string(b.rank) + " (" + host_name() + ")";
    b.initialized = true;
    return PM_OK;
}

// Waits for a message without MPI's busy wait: a probe, then a short sleep.
void wait_for(int source, int tag, MPI_Comm comm) {
    for (;;) {
        int flag = 0;
        MPI_Iprobe(source, tag, comm, &flag, MPI_STATUS_IGNORE);
        if (flag)
            return;
        ::usleep(1000);
    }
}

bool is_registered(const char* name) {
    // An in-process map made by name fails at once when the name is not
    // registered, and forks nothing when it is.
    pm_options* o = nullptr;
    if (pm_options_create(&o) != PM_OK)
        return false;
    pm_options_set_processes(o, 1);
    pm_options_set_error_mode(o, PM_ERRORS_INLINE);
    pm_input* in = nullptr;
    bool ok = false;
    if (pm_input_create_array(&in, nullptr, 0, 0) == PM_OK) {
        pm_map* m = nullptr;
        ok = pm_map_create_named(&m, o, in, name) == PM_OK;
        pm_map_destroy(m);
    }
    pm_options_destroy(o);
    return ok;
}

pm_options* options_from(const pool_message& m) {
    pm_options* o = nullptr;
    if (pm_options_create(&o) != PM_OK)
        return nullptr;
    pm_options_set_processes(o, m.processes);
    pm_options_set_threads(o, m.threads);
    pm_options_set_retries(o, m.retries);
    pm_options_set_item_timeout(o, m.item_timeout_ms);
    pm_options_set_max_items_per_worker(o, m.max_items_per_worker);
    pm_options_set_max_worker_rss(o, m.max_worker_rss);
    pm_options_set_reset_crash_signals(o, m.reset_crash_signals ? 1 : 0);
    pm_options_set_daemon(o, m.daemon ? 1 : 0);
    if (m.hooks_name[0])
        pm_options_set_worker_hooks_name(o, m.hooks_name);
    return o;
}

// A pipe with both ends close-on-exec.
bool make_pipe(int fds[2]) { return ::pipe2(fds, O_CLOEXEC) == 0; }

// The relay's ends of a rank's pipes, which the local pool's processes
// (forked from this rank while the relay runs) must not hold: a copy of an
// end there would keep its pipe from ever reaching end of file.
int relay_task_end = -1, relay_result_end = -1;
bool relay_ends_closed = false;  // in this process (a worker inherits it)

void close_relay_ends_in_child(void*) {
    if (relay_ends_closed)
        return;
    relay_ends_closed = true;  // the template's workers inherit this
    ::close(relay_task_end);
    ::close(relay_result_end);
}

// One pool's stream on a worker rank.
void serve_one_pool(const pool_message& m) {
    backend& b = the_backend();
    ack_message ack{};
    const std::string name(m.work_name, strnlen(m.work_name, name_bytes));
    pm_options* opts = options_from(m);
    int tasks[2] = {-1, -1}, results[2] = {-1, -1};
    if (!opts) {
        ack.status = PM_ENOMEM;
    } else if (!is_registered(name.c_str())) {
        ack.status = PM_EINVAL;
        std::snprintf(ack.text, sizeof ack.text,
                      "%s: no work function is registered as \"%s\" (pm_register_work())",
                      b.where.c_str(), name.c_str());
    } else if (!make_pipe(tasks) || !make_pipe(results)) {
        ack.status = PM_ESYS;
        std::snprintf(ack.text, sizeof ack.text, "%s: pipe failed", b.where.c_str());
    }
    MPI_Send(&ack, sizeof ack, MPI_BYTE, 0, tag_ack, b.comm);
    if (ack.status != PM_OK) {
        for (int fd : {tasks[0], tasks[1], results[0], results[1]})
            if (fd >= 0)
                ::close(fd);
        pm_options_destroy(opts);
        return;
    }
    relay_task_end = tasks[1];
    relay_result_end = results[0];
    relay_ends_closed = false;
    pm_options_set_fork_hooks(opts, nullptr, nullptr, close_relay_ends_in_child, nullptr);
    std::vector<relay_peer> peers(1);
    peers[0].rank = 0;
    peers[0].from_local = owned_fd(results[0]);  // results, to rank 0
    peers[0].to_local = owned_fd(tasks[1]);      // tasks, from rank 0
    {
        relay r(b.comm, std::move(peers));
        const int rc = pm_stream_serve(tasks[0], results[1], opts, name.c_str(), b.where.c_str());
        if (rc != PM_OK)
            std::fprintf(stderr, "[parmapper-mpi] %s: %s\n", b.where.c_str(), pm_last_error());
        // The stream is closed on our side; the relay ends once rank 0's
        // side is closed too.
        r.join();
    }
    pm_options_destroy(opts);
}

[[noreturn]] void serve_until_shutdown() {
    backend& b = the_backend();
    for (;;) {
        wait_for(0, tag_control, b.comm);
        pool_message m{};
        MPI_Recv(&m, sizeof m, MPI_BYTE, 0, tag_control, b.comm, MPI_STATUS_IGNORE);
        if (m.kind == control_shutdown)
            break;
        if (m.kind == control_pool)
            serve_one_pool(m);
    }
    MPI_Comm_free(&b.comm);
    MPI_Finalize();
    std::fflush(nullptr);
    std::exit(0);
}

void finalize_at_exit() { (void)pm_mpi_finalize(); }

// Rank 0's side of a live pool: the relay, joined when the pool is freed.
void end_pool(void*) {
    backend& b = the_backend();
    if (b.live_relay) {
        b.live_relay->stop(relay_grace_ms);
        b.live_relay->join();
        b.live_relay.reset();
    }
    b.pool_alive = false;
}

int check_rank0(const char* fn) {
    backend& b = the_backend();
    if (!b.initialized || b.finalized || b.rank != 0 || b.size < 2)
        return fail(PM_ESTATE,
                    std::string(fn) +
                        ": not on rank 0 of an MPI job of two ranks or more, after "
                        "pm_worker_serve() and before pm_mpi_finalize() (run the program "
                        "under mpirun -np N, N >= 2, with pm_worker_serve() first in main)");
    if (b.pool_alive)
        return fail(PM_ESTATE, std::string(fn) + ": another MPI pool or map is still alive");
    return PM_OK;
}

}  // namespace

int pm_mpi_serve_ranks(int argc, char** argv) {
    backend& b = the_backend();
    if (b.initialized)
        return 0;
    if (pm_version_number() != PM_VERSION_NUMBER) {
        std::fprintf(stderr, "[parmapper-mpi] built for libparmapper %s, running with %s\n",
                     PM_VERSION_STRING, pm_version_string());
        return 0;
    }
    if (ensure_mpi(&argc, &argv) != PM_OK) {
        std::fprintf(stderr, "[parmapper-mpi] MPI_Init_thread gave no MPI_THREAD_SERIALIZED\n");
        return 0;
    }
    if (b.rank != 0)
        serve_until_shutdown();
    std::atexit(finalize_at_exit);
    return 0;
}

const char* pm_mpi_last_error(void) {
    return last_error_is_ours ? last_error.c_str() : pm_last_error();
}

int pm_mpi_rank(void) { return the_backend().rank; }
int pm_mpi_size(void) { return the_backend().size; }

int pm_mpi_pool_create(pm_pool** out, const pm_options* opts, const char* work_name) {
    begin_call();
    if (out)
        *out = nullptr;
    if (!out || !work_name)
        return fail(PM_EINVAL, "pm_mpi_pool_create: out or work_name is NULL");
    if (std::strlen(work_name) >= name_bytes)
        return fail(PM_EINVAL, "pm_mpi_pool_create: work_name is longer than 255 bytes");
    int rc = check_rank0("pm_mpi_pool_create");
    if (rc != PM_OK)
        return rc;
    backend& b = the_backend();
    pm::core::map_settings s = opts ? opts->settings : pm::core::map_settings{};
    pool_message m{};
    m.kind = control_pool;
    m.processes = s.processes;  // 0: each rank's CPU count, there
    m.threads = s.threads;
    m.retries = s.retries;
    m.item_timeout_ms = s.item_timeout_ms;
    m.max_items_per_worker = s.max_items_per_worker;
    m.max_worker_rss = s.max_worker_rss;
    // Crash handlers that MPI installs in the rank would run in its forked
    // workers: they start with the default actions.
    m.reset_crash_signals = 1;
    m.daemon = s.daemon;
    std::snprintf(m.work_name, sizeof m.work_name, "%s", work_name);
    std::snprintf(m.hooks_name, sizeof m.hooks_name, "%s", s.hooks_name.c_str());
    const int ranks = b.size - 1;
    for (int r = 1; r <= ranks; ++r)
        MPI_Send(&m, sizeof m, MPI_BYTE, r, tag_control, b.comm);
    std::vector<ack_message> acks(static_cast<size_t>(ranks));
    for (int r = 1; r <= ranks; ++r) {
        wait_for(r, tag_ack, b.comm);
        MPI_Recv(&acks[size_t(r - 1)], sizeof(ack_message), MPI_BYTE, r, tag_ack, b.comm,
                 MPI_STATUS_IGNORE);
    }
    // Our ends: tasks go out through task_write (the engine) -> task_read
    // (the relay); results come in through result_write (the relay) ->
    // result_read (the engine).
    std::vector<int> engine_tasks, engine_results;
    std::vector<relay_peer> peers;
    int failure = PM_OK;
    std::string failure_text;
    for (int r = 1; r <= ranks; ++r) {
        const ack_message& a = acks[size_t(r - 1)];
        if (a.status != PM_OK && failure == PM_OK) {
            failure = a.status;
            failure_text = a.text[0] ? std::string(a.text, strnlen(a.text, sizeof a.text))
                                     : "MPI rank " + std::to_string(r) + " could not serve";
        }
        if (a.status != PM_OK)
            continue;
        int t[2], res[2];
        if (!make_pipe(t) || !make_pipe(res)) {
            failure = PM_ESYS;
            failure_text = "pm_mpi_pool_create: pipe failed";
            // This rank's stream ends at once: its relay peer sends the end.
            t[0] = t[1] = res[0] = res[1] = -1;
        }
        relay_peer p;
        p.rank = r;
        p.from_local = owned_fd(t[0]);
        p.to_local = owned_fd(res[1]);
        peers.push_back(std::move(p));
        engine_tasks.push_back(t[1]);
        engine_results.push_back(res[0]);
    }
    if (failure != PM_OK) {
        // The ranks that accepted see their stream end and wait again.
        for (int fd : engine_tasks)
            if (fd >= 0)
                ::close(fd);
        for (int fd : engine_results)
            if (fd >= 0)
                ::close(fd);
        relay ending(b.comm, std::move(peers));
        ending.join();
        return fail(failure, "pm_mpi_pool_create: " + failure_text);
    }
    b.live_relay = std::make_unique<relay>(b.comm, std::move(peers));
    b.pool_alive = true;
    pm_options* stream_opts = nullptr;
    rc = pm_options_create(&stream_opts);
    if (rc == PM_OK) {
        // The pool's own settings, and each rank's capacity (processes x
        // threads there; an unknown CPU count counts as this rank's).
        stream_opts->settings = s;
        if (stream_opts->settings.processes == 0)
            stream_opts->settings.processes = static_cast<uint32_t>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
    }
    if (rc != PM_OK) {
        for (size_t i = 0; i < engine_tasks.size(); ++i) {
            ::close(engine_tasks[i]);
            ::close(engine_results[i]);
        }
        end_pool(nullptr);
        return rc;
    }
    rc = pm_pool_create_streams(out, stream_opts, engine_tasks.size(), engine_tasks.data(),
                                engine_results.data(), end_pool, nullptr);
    pm_options_destroy(stream_opts);
    return rc;  // on failure end_pool() has run (the pool's destroy)
}

int pm_mpi_map_create(pm_map** out, const pm_options* opts, pm_input* input,
                      const char* work_name) {
    begin_call();
    if (out)
        *out = nullptr;
    if (!out || !input) {
        pm_input_destroy(input);
        return fail(PM_EINVAL, "pm_mpi_map_create: out or input is NULL");
    }
    pm_pool* pool = nullptr;
    int rc = pm_mpi_pool_create(&pool, opts, work_name);
    if (rc != PM_OK) {
        pm_input_destroy(input);
        return rc;
    }
    rc = pm_pool_map(out, pool, opts, input);
    // The pool's workers stay until the map is destroyed.
    pm_pool_destroy(pool);
    return rc;
}

int pm_mpi_finalize(void) {
    begin_call();
    backend& b = the_backend();
    if (!b.initialized || b.finalized || b.rank != 0)
        return PM_OK;
    if (b.pool_alive)
        return fail(PM_ESTATE, "pm_mpi_finalize: an MPI pool or map is still alive");
    pool_message m{};
    m.kind = control_shutdown;
    for (int r = 1; r < b.size; ++r)
        MPI_Send(&m, sizeof m, MPI_BYTE, r, tag_control, b.comm);
    MPI_Comm_free(&b.comm);
    MPI_Finalize();
    b.finalized = true;
    return PM_OK;
}
