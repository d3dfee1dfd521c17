// cpp_map: the C++ layer in one page. A lambda that reads a large local
// table by reference is mapped over words on worker processes (the table is
// inherited by fork, never copied or serialized); results of user types come
// back in input order; then a pool runs two maps on the same workers.
//
// Usage: cpp_map [processes]   (default 0: one per online CPU)
#include <parmapper.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

// A result type of our own: cereal serializes it through serialize().
struct word_stats {
    std::string word;
    int score = 0;
    std::vector<int> letters;  // positions in the alphabet

    template <class Archive>
    void serialize(Archive& ar) {
        ar(word, score, letters);
    }
};

int main(int argc, char** argv) {
    const unsigned processes = argc > 1 ? unsigned(std::atoi(argv[1])) : 0;

    // Large local state: 2^20 weights. Workers see it as it is at pm::map.
    std::vector<int> weight(1 << 20);
    for (size_t i = 0; i < weight.size(); ++i) weight[i] = int((i * 2654435761u) % 97);
    std::map<char, int> bonus{{'q', 50}, {'z', 40}, {'x', 30}};

    const std::vector<std::string> words{"parallel", "map",  "quartz", "fork",
                                         "zebra",    "pipe", "exit",   "lazy"};

    auto stats = [&](const std::string& w) {
        word_stats s{w, 0, {}};
        for (char c : w) {
            s.letters.push_back(c - 'a' + 1);
            s.score += weight[size_t(c) * 4099 % weight.size()];
            auto b = bonus.find(c);
            if (b != bonus.end()) s.score += b->second;
        }
        return s;
    };

    std::printf("one-shot map, %u processes (0 = one per CPU):\n", processes);
    for (const word_stats& s : pm::map(stats, words, pm::options{}.processes(processes)))
        std::printf("  %-9s score %3d, %zu letters\n", s.word.c_str(), s.score, s.letters.size());

    // A pool: forked once, with its function; then several maps.
    auto pool = pm::make_pool<int>([&](int i) { return weight[size_t(i)]; },
                                   pm::options{}.processes(processes));
    long total = 0;
    for (int w : pool.map(std::vector<int>{1, 2, 3, 4, 5})) total += w;
    std::vector<int> second = pm::to_vector(pool.map(std::vector<int>{1000, 2000, 3000}));
    std::printf("pool of %u workers: first map sums to %ld, second map gives %d %d %d\n",
                pool.processes(), total, second[0], second[1], second[2]);
    return 0;
}
