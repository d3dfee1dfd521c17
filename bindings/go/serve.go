package parmapper

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// The environment variable in which the library tells a process it starts
// by exec that it is a worker (or a pool's template).
const roleVariable = "PARMAPPER_WORKER"

var served atomic.Bool

// Serve must be the first thing main does (after the init functions,
// where work functions are registered), and the first thing TestMain does
// in a test binary:
//
//	func main() {
//		parmapper.Serve()
//		...
//	}
//
// In a process started as a worker by exec (a fresh run of the program,
// with its arguments, told so by the environment) Serve runs the items the
// map sends with the work function registered under the map's name and
// never returns: the process leaves when the map is done with it. In any
// other process it returns at once, and maps may then start workers by
// exec. A map that needs exec-started workers fails with ErrState when
// Serve was not called; a worker whose program did not call Serve exits
// with status 68 or 69, which the map reports.
func Serve() {
	// Go has its own copy of the environment, which processes started
	// with os/exec get: the role must leave it, and stay in the C one for
	// the library to read (and remove).
	role, isWorker := os.LookupEnv(roleVariable)
	var crole *C.char
	if isWorker {
		os.Unsetenv(roleVariable) // Go's copy and C's
		crole = C.CString(role)
	}
	// The library serves on this thread (and its own ones): it must not
	// change under it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	argv := make([]*C.char, len(os.Args)+1)
	for i, a := range os.Args {
		argv[i] = C.CString(a)
	}
	cargv := (**C.char)(C.malloc(C.size_t(len(argv)) * C.size_t(unsafe.Sizeof(argv[0]))))
	if cargv == nil {
		panic("parmapper: out of memory in Serve")
	}
	copy(unsafe.Slice(cargv, len(argv)), argv)
	served.Store(true)
	// Returns only in a process that is not a worker.
	rc := C.pmgo_worker_serve(C.int(len(os.Args)), cargv, crole)
	for _, a := range argv {
		C.free(unsafe.Pointer(a))
	}
	C.free(unsafe.Pointer(cargv))
	if crole != nil {
		C.free(unsafe.Pointer(crole))
	}
	if rc != 0 {
		panic(fmt.Sprintf("parmapper: pm_worker_serve: %v", Status(rc)))
	}
}
