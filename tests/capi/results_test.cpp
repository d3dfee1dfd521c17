// Result and item sizes: empty results, 32 MiB results, items larger than a
// pipe buffer, variable-size records, pm_sink_reserve.
#include "capi_test_util.hpp"

namespace {

using namespace pmtest;

constexpr size_t kMiB = size_t{1} << 20;

inline unsigned char pattern_byte(uint64_t index, size_t j) {
    return static_cast<unsigned char>(((j * 2654435761u) >> 13) ^ (j >> 20) ^ (index * 37));
}

inline void fill_pattern(unsigned char *p, uint64_t index, size_t from, size_t n) {
    for (size_t j = 0; j < n; ++j) p[j] = pattern_byte(index, from + j);
}

// Returns the first offset that differs from the pattern, or SIZE_MAX.
inline size_t check_pattern(const std::string &s, uint64_t index) {
    const unsigned char *p = reinterpret_cast<const unsigned char *>(s.data());
    for (size_t j = 0; j < s.size(); ++j)
        if (p[j] != pattern_byte(index, j)) return j;
    return SIZE_MAX;
}

// ---------------------------------------------------------------------------

// Even items give a 0-byte result, odd items their index.
int empty_or_index_work(const void *, size_t, uint64_t index, pm_sink *out, void *) {
    if (index % 2 == 0) return 0;
    return pm_sink_write(out, &index, sizeof index) == PM_OK ? 0 : 1;
}

TEST(Results, ZeroByteResultsAreDelivered) {
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        const std::vector<uint64_t> items = make_items(1001);
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 3;
        Map map = start_map(cfg, array_input(items), empty_or_index_work);
        ASSERT_TRUE(map);
        const std::vector<Step> steps = drain(map.get());
        ASSERT_EQ(steps.size(), items.size() + 1);
        for (uint64_t i = 0; i < items.size(); ++i) {
            ASSERT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
            ASSERT_EQ(steps[i].index, i);
            if (i % 2 == 0) {
                ASSERT_EQ(steps[i].data.size(), 0u) << "item " << i;
            } else {
                ASSERT_EQ(steps[i].data, std::string(reinterpret_cast<const char *>(&i), 8));
            }
        }
        EXPECT_EQ(steps.back().status, PM_DONE);
    }
}

// 32 MiB per result, written three ways: one pm_sink_write, one
// pm_sink_reserve, and several reserve/write pieces.
int big_result_work(const void *, size_t, uint64_t index, pm_sink *out, void *) {
    const size_t total = 32 * kMiB;
    switch (index % 3) {
    case 0: {
        std::vector<unsigned char> buf(total);
        fill_pattern(buf.data(), index, 0, total);
        return pm_sink_write(out, buf.data(), buf.size()) == PM_OK ? 0 : 1;
    }
    case 1: {
        void *p = nullptr;
        if (pm_sink_reserve(out, total, &p) != PM_OK || p == nullptr) return 1;
        fill_pattern(static_cast<unsigned char *>(p), index, 0, total);
        return 0;
    }
    default: {
        const size_t piece = 4 * kMiB + 3;
        std::vector<unsigned char> buf(piece);
        size_t done = 0;
        for (int k = 0; done < total; ++k) {
            const size_t n = std::min(piece, total - done);
            if (k % 2 == 0) {
                void *p = nullptr;
                if (pm_sink_reserve(out, n, &p) != PM_OK || p == nullptr) return 1;
                fill_pattern(static_cast<unsigned char *>(p), index, done, n);
            } else {
                fill_pattern(buf.data(), index, done, n);
                if (pm_sink_write(out, buf.data(), n) != PM_OK) return 1;
            }
            done += n;
        }
        return 0;
    }
    }
}

TEST(Results, ThirtyTwoMebibyteResultsArriveIntact) {
    set_watchdog(60);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        const std::vector<uint64_t> items = make_items(3);
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 1;
        Map map = start_map(cfg, array_input(items), big_result_work);
        ASSERT_TRUE(map);
        for (uint64_t i = 0; i < items.size(); ++i) {
            const Step s = next_step(map.get());
            ASSERT_EQ(s.status, PM_OK) << describe(s);
            EXPECT_EQ(s.index, i);
            ASSERT_EQ(s.data.size(), 32 * kMiB) << "item " << i;
            EXPECT_EQ(check_pattern(s.data, i), SIZE_MAX) << "item " << i;
        }
        EXPECT_EQ(next_step(map.get()).status, PM_DONE);
    }
}

