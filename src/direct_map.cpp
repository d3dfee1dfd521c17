// The direct engine: no fork, no thread. Items are pulled and run on the
// caller's thread inside next_batch(), so a debugger sees the work function's
// real stack (PM_ERRORS_INLINE) and one process costs nothing extra.
#include <atomic>
#include <cstring>
#include <utility>
#include <vector>

#include "item_runner.hpp"
#include "map_engine.hpp"
#include "sys_io.hpp"

namespace pm::core {

namespace {

class direct_map final : public map_engine {
public:
    direct_map(const map_settings& s, const work_spec& work, input_source&& input)
        : settings_(s), work_(work), input_(std::move(input)) {}

    uint64_t total() const noexcept override {
        uint64_t n = input_.length();
        return n != UINT64_MAX ? n : settings_.total_hint;
    }

    ~direct_map() override { run_exit_hook(); }

    void cancel() noexcept override { cancelled_.store(true); }

    int next_batch(map_entry* out, size_t max, uint64_t deadline_ns, size_t* count,
                   std::string& message) override {
        *count = 0;
        results_.clear();
        offsets_.clear();
        results_bytes_ = 0;
        if (!started_) {
            started_ = true;
            if (work_.init && work_.init(0, &context_.state, work_.hooks_user_data) != 0) {
                message = "the worker init hook failed (in-process worker 0)";
                return end_with(out, count, PM_EWORKER, 0, message);
            }
            init_ok_ = true;
        }
        int status = PM_OK;
        // At least one item, then more while the deadline allows (the clock
        // is read every 16th item, and never without a deadline).
        while (*count < max &&
               (*count == 0 || deadline_ns == UINT64_MAX || *count % 16 != 0 ||
                monotonic_ns() < deadline_ns)) {
            if (cancelled_.load()) {
                run_exit_hook();
                message = "the map was cancelled";
                status = end_with(out, count, PM_ECANCELED, 0, message);
                break;
            }
            // A generator may block: results ready go to the caller first.
            if (pos_ == pending_.count() && *count > 0 && input_.length() == UINT64_MAX)
                break;
            if (pos_ == pending_.count() && !refill(deadline_ns)) {
                if (idle_) {
                    idle_ = false;
                    status = *count ? PM_OK : PM_EAGAIN;  // the generator has nothing yet
                    break;
                }
                run_exit_hook();
                if (input_status_ != PM_OK) {
                    message = input_message_;
                    status = end_with(out, count, input_status_, next_index_, message);
                } else {
                    status = PM_DONE;
                }
                break;
            }
            const int item_status = run_next(out, count);
            if (item_status != PM_OK && settings_.error_mode != PM_ERRORS_RETURN) {
                // Its bytes are where they are until the builder grows again.
                message.assign(results_.data() + offsets_.back(), out[*count - 1].message_len);
                status = item_status;
                break;
            }
        }
        fix_pointers(out, *count);
        return status;
    }

private:
    // Reads the next items; false at the end of the input (or its failure),
    // or with idle_ set when the generator has had nothing since deadline_ns.
    bool refill(uint64_t deadline_ns) {
        while (pos_ == pending_.count()) {
            if (input_ended_)
                return false;
            // Arrays are referenced in place, so a large span costs nothing;
            // a generator is pulled one item at a time to stay lazy.
            size_t want = input_.length() != UINT64_MAX ? 1024 : 1;
            std::string error;
            auto r = input_.fill(pending_, want, nullptr, &error);
            pos_ = 0;
            offset_ = 0;
            chunk_results_.clear();
            chunk_next_ = 0;
            if (r == input_source::fill_status::end) {
                input_ended_ = true;
            } else if (r == input_source::fill_status::failed) {
                input_ended_ = true;
                input_status_ = PM_EINPUT;
                input_message_ = std::move(error);
            } else if (r == input_source::fill_status::idle && monotonic_ns() >= deadline_ns) {
                idle_ = true;
                return false;
            }
        }
        return true;
    }

