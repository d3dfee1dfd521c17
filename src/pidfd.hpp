// pidfds (Linux 5.3): a descriptor for a process that polls readable once it
// has exited and can be signalled without racing the reuse of its pid. Used
// where the kernel offers them; see spawner.hpp for the fallback.
#pragma once

#include <sys/types.h>

namespace pm::core {

// pidfd_open(pid), CLOEXEC and above descriptor 2; -1 with errno on failure.
int open_pidfd(pid_t pid) noexcept;
// pidfd_send_signal; 0 or -1 with errno.
int signal_pidfd(int pidfd, int sig) noexcept;

// Can this process watch and signal processes through pidfds? Not before
// Linux 5.3, not under valgrind (it does not know the calls), not in some
// seccomp sandboxes; and not when PARMAPPER_NO_PIDFD=1 asks for the
// fallback. Probed once per process (valgrind warns at each unknown call).
bool pidfds_work() noexcept;

}  // namespace pm::core
