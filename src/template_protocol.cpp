#include "template_protocol.hpp"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "sys_io.hpp"

namespace pm::core {

bool send_message(int sock, const message& m, const int* fds, int nfds) noexcept {
    struct iovec iov = {const_cast<message*>(&m), sizeof m};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
    if (nfds > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do {
        n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof m);
}

// Receives one message and up to max_passed_fds descriptors (CLOEXEC).
// Returns 1 for a message, 0 at end of stream, -1 on error or a bad message,
// -2 for a message whose descriptors could not be received (EMFILE).
int receive_message(int sock, message* m, unique_fd* fds, int* nfds) noexcept {
    struct iovec iov = {m, sizeof *m};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int k = 0; k < count; ++k) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
            // In the template these become a worker's pipes: never its stdio.
            fd = above_stdio(fd);
            if (*nfds < max_passed_fds)
                fds[(*nfds)++].reset(fd);
            else
                ::close(fd);
        }
    }
    if (n == 0)
        return 0;
    if (n != static_cast<ssize_t>(sizeof *m) || (msg.msg_flags & MSG_TRUNC))
        return -1;
    return (msg.msg_flags & MSG_CTRUNC) ? -2 : 1;
}

}  // namespace pm::core
