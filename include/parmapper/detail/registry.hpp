// Internal: the C++ side of pm::register_work(). Each registration keeps,
// for the life of the program, the callable (with its argument mode) and a
// work_state over it that the C registry holds as user_data: that is what an
// exec-mode worker, a fresh run of the program that made the same
// registration before pm::serve(), calls. The caller finds a registration
// here by name, with its item and result types, to check a pm::work<I, R>
// handle against it and to make per-map work states over the same callable.
#ifndef PARMAPPER_DETAIL_REGISTRY_HPP
#define PARMAPPER_DETAIL_REGISTRY_HPP

#include <map>
#include <mutex>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "../cpp/errors.hpp"
#include "../parmapper.h"
#include "call.hpp"
#include "codec.hpp"
#include "work.hpp"

namespace pm::detail {

// The registered callable as a work_state calls it: by pointer to the one
// program-lifetime copy, so every per-map state shares it (as every call
// of a fork-mode map shares the map's copy).
template <class Call>
class shared_call {
public:
    explicit shared_call(Call* call) noexcept : call_(call) {}

    template <class Item>
    decltype(auto) operator()(Item& item) {
        return (*call_)(item);
    }

private:
    Call* call_;
};

// One registration, as the registry stores it (a plain value: the pointers
// it holds live as long as the program).
struct registered_entry {
    std::string name;
    const std::type_info* item = nullptr;
    const std::type_info* result = nullptr;
    // The work state the C registry hands to exec-mode workers; the caller
    // uses it only as the map's work_base, where it never keeps anything.
    work_base* shared = nullptr;
    pm_work_fn run = nullptr;          // work_state<Item, shared_call<Call>>::run
    pm_destroy_fn destroy = nullptr;   // its destroy, for per-map states
    work_base* (*make)(void* call) = nullptr;  // a per-map state over call
    void* call = nullptr;              // the Call
};

template <class State, class Call>
work_base* make_registered_state(void* call) {
    return new State(shared_call<Call>(static_cast<Call*>(call)));
}

// The registrations by name. Never destroyed (a worker leaves by _exit, and
// a map may still run while static destructors do), and reachable, so not a
// leak to LeakSanitizer.
class work_registry {
public:
    static work_registry& instance() {
        static work_registry* r = new work_registry;
        return *r;
    }

    void add(registered_entry e) {
        std::lock_guard<std::mutex> hold(lock_);
        auto it = entries_.find(e.name);
        if (it == entries_.end()) {
            std::string name = e.name;
            entries_.emplace(std::move(name), std::move(e));
        } else {
            // Replaced: maps that started with it may still run it.
            retired_.push_back(std::move(it->second));
            it->second = std::move(e);
        }
    }

    bool find(const std::string& name, registered_entry* out) const {
        std::lock_guard<std::mutex> hold(lock_);
        auto it = entries_.find(name);
        if (it == entries_.end())
            return false;
        *out = it->second;
        return true;
    }

private:
    work_registry() = default;
    mutable std::mutex lock_;
    std::map<std::string, registered_entry> entries_;
    std::vector<registered_entry> retired_;  // kept reachable, never freed
};

// The registration under name, checked against the item and result types
// the caller expects. what names the caller in messages. Throws pm::error
// (PM_EINVAL).
template <class Item, class Result>
registered_entry find_registered(const std::string& name, const char* what) {
    registered_entry e;
    if (!work_registry::instance().find(name, &e))
        throw pm::error(PM_EINVAL, std::string(what) + ": no function is registered as \"" +
                                       name + "\" with pm::register_work()");
    if (*e.item != typeid(Item) || *e.result != typeid(Result))
        throw pm::error(PM_EINVAL,
                        std::string(what) + ": \"" + name +
                            "\" is registered with item type " + demangle(e.item->name()) +
                            " and result type " + demangle(e.result->name()) + ", not " +
                            demangle(typeid(Item).name()) + " and " +
                            demangle(typeid(Result).name()));
    return e;
}

// Marks pm::pool's Call parameter for a pool over a registration, whose
// callable the pool's type does not name.
template <class Result>
struct registered_call {};

}  // namespace pm::detail

#endif
