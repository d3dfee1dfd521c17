// Package parmapper is the Go binding of libparmapper: it maps a work
// function over a slice (or a stream) of items on a pool of worker
// processes and hands the results back, in input order or as they finish.
//
// # Go work functions, in workers started by exec
//
// A work function is registered under a name in an init function, and the
// program's main (a test binary's TestMain) calls Serve first:
//
//	func init() {
//		parmapper.MustRegister("upper", func(item []byte) ([]byte, error) {
//			return bytes.ToUpper(item), nil
//		})
//	}
//
//	func main() {
//		parmapper.Serve() // in a worker: serves items, never returns
//		results, err := parmapper.Map(ctx, "upper", items, &parmapper.Options{Processes: 2})
//		...
//	}
//
// Go code cannot run in a fork()ed worker: fork copies only the calling
// thread, and in a forked copy of a Go program the garbage collector hangs
// at its first cycle and goroutines never run. So the workers of a Go work
// function are started by exec (Options.Start, StartExec by default for
// one): each is a fresh run of the same program (/proc/self/exe with its
// arguments), in which the init functions register the same names and
// Serve, seeing that the library started it, runs the items with the
// function registered under the map's name. A worker inherits nothing
// else: not the caller's variables, open files or what it computed before
// the map; only the item bytes travel. A function registered after init
// (or only in some runs) is unknown to the workers, which exit with status
// 68, reported by the map.
//
// # C work functions
//
// A C function written in a cgo preamble runs in forked workers too (the
// default for one), which share the program's C memory as it was at the
// fork, or in exec-started ones:
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
// # Errors
//
// Every failure is an *Error whose Status (an error itself) tells its kind
// (errors.Is(err, parmapper.ErrWorker)), with the item's Index and the
// library's Message. A Go work function's error fails its item (ErrItem,
// the error's text); so does a panic ("panic: " and its value, with the
// stack as Payload); os.Exit(3) in one reads "worker 0 (pid 4242) exited
// with status 3 while running item 7". A crash in a C work function reads
// "worker 1 (pid 4242) killed by signal 11 (SIGSEGV) while running item
// 7": the crash signals get their default action back in the workers of a
// C function, where Go's handlers would have turned the crash into "exited
// with status 2" (not in those of a Go function, where Go's handlers turn
// a nil dereference into a panic).
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