// Result: item length, item checksum, then the item reversed.
int reverse_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    const uint64_t head[3] = {index, len, fnv1a64(item, len)};
    if (pm_sink_write(out, head, sizeof head) != PM_OK) return 1;
    if (len == 0) return 0;
    void *p = nullptr;
    if (pm_sink_reserve(out, len, &p) != PM_OK) return 1;
    const unsigned char *src = static_cast<const unsigned char *>(item);
    unsigned char *dst = static_cast<unsigned char *>(p);
    for (size_t j = 0; j < len; ++j) dst[j] = src[len - 1 - j];
    return 0;
}

std::string reverse_expected(const unsigned char *item, size_t len, uint64_t index) {
    const uint64_t head[3] = {index, len, fnv1a64(item, len)};
    std::string r(reinterpret_cast<const char *>(head), sizeof head);
    for (size_t j = 0; j < len; ++j) r.push_back(static_cast<char>(item[len - 1 - j]));
    return r;
}

TEST(Results, ItemsLargerThanPipeBufferArriveIntact) {
    set_watchdog(60);
    const size_t count = 12;
    std::vector<unsigned char> data(count * kMiB);
    for (size_t i = 0; i < count; ++i) fill_pattern(&data[i * kMiB], i + 100, 0, kMiB);
    std::vector<std::string> expected;
    for (size_t i = 0; i < count; ++i)
        expected.push_back(reverse_expected(&data[i * kMiB], kMiB, i));

    for (size_t chunk : {size_t{1}, size_t{PM_CHUNK_AUTO}}) {
        for (bool pull : {false, true}) {
            SCOPED_TRACE("chunk " + std::to_string(chunk) + (pull ? " pull" : " array"));
            Config cfg;
            cfg.processes = 2;
            cfg.chunk = chunk;
            Options opts = make_options(cfg);

            struct Gen {
                const std::vector<unsigned char> *data;
                size_t next = 0, count = 0;
            } gen{&data, 0, count};
            pm_input *in = nullptr;
            if (pull) {
                ASSERT_EQ(pm_input_create_pull(
                              &in,
                              [](pm_feed *feed, void *ud) -> int {
                                  Gen *g = static_cast<Gen *>(ud);
                                  if (g->next == g->count) return PM_DONE;
                                  const int rc =
                                      pm_feed_push(feed, &(*g->data)[g->next * kMiB], kMiB);
                                  ++g->next;
                                  return rc == PM_OK ? PM_OK : -1;
                              },
                              &gen, nullptr),
                          PM_OK);
            } else {
                ASSERT_EQ(pm_input_create_array(&in, data.data(), kMiB, count), PM_OK);
            }
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_map_create(&raw, opts.get(), in, reverse_work, nullptr, nullptr),
                      PM_OK)
                << pm_last_error();
            Map map(raw);
            EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
        }
    }
}

TEST(Results, VariableSizeRecordsIncludingEmptyOnes) {
    set_watchdog(60);
    const std::vector<size_t> lens = {0,     1,         0,         100,   65535, 65536,
                                      65537, kMiB,      0,         7,     4096,  3 * kMiB + 5,
                                      0,     2 * 65536, 123457,    1};
    size_t total = 0;
    for (size_t l : lens) total += l;
    std::vector<unsigned char> data(total + 1);
    std::vector<const void *> ptrs;
    std::vector<std::string> expected;
    size_t off = 0;
    for (size_t i = 0; i < lens.size(); ++i) {
        fill_pattern(&data[off], i + 7, 0, lens[i]);
        ptrs.push_back(&data[off]);
        expected.push_back(reverse_expected(&data[off], lens[i], i));
        off += lens[i];
    }

    for (uint32_t processes : {1u, 2u, 3u}) {
        for (bool ordered : {true, false}) {
            SCOPED_TRACE("processes " + std::to_string(processes) +
                         (ordered ? " ordered" : " unordered"));
            Config cfg;
            cfg.processes = processes;
            cfg.chunk = 2;
            cfg.ordered = ordered;
            Options opts = make_options(cfg);
            pm_input *in = nullptr;
            ASSERT_EQ(pm_input_create_records(&in, ptrs.data(), lens.data(), lens.size()),
                      PM_OK)
                << pm_last_error();
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_map_create(&raw, opts.get(), in, reverse_work, nullptr, nullptr),
                      PM_OK)
                << pm_last_error();
            Map map(raw);
            const std::vector<Step> steps = drain(map.get());
            if (ordered)
                EXPECT_EQ(check_ordered(steps, expected), 0u);
            else
                EXPECT_EQ(check_unordered(steps, expected), 0u);
        }
    }
}

