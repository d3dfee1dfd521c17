// The template process's side (see spawner.hpp): its main loop, which
// forks each worker on request, reaps the workers and reports their exits.
#pragma once

#include <sys/types.h>

#include "spawner.hpp"

namespace pm::core {

// Runs the template on socket sock; host is the caller's pid. Never returns.
[[noreturn]] void run_template(int sock, const worker_recipe& recipe, pid_t host,
                               bool use_pidfds);

}  // namespace pm::core
