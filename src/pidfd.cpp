#include "pidfd.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "sys_io.hpp"

namespace pm::core {

int open_pidfd(pid_t pid) noexcept {
    // pidfds are always CLOEXEC.
    return above_stdio(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

int signal_pidfd(int pidfd, int sig) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

namespace {

bool probe_pidfds() noexcept {
    const char* off = std::getenv("PARMAPPER_NO_PIDFD");
    if (off && std::strcmp(off, "1") == 0)
        return false;
    int fd = open_pidfd(::getpid());
    if (fd < 0)
        return false;
    bool ok = signal_pidfd(fd, 0) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

bool pidfds_work() noexcept {
    static const bool works = probe_pidfds();
    return works;
}

}  // namespace pm::core