TEST(Results, RecordsArraysAreCopied) {
    // The lens/items arrays are copied at create: overwriting them after
    // the call must not change the map.
    static const char a[] = "alpha", b[] = "bravo!", c[] = "";
    auto ptrs = std::make_unique<std::vector<const void *>>(
        std::vector<const void *>{a, b, c});
    auto lens = std::make_unique<std::vector<size_t>>(std::vector<size_t>{5, 6, 0});
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_records(&in, ptrs->data(), lens->data(), 3), PM_OK);
    std::fill(lens->begin(), lens->end(), size_t{999999});
    std::fill(ptrs->begin(), ptrs->end(), nullptr);
    ptrs.reset();
    lens.reset();

    Config cfg;
    cfg.processes = 2;
    Map map = start_map(cfg, in, reverse_work);
    ASSERT_TRUE(map);
    const std::vector<std::string> expected = {
        reverse_expected(reinterpret_cast<const unsigned char *>(a), 5, 0),
        reverse_expected(reinterpret_cast<const unsigned char *>(b), 6, 1),
        reverse_expected(reinterpret_cast<const unsigned char *>(c), 0, 2)};
    EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
}

TEST(Results, ArrayOfZeroSizeRecordsGivesEmptyItems) {
    // base may be NULL when record_size is 0: count empty items.
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_array(&in, nullptr, 0, 5), PM_OK) << pm_last_error();
    Config cfg;
    cfg.processes = 2;
    Map map = start_map(cfg, in, reverse_work);
    ASSERT_TRUE(map);
    std::vector<std::string> expected;
    for (uint64_t i = 0; i < 5; ++i) expected.push_back(reverse_expected(nullptr, 0, i));
    EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
}

// Several reserve/write calls append in order; a reserved buffer is filled
// before the next sink call, as documented.
int reserve_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    void *p = nullptr;
    if (pm_sink_reserve(out, 10, &p) != PM_OK || !p) return 1;
    memset(p, 'A', 10);
    if (pm_sink_write(out, "bcdef", 5) != PM_OK) return 1;
    if (pm_sink_reserve(out, 0, &p) != PM_OK) return 1;
    if (pm_sink_reserve(out, 1000, &p) != PM_OK || !p) return 1;
    for (int j = 0; j < 1000; ++j) static_cast<char *>(p)[j] = static_cast<char>('0' + j % 10);
    if (pm_sink_write(out, item, len) != PM_OK) return 1;
    return pm_sink_write(out, &index, sizeof index) == PM_OK ? 0 : 1;
}

TEST(Results, SinkReserveAppendsInPlace) {
    const std::vector<uint64_t> items = make_items(50);
    std::vector<std::string> expected;
    for (uint64_t i = 0; i < items.size(); ++i) {
        std::string r(10, 'A');
        r += "bcdef";
        for (int j = 0; j < 1000; ++j) r.push_back(static_cast<char>('0' + j % 10));
        r.append(reinterpret_cast<const char *>(&items[i]), 8);
        r.append(reinterpret_cast<const char *>(&i), 8);
        expected.push_back(r);
    }
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        cfg.threads = 2;
        Map map = start_map(cfg, array_input(items), reserve_work);
        ASSERT_TRUE(map);
        EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
    }
}

TEST(Results, PullInputMayPushManyItemsPerCallAndEndWithThem) {
    // Seven items a call; the call that pushes the last ones returns PM_DONE.
    const std::vector<uint64_t> items = make_items(1000);
    std::vector<std::string> expected;
    for (size_t i = 0; i < items.size(); ++i)
        expected.push_back(expected_result(&items[i], 8, i));
    for (bool done_with_last : {true, false}) {
        VectorGen gen;
        gen.items = &items;
        gen.per_call = 7;
        gen.done_with_last = done_with_last;
        Config cfg;
        cfg.processes = 2;
        Map map = start_map(cfg, vector_pull(gen), checksum_work);
        ASSERT_TRUE(map);
        EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
        map.reset();
        EXPECT_EQ(gen.calls.load(), done_with_last ? 143u : 144u);
        EXPECT_EQ(gen.destroyed.load(), 1);
    }
}

} // namespace
