// The direct engine: no fork, no thread. Items are pulled and run on the
// caller's thread inside next(), so a debugger sees the work function's real
// stack (PM_ERRORS_INLINE) and one process costs nothing extra.
#include <atomic>
#include <utility>

#include "item_runner.hpp"
#include "map_engine.hpp"

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

    map_step next(std::string& message) override {
        if (cancelled_.load()) {
            run_exit_hook();
            message = "the map was cancelled";
            return {PM_ECANCELED, 0, nullptr, 0, true};
        }
        if (!started_) {
            started_ = true;
            if (work_.init && work_.init(0, &context_.state, work_.hooks_user_data) != 0) {
                message = "the worker init hook failed (in-process worker 0)";
                return {PM_EWORKER, 0, nullptr, 0, true};
            }
            init_ok_ = true;
        }
        while (pos_ == pending_.count()) {
            if (input_ended_) {
                run_exit_hook();
                if (input_status_ != PM_OK) {
                    message = input_message_;
                    return {input_status_, next_index_, nullptr, 0, true};
                }
                return {PM_DONE, 0, nullptr, 0, true};
            }
            // Arrays are referenced in place, so a large span costs nothing;
            // a generator is pulled one item at a time to stay lazy.
            size_t want = input_.length() != UINT64_MAX ? 1024 : 1;
            std::string error;
            auto r = input_.fill(pending_, want, nullptr, &error);
            pos_ = 0;
            offset_ = 0;
            if (r == input_source::fill_status::end) {
                input_ended_ = true;
            } else if (r == input_source::fill_status::failed) {
                input_ended_ = true;
                input_status_ = PM_EINPUT;
                input_message_ = std::move(error);
            }
        }
        const char* item = pending_.bytes() + offset_;
        size_t len = pending_.lens()[pos_];
        ++pos_;
        offset_ += len;
        uint64_t index = next_index_++;

        results_.clear();
        run_item(work_, context_, item, len, index, results_);
        result_builder::view r = results_.last();
        if (r.status == PM_OK)
            return {PM_OK, index, r.data, r.len, false};
        message.assign(r.data, r.len);
        return {r.status, index, nullptr, 0, settings_.error_mode != PM_ERRORS_RETURN};
    }

private:
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
    int input_status_ = PM_OK;
    std::string input_message_;
    result_builder results_;
};

}  // namespace

std::unique_ptr<map_engine> start_direct_map(const map_settings& settings,
                                             const work_spec& work, input_source&& input) {
    return std::make_unique<direct_map>(settings, work, std::move(input));
}

}  // namespace pm::core
