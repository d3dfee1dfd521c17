// A worker channel over two pipes: one for tasks, one for results. Each
// worker has its own pair, so the parent knows which worker a frame came
// from, and a worker that dies mid-frame cannot tear another's stream.
#pragma once

#include "channel.hpp"
#include "sys_io.hpp"

namespace pm::core {

// Both pairs of pipes for one worker, before the worker exists.
struct pipe_link {
    pipe_pair tasks;    // parent writes, worker reads
    pipe_pair results;  // worker writes, parent reads
    static pipe_link create();
};

class pipe_channel final : public channel {
public:
    // Takes the parent's ends; the worker's ends stay in the link.
    explicit pipe_channel(pipe_link& link);
    // Over ends made elsewhere (a stream worker's): made nonblocking here.
    pipe_channel(unique_fd task_write_end, unique_fd result_read_end);

    int task_fd() const noexcept { return task_fd_.get(); }
    int result_fd() const noexcept { return result_fd_.get(); }

    int poll_fd() const noexcept override { return result_fd_.get(); }
    frame_reader::status read_frame(std::string* problem) override;
    const frame_header& frame() const noexcept override { return reader_.header(); }
    payload_buffer take_payload() noexcept override { return reader_.take_payload(); }
    std::string partial_frame() const override {
        return reader_.mid_frame() ? reader_.where_in_frame() : std::string();
    }
    bool send(struct iovec* iov, int iovcnt, int wake_fd,
              const std::function<bool()>& give_up) override;
    void send_stop() noexcept override;
    void close_tasks() noexcept override { task_fd_.reset(); }
    void close() noexcept override;

private:
    unique_fd task_fd_;    // nonblocking
    unique_fd result_fd_;  // nonblocking
    frame_reader reader_;
};

}  // namespace pm::core
