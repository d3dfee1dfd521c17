package parmapper

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"sort"
	"unsafe"
)

// Results handed over by one step at most.
const batchMax = 256

// Result is one item's outcome.
type Result struct {
	Index int64  // the item's position in the input, from 0
	Data  []byte // its result bytes (a Go copy); nil when Err is set
	Err   error  // with Errors: Return, the item's *Error; else nil
}

// Stream is a running map: step it with Next and Result, read Err once Next
// returns false, and always Close it (with defer), which stops the workers
// if the map is not over and frees every C resource. A Stream belongs to
// one goroutine at a time.
type Stream struct {
	ctx    context.Context
	m      *C.pm_map
	pool   *Pool // for a pool's map: its lock, held around pm_map_destroy
	errbuf *C.char
	keep   unsafe.Pointer
	puller *puller
	count  int64
	poll   C.int

	// The step's output arrays, in C memory for the life of the map.
	indices  *C.uint64_t
	statuses *C.int
	data     *unsafe.Pointer
	lens     *C.size_t
	steperr  *C.char

	pending []Result
	pos     int
	cur     Result
	err     error
	over    bool
	closed  bool
}

// newStream wraps a created map. Without memory for its step arrays it
// destroys the map and frees what the map would have owned.
func newStream(ctx context.Context, m *C.pm_map, pool *Pool, errbuf *C.char, in cInput,
	poll C.int) (*Stream, error) {
	// One block of C memory for the four arrays (8-byte entries first, the
	// ints after them) and the message buffer.
	block := C.malloc((3*8+4)*batchMax + C.PMGO_ERR_LEN)
	if block == nil {
		if pool != nil {
			pool.mu.Lock()
			defer pool.mu.Unlock()
		}
		C.pm_map_destroy(m)
		C.free(in.keep)
		C.free(unsafe.Pointer(errbuf))
		return nil, &Error{Op: "parmapper", Status: ErrNoMemory, Index: -1,
			Message: "cannot allocate a step's arrays"}
	}
	s := &Stream{ctx: ctx, m: m, pool: pool, errbuf: errbuf, keep: in.keep,
		puller: in.puller, count: in.count, poll: poll}
	s.indices = (*C.uint64_t)(block)
	s.data = (*unsafe.Pointer)(unsafe.Add(block, 8*batchMax))
	s.lens = (*C.size_t)(unsafe.Add(block, 16*batchMax))
	s.statuses = (*C.int)(unsafe.Add(block, 24*batchMax))
	s.steperr = (*C.char)(unsafe.Add(block, 28*batchMax))
	return s, nil
}

// Next advances to the next result, waiting for it; false when the map is
// over (see Err), or when the context is done.
func (s *Stream) Next() bool {
	for s.pos >= len(s.pending) {
		if s.over || s.closed {
			return false
		}
		s.step()
	}
	s.cur = s.pending[s.pos]
	s.pending[s.pos] = Result{}
	s.pos++
	return true
}

// Result is the result Next advanced to.
func (s *Stream) Result() Result { return s.cur }

// Err is why the map ended: nil once every result was delivered; an *Error
// for a failure (in Raise mode the failed item's, with its index); the
// context's error when it was cancelled or its deadline passed.
func (s *Stream) Err() error {
	if s.closed && !s.over && s.err == nil {
		return &Error{Op: "parmapper", Status: ErrState, Index: -1,
			Message: "the stream was closed before the map was over"}
	}
	return s.err
}

// step runs one pm_map_next_batch call, waiting at most the poll interval,
// and queues what it hands over.
func (s *Stream) step() {
	if err := s.ctx.Err(); err != nil {
		s.stop(err)
		return
	}
	var n C.size_t
	rc := C.pmgo_map_next_batch(s.m, batchMax, s.poll, s.indices, s.statuses,
		(*unsafe.Pointer)(unsafe.Pointer(s.data)), s.lens, &n, s.steperr)
	switch rc {
	case C.PM_EAGAIN:
		return
	case C.PM_OK:
		s.take(int(n), int(n))
		return
	case C.PM_DONE:
		s.take(int(n), int(n))
		s.over = true
		return
	}
	// A final failure: its entry is the last; the ones before are results.
	s.over = true
	if n == 0 {
		s.err = &Error{Op: "pm_map_next_batch", Status: Status(rc), Index: -1,
			Message: C.GoString(s.steperr)}
	} else {
		s.take(int(n)-1, int(n))
		s.err = s.entryError(int(n)-1, true)
	}
	// The input gave up because the context is done (a waiting Channel),
	// or the library saw the cancel first: report the context.
	if err := s.ctx.Err(); err != nil && (rc == C.PM_EINPUT || rc == C.PM_ECANCELED) {
		s.err = err
	}
}

