// A worker that writes bytes of its own into its result pipe: garbage, a
// header claiming a huge payload, results for items it was never given, an
// inconsistent result table. The map must report that worker's items with a
// message naming it and what was wrong (PM_EIO; PM_EWORKER when the worker
// died part-way through a frame), deliver every other item intact, and leave
// no process or descriptor behind. The parent must neither crash nor
// allocate what a header claims.
//
// Unlike the other C API tests this one knows the wire format (frame header
// and result entry, mirrored from src/frame_codec.hpp): a hostile worker
// writes real-looking frames. Should the format drift, the expected messages
// below stop matching and the test fails rather than passing vacuously.
#include "capi_test_util.hpp"

#include <sys/stat.h>

namespace {

using namespace pmtest;

// Mirrors of the wire structures (native-endian, no padding).
struct wire_header {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t count;
    uint32_t flags;
    uint64_t first_index;
    uint64_t payload_len;
    uint64_t aux;
};
static_assert(sizeof(wire_header) == 40, "as in src/frame_codec.hpp");
struct wire_entry {
    uint64_t len;
    int32_t status;
    uint32_t reserved;
};
static_assert(sizeof(wire_entry) == 16, "as in src/frame_codec.hpp");
constexpr uint32_t kMagic = 0x31464d50;
constexpr uint16_t kResultType = 2;

wire_header result_header(uint32_t count, uint64_t first, uint64_t payload_len) {
    wire_header h;
    std::memset(&h, 0, sizeof h);
    h.magic = kMagic;
    h.version = 1;
    h.type = kResultType;
    h.count = count;
    h.first_index = first;
    h.payload_len = payload_len;
    return h;
}

enum class Hostility {
    Garbage,           // 64 bytes of 'x'
    OversizedClaim,    // a header claiming 2 TiB, more than a frame may hold
    HugeClaimThenExit, // a sound header claiming 1 TiB, then _exit(0)
    ExitWhileHeld,     // the same, but a child of the worker holds the
                       // stream open for a while after the worker exits
    ForeignChunk,      // a sound result frame for an item it was not given
    BadTable,          // a result entry longer than the frame
    PartialThenSilent, // a sound header claiming 1 MiB, 16 bytes of it, then
                       // back to work: its stream stalls part-way through
};

// The item value that makes the work function misbehave.
constexpr uint64_t kPoison = 0x706f69736f6e2121ull;

// What the work function is told: how to misbehave, and the descriptors the
// test process had before it forked the workers (the worker sees this
// fork-time copy).
struct Hostile {
    Hostility how;
    std::map<int, std::string> inherited = open_fds();
};

// The worker's end of its result pipe: the only write-only pipe it did not
// inherit from the test (a worker holds no end of another worker's pipes).
// -1 unless exactly one is found.
int find_result_pipe(const std::map<int, std::string> &inherited) {
    int found = -1, candidates = 0;
    for (const auto &kv : open_fds()) {
        struct stat st;
        auto old = inherited.find(kv.first);
        if (old != inherited.end() && old->second == kv.second) continue;
        if (fstat(kv.first, &st) != 0 || !S_ISFIFO(st.st_mode)) continue;
        if ((fcntl(kv.first, F_GETFL) & O_ACCMODE) != O_WRONLY) continue;
        found = kv.first;
        ++candidates;
    }
    return candidates == 1 ? found : -1;
}

bool write_all(int fd, const void *data, size_t len) {
    const char *p = static_cast<const char *>(data);
    while (len > 0) {
        const ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool misbehave(const Hostile &hostile) {
    const int fd = find_result_pipe(hostile.inherited);
    if (fd < 0) return false;
    switch (hostile.how) {
    case Hostility::Garbage: {
        const std::string junk(64, 'x');
        return write_all(fd, junk.data(), junk.size());
    }
    case Hostility::OversizedClaim: {
        const wire_header h = result_header(1, 0, uint64_t(1) << 41);
        return write_all(fd, &h, sizeof h);
    }
    case Hostility::HugeClaimThenExit: {
        const wire_header h = result_header(1, 0, uint64_t(1) << 40);
        write_all(fd, &h, sizeof h);
        _exit(0);
    }
    case Hostility::ExitWhileHeld: {
        if (fork() == 0) {
            usleep(500 * 1000);
            _exit(0);
        }
        const wire_header h = result_header(1, 0, uint64_t(1) << 40);
        write_all(fd, &h, sizeof h);
        _exit(0);
    }
    case Hostility::ForeignChunk: {
        const wire_entry e = {3, PM_OK, 0};
        const wire_header h = result_header(1, 1000000, sizeof e + 3);
        return write_all(fd, &h, sizeof h) && write_all(fd, &e, sizeof e) &&
               write_all(fd, "abc", 3);
    }
    case Hostility::BadTable: {
        const wire_entry e = {100, PM_OK, 0};
        const wire_header h = result_header(1, 0, sizeof e + 4);
        return write_all(fd, &h, sizeof h) && write_all(fd, &e, sizeof e) &&
               write_all(fd, "abcd", 4);
    }
    case Hostility::PartialThenSilent: {
        const wire_header h = result_header(1, 0, uint64_t(1) << 20);
        return write_all(fd, &h, sizeof h) && write_all(fd, "0123456789abcdef", 16);
    }
    }
    return false;
}

// Checksum results, except that the poison item first writes hostile bytes
// into the result pipe (then returns its result as usual, if it returns).
int hostile_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    uint64_t value = 0;
    if (len == sizeof value) std::memcpy(&value, item, sizeof value);
    if (value == kPoison && !misbehave(*static_cast<const Hostile *>(ud))) {
        pm_sink_set_error(out, "test: could not find the result pipe to write to");
        return 1;
    }
    return checksum_work(item, len, index, out, nullptr);
}

struct Case {
    const char *name;
    Hostility how;
    int status;            // what the poisoned worker's items report
    const char *complaint; // part of their message
    uint64_t item_timeout_ms = 0;  // also shortens the stall limit to 1 s
};

const Case kCases[] = {
    {"Garbage", Hostility::Garbage, PM_EIO, "sent a bad frame (bad frame magic 0x78787878)"},
    {"OversizedClaim", Hostility::OversizedClaim, PM_EIO,
     "sent a bad frame (frame payload of 2199023255552 bytes is too large)"},
    // Death part-way through a frame is a death, named with the truncation.
    {"HugeClaimThenExit", Hostility::HugeClaimThenExit, PM_EWORKER,
     "exited with status 0 after it ended its stream 0 bytes into a payload of 1099511627776"},
    // Its exit is seen while its stream is still open: named by how far
    // the stream got, without waiting for its end.
    {"ExitWhileHeld", Hostility::ExitWhileHeld, PM_EWORKER,
     "exited with status 0 after it left its stream 0 bytes into a payload of 1099511627776"},
    {"ForeignChunk", Hostility::ForeignChunk, PM_EIO,
     "sent a bad frame (results for item 1000000, which it was not given)"},
    {"BadTable", Hostility::BadTable, PM_EIO,
     "sent a bad frame (result lengths exceed the frame (item 0))"},
    // The worker lives on and its later frames feed the claimed payload: the
    // stall, not a death or a bad header, gives it away. The item timeout
    // never fires (no item runs long); it only shortens the stall limit.
    {"PartialThenSilent", Hostility::PartialThenSilent, PM_EIO,
     "sent nothing for 1000 ms part-way through a result frame (", 300},
};

constexpr size_t kItems = 40;
constexpr size_t kPoisonAt = 5;

std::vector<uint64_t> poisoned_items() {
    std::vector<uint64_t> items = make_items(kItems);
    items[kPoisonAt] = kPoison;
    return items;
}

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

class HostileChannel : public ::testing::TestWithParam<Case> {};

TEST_P(HostileChannel, RaiseModeReportsThePoisonedItem) {
    const Case &c = GetParam();
    const std::vector<uint64_t> items = poisoned_items();
    const std::vector<std::string> expected = expected_results(items);
    const auto fds_before = open_fds();
    {
        Hostile how{c.how};
        Config cfg;
        cfg.processes = 2;
        cfg.chunk = 1;
        cfg.item_timeout_ms = c.item_timeout_ms;
        Map map = start_map(cfg, array_input(items), hostile_work, &how);
        ASSERT_TRUE(map);
        const std::vector<Step> steps = drain(map.get());
        // Every earlier item arrived before the hostile bytes, in order.
        ASSERT_EQ(steps.size(), kPoisonAt + 1) << describe(steps.back());
        EXPECT_EQ(check_prefix(steps, expected, kPoisonAt), 0u);
        const Step &f = steps.back();
        EXPECT_EQ(f.status, c.status) << describe(f);
        EXPECT_EQ(f.index, kPoisonAt);
        EXPECT_TRUE(contains(f.error, "worker ")) << f.error;
        EXPECT_TRUE(contains(f.error, c.complaint)) << f.error;
        // A worker that dies while running the poisoned item is blamed for
        // that item; a bad frame cannot be traced to one: it names them all.
        EXPECT_TRUE(contains(f.error, c.status == PM_EWORKER ? "while running item 5"
                                                             : "while holding item"))
            << f.error;
        EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
    }
    EXPECT_TRUE(no_children());
    EXPECT_EQ(fd_diff(fds_before, open_fds()), "");
}

TEST_P(HostileChannel, ReturnModeReportsThatWorkersItemsAndGoesOn) {
    const Case &c = GetParam();
    const std::vector<uint64_t> items = poisoned_items();
    const std::vector<std::string> expected = expected_results(items);
    const auto fds_before = open_fds();
    for (bool ordered : {true, false}) {
        SCOPED_TRACE(ordered ? "ordered" : "unordered");
        Hostile how{c.how};
        Config cfg;
        cfg.processes = 2;
        cfg.chunk = 1;
        cfg.ordered = ordered;
        cfg.error_mode = PM_ERRORS_RETURN;
        cfg.item_timeout_ms = c.item_timeout_ms;
        Map map = start_map(cfg, array_input(items), hostile_work, &how);
        ASSERT_TRUE(map);
        std::vector<int> status_of(kItems, 1);
        std::string lost_message;
        for (size_t step = 0; step <= kItems; ++step) {
            const Step s = next_step(map.get());
            if (s.status == PM_DONE) break;
            ASSERT_LT(s.index, kItems) << describe(s);
            ASSERT_EQ(status_of[s.index], 1) << "delivered twice: " << describe(s);
            status_of[s.index] = s.status;
            if (ordered) {
                EXPECT_EQ(s.index, step) << describe(s);
            }
            if (s.status == PM_OK) {
                EXPECT_EQ(s.data, expected[s.index]) << describe(s);
                continue;
            }
            // The poisoned worker's items, and only those, fail; each names
            // the same worker and what it did.
            EXPECT_EQ(s.status, c.status) << describe(s);
            EXPECT_TRUE(contains(s.error, c.complaint)) << s.error;
            const std::string who = s.error.substr(0, s.error.find(')') + 1);
            if (lost_message.empty()) lost_message = who;
            EXPECT_EQ(who, lost_message) << "items lost from two workers";
        }
        EXPECT_EQ(status_of[kPoisonAt], c.status);
        size_t lost = 0;
        for (size_t i = 0; i < kItems; ++i) {
            EXPECT_NE(status_of[i], 1) << "item " << i << " never delivered";
            lost += status_of[i] != PM_OK;
        }
        // What failed is what the poisoned worker ran since its last good
        // frame: at most its credit (64 items a thread), and here at most
        // its share of the items.
        EXPECT_LE(lost, kItems - kPoisonAt);
        EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
    }
    EXPECT_TRUE(no_children());
    EXPECT_EQ(fd_diff(fds_before, open_fds()), "");
}

INSTANTIATE_TEST_SUITE_P(Kinds, HostileChannel, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case> &info) {
                             return std::string(info.param.name);
                         });

TEST(HostileChannelPool, PoolReplacesTheWorkerAndGoesOn) {
    const auto fds_before = open_fds();
    {
        Hostile how{Hostility::Garbage};
        Options opts = make_options(Config{});
        pm_pool *raw = nullptr;
        ASSERT_EQ(pm_pool_create(&raw, opts.get(), hostile_work, &how, nullptr), PM_OK)
            << pm_last_error();
        Pool pool(raw);
        ASSERT_EQ(pm_pool_processes(pool.get()), 2u);

        const std::vector<uint64_t> items = poisoned_items();
        Config cfg;
        cfg.chunk = 1;
        cfg.error_mode = PM_ERRORS_RETURN;
        Options map_opts = make_options(cfg);
        pm_input *in = array_input(items);
        pm_map *m = nullptr;
        ASSERT_EQ(pm_pool_map(&m, pool.get(), map_opts.get(), in), PM_OK) << pm_last_error();
        Map map(m);
        // Return mode: PM_EIO items come in place and the map goes on.
        size_t eio = 0, ok = 0;
        for (size_t step = 0; step <= items.size(); ++step) {
            const Step s = next_step(map.get());
            if (s.status == PM_DONE) break;
            ASSERT_TRUE(s.status == PM_OK || s.status == PM_EIO) << describe(s);
            eio += s.status == PM_EIO;
            ok += s.status == PM_OK;
        }
        map.reset();
        EXPECT_GE(eio, 1u);
        EXPECT_EQ(eio + ok, items.size());
        // The garbling worker was stopped, and a new one took its place.
        EXPECT_EQ(pm_pool_processes(pool.get()), 2u);

        // The pool runs a clean map in full.
        const std::vector<uint64_t> clean = make_items(30, 7);
        in = array_input(clean);
        ASSERT_EQ(pm_pool_map(&m, pool.get(), map_opts.get(), in), PM_OK) << pm_last_error();
        map.reset(m);
        EXPECT_EQ(check_ordered(drain(map.get()), expected_results(clean)), 0u);
    }
    EXPECT_TRUE(no_children());
    EXPECT_EQ(fd_diff(fds_before, open_fds()), "");
}

} // namespace
