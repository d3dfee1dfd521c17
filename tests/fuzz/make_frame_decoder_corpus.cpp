// Writes the seed corpus of the frame_decoder fuzz target: valid frames made
// by the real builders (valid-*), and edge cases around each check (edge-*).
//   make_frame_decoder_corpus DIR          write the files into DIR
//   make_frame_decoder_corpus --check DIR  fail if DIR's files differ from what this
//                                  program makes (the wire format changed:
//                                  run it without --check to refresh them)
// Other files in DIR (regress-*: inputs that once found a bug) are left alone.
#include <sys/uio.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "corpus_writer.hpp"
#include "frame_codec.hpp"
#include "parmapper.h"

using namespace pm::core;

namespace {

using bytes = std::vector<char>;

bytes flatten(const struct iovec* iov, int n) {
    bytes out;
    for (int i = 0; i < n; ++i) {
        const char* p = static_cast<const char*>(iov[i].iov_base);
        out.insert(out.end(), p, p + iov[i].iov_len);
    }
    return out;
}

bytes raw(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    return bytes(c, c + n);
}

bytes operator+(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A result frame; an item whose text starts with '!' fails with that message.
bytes result_frame(uint64_t first, const std::vector<std::string>& items) {
    result_builder r;
    for (const std::string& s : items) {
        r.begin_item();
        if (!s.empty() && s[0] == '!') {
            r.end_item_failed(PM_EITEM, s.substr(1));
            continue;
        }
        if (!s.empty())
            std::memcpy(r.append(s.size()), s.data(), s.size());
        r.end_item_ok();
    }
    struct iovec iov[3];
    return flatten(iov, r.to_iovecs(first, 1000 * items.size(), iov));
}

bytes task_frame(uint64_t first, const std::vector<std::string>& items) {
    task_builder t;
    for (const std::string& s : items)
        t.push(s.data(), s.size());
    struct iovec iov[3];
    return flatten(iov, t.to_iovecs(first, iov));
}

bytes header(const frame_header& h) { return raw(&h, sizeof h); }

std::map<std::string, bytes> make_corpus() {
    std::map<std::string, bytes> c;
    c["valid-result-one"] = result_frame(0, {"hello"});
    c["valid-result-mixed"] = result_frame(10, {"ok", "!work function returned 1", ""});
    std::vector<std::string> many;
    for (int i = 0; i < 64; ++i)
        many.push_back(std::string(static_cast<size_t>(i), static_cast<char>('a' + i % 26)));
    c["valid-result-many"] = result_frame(1000, many);
    c["valid-result-two-frames"] = result_frame(0, {"a"}) + result_frame(1, {"bb", "ccc"});
    c["valid-result-empty"] = result_frame(5, {});
    c["valid-result-uniform"] = result_frame(20, {"abcdefgh", "ijklmnop", "qrstuvwx"});
    c["valid-result-uniform-empty"] = result_frame(4, {"", "", "", ""});
    c["valid-result-large-item"] = result_frame(3, {std::string(5000, 'L')});
    c["valid-task-three"] = task_frame(7, {"abc", "", "hello"});
    c["valid-task-uniform"] = task_frame(3, {"1234", "5678"});
    c["valid-stop"] = header(make_header(frame_type::stop, 0, 0, 0));
    c["valid-mixed-stream"] = result_frame(2, {"x"}) + task_frame(3, {"yy"}) +
                              header(make_header(frame_type::stop, 0, 0, 0));

    const bytes one = result_frame(0, {"hello"});
    c["edge-empty"] = {};
    c["edge-bad-magic"] = bytes(64, 'x');
    c["edge-truncated-header"] = bytes(one.begin(), one.begin() + 17);
    c["edge-truncated-payload"] = bytes(one.begin(), one.end() - 3);
    c["edge-huge-payload"] =
        header(make_header(frame_type::result, 1, 0, max_payload_len)) + bytes(100, 'h');
    c["edge-over-max-payload"] =
        header(make_header(frame_type::result, 1, 0, max_payload_len + 1)) + bytes(16, 0);
    c["edge-table-too-short"] = header(make_header(frame_type::result, 4, 0, 40)) + bytes(40, 0);
    c["edge-count-over-max"] =
        header(make_header(frame_type::result, PM_MAX_CHUNK_SIZE + 1, 0, 0));
    c["edge-index-overflow"] =
        header(make_header(frame_type::result, 2, UINT64_MAX, 32)) + bytes(32, 0);
    c["edge-stop-with-payload"] = header(make_header(frame_type::stop, 0, 0, 8)) + bytes(8, 's');
    frame_header flagged = make_header(frame_type::result, 0, 0, 0);
    flagged.flags = 1;
    c["edge-flags-set"] = header(flagged);
    frame_header uneven = make_header(frame_type::result, 3, 0, 10);
    uneven.flags = frame_flag_uniform;
    c["edge-uniform-uneven"] = header(uneven) + bytes(10, 'u');
    frame_header uniform_stop = make_header(frame_type::stop, 0, 0, 0);
    uniform_stop.flags = frame_flag_uniform;
    c["edge-uniform-stop"] = header(uniform_stop);
    const result_entry wrap[2] = {{UINT64_MAX, PM_OK, 0}, {7, PM_OK, 0}};
    c["edge-lengths-wrap"] =
        header(make_header(frame_type::result, 2, 0, sizeof wrap + 6)) + raw(wrap, sizeof wrap) +
        bytes(6, 'w');
    const result_entry odd_status = {3, 12345, 0};
    c["edge-unknown-status"] = header(make_header(frame_type::result, 1, 0, 19)) +
                               raw(&odd_status, sizeof odd_status) + bytes(3, 'u');
    const uint64_t task_lens[2] = {UINT64_MAX, 2};
    c["edge-task-lengths-wrap"] = header(make_header(frame_type::task, 2, 0, 17)) +
                                  raw(task_lens, sizeof task_lens) + bytes(1, 't');
    // A sound frame followed by garbage: the first must be taken, then stop.
    c["edge-good-then-garbage"] = one + bytes(48, '\xff');
    return c;
}

}  // namespace

int main(int argc, char** argv) { return corpus_writer::run(argc, argv, make_corpus()); }
