package parmapper

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"sync"
	"unsafe"
)

// Map runs the work function registered as work over items on worker
// processes (forked, or started by exec: see Options.Start) and returns
// the results, results[i] being item i's, whatever Options.Unordered says. The first failure ends the map and is
// returned as an *Error with the item's index; with Options.Errors =
// Return every item runs, a failed item's result is nil and the error is an
// ItemErrors listing them. When ctx is done the workers are killed and
// ctx.Err() is returned. Nothing of the map (process, descriptor, C memory)
// is left when Map returns.
func Map(ctx context.Context, work string, items [][]byte, opts *Options) ([][]byte, error) {
	s, err := Start(ctx, work, Items(items), opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.collect()
}

// Start starts a map of the work function registered as work over in,
// starting its workers now (unless it runs in-process), and returns the
// Stream of its results. Close the stream when done with it.
func Start(ctx context.Context, work string, in Input, opts *Options) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := lookup(work)
	if err != nil {
		return nil, err
	}
	method, err := opts.startFor(work, w)
	if err != nil {
		return nil, err
	}
	co, err := opts.build(method, &w)
	if err != nil {
		return nil, err
	}
	defer co.release()
	ci, err := in.build(ctx)
	if err != nil {
		C.free(unsafe.Pointer(co.errbuf))
		return nil, err
	}
	cname := C.CString(work)
	defer C.free(unsafe.Pointer(cname))
	var m *C.pm_map
	// The input is consumed whatever happens; the message of a failure is
	// in the options' error buffer, written by this very call.
	if rc := C.pm_map_create_named(&m, co.opts, ci.in, cname); rc != C.PM_OK {
		err := &Error{Op: "pm_map_create_named", Status: Status(rc), Index: -1,
			Message: C.GoString(co.errbuf)}
		C.free(ci.keep)
		C.free(unsafe.Pointer(co.errbuf))
		return nil, err
	}
	return newStream(ctx, m, nil, co.errbuf, ci, opts.pollMs())
}

// Pool is a set of worker processes started once, with one work function,
// that runs several maps one after the other without starting them again. Close
// it when done (with defer).
type Pool struct {
	mu     sync.Mutex // the C API allows one pm_pool_map (or destroy) at a time
	p      *C.pm_pool
	errbuf *C.char
	work   string
	fn     workFunc
}

// NewPool starts the pool's workers now, for the work function registered
// as work. opts gives Processes, Threads, Start (fixed for the pool's
// life), and Errors: Inline for an in-process pool; every map gives its
// other settings. With fork, every map sees memory as it was when the pool
// was created; with exec, as a fresh run of the program made it.
func NewPool(work string, opts *Options) (*Pool, error) {
	w, err := lookup(work)
	if err != nil {
		return nil, err
	}
	method, err := opts.startFor(work, w)
	if err != nil {
		return nil, err
	}
	co, err := opts.build(method, &w)
	if err != nil {
		return nil, err
	}
	defer co.release()
	cname := C.CString(work)
	defer C.free(unsafe.Pointer(cname))
	var p *C.pm_pool
	if rc := C.pm_pool_create_named(&p, co.opts, cname); rc != C.PM_OK {
		err := &Error{Op: "pm_pool_create_named", Status: Status(rc), Index: -1,
			Message: C.GoString(co.errbuf)}
		C.free(unsafe.Pointer(co.errbuf))
		return nil, err
	}
	// The pool keeps its options, error buffer included: it lives as long.
	return &Pool{p: p, errbuf: co.errbuf, work: work, fn: w}, nil
}

// Processes is the number of live worker processes (0 for an in-process
// pool).
func (p *Pool) Processes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p == nil {
		return 0
	}
	return int(C.pm_pool_processes(p.p))
}

// Map is the package's Map on the pool's workers.
func (p *Pool) Map(ctx context.Context, items [][]byte, opts *Options) ([][]byte, error) {
	s, err := p.Start(ctx, Items(items), opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.collect()
}

// Start starts a map over in on the pool's workers, starting none. One
// map at a time: while a Stream of the pool is open, Start returns
// ErrState. opts' Processes and Threads are ignored.
func (p *Pool) Start(ctx context.Context, in Input, opts *Options) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	co, err := opts.build(-1, &p.fn)
	if err != nil {
		return nil, err
	}
	defer co.release()
	ci, err := in.build(ctx)
	if err != nil {
		C.free(unsafe.Pointer(co.errbuf))
		return nil, err
	}
	p.mu.Lock()
	if p.p == nil {
		p.mu.Unlock()
		C.pm_input_destroy(ci.in)
		C.free(ci.keep)
		C.free(unsafe.Pointer(co.errbuf))
		return nil, &Error{Op: "pm_pool_map", Status: ErrState, Index: -1,
			Message: "the pool is closed"}
	}
	var m *C.pm_map
	rc := C.pm_pool_map(&m, p.p, co.opts, ci.in)
	p.mu.Unlock()
	if rc != C.PM_OK {
		err := &Error{Op: "pm_pool_map", Status: Status(rc), Index: -1,
			Message: C.GoString(co.errbuf)}
		C.free(ci.keep)
		C.free(unsafe.Pointer(co.errbuf))
		return nil, err
	}
	return newStream(ctx, m, p, co.errbuf, ci, opts.pollMs())
}

// Close stops the workers (they finish the chunk they run, and are killed
// after a second) and reaps them. A Stream of the pool still open keeps
// working, and the workers stop when it is closed. Safe to call more than
// once.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p == nil {
		return
	}
	C.pm_pool_destroy(p.p)
	p.p = nil
	// pm_pool_map() is always given options of its own here, so nothing
	// reads the pool's error buffer once the pool is gone.
	C.free(unsafe.Pointer(p.errbuf))
}
