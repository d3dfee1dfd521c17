#include "registry.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "errors.hpp"

namespace pm::core {

namespace {

struct registry {
    std::mutex lock;
    std::map<std::string, registered_work> works;
    std::map<std::string, registered_hooks> hooks;
};

// Built on first use, never destroyed: registration may run from static
// initializers, and lookups from a worker leaving with _exit.
registry& the_registry() {
    static registry* r = new registry();
    return *r;
}

}  // namespace

namespace {

// Where the program's executable is loaded in this run (ASLR moves it).
uintptr_t executable_base() {
    static const uintptr_t base = [] {
        uintptr_t b = 0;
        // The first object dl_iterate_phdr reports is the executable.
        ::dl_iterate_phdr(
            [](struct dl_phdr_info* info, size_t, void* out) {
                *static_cast<uintptr_t*>(out) = info->dlpi_addr;
                return 1;
            },
            &b);
        return b;
    }();
    return base;
}

bool in_executable(const void* fn) {
    Dl_info info;
    if (!fn || ::dladdr(fn, &info) == 0)
        return false;
    return reinterpret_cast<uintptr_t>(info.dli_fbase) == executable_base() ||
           (executable_base() == 0 && info.dli_fname && info.dli_fname[0] == '\0');
}

std::string offset_of(const void* fn) {
    if (!fn)
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lx",
                  static_cast<unsigned long>(reinterpret_cast<uintptr_t>(fn) - executable_base()));
    return buf;
}

void* at_offset(const std::string& text) {
    if (text == "-" || text.empty())
        return nullptr;
    char* end = nullptr;
    const unsigned long off = std::strtoul(text.c_str(), &end, 16);
    if (!end || *end)
        return nullptr;
    return reinterpret_cast<void*>(executable_base() + off);
}

}  // namespace

std::string executable_work_name(pm_work_fn fn, pm_chunk_fn chunk_fn) {
    const void* f = fn ? reinterpret_cast<const void*>(fn) : reinterpret_cast<const void*>(chunk_fn);
    if (!in_executable(f))
        return {};
    return std::string(fn ? "@w:" : "@c:") + offset_of(f);
}

bool executable_work(const std::string& name, registered_work* out) {
    if (name.size() < 4 || name[0] != '@' || name[2] != ':' || (name[1] != 'w' && name[1] != 'c'))
        return false;
    void* f = at_offset(name.substr(3));
    if (!f)
        return false;
    *out = registered_work{};
    if (name[1] == 'w')
        out->fn = reinterpret_cast<pm_work_fn>(f);
    else
        out->chunk_fn = reinterpret_cast<pm_chunk_fn>(f);
    return true;
}

std::string executable_hooks_name(pm_worker_init_fn init, pm_worker_exit_fn exit,
                                  pm_thread_fn start, pm_thread_fn stop) {
    const void* fns[4] = {reinterpret_cast<const void*>(init), reinterpret_cast<const void*>(exit),
                          reinterpret_cast<const void*>(start),
                          reinterpret_cast<const void*>(stop)};
    std::string name = "@h:";
    for (int i = 0; i < 4; ++i) {
        if (fns[i] && !in_executable(fns[i]))
            return {};
        name += (i ? "," : "") + offset_of(fns[i]);
    }
    return name;
}

bool executable_hooks(const std::string& name, registered_hooks* out) {
    if (name.compare(0, 3, "@h:") != 0)
        return false;
    std::string parts[4];
    size_t start = 3;
    for (int i = 0; i < 4; ++i) {
        const size_t comma = name.find(',', start);
        if ((comma == std::string::npos) != (i == 3))
            return false;
        parts[i] = name.substr(start, comma == std::string::npos ? std::string::npos
                                                                 : comma - start);
        start = comma + 1;
    }
    *out = registered_hooks{};
    out->init = reinterpret_cast<pm_worker_init_fn>(at_offset(parts[0]));
    out->exit = reinterpret_cast<pm_worker_exit_fn>(at_offset(parts[1]));
    out->thread_start = reinterpret_cast<pm_thread_fn>(at_offset(parts[2]));
    out->thread_stop = reinterpret_cast<pm_thread_fn>(at_offset(parts[3]));
    return true;
}

std::string check_name(const std::string& name) {
    if (name.empty() || name.size() > 255)
        return "a name must have 1 to 255 bytes";
    if (name[0] == '@')
        return "a name must not start with '@' (kept for functions found by their address)";
    for (char c : name)
        if (c <= ' ' || c > '~')
            return "a name is printable ASCII without spaces";
    return {};
}

void register_work(const std::string& name, const registered_work& work) {
    const std::string problem = check_name(name);
    if (!problem.empty())
        throw error(PM_EINVAL, "pm_register_work: " + problem);
    registry& r = the_registry();
    std::lock_guard<std::mutex> hold(r.lock);
    r.works[name] = work;
}

void register_hooks(const std::string& name, const registered_hooks& hooks) {
    const std::string problem = check_name(name);
    if (!problem.empty())
        throw error(PM_EINVAL, "pm_register_worker_hooks: " + problem);
    registry& r = the_registry();
    std::lock_guard<std::mutex> hold(r.lock);
    r.hooks[name] = hooks;
}

bool find_work(const std::string& name, registered_work* out) {
    registry& r = the_registry();
    std::lock_guard<std::mutex> hold(r.lock);
    auto it = r.works.find(name);
    if (it == r.works.end())
        return false;
    *out = it->second;
    return true;
}

bool find_hooks(const std::string& name, registered_hooks* out) {
    registry& r = the_registry();
    std::lock_guard<std::mutex> hold(r.lock);
    auto it = r.hooks.find(name);
    if (it == r.hooks.end())
        return false;
    *out = it->second;
    return true;
}

std::string name_of_hooks(pm_worker_init_fn init, pm_worker_exit_fn exit) {
    registry& r = the_registry();
    std::lock_guard<std::mutex> hold(r.lock);
    for (const auto& [name, h] : r.hooks)
        if ((init && h.init == init) || (exit && h.exit == exit))
            return name;
    return {};
}

std::string name_of_work(pm_work_fn fn, pm_chunk_fn chunk_fn) {
    registry& r = the_registry();
    std::lock_guard<std::mutex> hold(r.lock);
    for (const auto& [name, w] : r.works)
        if ((fn && w.fn == fn) || (chunk_fn && w.chunk_fn == chunk_fn))
            return name;
    return {};
}

}  // namespace pm::core
