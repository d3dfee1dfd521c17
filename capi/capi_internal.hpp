// What the files of capi/ share: error recording, the exception barrier,
// and the settings behind a pm_options. Defined in capi.cpp; not installed.
#pragma once

#include "parmapper.h"
#include "settings.hpp"

// Behind a pm_options handle.
struct pm_options {
    pm::core::map_settings settings;
};

namespace pm::capi {

// Records message as this thread's pm_last_error() and returns status.
int fail(int status, const char* message) noexcept;
// Inside a catch block: records the exception being handled as a status and
// message (pm::core::error, std::bad_alloc as PM_ENOMEM, anything else as
// PM_EINTERNAL) and returns that status.
int fail_current_exception() noexcept;

// Runs body; an exception becomes a status and a recorded message, so that
// none crosses the C boundary.
template <class F>
int guard(F&& body) noexcept {
    try {
        return body();
    } catch (...) {
        return fail_current_exception();
    }
}

// A creating call with opts failed with status: its message goes to the
// options' error buffer too, if they have one. Returns status.
int report_to_buffer(const pm_options* opts, int status) noexcept;

// The settings of opts, or the defaults for NULL; processes 0 is replaced
// by the number of online CPUs.
pm::core::map_settings resolved_settings(const pm_options* opts);

}  // namespace pm::capi
