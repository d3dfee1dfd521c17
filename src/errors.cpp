#include "errors.hpp"

#include <string.h>
#include <sys/wait.h>

namespace pm::core {

void throw_system_error(const char* what, int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer (maybe not buf).
    const char* text = ::strerror_r(err, buf, sizeof buf);
    throw error(PM_ESYS, std::string(what) + ": " + text);
}

std::string describe_wait_status(int wait_status) {
    if (WIFSIGNALED(wait_status)) {
        int sig = WTERMSIG(wait_status);
        // sigabbrev_np is thread-safe, unlike strsignal.
        const char* name = ::sigabbrev_np(sig);
        return "killed by signal " + std::to_string(sig) + " (" +
               (name ? std::string("SIG") + name : std::string("unknown")) + ")";
    }
    if (WIFEXITED(wait_status))
        return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
    return "stopped with wait status " + std::to_string(wait_status);
}

}  // namespace pm::core
