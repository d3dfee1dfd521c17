// The core's exception type: a PM_* status code plus a detail message. It is
// caught at the C boundary (capi/) and in the worker's main loop.
#pragma once

#include <stdexcept>
#include <string>

#include "parmapper.h"

namespace pm::core {

class error : public std::runtime_error {
public:
    error(int status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

// Throws PM_ESYS with "what: strerror(errno)".
[[noreturn]] void throw_system_error(const char* what, int err);

// "killed by signal 11 (Segmentation fault)" / "exited with status 3".
std::string describe_wait_status(int wait_status);

}  // namespace pm::core
