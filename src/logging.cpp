#include "logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <memory>
#include <mutex>

namespace pm::core {

namespace {

std::shared_ptr<spdlog::logger> make_logger() noexcept {
    const char* wanted = std::getenv("PARMAPPER_LOG");
    if (!wanted || !*wanted)
        return nullptr;
    try {
        auto level = spdlog::level::from_str(wanted);
        if (level == spdlog::level::off)
            return nullptr;
        auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        auto log = std::make_shared<spdlog::logger>("parmapper", std::move(sink));
        log->set_level(level);
        // The pid tells parent and worker lines apart.
        log->set_pattern("[parmapper %P %l] %v");
        log->flush_on(spdlog::level::trace);
        return log;
    } catch (...) {
        return nullptr;  // Logging must never make a map fail.
    }
}

}  // namespace

spdlog::logger* logger() noexcept {
    // A function-local static: built once, thread-safe, read lock-free after.
    static const std::shared_ptr<spdlog::logger> instance = make_logger();
    return instance.get();
}

}  // namespace pm::core
