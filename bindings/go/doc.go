// Package parmapper is the Go binding of libparmapper: it maps a work
// function over a slice (or a stream) of items on a pool of fork()ed worker
// processes and hands the results back, in input order or as they finish.
//
// # Work functions are C functions, registered by name
//
// Go code cannot run in a forked worker. fork() copies only the thread
// that calls it, and the Go runtime needs its other threads: in a forked
// copy of a Go program the garbage collector hangs at its first cycle,
// goroutines never run, and the runtime's locks may be held by threads that
// are gone. So the work function of a map is a C function, written in a cgo
// preamble, which runs in the worker without touching the Go runtime:
//
//	/*
//	#cgo pkg-config: parmapper
//	#include <parmapper.h>
//	int twice(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
//	    unsigned char buf[256];
//	    if (len > sizeof buf) { pm_sink_set_error(out, "item too long"); return 1; }
//	    for (size_t i = 0; i < len; i++) buf[i] = ((const unsigned char *)item)[i] * 2;
//	    return pm_sink_write(out, buf, len) != PM_OK;
//	}
//	*/
//	import "C"
//
//	func init() { parmapper.RegisterC("twice", unsafe.Pointer(C.twice), nil) }
//
//	results, err := parmapper.Map(ctx, "twice", items, nil)
//
// Maps and pools name their work function; the registry is the shape Go
// work functions will take once workers can be started by exec (a worker
// that re-executes the program finds its function by name), without a
// change to the calls that use them. Until then there is no way to give a
// Go function, and the package says so rather than hang.
//
// Only item and result bytes cross between processes; a worker sees the
// program's C memory as it was when it was forked.
//
// # Errors
//
// Every failure is an *Error whose Status (an error itself) tells its kind
// (errors.Is(err, parmapper.ErrWorker)), with the item's Index and the
// library's Message. A crash in a C work function reads "worker 1 (pid
// 4242) killed by signal 11 (SIGSEGV) while running item 7": the crash
// signals get their default action back in every worker, where Go's
// handlers would have turned the crash into "exited with status 2".
// Messages are read inside the C call that failed (or from the map's own
// handle), never from the per-thread pm_last_error() in a later call, to
// which a goroutine may come back on another thread.
//
// # Resources
//
// A Stream and a Pool hold C handles, worker processes and descriptors,
// released by Close (use defer); there are no finalizers. Map and Pool.Map
// close their stream themselves. A cancelled context stops the map within
// about Options.PollInterval: the workers are killed and reaped. With
// Processes 1 the work function runs in the calling process, where a stuck
// one cannot be stopped and a crash takes the program along.
//
// A map's workers are killed if the OS thread that created it exits (the
// library's daemon mode, Linux's PR_SET_PDEATHSIG): do not create maps or
// pools from a goroutine that called runtime.LockOSThread and may end
// without unlocking it, since Go then ends its thread.
package parmapper
