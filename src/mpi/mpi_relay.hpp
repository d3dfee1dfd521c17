// Carries byte streams between local descriptors and MPI ranks, both ways,
// on one thread that makes every MPI call of the relay. On rank 0 there is
// one peer per worker rank: the engine writes task frames into a pipe, the
// relay sends those bytes to the rank, and writes what the rank sends back
// into the pipe the engine reads results from. On a worker rank there is
// one peer, rank 0, and the pipes lead to pm_stream_serve(). The relay
// knows nothing of frames: it moves bytes, in order, per peer.
//
// A message of zero bytes ends a direction: the relay sends one when its
// local side reaches end of file, and closes the local descriptor when one
// arrives. The relay's thread ends once every peer has ended both ways, or
// soon after stop() when a peer never does.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include <unistd.h>

namespace pm::mpi {

constexpr int tag_data = 3;

// Closes its descriptor when it goes.
class owned_fd {
public:
    owned_fd() = default;
    explicit owned_fd(int fd) noexcept : fd_(fd) {}
    owned_fd(owned_fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    owned_fd& operator=(owned_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.fd_;
            o.fd_ = -1;
        }
        return *this;
    }
    ~owned_fd() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset() noexcept {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

uint64_t now_ns() noexcept;  // monotonic

struct relay_peer {
    int rank = -1;
    owned_fd from_local;  // read: bytes to send to the rank (nonblocking)
    owned_fd to_local;    // write: bytes the rank sent (nonblocking)
};

class relay {
public:
    relay(MPI_Comm comm, std::vector<relay_peer> peers);
    ~relay();  // stop() and join
    relay(const relay&) = delete;
    relay& operator=(const relay&) = delete;

    // Ends the thread within grace_ms even if peers have not ended.
    void stop(int grace_ms) noexcept;
    void join() noexcept;

private:
    struct peer_state {
        relay_peer ends;
        bool sent_end = false;      // our zero-byte message is posted
        bool got_end = false;       // theirs arrived
        std::deque<std::vector<char>> pending;  // arrived, not yet written locally
        size_t pending_offset = 0;  // into pending.front()
    };
    struct send_in_flight {
        MPI_Request request;
        std::vector<char> bytes;
    };

    void run();
    bool pump_out(peer_state& p);
    bool pump_in();
    bool write_local(peer_state& p);
    bool finished() const;
    peer_state* peer_of(int rank);

    MPI_Comm comm_;
    std::vector<peer_state> peers_;
    std::deque<send_in_flight> sends_;
    std::atomic<bool> stopping_{false};
    std::atomic<long long> stop_deadline_ns_{0};
    std::thread thread_;
};

}  // namespace pm::mpi
