#include "mpi_relay.hpp"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <fcntl.h>
#include <time.h>

namespace pm::mpi {

namespace {

constexpr size_t read_bytes = size_t(1) << 20;  // most sent in one message
constexpr size_t max_sends_per_peer = 8;        // posted and not complete
constexpr int idle_poll_ms = 1;
constexpr int busy_rounds = 200;  // rounds without a wait after some progress

void set_nonblocking(int fd) noexcept {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

}  // namespace

uint64_t now_ns() noexcept {
    struct timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1'000'000'000u + uint64_t(t.tv_nsec);
}

relay::relay(MPI_Comm comm, std::vector<relay_peer> peers) : comm_(comm) {
    for (auto& p : peers) {
        peer_state s;
        s.ends = std::move(p);
        set_nonblocking(s.ends.from_local.get());
        set_nonblocking(s.ends.to_local.get());
        peers_.push_back(std::move(s));
    }
    thread_ = std::thread([this] {
        // A write to a pipe whose reader is gone fails here; it must not
        // end the process.
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
        run();
    });
}

relay::~relay() {
    stop(0);
    join();
}

void relay::stop(int grace_ms) noexcept {
    stop_deadline_ns_.store(static_cast<long long>(now_ns()) +
                            static_cast<long long>(grace_ms) * 1'000'000);
    stopping_.store(true);
}

void relay::join() noexcept {
    if (thread_.joinable())
        thread_.join();
}

relay::peer_state* relay::peer_of(int rank) {
    for (auto& p : peers_)
        if (p.ends.rank == rank)
            return &p;
    return nullptr;
}

bool relay::finished() const {
    for (const auto& p : peers_)
        if (!p.sent_end || !p.got_end || !p.pending.empty())
            return false;
    return sends_.empty();
}

// Local bytes to the peer's rank.
bool relay::pump_out(peer_state& p) {
    if (p.sent_end)
        return false;
    if (sends_.size() >= max_sends_per_peer * std::max<size_t>(1, peers_.size()))
        return false;
    std::vector<char> bytes(read_bytes);
    ssize_t got;
    do
        got = ::read(p.ends.from_local.get(), bytes.data(), bytes.size());
    while (got < 0 && errno == EINTR);
    if (got < 0 && errno == EAGAIN)
        return false;
    if (got > 0) {
        bytes.resize(static_cast<size_t>(got));
    } else {
        // End of file (or a broken pipe): the direction ends.
        bytes.clear();
        p.sent_end = true;
        p.ends.from_local.reset();
    }
    sends_.push_back({MPI_REQUEST_NULL, std::move(bytes)});
    send_in_flight& s = sends_.back();
    MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, p.ends.rank, tag_data,
              comm_, &s.request);
    return true;
}

// Messages from any peer, into their pending queues.
bool relay::pump_in() {
    bool progressed = false;
    for (;;) {
        int flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, tag_data, comm_, &flag, &status);
        if (!flag)
            return progressed;
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        std::vector<char> bytes(static_cast<size_t>(count));
        MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, tag_data, comm_,
                 MPI_STATUS_IGNORE);
        progressed = true;
        peer_state* p = peer_of(status.MPI_SOURCE);
        if (!p)
            continue;  // not one of ours: dropped
        if (count == 0)
            p->got_end = true;
        else if (p->ends.to_local)
            p->pending.push_back(std::move(bytes));
    }
}

// Pending bytes to the local descriptor; closes it after the peer's end.
bool relay::write_local(peer_state& p) {
    bool progressed = false;
    while (!p.pending.empty() && p.ends.to_local) {
        const auto& front = p.pending.front();
        const ssize_t n = ::write(p.ends.to_local.get(), front.data() + p.pending_offset,
                                  front.size() - p.pending_offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            // Nobody reads any more: what the peer sends is dropped.
            p.ends.to_local.reset();
            break;
        }
        progressed = true;
        p.pending_offset += static_cast<size_t>(n);
        if (p.pending_offset == front.size()) {
            p.pending.pop_front();
            p.pending_offset = 0;
        }
    }
    if (!p.ends.to_local)
        p.pending.clear();
    if (p.got_end && p.pending.empty() && p.ends.to_local) {
        p.ends.to_local.reset();
        progressed = true;
    }
    return progressed;
}

void relay::run() {
    int quiet_rounds = 0;
    std::vector<struct pollfd> fds;
    for (;;) {
        bool progressed = false;
        for (auto& p : peers_)
            progressed |= pump_out(p);
        progressed |= pump_in();
        for (auto& p : peers_)
            progressed |= write_local(p);
        while (!sends_.empty()) {
            int done = 0;
            MPI_Test(&sends_.front().request, &done, MPI_STATUS_IGNORE);
            if (!done)
                break;
            sends_.pop_front();
            progressed = true;
        }
        if (finished())
            return;
        if (stopping_.load() &&
            static_cast<long long>(now_ns()) >= stop_deadline_ns_.load()) {
            // Sends still posted are cancelled so that nothing refers to our
            // buffers once we return.
            for (auto& s : sends_) {
                MPI_Cancel(&s.request);
                MPI_Wait(&s.request, MPI_STATUS_IGNORE);
            }
            sends_.clear();
            return;
        }
        if (progressed) {
            quiet_rounds = 0;
            continue;
        }
        if (++quiet_rounds < busy_rounds)
            continue;
        // Nothing moves: wait on the local side a little (MPI has no
        // descriptor to wait on, so the wait is short).
        fds.clear();
        for (auto& p : peers_) {
            if (p.ends.from_local && !p.sent_end)
                fds.push_back({p.ends.from_local.get(), POLLIN, 0});
            if (p.ends.to_local && !p.pending.empty())
                fds.push_back({p.ends.to_local.get(), POLLOUT, 0});
        }
        (void)::poll(fds.data(), fds.size(), idle_poll_ms);
    }
}

}  // namespace pm::mpi
