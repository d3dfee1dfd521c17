// A store-load barrier split unevenly between two sides: the fast side,
// which runs often, pays a compiler barrier only; the slow side, which runs
// rarely, makes every thread of this process pass a full memory barrier
// (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED, Linux 4.14).
//
// With it, two threads can each store a flag and then load the other's
// (Dekker's pattern) and never both miss the other's store, though one side
// uses no locked instruction: if the fast side's load misses the slow
// side's store, the slow side's load, after heavy_fence(), sees the fast
// side's store. pm_map_next() uses it so that handing out a result it took
// ahead costs no atomic read-modify-write (capi.cpp, next_cached()).
#pragma once

#include <atomic>

namespace pm::core {

// Can this process use heavy_fence()? Registers the process for it once
// (per incarnation: see process_incarnation()). False when the kernel lacks
// the call, a sandbox refuses it, PARMAPPER_NO_MEMBARRIER=1 asks for the
// fallback (the callers then use locked instructions on both sides), or
// the build is under ThreadSanitizer, which cannot follow this order.
bool heavy_fence_ready() noexcept;

// The slow side: returns once every running thread of this process has
// passed a full memory barrier. False (errno set) if the kernel refused,
// which after heavy_fence_ready() said true it has no reason to.
bool heavy_fence() noexcept;

// The fast side: keeps the compiler from moving memory accesses across it;
// the processor's reordering is what heavy_fence() takes care of.
inline void light_fence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

}  // namespace pm::core
