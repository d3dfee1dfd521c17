// Package cwork registers a few C work functions with parmapper, for
// tests, examples and benchmarks. Importing it (import _ "parmapper/cwork")
// makes these names known:
//
//	cwork.fnv        8 bytes: FNV-1a 64 of the index (8 bytes, little-endian) then the item
//	cwork.fnv_chunk  the same results, as a chunk work function
//	cwork.square     a float64 (8 bytes, little-endian) squared
//	cwork.spin       a uint64 n: n rounds of xorshift64 from index+1 (CPU-bound work)
//	cwork.command    the item is a command: "ok:TEXT", "fail:TEXT", "segv",
//	                 "abort", "exit:N", "sleep:MS", "hang", "pid" (the worker's
//	                 pid), "pidfile:PATH" (write the pid there, then hang)
//
// It is also an example of how a package defines and registers its own C
// work functions.
package cwork

/*
#cgo pkg-config: parmapper
#include <stdlib.h>
#include "cwork.h"
*/
import "C"

import (
	"unsafe"

	"parmapper"
)

// The names registered by this package.
const (
	FNV      = "cwork.fnv"
	FNVChunk = "cwork.fnv_chunk"
	Square   = "cwork.square"
	Spin     = "cwork.spin"
	Command  = "cwork.command"
)

func init() {
	must(parmapper.RegisterC(FNV, unsafe.Pointer(C.cwork_fnv), nil))
	must(parmapper.RegisterCChunk(FNVChunk, unsafe.Pointer(C.cwork_fnv_chunk), nil))
	must(parmapper.RegisterC(Square, unsafe.Pointer(C.cwork_square), nil))
	must(parmapper.RegisterC(Spin, unsafe.Pointer(C.cwork_spin), nil))
	must(parmapper.RegisterC(Command, unsafe.Pointer(C.cwork_command), nil))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// CGetenv is getenv(3): the C environment, which the library reads and
// Go's os.Getenv does not (Go keeps a copy of its own). For the tests.
func CGetenv(name string) string {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if v := C.getenv(cname); v != nil {
		return C.GoString(v)
	}
	return ""
}