    // Runs the next item (or, for a chunk function, the whole pending chunk
    // when it starts) and appends its entry; returns its status.
    int run_next(map_entry* out, size_t* count) {
        const uint64_t index = next_index_++;
        const char* item = pending_.bytes() + offset_;
        const size_t len = pending_.lens()[pos_];
        offset_ += len;
        ++pos_;
        result_entry e;
        if (work_.chunk_fn) {
            if (chunk_next_ == 0) {
                chunk_items_.clear();
                chunk_lens_.clear();
                const char* p = pending_.bytes();
                for (uint32_t i = 0; i < pending_.count(); ++i) {
                    chunk_items_.push_back(p);
                    chunk_lens_.push_back(pending_.lens()[i]);
                    p += pending_.lens()[i];
                }
                run_chunk_fn(work_, context_, index, pending_.count(), chunk_items_.data(),
                             chunk_lens_.data(), chunk_results_);
                chunk_offset_ = 0;
            }
            e = chunk_results_.table()[chunk_next_++];
            append(e, chunk_results_.data() + chunk_offset_);
            chunk_offset_ += e.len;
        } else {
            run_item(work_, context_, item, len, index, results_);
            e = results_.table().back();
            offsets_.push_back(results_bytes_);
            results_bytes_ += e.len;
        }
        map_entry& m = out[(*count)++];
        m.index = index;
        m.status = e.status;
        m.len = e.len;  // pointers are fixed once the batch is done
        m.message_len = e.message_len;
        return e.status;
    }

    // A chunk function's entry, copied into this batch's results.
    void append(const result_entry& e, const char* bytes) {
        results_.begin_item();
        if (e.len)
            std::memcpy(results_.append(e.len), bytes, e.len);
        if (e.status == PM_OK)
            results_.end_item_ok();
        else
            results_.end_item_failed(e.status, std::string(bytes, e.message_len),
                                     std::string(bytes + e.message_len, e.len - e.message_len));
        offsets_.push_back(results_bytes_);
        results_bytes_ += e.len;
    }

    // The batch's entries point into results_, whose buffer may have moved
    // while it grew: their pointers are set once it is done.
    void fix_pointers(map_entry* out, size_t count) {
        const char* base = results_.data();
        for (size_t k = 0; k < count && k < offsets_.size(); ++k) {
            map_entry& m = out[k];
            const char* at = base + offsets_[k];
            if (m.status == PM_OK) {
                m.data = at;
                m.message = nullptr;
                m.message_len = 0;
            } else {
                m.message = at;
                m.data = at + m.message_len;
                m.len -= m.message_len;
            }
        }
    }

    // Appends a final entry that concerns no item's result.
    int end_with(map_entry* out, size_t* count, int status, uint64_t index,
                 const std::string& message) {
        map_entry& m = out[(*count)++];
        m = map_entry{};
        m.index = index;
        m.status = status;
        m.message = message.data();
        m.message_len = message.size();
        return status;
    }

    void run_exit_hook() noexcept {
        if (init_ok_ && work_.exit)
            work_.exit(0, context_.state, work_.hooks_user_data);
        init_ok_ = false;
    }

    map_settings settings_;
    worker_context context_;
    std::atomic<bool> cancelled_{false};
    bool started_ = false;
    bool init_ok_ = false;
    work_spec work_;
    input_source input_;
    task_builder pending_;
    uint32_t pos_ = 0;
    uint64_t offset_ = 0;
    uint64_t next_index_ = 0;
    bool input_ended_ = false;
    bool idle_ = false;
    int input_status_ = PM_OK;
    std::string input_message_;
    result_builder results_;       // this batch's entries
    std::vector<size_t> offsets_;  // where each entry's bytes start in results_
    size_t results_bytes_ = 0;
    // A chunk function's results for the pending chunk.
    result_builder chunk_results_;
    uint32_t chunk_next_ = 0;
    size_t chunk_offset_ = 0;
    std::vector<const void*> chunk_items_;
    std::vector<size_t> chunk_lens_;
};

}  // namespace

std::unique_ptr<map_engine> start_direct_map(const map_settings& settings,
                                             const work_spec& work, input_source&& input) {
    return std::make_unique<direct_map>(settings, work, std::move(input));
}

}  // namespace pm::core
