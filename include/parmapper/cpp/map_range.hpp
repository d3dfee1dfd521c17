// pm::map_range: the lazy, single-pass range of a running map's results.
// Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_MAP_RANGE_HPP
#define PARMAPPER_CPP_MAP_RANGE_HPP

#include <cstddef>
#include <iterator>
#include <memory>
#include <utility>

#include "../detail/stepper.hpp"

namespace pm {

/* The results of a running map, produced as the caller iterates: each step
 * of the iteration waits for the next result (the workers keep going in the
 * meantime, up to the in-flight bound) and decodes it in the calling
 * process. V is the result type, pm::result<T> in the return_ error mode,
 * and pm::indexed<...> with pm::with_index.
 *
 * Ownership: the range owns the map; destroying it (leaving a range-for loop
 * early included) or close() stops the map at once: a one-shot map's
 * workers are killed and reaped, a pool map's finish what they hold. Moving
 * the range moves the map.
 * Iteration: a single-pass input range. begin() is the first result (it
 * waits for it), the iterator's ++ the next; begin() called again returns
 * the current position. A value stays valid until the next step; it may be
 * moved from. After an exception from a step, the range is at its end.
 * Errors: a step throws pm::worker_error for a failed item (raise mode),
 * rethrows the work function's own exception (inline mode) or the input
 * range's (any mode), and throws pm::error when the map itself fails. In
 * every case the map is destroyed before the exception leaves.
 * Thread-safety: one thread at a time; it may be moved to another thread,
 * but see options::daemon() about the thread that created the workers.
 * Only a pm::canceller taken from it may act on the map from another thread.
 * Since: 0.2 */
/* A handle that cancels a running map from any thread (pm_map_cancel()):
 * the thread iterating the map's range, even one blocked waiting for a
 * result, gets pm::error with status() PM_ECANCELED at its next step (within
 * about a second, even if every work function is stuck), and the map is
 * over. A one-shot map's workers are killed and reaped; a pool's workers that
 * held chunks are killed and replaced, so the pool serves its next map.
 * Take it with map_range::canceller() before handing it to another thread.
 * cancel() returns true if it reached a running map, false if the map has
 * ended, was closed or destroyed (it is then harmless), or the handle is
 * empty (default-constructed). Copies share the map; a handle may outlive
 * its range. Thread-safety: cancel() from any number of threads.
 * Since: 0.2 */
class canceller {
public:
    canceller() = default;
    explicit canceller(std::shared_ptr<detail::cancel_link> link) noexcept
        : link_(std::move(link)) {}

    bool cancel() const noexcept { return link_ && link_->cancel(); }

private:
    std::shared_ptr<detail::cancel_link> link_;
};

template <class V>
class map_range {
public:
    using value_type = V;

    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = V;
        using difference_type = std::ptrdiff_t;
        using pointer = V*;
        using reference = V&;

        iterator() = default;

        reference operator*() const { return *source_->current(); }
        pointer operator->() const { return source_->current(); }

        iterator& operator++() {
            source_->next();
            return *this;
        }

        // it++ hands out the value it leaves (moved), as input iterators may.
        struct postfix_value {
            V value;
            V& operator*() { return value; }
        };
        postfix_value operator++(int) {
            postfix_value old{std::move(**this)};
            ++*this;
            return old;
        }

        // Iterators of a map compare equal when both are, or both are not,
        // at its end.
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.at_end() == b.at_end();
        }
        friend bool operator!=(const iterator& a, const iterator& b) noexcept {
            return !(a == b);
        }

    private:
        friend class map_range;
        explicit iterator(detail::map_source<V>* source) : source_(source) {}
        bool at_end() const noexcept { return !source_ || !source_->current(); }

        detail::map_source<V>* source_ = nullptr;
    };

    explicit map_range(std::unique_ptr<detail::map_source<V>> source)
        : source_(std::move(source)) {}

    map_range(map_range&&) noexcept = default;
    map_range& operator=(map_range&&) noexcept = default;
    map_range(const map_range&) = delete;
    map_range& operator=(const map_range&) = delete;
    ~map_range() = default;

    /* The current result; the first call waits for the first one. Throws as
     * the iteration does (see above). */
    iterator begin() {
        if (!source_)
            return iterator();
        if (!started_) {
            started_ = true;
            source_->next();
        }
        return iterator(source_.get());
    }

    iterator end() noexcept { return iterator(); }

    /* A handle that cancels this map from another thread (see
     * pm::canceller). Call it on the range's own thread, before handing the
     * handle on; an empty range gives an empty handle. */
    pm::canceller canceller() {
        return source_ ? pm::canceller(source_->link()) : pm::canceller();
    }

    /* Stops the map now (see Ownership). The range is then empty. */
    void close() noexcept {
        if (source_)
            source_->close();
        started_ = true;
    }

private:
    std::unique_ptr<detail::map_source<V>> source_;
    bool started_ = false;
};

}  // namespace pm

#endif
