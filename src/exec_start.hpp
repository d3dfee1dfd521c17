// Starting a process of the library's by exec instead of fork: a fresh run
// of this very program (/proc/self/exe, with its own arguments), told by its
// environment which role to take. pm_worker_serve() reads the role first
// thing in main. The template of a pool in exec mode starts this way, and so
// does each of its workers: nothing of the caller is inherited but what the
// program rebuilds at start (its registry of work functions) and the
// descriptors placed at 3, 4, 5 for it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pm::core {

// The variable that carries the role.
constexpr const char* role_variable = "PARMAPPER_WORKER";

struct exec_role {
    enum class kind { none, template_process, worker } what = kind::none;
    std::string work_name;
    std::string hooks_name;  // "" for none
    uint32_t threads = 1;
    uint32_t worker_id = 0;
    bool daemon = true;
    bool reset_crash_signals = false;
    bool use_pidfds = true;  // template: how it watches its workers
    pid_t parent = 0;        // the process that must stay our parent (daemon)
};

// "worker id=3 threads=2 ..." and back; false for text that is not a role.
std::string encode_role(const exec_role& role);
bool decode_role(const char* text, exec_role* role);

// Starts /proc/self/exe with this program's arguments (as it was started)
// and the environment of this process plus the role. fds[i] becomes
// descriptor 3 + i in the new process; every other descriptor but 0, 1 and
// 2 is closed there. Signals start with their default actions and none
// blocked. posix_spawn: safe from a multithreaded process. Returns the pid,
// or -1 with *err set.
pid_t spawn_self(const exec_role& role, const int* fds, int nfds, int* err);

}  // namespace pm::core
