#include "worker_serve.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>

#include "activity_board.hpp"
#include "child_process.hpp"
#include "exec_start.hpp"
#include "registry.hpp"
#include "template_process.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

std::atomic<bool> served{false};

[[noreturn]] void serve_worker(const exec_role& role) {
    begin_new_incarnation();
    if (role.daemon) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != role.parent)
            ::_exit(worker_exit_channel);
    }
    if (role.reset_crash_signals)
        reset_crash_signals();
    registered_work work;
    registered_hooks hooks;
    // By registered name, or by where they lie in the executable.
    if ((!find_work(role.work_name, &work) && !executable_work(role.work_name, &work)) ||
        (!role.hooks_name.empty() && !find_hooks(role.hooks_name, &hooks) &&
         !executable_hooks(role.hooks_name, &hooks)))
        ::_exit(worker_exit_unknown_work);
    work_spec spec;
    spec.fn = work.fn;
    spec.user_data = work.user_data;
    spec.init = hooks.init;
    spec.exit = hooks.exit;
    spec.hooks_user_data = hooks.user_data;
    spec.chunk_fn = work.chunk_fn;
    spec.thread_start = hooks.thread_start;
    spec.thread_stop = hooks.thread_stop;
    spec.thread_user_data = hooks.user_data;
    // Its channel and activity board, where the template placed them.
    const int task_fd = 3, result_fd = 4, board_fd = 5;
    activity_board board = activity_board::attach(board_fd, role.threads);
    if (board.size() == 0)
        ::_exit(worker_exit_internal);
    remember_outer_links(task_fd, result_fd);
    ::_exit(run_worker_loop(task_fd, result_fd, spec, role.threads, role.worker_id, &board,
                            inherited_input{}));
}

}  // namespace

void serve_if_started_as_worker() noexcept {
    served.store(true);
    const char* text = ::getenv(role_variable);
    if (!text)
        return;
    exec_role role;
    if (!decode_role(text, &role))
        ::_exit(worker_exit_bad_role);
    // Processes the program starts from here must not take the role.
    ::unsetenv(role_variable);
    if (role.what == exec_role::kind::worker)
        serve_worker(role);
    worker_recipe recipe;
    recipe.threads = role.threads;
    recipe.daemon = role.daemon;
    recipe.reset_crash_signals = role.reset_crash_signals;
    recipe.exec = true;
    recipe.work_name = role.work_name;
    recipe.hooks_name = role.hooks_name;
    const int sock = 3;  // where the caller placed our end of its socket
    run_template(sock, recipe, role.parent, role.use_pidfds);
}

void refuse_if_started_as_worker() noexcept {
    if (!served.load() && ::getenv(role_variable))
        ::_exit(worker_exit_no_serve);
}

}  // namespace pm::core
