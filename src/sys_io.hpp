// Thin, EINTR-safe wrappers over the system calls the engine uses.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "unique_fd.hpp"

namespace pm::core {

struct pipe_pair {
    unique_fd read_end;
    unique_fd write_end;
};

// A descriptor the library just made, moved above 2 if it landed on 0, 1
// or 2 (a host that closed its stdio, as daemons do): otherwise a work
// function's printf or perror would write into the library's pipes. Keeps
// O_CLOEXEC; returns fd unchanged when it is above 2 or negative, and, if
// the move fails, the original (the map then still works; only stray writes
// to stdio could reach it).
int above_stdio(int fd) noexcept;

// pipe2(O_CLOEXEC); throws PM_ESYS on failure.
pipe_pair make_pipe();
// eventfd(EFD_CLOEXEC | EFD_NONBLOCK); throws PM_ESYS on failure.
unique_fd make_eventfd();
void eventfd_signal(int fd) noexcept;
void eventfd_drain(int fd) noexcept;

void set_nonblocking(int fd);
// Best effort: a larger pipe means fewer wake-ups for big frames.
void try_grow_pipe(int fd, int bytes) noexcept;

enum class io_result { done, would_block, closed, failed };

// Blocking read of exactly len bytes. closed: EOF before the first byte;
// failed: EOF part-way or an error (errno set).
io_result read_exact(int fd, void* buf, size_t len) noexcept;
// Blocking write of the whole iovec array (it is modified). On a pipe whose
// reader is gone this returns failed with errno EPIPE; callers run on threads
// with SIGPIPE blocked, or in workers where SIGPIPE ending them is right.
io_result writev_all(int fd, struct iovec* iov, int iovcnt) noexcept;
// Moves past n written bytes: drops the iovecs written whole and trims the
// first one written in part.
void advance_iovecs(struct iovec*& iov, int& iovcnt, size_t n) noexcept;

// Nonblocking read of up to len bytes into buf; *got is how many.
io_result read_some(int fd, void* buf, size_t len, size_t* got) noexcept;

// Wait until fd is ready for events (POLLIN/POLLOUT) or wake_fd is readable,
// up to timeout_ms (-1: forever). Returns poll's revents for fd, 0 on timeout
// or when only wake_fd fired.
int wait_fd(int fd, short events, int wake_fd, int timeout_ms) noexcept;

// Write a small message to a nonblocking pipe from a thread whose signal mask
// we do not own: SIGPIPE is blocked for the call and a SIGPIPE it raised is
// consumed, so the host never sees it. Returns true if everything was written.
bool write_small_no_sigpipe(int fd, const void* data, size_t len) noexcept;

// Number of online CPUs, at least 1.
uint32_t online_cpus() noexcept;
// Monotonic clock in nanoseconds.
uint64_t monotonic_ns() noexcept;

}  // namespace pm::core
