// The C boundary of background processes (pm_process_*): argument checks,
// the user_data's lifetime, and statuses over pm::core::return_process.
#include <unistd.h>

#include <memory>
#include <string>

#include "capi_internal.hpp"
#include "child_process.hpp"
#include "logging.hpp"
#include "parmapper.h"
#include "return_process.hpp"

struct pm_process {
    pm_process(void* ud, pm_destroy_fn fn) noexcept : user_data(ud), destroy(fn) {}
    pm_process(const pm_process&) = delete;
    pm_process& operator=(const pm_process&) = delete;
    // The child goes first (killed and reaped if never joined), then the
    // caller's user_data.
    ~pm_process() {
        core.reset();
        if (destroy)
            destroy(user_data);
    }

    void* user_data;
    pm_destroy_fn destroy;
    std::unique_ptr<pm::core::return_process> core;
    // Where the handle was made: a copy inherited by a fork (a map's worker,
    // or any fork of the program's) must not kill or reap the parent's child.
    uint64_t incarnation = pm::core::process_incarnation();
    pid_t creator = ::getpid();

    bool inherited() const noexcept {
        return incarnation != pm::core::process_incarnation() || creator != ::getpid();
    }
};

int pm_process_start(pm_process** out, const pm_options* opts, pm_process_fn fn,
                     void* user_data, pm_destroy_fn destroy) {
    if (out)
        *out = nullptr;
    if (!out || !fn) {
        if (destroy)
            destroy(user_data);
        return pm::capi::fail(PM_EINVAL, "pm_process_start: out or fn is NULL");
    }
    pm_process* proc = nullptr;
    try {
        proc = new pm_process(user_data, destroy);
    } catch (...) {
        if (destroy)
            destroy(user_data);
        return pm::capi::fail(PM_ENOMEM, "out of memory");
    }
    // From here the handle owns user_data: deleting it runs destroy once.
    std::unique_ptr<pm_process> owner(proc);
    return pm::capi::report_to_buffer(opts, pm::capi::guard([&]() -> int {
        const pm::core::map_settings s = pm::capi::resolved_settings(opts);
        owner->core = std::make_unique<pm::core::return_process>(
            pm::core::process_call{fn, user_data}, s.daemon, pm::core::fork_hooks::of(s),
            s.reset_crash_signals);
        *out = owner.release();
        return PM_OK;
    }));
}

int pm_process_join(pm_process* proc, const void** data, size_t* len) {
    if (data)
        *data = nullptr;
    if (len)
        *len = 0;
    if (!proc)
        return pm::capi::fail(PM_EINVAL, "pm_process_join: proc is NULL");
    if (proc->inherited())
        return pm::capi::fail(PM_ESTATE, "pm_process_join: this process belongs to the parent "
                                         "process; a forked copy of the handle cannot join it");
    const int status = proc->core->join();
    if (status != PM_OK)
        return pm::capi::fail(status, proc->core->message().c_str());
    if (data)
        *data = proc->core->data();
    if (len)
        *len = proc->core->size();
    return PM_OK;
}

const char* pm_process_error(const pm_process* proc) {
    return proc ? proc->core->message().c_str() : "";
}

void pm_process_destroy(pm_process* proc) {
    if (proc && proc->inherited()) {
        // Killing the child or running destroy here would act on the
        // parent's behalf: leave the copy alone.
        PM_LOG(err, "pm_process_destroy: this process belongs to the parent process; ignored "
                    "in a forked child");
        return;
    }
    delete proc;
}
