#include "exec_start.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

extern char** environ;

namespace pm::core {

namespace {

// This program's arguments as the kernel has them, read once.
const std::vector<std::string>& program_arguments() {
    static const std::vector<std::string>* args = [] {
        auto* v = new std::vector<std::string>();
        std::ifstream f("/proc/self/cmdline", std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        size_t start = 0;
        while (start < all.size()) {
            size_t end = all.find('\0', start);
            if (end == std::string::npos)
                end = all.size();
            v->push_back(all.substr(start, end - start));
            start = end + 1;
        }
        if (v->empty())
            v->push_back("parmapper-worker");
        return v;
    }();
    return *args;
}

const char* kind_name(exec_role::kind k) {
    return k == exec_role::kind::template_process ? "template" : "worker";
}

}  // namespace

std::string encode_role(const exec_role& r) {
    std::ostringstream os;
    os << "v1 " << kind_name(r.what) << " work=" << r.work_name << " hooks=" << r.hooks_name
       << " threads=" << r.threads << " id=" << r.worker_id << " daemon=" << (r.daemon ? 1 : 0)
       << " reset=" << (r.reset_crash_signals ? 1 : 0) << " pidfds=" << (r.use_pidfds ? 1 : 0)
       << " parent=" << r.parent;
    return os.str();
}

bool decode_role(const char* text, exec_role* r) {
    if (!text)
        return false;
    std::istringstream is(text);
    std::string version, kind;
    if (!(is >> version >> kind) || version != "v1")
        return false;
    if (kind == "template")
        r->what = exec_role::kind::template_process;
    else if (kind == "worker")
        r->what = exec_role::kind::worker;
    else
        return false;
    std::string field;
    int seen = 0;
    while (is >> field) {
        const size_t eq = field.find('=');
        if (eq == std::string::npos)
            return false;
        const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
        const unsigned long n = std::strtoul(value.c_str(), nullptr, 10);
        if (key == "work")
            r->work_name = value;
        else if (key == "hooks")
            r->hooks_name = value;
        else if (key == "threads")
            r->threads = static_cast<uint32_t>(n);
        else if (key == "id")
            r->worker_id = static_cast<uint32_t>(n);
        else if (key == "daemon")
            r->daemon = n != 0;
        else if (key == "reset")
            r->reset_crash_signals = n != 0;
        else if (key == "pidfds")
            r->use_pidfds = n != 0;
        else if (key == "parent")
            r->parent = static_cast<pid_t>(n);
        else
            return false;
        ++seen;
    }
    return seen == 8 && r->threads >= 1 && !r->work_name.empty();
}

pid_t spawn_self(const exec_role& role, const int* fds, int nfds, int* err) {
    *err = 0;
    const std::vector<std::string>& args = program_arguments();
    std::vector<char*> argv;
    for (const std::string& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string role_entry = std::string(role_variable) + "=" + encode_role(role);
    std::vector<char*> envp;
    const size_t prefix = std::strlen(role_variable) + 1;
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, role_variable, prefix - 1) != 0 || (*e)[prefix - 1] != '=')
            envp.push_back(*e);
    envp.push_back(const_cast<char*>(role_entry.c_str()));
    envp.push_back(nullptr);

    // The sources go above the targets first, so that no dup2 overwrites a
    // descriptor still to be placed (they are CLOEXEC: only the targets
    // cross the exec, dup2 clears the flag on them).
    std::vector<int> sources;
    for (int i = 0; i < nfds; ++i) {
        const int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + nfds + 8);
        if (moved < 0) {
            *err = errno;
            for (int fd : sources)
                ::close(fd);
            return -1;
        }
        sources.push_back(moved);
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < nfds; ++i)
        posix_spawn_file_actions_adddup2(&actions, sources[i], 3 + i);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3 + nfds);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv.data(),
                                 envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    for (int fd : sources)
        ::close(fd);
    if (rc != 0) {
        *err = rc;
        return -1;
    }
    return pid;
}

}  // namespace pm::core
