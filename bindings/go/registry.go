package parmapper

import (
	"fmt"
	"sort"
	"sync"
	"unsafe"
)

// A work function is known by name. Maps and pools take the name, and the
// registry gives the function: today a C function, registered from the cgo
// preamble of the package that defines it; once workers can be started by
// exec (its own issue), a Go function registered the same way, since a
// re-executed worker can find a function only by a name, never by a
// pointer.
type workFunc struct {
	fn       unsafe.Pointer // pm_work_fn or pm_chunk_fn
	chunked  bool
	userData unsafe.Pointer // C memory or NULL, passed as the C function's user_data
}

var registry = struct {
	sync.RWMutex
	m map[string]workFunc
}{m: map[string]workFunc{}}

// RegisterC makes the C work function fn known as name. fn is a
// pm_work_fn,
//
//	int work(const void *item, size_t len, uint64_t index, pm_sink *out, void *user_data);
//
// written in C in the caller's cgo preamble and passed as
// unsafe.Pointer(C.work). It runs in forked worker processes (in the
// calling process with Processes 1), on several threads at once with
// Threads > 1; it must not call into Go (see the package documentation).
// userData is given to fn as its user_data: C memory (or nil) that stays
// valid while maps use fn, never a Go pointer. A worker sees it as it was
// when the workers were forked. Registering a name twice, an empty name or
// a nil fn is an error.
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

func register(name string, w workFunc) error {
	if name == "" {
		return fmt.Errorf("parmapper: a work function needs a name")
	}
	if w.fn == nil {
		return fmt.Errorf("parmapper: work function %q is nil", name)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		return fmt.Errorf("parmapper: work function %q is already registered", name)
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
