// The library's own spdlog logger: silent unless PARMAPPER_LOG=<level> is set
// (trace, debug, info, warn, error, critical). It writes to stderr only, and is
// never registered in spdlog's global registry, so the host's spdlog setup is
// left alone.
#pragma once

#include <spdlog/logger.h>

namespace pm::core {

// nullptr when logging is off.
spdlog::logger* logger() noexcept;

}  // namespace pm::core

#define PM_LOG(lvl, ...)                                                      \
    do {                                                                        \
        if (auto* pm_log_ = ::pm::core::logger();                               \
            pm_log_ && pm_log_->should_log(spdlog::level::lvl))               \
            pm_log_->log(spdlog::level::lvl, __VA_ARGS__);                    \
    } while (0)
