// Internal: the pm_work_fn trampoline. Its user_data is a heap work_state
// holding the mapped function; a forked worker inherits it, so the function
// itself is never serialized. Exceptions never leave the trampoline: they
// become the item's failure text, and in the inline error mode (which runs in
// the calling process) the exception object itself is kept for the iterating
// thread to rethrow.
#ifndef PARMAPPER_DETAIL_WORK_HPP
#define PARMAPPER_DETAIL_WORK_HPP

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "../cpp/options.hpp"
#include "../parmapper.h"
#include "codec.hpp"
#include "handles.hpp"

namespace pm::detail {

class work_base {
public:
    virtual ~work_base() = default;

    // On only while a map runs in this process (one process, or inline):
    // the trampoline then runs here, where the caller can reach what it
    // keeps (to rethrow it, or to hand it on in a worker_error).
    void keep_exceptions(bool on) noexcept { keep_.store(on, std::memory_order_relaxed); }
    bool keeps_exceptions() const noexcept { return keep_.load(std::memory_order_relaxed); }

    // The exception item `index` threw, if it was kept (null otherwise).
    std::exception_ptr take_exception(uint64_t index) {
        std::lock_guard<std::mutex> hold(lock_);
        auto it = kept_.find(index);
        if (it == kept_.end())
            return nullptr;
        std::exception_ptr e = std::move(it->second);
        kept_.erase(it);
        return e;
    }

    void forget_exceptions() {
        std::lock_guard<std::mutex> hold(lock_);
        kept_.clear();
    }

    // Hands the worker hooks of v to the C options, with this state as their
    // user_data (it lives as long as the map or pool, in every worker).
    void attach_hooks(const option_values& v, pm_options* opts) {
        if (!v.on_worker_start && !v.on_worker_exit)
            return;
        on_start_ = v.on_worker_start;
        on_exit_ = v.on_worker_exit;
        check(pm_options_set_worker_hooks(opts, on_start_ ? &work_base::start_hook : nullptr,
                                          on_exit_ ? &work_base::exit_hook : nullptr, this),
              "pm_options_set_worker_hooks");
    }

protected:
    // Call inside a catch block: records the failure for item `index`.
    void fail_item(uint64_t index, pm_sink* out) noexcept {
        try {
            if (keep_.load(std::memory_order_relaxed)) {
                // threads > 1: several items may fail at once.
                std::lock_guard<std::mutex> hold(lock_);
                kept_[index] = std::current_exception();
            }
            pm_sink_set_error(out, failure_text(describe_current_exception()).c_str());
        } catch (...) {
            pm_sink_set_error(out, "std::bad_alloc: out of memory describing a failure");
        }
    }

private:
    static int start_hook(uint32_t id, void**, void* self) noexcept {
        try {
            static_cast<work_base*>(self)->on_start_(id);
            return 0;
        } catch (...) {
            return 1;  // the worker exits; its items fail as a dead worker's
        }
    }
    static void exit_hook(uint32_t id, void*, void* self) noexcept {
        try {
            static_cast<work_base*>(self)->on_exit_(id);
        } catch (...) {  // nothing to report it to: the worker is leaving
        }
    }

    std::function<void(uint32_t)> on_start_;
    std::function<void(uint32_t)> on_exit_;
    std::atomic<bool> keep_{false};
    std::mutex lock_;
    std::map<uint64_t, std::exception_ptr> kept_;
};

template <class Item, class Call>
class work_state final : public work_base {
public:
    // The item is passed as an lvalue (a fresh copy per call), so f may take
    // it by value, by const reference or by reference to change it.
    using result_type = decltype(std::declval<Call&>()(std::declval<Item&>()));

    explicit work_state(Call call) : call_(std::move(call)) {}

    // The pm_work_fn. Thread-safety: as the mapped function's, with threads > 1.
    static int run(const void* item, size_t len, uint64_t index, pm_sink* out,
                   void* self) noexcept {
        auto* me = static_cast<work_state*>(self);
        try {
            Item value = decode_item<Item>(item, len);
            const result_type r = me->call_(value);
            encode_result<result_type>(r, out);
            return 0;
        } catch (...) {
            me->fail_item(index, out);
            return 1;
        }
    }

    static void destroy(void* self) noexcept { delete static_cast<work_state*>(self); }

private:
    Call call_;
};

}  // namespace pm::detail

#endif
