// The conversation between a pool's caller and its template process (see
// spawner.hpp): one fixed-size message per send on a SOCK_SEQPACKET socket,
// descriptors passed with SCM_RIGHTS.
#pragma once

#include <cstdint>

#include "unique_fd.hpp"

namespace pm::core {

// Messages on the template's socket (SOCK_SEQPACKET: one message per send).
enum : uint32_t { op_spawn = 1, op_spawned = 2, op_exited = 3, op_kill = 4, op_quit = 5 };

// op_spawned's pid when no worker was started: which step failed.
enum : int32_t { failed_fork = -1, failed_receive = -2, failed_watch = -3 };

struct message {
    uint32_t op;
    uint32_t worker_id;
    int32_t pid;    // op_spawned, op_exited, op_kill
    int32_t value;  // op_spawned: errno of a failed step (0: ok); op_exited: wait status
};

constexpr int max_passed_fds = 3;

bool send_message(int sock, const message& m, const int* fds, int nfds) noexcept;
// Receives one message and up to max_passed_fds descriptors (CLOEXEC,
// above descriptor 2). Returns 1 for a message, 0 at end of stream, -1 on
// error or a bad message, -2 for a message whose descriptors could not be
// received (EMFILE).
int receive_message(int sock, message* m, unique_fd* fds, int* nfds) noexcept;

}  // namespace pm::core
