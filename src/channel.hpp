// The parent's end of one worker's channel: task frames go out, result
// frames come in. The engine talks only to this interface; pipe_channel is
// today's transport, and a socket, a shared-memory ring or an MPI endpoint
// would implement the same calls. send() is called from the feeder thread;
// everything else from the consumer's thread, and close() only once the
// feeder has stopped.
#pragma once

#include <sys/uio.h>

#include <functional>
#include <string>
#include <vector>

#include "frame_codec.hpp"
#include "frame_reader.hpp"

namespace pm::core {

class channel {
public:
    virtual ~channel() = default;

    // A descriptor that polls readable when results, or the end, can be read.
    virtual int poll_fd() const noexcept = 0;
    // Reads what is available without blocking; see frame_reader::read.
    virtual frame_reader::status read_frame(std::string* problem) = 0;
    virtual const frame_header& frame() const noexcept = 0;
    virtual payload_buffer take_payload() noexcept = 0;
    // Part-way through a result frame, and where ("" when not).
    virtual std::string partial_frame() const = 0;

    // Sends one whole frame (iov is consumed). While the worker is slow it
    // waits on the channel and on wake_fd, and asks give_up() after every
    // wake-up and at least every 100 ms. False: given up, or the channel
    // broke (the worker is gone).
    virtual bool send(struct iovec* iov, int iovcnt, int wake_fd,
                      const std::function<bool()>& give_up) = 0;
    // Best effort, never blocks and never raises SIGPIPE.
    virtual void send_stop() noexcept = 0;
    // No more tasks: the worker sees the end of its task stream.
    virtual void close_tasks() noexcept = 0;
    virtual void close() noexcept = 0;
};

}  // namespace pm::core
