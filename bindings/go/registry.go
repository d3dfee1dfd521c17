package parmapper

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"unsafe"
)

// A work function is known by name, in the package's registry and in the
// library's (pm_register_work): maps and pools take the name. A worker
// started by exec is a fresh run of the program, which can be told only a
// name, never a pointer, and finds the function its own init() registered.
type workFunc struct {
	fn       unsafe.Pointer // C: pm_work_fn or pm_chunk_fn; nil for a Go function
	chunked  bool
	userData unsafe.Pointer // C memory or NULL, passed as the C function's user_data
	goFn     WorkFunc       // Go: the function; runs only in exec mode (or in-process)
}

func (w workFunc) isGo() bool { return w.goFn != nil }

// WorkFunc is a Go work function: it gets an item's bytes (its own copy,
// which it may keep) and returns the result's bytes, or an error that fails
// the item (an *Error with Status ErrItem and the error's text as Message).
// A panic fails the item the same way, with the Message "panic: " and the
// panic's value, and the goroutine's stack as the Error's Payload.
//
// It runs in a worker process started by exec, a fresh run of the program
// (see Serve), on several threads at once with Options.Threads > 1.
type WorkFunc func(item []byte) ([]byte, error)

var registry = struct {
	sync.RWMutex
	m   map[string]workFunc
	fns []WorkFunc // the Go work functions, by the number the trampoline gets
}{m: map[string]workFunc{}}

// RegisterC makes the C work function fn known as name. fn is a
// pm_work_fn,
//
//	int work(const void *item, size_t len, uint64_t index, pm_sink *out, void *user_data);
//
// written in C in the caller's cgo preamble and passed as
// unsafe.Pointer(C.work). It runs in forked worker processes (in the
// calling process with Processes 1), or, with Options.Start = StartExec,
// in workers started by exec; on several threads at once with Threads > 1;
// it must not call into Go (see the package documentation). userData is
// given to fn as its user_data: C memory (or nil) that stays valid while
// maps use fn, never a Go pointer. A forked worker sees it as it was when
// the workers were forked; a worker started by exec, as its own run of the
// program made it. Call RegisterC in an init function, so that a worker
// started by exec registers the same names. Registering a name twice, an
// empty name, a name the library refuses (1 to 255 printable ASCII bytes,
// no spaces) or a nil fn is an error.
func RegisterC(name string, fn unsafe.Pointer, userData unsafe.Pointer) error {
	return register(name, workFunc{fn: fn, userData: userData})
}

// RegisterCChunk makes the C chunk work function fn known as name: a
// pm_chunk_fn, called once per chunk of items rather than once per item,
//
//	int work(uint64_t first_index, size_t count, const void *const *items,
//	         const size_t *lens, pm_sink *out, void *user_data);
//
// which ends every item with pm_sink_end_item(). Otherwise as RegisterC.
func RegisterCChunk(name string, fn unsafe.Pointer, userData unsafe.Pointer) error {
	return register(name, workFunc{fn: fn, chunked: true, userData: userData})
}

// Register makes the Go work function fn known as name. Call it in an
// init function (or in main before Serve): a worker is a fresh run of the
// program and finds fn only if its own run registered it under the same
// name before Serve. Maps over fn start their workers by exec (see
// Options.Start); StartFork is refused. Errors as RegisterC's.
func Register(name string, fn WorkFunc) error {
	if fn == nil {
		return fmt.Errorf("parmapper: work function %q is nil", name)
	}
	return register(name, workFunc{goFn: fn})
}

// MustRegister is Register that panics on error, for init functions.
func MustRegister(name string, fn WorkFunc) {
	if err := Register(name, fn); err != nil {
		panic(err)
	}
}

func register(name string, w workFunc) error {
	if name == "" {
		return fmt.Errorf("parmapper: a work function needs a name")
	}
	if w.fn == nil && w.goFn == nil {
		return fmt.Errorf("parmapper: work function %q is nil", name)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		return fmt.Errorf("parmapper: work function %q is already registered", name)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	errbuf := (*C.char)(C.malloc(C.PMGO_ERR_LEN))
	if errbuf == nil {
		return &Error{Op: "pm_register_work", Status: ErrNoMemory, Index: -1}
	}
	defer C.free(unsafe.Pointer(errbuf))
	var rc C.int
	if w.isGo() {
		rc = C.pmgo_register_go(cname, C.uintptr_t(len(registry.fns)), errbuf)
	} else {
		chunked := C.int(0)
		if w.chunked {
			chunked = 1
		}
		rc = C.pmgo_register_c(cname, w.fn, chunked, w.userData, errbuf)
	}
	if rc != C.PM_OK {
		return &Error{Op: "pm_register_work", Status: Status(rc), Index: -1,
			Message: C.GoString(errbuf)}
	}
	if w.isGo() {
		registry.fns = append(registry.fns, w.goFn)
	}
	registry.m[name] = w
	return nil
}

// Registered lists the names of the registered work functions, sorted.
func Registered() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookup(name string) (workFunc, error) {
	registry.RLock()
	w, ok := registry.m[name]
	registry.RUnlock()
	if !ok {
		return w, &Error{Op: "parmapper", Status: ErrInvalid, Index: -1,
			Message: fmt.Sprintf("no work function is registered as %q", name)}
	}
	return w, nil
}

// pmgoWork runs the Go work function number id on one item, for the C
// trampoline go_work: in a worker started by exec, on one of the library's
// threads (or on the thread in Serve), or in the calling process for an
// in-process map.
//
//export pmgoWork
func pmgoWork(id C.uintptr_t, item unsafe.Pointer, n C.size_t, index C.uint64_t, out *C.pm_sink) (rc C.int) {
	registry.RLock()
	var fn WorkFunc
	if int(id) < len(registry.fns) {
		fn = registry.fns[id]
	}
	registry.RUnlock()
	if fn == nil {
		return failItem(out, fmt.Sprintf("parmapper: no Go work function number %d", id), nil)
	}
	in := C.GoBytes(item, C.int(n)) // the item's own copy: the C bytes die with the call
	defer func() {
		if r := recover(); r != nil {
			rc = failItem(out, fmt.Sprintf("panic: %v", r), debug.Stack())
		}
	}()
	res, err := fn(in)
	if err != nil {
		return failItem(out, err.Error(), nil)
	}
	var p unsafe.Pointer
	if len(res) > 0 {
		p = unsafe.Pointer(&res[0])
	}
	// The bytes are copied by the call, and hold no Go pointer.
	if C.pm_sink_write(out, p, C.size_t(len(res))) != C.PM_OK {
		return failItem(out, "parmapper: the result could not be written", nil)
	}
	return 0
}

func failItem(out *C.pm_sink, msg string, payload []byte) C.int {
	cmsg := C.CString(msg)
	C.pm_sink_set_error(out, cmsg)
	C.free(unsafe.Pointer(cmsg))
	if len(payload) > 0 {
		C.pm_sink_set_error_payload(out, unsafe.Pointer(&payload[0]), C.size_t(len(payload)))
	}
	return 1
}