// take copies the first k of the n entries of the last step into pending,
// all result bytes into one Go allocation.
func (s *Stream) take(k, n int) {
	idx := unsafe.Slice(s.indices, n)
	st := unsafe.Slice(s.statuses, n)
	data := unsafe.Slice(s.data, n)
	lens := unsafe.Slice(s.lens, n)
	total := 0
	for i := 0; i < k; i++ {
		if st[i] == C.PM_OK {
			total += int(lens[i])
		}
	}
	buf := make([]byte, total)
	s.pending = s.pending[:0]
	s.pos = 0
	off := 0
	for i := 0; i < k; i++ {
		if st[i] != C.PM_OK {
			s.pending = append(s.pending, Result{Index: int64(idx[i]), Err: s.entryError(i, false)})
			continue
		}
		l := int(lens[i])
		if l > 0 {
			copy(buf[off:off+l], unsafe.Slice((*byte)(data[i]), l))
		}
		s.pending = append(s.pending, Result{Index: int64(idx[i]), Data: buf[off : off+l : off+l]})
		off += l
	}
}

// entryError is entry i of the last step as an *Error. final: the entry
// that ended the map, whose index means nothing for some codes.
func (s *Stream) entryError(i int, final bool) *Error {
	st := Status(unsafe.Slice(s.statuses, i+1)[i])
	e := &Error{Op: "pm_map_next_batch", Status: st,
		Index:   int64(unsafe.Slice(s.indices, i+1)[i]),
		Message: C.GoString(C.pm_map_entry_error(s.m, C.size_t(i)))}
	if final {
		switch st {
		case ErrCanceled, ErrSystem, ErrNoMemory, ErrInternal:
			e.Index = -1
		}
	}
	if l := int(unsafe.Slice(s.lens, i+1)[i]); l > 0 {
		e.Payload = C.GoBytes(unsafe.Slice(s.data, i+1)[i], C.int(l))
	}
	return e
}

// stop cancels the map (the workers are killed at once) and ends the stream
// with err.
func (s *Stream) stop(err error) {
	C.pm_map_cancel(s.m)
	s.over = true
	s.err = err
}

// Close stops the map if it is not over (a one-shot map's workers are
// killed and reaped; a pool's finish the chunks they hold, for up to a
// second) and frees everything. No child process or descriptor of the map
// is left when it returns. Safe to call more than once.
func (s *Stream) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.puller != nil {
		close(s.puller.stop) // a Channel receive that waits gives up now
	}
	if !s.over {
		C.pm_map_cancel(s.m)
	}
	if s.pool != nil {
		s.pool.mu.Lock()
	}
	C.pm_map_destroy(s.m)
	if s.pool != nil {
		s.pool.mu.Unlock()
	}
	s.m = nil
	C.free(s.keep)
	C.free(unsafe.Pointer(s.errbuf))
	C.free(unsafe.Pointer(s.indices))
	s.pending = nil
}

// collect drains the stream into a slice indexed by item (the Map
// functions).
func (s *Stream) collect() ([][]byte, error) {
	n := s.count
	out := make([][]byte, n)
	seen := make([]bool, n)
	var failed ItemErrors
	for s.Next() {
		r := s.Result()
		if r.Index < 0 || r.Index >= n || seen[r.Index] {
			s.stop(&Error{Op: "parmapper", Status: ErrInternal, Index: r.Index,
				Message: "a result for an item that is not in the input, or twice"})
			break
		}
		seen[r.Index] = true
		if r.Err != nil {
			failed = append(failed, r.Err.(*Error))
			continue
		}
		out[r.Index] = r.Data
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	for i, ok := range seen {
		if !ok {
			return nil, &Error{Op: "parmapper", Status: ErrInternal, Index: int64(i),
				Message: "the map ended without a result for this item"}
		}
	}
	if len(failed) > 0 {
		sort.Slice(failed, func(a, b int) bool { return failed[a].Index < failed[b].Index })
		return out, failed
	}
	return out, nil
}
