// Starts a std::thread with every signal blocked: the host's signal handlers
// never run on our threads, and a write to a closed pipe returns EPIPE there
// instead of raising SIGPIPE in the host.
#pragma once

#include <signal.h>

#include <thread>
#include <utility>

namespace pm::core {

template <class F>
std::thread start_blocked_thread(F&& body) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits this mask
    try {
        std::thread t(std::forward<F>(body));
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        return t;
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        throw;
    }
}

}  // namespace pm::core
