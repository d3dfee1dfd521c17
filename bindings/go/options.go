package parmapper

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"time"
	"unsafe"
)

// StartMethod says how a map's or a pool's worker processes start.
type StartMethod int

const (
	// StartAuto (the default): exec for a Go work function; for a C one,
	// what the environment variable PARMAPPER_START says (exec or fork),
	// else fork.
	StartAuto StartMethod = iota
	// StartFork: workers are fork()ed copies of the calling process. Only
	// for C work functions: a forked copy of the Go runtime hangs.
	StartFork
	// StartExec: workers are fresh runs of the program (/proc/self/exe with
	// its arguments), whose main called Serve first; they find the work
	// function by its name. For Go and C work functions.
	StartExec
)

func (m StartMethod) String() string {
	switch m {
	case StartAuto:
		return "StartAuto"
	case StartFork:
		return "StartFork"
	case StartExec:
		return "StartExec"
	}
	return fmt.Sprintf("StartMethod(%d)", int(m))
}

// ErrorMode says what a failed item does to a map.
type ErrorMode int

const (
	// Raise (the default): the first failure ends the map and is returned
	// as an *Error with the item's index; in ordered mode after every
	// result before it, so it is the lowest failed index.
	Raise ErrorMode = C.PM_ERRORS_RAISE
	// Return: a failed item comes back in its place, as a Result whose Err
	// is an *Error, and the map goes on.
	Return ErrorMode = C.PM_ERRORS_RETURN
	// Inline: run every item in the calling goroutine's thread, without
	// fork, and stop like Raise: for debuggers and sanitizers. A crash of
	// the work function takes the program with it.
	Inline ErrorMode = C.PM_ERRORS_INLINE
)

// Options are a map's or a pool's settings; the zero value (or nil) is the
// defaults. For a Pool, Processes and Threads are taken when the pool is
// created, and the rest per map.
type Options struct {
	// Worker processes; 0: one per online CPU; 1 (with Threads 0 or 1): no
	// worker, the work function runs in the calling process (a crash takes
	// it along, and a stuck work function cannot be cancelled).
	Processes int
	// How the workers start: fork or exec; see StartMethod. For a Pool,
	// taken when the pool is created.
	Start StartMethod
	// Threads per worker process, each running whole chunks (0 means 1);
	// the work function must then be thread-safe.
	Threads int
	// Items per chunk sent to a worker; 0: automatic.
	ChunkSize int
	// Results as they finish rather than in input order.
	Unordered bool
	// Length hint for a Generator or Channel input (0: unknown); used for
	// automatic chunking and the progress bar.
	Total int64
	// What a failed item does; see ErrorMode.
	Errors ErrorMode
	// Bound on items read from the input but not yet delivered; 0: automatic.
	MaxInFlight int
	// An item running longer fails with ErrTimeout and its worker is killed
	// and replaced; 0: none. Counted in whole milliseconds.
	ItemTimeout time.Duration
	// Runs again, up to this many times, an item whose worker crashed or
	// timed out.
	Retries int
	// Recycle a worker after about this many items; 0: never.
	MaxItemsPerWorker int64
	// Recycle a worker whose resident memory exceeds this many bytes; 0: never.
	MaxWorkerRSS int64
	// Draw the library's progress bar on stderr, with ProgressLabel first.
	ProgressBar   bool
	ProgressLabel string
	// How long one step waits for results before the stream looks at its
	// context again; 0: 50 ms. A cancelled context is seen within about this
	// long (plus the time to stop the workers).
	PollInterval time.Duration
}

func invalid(format string, args ...interface{}) error {
	return &Error{Op: "parmapper", Status: ErrInvalid, Index: -1,
		Message: fmt.Sprintf(format, args...)}
}

func (o *Options) check() error {
	switch {
	case o.Processes < 0:
		return invalid("Processes is negative")
	case o.Threads < 0:
		return invalid("Threads is negative")
	case o.ChunkSize < 0:
		return invalid("ChunkSize is negative")
	case o.Total < 0:
		return invalid("Total is negative")
	case o.MaxInFlight < 0:
		return invalid("MaxInFlight is negative")
	case o.ItemTimeout < 0:
		return invalid("ItemTimeout is negative")
	case o.Retries < 0:
		return invalid("Retries is negative")
	case o.MaxItemsPerWorker < 0:
		return invalid("MaxItemsPerWorker is negative")
	case o.MaxWorkerRSS < 0:
		return invalid("MaxWorkerRSS is negative")
	case o.PollInterval < 0:
		return invalid("PollInterval is negative")
	case o.Start < StartAuto || o.Start > StartExec:
		return invalid("Start is not a StartMethod")
	case o.Processes > 1<<31-1, o.Threads > 1<<31-1, o.Retries > 1<<31-1:
		return invalid("Processes, Threads or Retries is out of range")
	}
	return nil
}

