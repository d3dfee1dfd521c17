// The main of a seed corpus generator (make_<target>_corpus.cpp):
//   make_<target>_corpus DIR          write every file of the corpus into DIR
//   make_<target>_corpus --check DIR  fail if DIR's copies differ from them
// Content is any byte container (std::string, std::vector<char>). Files of
// DIR that the corpus does not name (regress-*) are left alone.
#pragma once

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace corpus_writer {

template <class Bytes>
bool read_file(const std::string& path, Bytes* out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

template <class Bytes>
int run(int argc, char** argv, const std::map<std::string, Bytes>& corpus) {
    const bool check = argc == 3 && std::string(argv[1]) == "--check";
    if (argc != 2 && !check) {
        std::fprintf(stderr, "usage: %s [--check] DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[argc - 1];
    int stale = 0;
    for (const auto& [name, content] : corpus) {
        const std::string path = dir + "/" + name;
        if (check) {
            Bytes have;
            if (!read_file(path, &have) || have != content) {
                std::fprintf(stderr, "%s is missing or out of date\n", path.c_str());
                ++stale;
            }
            continue;
        }
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            return 1;
        }
    }
    if (stale)
        std::fprintf(stderr, "refresh with: %s %s\n", argv[0], dir.c_str());
    return stale ? 1 : 0;
}

}  // namespace corpus_writer
