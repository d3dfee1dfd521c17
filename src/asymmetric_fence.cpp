#include "asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "child_process.hpp"

namespace pm::core {

namespace {

long membarrier(int cmd) noexcept { return ::syscall(SYS_membarrier, cmd, 0, 0); }

// 1 + the incarnation that registered (0: none yet). Registration is the
// kernel's per address space and survives fork(), but a forked child checks
// again rather than rely on that.
std::atomic<uint64_t> registered_in{0};

// ThreadSanitizer follows the order that atomics' acquire and release give,
// not the one membarrier() gives: it would report the fast side's accesses
// as races. Its builds take the fallback, which it can follow.
#if defined(__SANITIZE_THREAD__)
constexpr bool sanitizer_follows_membarrier = false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool sanitizer_follows_membarrier = false;
#else
constexpr bool sanitizer_follows_membarrier = true;
#endif
#else
constexpr bool sanitizer_follows_membarrier = true;
#endif

}  // namespace

bool heavy_fence_ready() noexcept {
    if (!sanitizer_follows_membarrier)
        return false;
    const char* off = std::getenv("PARMAPPER_NO_MEMBARRIER");
    if (off && std::strcmp(off, "1") == 0)
        return false;
    const uint64_t now = process_incarnation() + 1;
    if (registered_in.load(std::memory_order_acquire) == now)
        return true;
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
        return false;
    registered_in.store(now, std::memory_order_release);
    return true;
}

bool heavy_fence() noexcept { return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0; }

}  // namespace pm::core
