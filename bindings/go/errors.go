package parmapper

/*
#cgo pkg-config: parmapper
#include <parmapper.h>
*/
import "C"

import (
	"fmt"
	"strings"
)

// Status is a libparmapper status code (PM_E* in parmapper.h). The failure
// codes are errors themselves, so that errors.Is(err, parmapper.ErrWorker)
// tells what kind of failure an *Error is.
type Status int

// The failure codes of parmapper.h, with the same values.
const (
	ErrInvalid  Status = C.PM_EINVAL    // an argument is out of range or inconsistent
	ErrNoMemory Status = C.PM_ENOMEM    // memory allocation failed
	ErrState    Status = C.PM_ESTATE    // not allowed now (a pool's map is still open, ...)
	ErrIO       Status = C.PM_EIO       // a worker sent a corrupt frame and was stopped
	ErrWorker   Status = C.PM_EWORKER   // the worker running the item died (crash, kill, exit)
	ErrCanceled Status = C.PM_ECANCELED // the map was cancelled
	ErrInternal Status = C.PM_EINTERNAL // a bug in libparmapper (or in this binding)
	ErrItem     Status = C.PM_EITEM     // the work function failed the item
	ErrInput    Status = C.PM_EINPUT    // the input (a Generator or Channel) failed
	ErrSystem   Status = C.PM_ESYS      // a system call failed (fork, pipe, threads)
	ErrTimeout  Status = C.PM_ETIMEOUT  // the item ran past Options.ItemTimeout
)

// Error is the library's short text for the code (pm_status_str).
func (s Status) Error() string {
	return C.GoString(C.pm_status_str(C.int(s)))
}

// Error is a failure reported by libparmapper: of a call (Op is the C
// function, Index is -1), or of an item (Index is the item's position in
// the input). Message is the library's detail, read from the failing call or
// from the map's own handle, never from another goroutine's call.
type Error struct {
	Op      string // "pm_map_create", "pm_pool_map", "pm_map_next_batch", ...
	Status  Status // what kind of failure
	Index   int64  // the item's index, or -1 when the failure is not an item's
	Message string // e.g. "worker 1 (pid 4242) killed by signal 11 (SIGSEGV) while running item 7"
	Payload []byte // bytes the work function attached (pm_sink_set_error_payload), or nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("parmapper: ")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "item %d: ", e.Index)
	} else if e.Op != "" && e.Op != "parmapper" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Status.Error())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap gives the Status, for errors.Is.
func (e *Error) Unwrap() error { return e.Status }

// ItemErrors lists the items that failed in a Map with Options.Errors =
// Return, in input order.
type ItemErrors []*Error

func (e ItemErrors) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	return fmt.Sprintf("parmapper: %d items failed; the first: %s", len(e), e[0].Error())
}

// Is reports whether any of the items failed with target, for errors.Is.
func (e ItemErrors) Is(target error) bool {
	for _, x := range e {
		if x.Status == target {
			return true
		}
	}
	return false
}