// cOptions is a built pm_options with the error buffer its creating calls
// write to. The buffer must outlive the handle those calls create.
type cOptions struct {
	opts   *C.pm_options
	errbuf *C.char
}

// inProcess tells whether a map with these options runs in the calling
// process, starting no worker at all.
func (o *Options) inProcess() bool {
	return o.Errors == Inline || (o.Processes == 1 && o.Threads <= 1)
}

// startFor checks that a map or pool of w can start its workers with these
// options, and gives the start method to set (-1: the library's choice,
// which is PARMAPPER_START's, else fork).
func (o *Options) startFor(name string, w workFunc) (C.int, error) {
	if o == nil {
		o = &Options{}
	}
	exec := false
	method := C.int(-1)
	switch {
	case o.Start == StartExec:
		exec, method = true, C.PM_START_EXEC
	case o.Start == StartFork && w.isGo():
		return 0, invalid("work function %q is a Go function, which runs only in workers "+
			"started by exec (Options.Start StartExec or StartAuto): a fork()ed copy of "+
			"the Go runtime hangs", name)
	case o.Start == StartFork:
		method = C.PM_START_FORK
	case w.isGo():
		exec, method = true, C.PM_START_EXEC
	default:
		exec = os.Getenv("PARMAPPER_START") == "exec"
	}
	if exec && !o.inProcess() && !served.Load() {
		return 0, &Error{Op: "parmapper", Status: ErrState, Index: -1,
			Message: fmt.Sprintf("work function %q needs workers started by exec, and "+
				"parmapper.Serve() was not called (call it first in main, and in TestMain)", name)}
	}
	return method, nil
}

// build makes the C options for a map or pool of w (nil: a pool's map,
// whose start method is the pool's). total is the input's length hint (-1:
// none).
func (o *Options) build(method C.int, w *workFunc) (cOptions, error) {
	if o == nil {
		o = &Options{}
	}
	if err := o.check(); err != nil {
		return cOptions{}, err
	}
	var co C.pmgo_opts
	co.start_method = method
	// A C work function's crash is seen as its signal; a Go work function
	// needs Go's handlers, which turn a nil dereference into a panic.
	if w == nil || !w.isGo() {
		co.reset_crash_signals = 1
	}
	co.processes = C.uint32_t(o.Processes)
	co.threads = C.uint32_t(o.Threads)
	if o.Threads == 0 {
		co.threads = 1
	}
	co.chunk_size = C.size_t(o.ChunkSize)
	co.ordered = 1
	if o.Unordered {
		co.ordered = 0
	}
	co.total = C.uint64_t(C.PM_TOTAL_UNKNOWN)
	if o.Total > 0 {
		co.total = C.uint64_t(o.Total)
	}
	co.error_mode = C.int(o.Errors)
	co.max_in_flight = C.size_t(o.MaxInFlight)
	ms := o.ItemTimeout / time.Millisecond
	if o.ItemTimeout > 0 && ms == 0 {
		ms = 1
	}
	co.item_timeout_ms = C.uint64_t(ms)
	co.retries = C.uint32_t(o.Retries)
	co.max_items_per_worker = C.uint64_t(o.MaxItemsPerWorker)
	co.max_worker_rss = C.uint64_t(o.MaxWorkerRSS)
	if o.ProgressBar {
		co.progress_bar = 1
		if o.ProgressLabel != "" {
			co.progress_label = C.CString(o.ProgressLabel) // copied by the setter
			defer C.free(unsafe.Pointer(co.progress_label))
		}
	}
	errbuf := (*C.char)(C.malloc(C.PMGO_ERR_LEN))
	if errbuf == nil {
		return cOptions{}, &Error{Op: "parmapper", Status: ErrNoMemory, Index: -1}
	}
	var opts *C.pm_options
	if rc := C.pmgo_options_build(&opts, &co, errbuf); rc != C.PM_OK {
		err := &Error{Op: "pm_options", Status: Status(rc), Index: -1,
			Message: C.GoString(errbuf)}
		C.free(unsafe.Pointer(errbuf))
		return cOptions{}, err
	}
	return cOptions{opts: opts, errbuf: errbuf}, nil
}

// release frees the options; the error buffer stays for the caller to free.
func (c cOptions) release() { C.pm_options_destroy(c.opts) }

func (o *Options) pollMs() C.int {
	if o == nil || o.PollInterval == 0 {
		return 50
	}
	ms := o.PollInterval / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return C.int(ms)
}
