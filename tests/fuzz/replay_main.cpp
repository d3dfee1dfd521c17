// Runs a libFuzzer target's LLVMFuzzerTestOneInput over files without
// libFuzzer, so the seed corpus is replayed in the ordinary test suite (with
// any compiler, and under the sanitizer builds). Arguments: files or
// directories (whose files are read, not recursively).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> files_in(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        return {};
    if (!S_ISDIR(st.st_mode))
        return {path};
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
        while (struct dirent* e = ::readdir(d))
            if (e->d_name[0] != '.')
                out.push_back(path + "/" + e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());  // a stable order for logs
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    size_t ran = 0;
    for (int i = 1; i < argc; ++i) {
        const std::vector<std::string> files = files_in(argv[i]);
        if (files.empty()) {
            std::fprintf(stderr, "replay: nothing to read at %s\n", argv[i]);
            return 1;
        }
        for (const std::string& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
            if (!in.eof() && in.fail()) {
                std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
                return 1;
            }
            std::fprintf(stderr, "replay: %s (%zu bytes)\n", f.c_str(), bytes.size());
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                                   bytes.size());
            ++ran;
        }
    }
    std::fprintf(stderr, "replay: %zu inputs ran\n", ran);
    return ran ? 0 : 1;
}
