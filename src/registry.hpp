// Work functions and worker hooks by name, for workers that start by exec
// (and, later, on other machines): such a worker inherits nothing, so it
// finds what to run by the name the map gives. The program fills the
// registry before pm_worker_serve(), the same way in every process it runs
// as (the caller, the template, each worker), so names mean the same thing
// everywhere.
#pragma once

#include <string>

#include "parmapper.h"

namespace pm::core {

struct registered_work {
    pm_work_fn fn = nullptr;
    pm_chunk_fn chunk_fn = nullptr;
    void* user_data = nullptr;
};

struct registered_hooks {
    pm_worker_init_fn init = nullptr;
    pm_worker_exit_fn exit = nullptr;
    pm_thread_fn thread_start = nullptr;
    pm_thread_fn thread_stop = nullptr;
    void* user_data = nullptr;
};

// Names are 1 to 255 bytes of printable ASCII other than space. A name
// registered again is replaced. Thread-safe. Throws PM_EINVAL for a bad
// name (what is wrong in the message), std::bad_alloc.
void register_work(const std::string& name, const registered_work& work);
void register_hooks(const std::string& name, const registered_hooks& hooks);

// False if the name is not registered.
bool find_work(const std::string& name, registered_work* out);
bool find_hooks(const std::string& name, registered_hooks* out);
// The name a work function was registered under ("" if none): so a map
// given a function pointer can run in exec mode when that pointer is named.
std::string name_of_work(pm_work_fn fn, pm_chunk_fn chunk_fn);
// The same for worker hooks registered with this init or exit hook.
std::string name_of_hooks(pm_worker_init_fn init, pm_worker_exit_fn exit);

// "" for a good name, else what is wrong with it.
std::string check_name(const std::string& name);

// Functions of the program's own executable need no registration: the same
// executable, run again, has them at the same offset from its start. Their
// names are "@w:" (a work function) or "@c:" (a chunk function) and that
// offset in hex; "" for a function that is not in the executable (in a
// shared library, or made at run time).
std::string executable_work_name(pm_work_fn fn, pm_chunk_fn chunk_fn);
// The work such a name points at in this run; false if it is not one.
bool executable_work(const std::string& name, registered_work* out);
// Hooks: "@h:init,exit,start,stop", an offset or "-" for each.
std::string executable_hooks_name(pm_worker_init_fn init, pm_worker_exit_fn exit,
                                  pm_thread_fn start, pm_thread_fn stop);
bool executable_hooks(const std::string& name, registered_hooks* out);

}  // namespace pm::core
