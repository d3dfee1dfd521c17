#include "registry.hpp"

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

std::string check_name(const std::string& name) {
    if (name.empty() || name.size() > 255)
        return "a name must have 1 to 255 bytes";
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
