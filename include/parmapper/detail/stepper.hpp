// Internal: steps a running pm_map and turns each step into the value the
// C++ iteration yields, or into an exception according to the error mode.
// Before anything is thrown, the pm_map is destroyed: its workers are killed
// (a one-shot map) or drained (a pool map) and reaped, and its feeder thread
// is joined.
#ifndef PARMAPPER_DETAIL_STEPPER_HPP
#define PARMAPPER_DETAIL_STEPPER_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "../cpp/arguments.hpp"
#include "../cpp/errors.hpp"
#include "../parmapper.h"
#include "codec.hpp"
#include "handles.hpp"
#include "input.hpp"
#include "work.hpp"

namespace pm::detail {

// Shared by a running map and the pm::canceller handles taken from its
// range. cancel() reaches the pm_map only while it lives: the mutex keeps
// pm_map_destroy() from running during a pm_map_cancel() on another thread.
class cancel_link {
public:
    bool cancel() noexcept {
        std::lock_guard<std::mutex> hold(mutex_);
        return map_ && pm_map_cancel(map_) == PM_OK;
    }
    void attach(pm_map* map) noexcept {
        std::lock_guard<std::mutex> hold(mutex_);
        map_ = map;
    }
    // Before the map is destroyed; waits for a cancel() under way.
    void detach() noexcept { attach(nullptr); }

private:
    std::mutex mutex_;
    pm_map* map_ = nullptr;
};

// What a map_range iterates: next() advances and returns the new current
// value, or null at the end. Throws per the error mode.
template <class V>
class map_source {
public:
    virtual ~map_source() = default;
    virtual V* next() = 0;
    virtual V* current() noexcept = 0;
    virtual void close() noexcept = 0;
    virtual std::shared_ptr<cancel_link> link() = 0;
};

// The user's progress function, reached through the C progress callback's
// user_data. It runs on the iterating thread, inside pm_map_next().
struct progress_slot {
    std::function<void(uint64_t, uint64_t)> fn;
    std::exception_ptr failure;

    static void call(uint64_t done, uint64_t total, void* self) noexcept {
        auto* me = static_cast<progress_slot*>(self);
        if (me->failure)
            return;
        try {
            me->fn(done, total);
        } catch (...) {
            me->failure = std::current_exception();
        }
    }
};

template <class R, bool ReturnMode>
using item_value_t = std::conditional_t<ReturnMode, pm::result<R>, R>;

template <class R, bool ReturnMode, bool Indexed>
using yielded_t = std::conditional_t<Indexed, pm::indexed<item_value_t<R, ReturnMode>>,
                                     item_value_t<R, ReturnMode>>;

template <class R, bool ReturnMode, bool Indexed>
class map_stepper final : public map_source<yielded_t<R, ReturnMode, Indexed>> {
public:
    using value_type = yielded_t<R, ReturnMode, Indexed>;

    map_stepper(std::unique_ptr<input_base> input, std::function<void(uint64_t, uint64_t)> fn)
        : input_(std::move(input)) {
        progress_.fn = std::move(fn);
    }

    ~map_stepper() override { close(); }

    input_base& input() noexcept { return *input_; }

    // Registers the progress function with the C options, if there is one.
    void attach_progress(pm_options* opts) {
        if (progress_.fn)
            check(pm_options_set_progress(opts, &progress_slot::call, &progress_),
                  "pm_options_set_progress");
    }

    // Takes charge of the started map. work stays valid while the map lives;
    // its keep_exceptions() must already say whether the map is in-process.
    void start(unique_map map, work_base* work, int error_mode) {
        map_ = std::move(map);
        work_ = work;
        error_mode_ = error_mode;
        if (link_)
            link_->attach(map_.get());
    }

    std::shared_ptr<cancel_link> link() override {
        if (!link_) {
            link_ = std::make_shared<cancel_link>();
            link_->attach(map_.get());
        }
        return link_;
    }

    value_type* current() noexcept override { return current_ ? &*current_ : nullptr; }

    void close() noexcept override {
        current_.reset();
        stop();
    }

    value_type* next() override {
        current_.reset();
        if (!map_)
            return nullptr;
        uint64_t index = 0;
        const void* data = nullptr;
        size_t len = 0;
        const int status = pm_map_next(map_.get(), &index, &data, &len);
        if (progress_.failure) {
            stop();
            std::rethrow_exception(std::exchange(progress_.failure, nullptr));
        }
        if (status == PM_OK) {
            R value{};
            std::string problem = decode_result<R>(data, len, value);
            if (problem.empty())
                return yield(index, item_value_t<R, ReturnMode>(std::move(value)));
            return item_failed(worker_error(failure::bad_result, index, std::string(),
                                            std::move(problem)));
        }
        if (status == PM_DONE) {
            stop();
            return nullptr;
        }
        std::string message = pm_map_error(map_.get());
        if (status == PM_EITEM) {
            // Kept only when the item ran in this process.
            std::exception_ptr thrown = work_->take_exception(index);
            if (thrown && error_mode_ == PM_ERRORS_INLINE) {
                stop();
                std::rethrow_exception(thrown);
            }
            exception_description d = parse_failure_text(message);
            return item_failed(worker_error(failure::exception, index, std::move(d.type_name),
                                            std::move(d.message), std::move(thrown)));
        }
        if (status == PM_EWORKER || status == PM_ETIMEOUT)
            return item_failed(worker_error(
                status == PM_EWORKER ? failure::worker_died : failure::timed_out, index,
                std::string(), std::move(message)));
        // The map is over: the input failed, it was cancelled
        // (PM_ECANCELED), or the library failed.
        stop();
        if (status == PM_EINPUT && input_->failure())
            std::rethrow_exception(input_->failure());
        throw pm::error(status, std::string(pm_status_str(status)) + ": " + message);
    }

private:
    value_type* yield(uint64_t index, item_value_t<R, ReturnMode>&& v) {
        if constexpr (Indexed)
            current_.emplace(value_type{index, std::move(v)});
        else
            current_.emplace(std::move(v));
        return &*current_;
    }

    value_type* item_failed(worker_error&& e) {
        if constexpr (ReturnMode) {
            // A map in PM_ERRORS_RETURN goes on after a failed item; a result
            // that did not decode is failed here in the same way. A map that
            // yields results but runs in another mode (errors::runtime) stops.
            if (error_mode_ == PM_ERRORS_RETURN) {
                const uint64_t index = e.index();
                return yield(index, pm::result<R>(std::move(e)));
            }
        }
        stop();
        throw std::move(e);
    }

    // Destroys the map: workers stopped and reaped, feeder joined.
    void stop() noexcept {
        if (!map_)
            return;
        if (link_)
            link_->detach();
        // Before the map goes: a one-shot map owns work_ and deletes it.
        work_->forget_exceptions();
        work_ = nullptr;
        map_.reset();
    }

    std::unique_ptr<input_base> input_;  // outlives map_ (declared before it)
    progress_slot progress_;             // outlives map_ too
    work_base* work_ = nullptr;          // owned by the C map or pool
    int error_mode_ = PM_ERRORS_RAISE;
    std::optional<value_type> current_;
    std::shared_ptr<cancel_link> link_;  // made when a canceller is asked for
    unique_map map_;
};

}  // namespace pm::detail

#endif
