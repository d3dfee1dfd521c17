// Which descriptors of this process belong to the library: the caller's
// ends of every map's and pool's pipes, template sockets, exit watches,
// wake-up eventfds. A process the library forks (a template, a
// ReturnProcess child) closes them first thing; otherwise it would keep
// other maps' and pools' pipes and sockets open, and their workers and
// templates would wait in vain for those to close. The user's descriptors
// are never listed, so work functions keep everything they inherit.
//
// Lock-free, because a child forked while other threads were changing it
// reads it. An fd is listed only between its open and its close (noted after
// the open, forgotten before the close), so the list never names a
// descriptor that is not the library's; fds past the table's reach (about a
// million) are simply not listed.
#pragma once

#include <cstddef>

namespace pm::core {

void note_library_fd(int fd) noexcept;
void forget_library_fd(int fd) noexcept;

// In a child just forked: closes every listed descriptor except the n in
// keep (they stay listed).
void close_library_fds(const int* keep, size_t n) noexcept;
inline void close_library_fds(int keep) noexcept { close_library_fds(&keep, 1); }

}  // namespace pm::core
