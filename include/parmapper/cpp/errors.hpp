// The C++ layer's exceptions and the value-or-error result of the `return`
// error mode. Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_ERRORS_HPP
#define PARMAPPER_CPP_ERRORS_HPP

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "../parmapper.h"

namespace pm {

namespace detail {
// Tags a worker_error of a pm::process, which has no items.
struct process_failure_t {
    explicit constexpr process_failure_t() = default;
};
}  // namespace detail

/* A failed libparmapper call or map: status() is the C API's PM_E* code and
 * what() its message. Thrown by pm::map, pm::pool and the other C++ entry
 * points when the C API reports a failure that is not one item's (a fork
 * that failed, an invalid option, a broken channel).
 * Since: 0.2 */
class error : public std::runtime_error {
public:
    error(int status, const std::string& message)
        : std::runtime_error(message), status_(status) {}

    /* The PM_E* status code (negative). */
    int status() const noexcept { return status_; }

private:
    int status_;
};

/* Why an item failed. Since: 0.2 */
enum class failure {
    exception,    // the work function threw (in a worker, or in the caller)
    worker_died,  // the worker process running the item died (PM_EWORKER)
    bad_result,   // the result's bytes did not decode into the result type
    timed_out,    // the item ran past the C API's item timeout (PM_ETIMEOUT)
};

/* One item failed: thrown by the iteration of a map in the `raise` error
 * mode (after the map's workers are stopped and reaped), and carried by a
 * pm::result in the `return_` mode.
 * - index(): the item's position in the input, from 0.
 * - kind(): see pm::failure.
 * - type_name(): for failure::exception, the dynamic type of what the work
 *   function threw, demangled ("std::out_of_range", "my::parse_error",
 *   "int"); empty for the other kinds.
 * - message(): the thrown exception's what() (empty if it was not a
 *   std::exception), or what happened to the worker or to the decoding.
 * what() combines them: "item 7: std::out_of_range: vector::_M_range_check".
 * A pm::process has no items: its errors have index() 0 and what() names
 * the process instead ("pm::process: app::overheated: 90 degrees",
 * "pm::process: process (pid 4242) killed by signal 9 (SIGKILL)").
 * status() is PM_EWORKER for worker_died, PM_ETIMEOUT for timed_out and
 * PM_EITEM otherwise.
 * - original(): the exception object the work function threw, when the item
 *   ran in this process (processes(1), or a pool made with processes(1)):
 *   rethrow_original() rethrows it (same type, same object). An item that
 *   ran in a worker process left its exception there: original() is null
 *   and rethrow_original() returns without throwing. Copies share it.
 * Since: 0.2 */
class worker_error : public error {
public:
    worker_error(failure kind, uint64_t index, std::string type_name, std::string message,
                 std::exception_ptr original = nullptr)
        : error(status_of(kind), describe(kind, index, type_name, message)),
          kind_(kind),
          index_(index),
          type_name_(std::move(type_name)),
          message_(std::move(message)),
          original_(std::move(original)) {}

    /* The failure of a pm::process (used by return_process::join()). */
    worker_error(detail::process_failure_t, failure kind, std::string type_name,
                 std::string message)
        : error(status_of(kind), describe_process(kind, type_name, message)),
          kind_(kind),
          index_(0),
          type_name_(std::move(type_name)),
          message_(std::move(message)) {}

    failure kind() const noexcept { return kind_; }
    uint64_t index() const noexcept { return index_; }
    const std::string& type_name() const noexcept { return type_name_; }
    const std::string& message() const noexcept { return message_; }
    std::exception_ptr original() const noexcept { return original_; }

    /* Rethrows original() if this process has it; returns otherwise. */
    void rethrow_original() const {
        if (original_)
            std::rethrow_exception(original_);
    }

private:
    static int status_of(failure kind) noexcept {
        switch (kind) {
        case failure::worker_died:
            return PM_EWORKER;
        case failure::timed_out:
            return PM_ETIMEOUT;
        default:
            return PM_EITEM;
        }
    }

    static std::string describe(failure kind, uint64_t index, const std::string& type_name,
                                const std::string& message) {
        return "item " + std::to_string(index) + ": " + describe_kind(kind, type_name, message);
    }

    // The process's own message names it ("process (pid 4242) killed by ..."),
    // so a death needs no word of its own.
    static std::string describe_process(failure kind, const std::string& type_name,
                                        const std::string& message) {
        if (kind == failure::worker_died && !message.empty())
            return "pm::process: " + message;
        return "pm::process: " + describe_kind(kind, type_name, message);
    }

    static std::string describe_kind(failure kind, const std::string& type_name,
                                     const std::string& message) {
        std::string s;
        switch (kind) {
        case failure::exception:
            s += type_name.empty() ? "exception" : type_name;
            break;
        case failure::worker_died:
            s += "worker died";
            break;
        case failure::bad_result:
            s += "result did not decode";
            break;
        case failure::timed_out:
            s += "timed out";
            break;
        }
        if (!message.empty())
            s += ": " + message;
        return s;
    }

    failure kind_;
    uint64_t index_;
    std::string type_name_;
    std::string message_;
    std::exception_ptr original_;
};

/* The value of one item in the `return_` error mode (the Python tool's
 * exception='return'): either the work function's result or the
 * worker_error describing why there is none. The map goes on after a
 * failed item.
 *
 *     for (auto& r : pm::map(f, items, pm::options{}.errors(pm::errors::return_)))
 *         if (r) use(*r); else log(r.error().what());
 *
 * Since: 0.2 */
template <class T>
class result {
public:
    using value_type = T;

    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    result(worker_error e) : v_(std::in_place_index<1>, std::move(e)) {}

    /* True if the item succeeded. */
    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    /* The result; throws the item's worker_error if it failed. */
    T& value() & { return checked(); }
    const T& value() const& { return const_cast<result*>(this)->checked(); }
    T&& value() && { return std::move(checked()); }

    /* The result, or fallback if the item failed. */
    template <class U>
    T value_or(U&& fallback) const& {
        return ok() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
    }

    /* Unchecked access: only when ok(). */
    T& operator*() & noexcept { return *std::get_if<0>(&v_); }
    const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
    T* operator->() noexcept { return std::get_if<0>(&v_); }
    const T* operator->() const noexcept { return std::get_if<0>(&v_); }

    /* Why the item failed; throws pm::error (PM_ESTATE) when it did not. */
    const worker_error& error() const {
        if (ok())
            throw pm::error(PM_ESTATE, "pm::result::error(): the item succeeded");
        return std::get<1>(v_);
    }

private:
    T& checked() {
        if (!ok())
            throw std::get<1>(v_);
        return std::get<0>(v_);
    }

    std::variant<T, worker_error> v_;
};

}  // namespace pm

#endif
