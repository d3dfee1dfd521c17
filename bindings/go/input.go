package parmapper

/*
#include <stdlib.h>
#include <string.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"
)

// Input is where a map's items come from: Items, Records, Generator or
// Channel. Items and Records are copied into C memory when the map starts
// (the C API keeps an array input's pointer until the map is destroyed,
// which cgo forbids for Go memory), so the caller may reuse its slices at
// once. Generator and Channel are read by the library's feeder thread, a
// batch of items at a time, as the map needs them.
type Input struct {
	kind  inputKind
	items [][]byte
	data  []byte
	size  int
	next  func() ([]byte, error)
	ch    <-chan []byte
}

type inputKind int

const (
	inputItems inputKind = iota
	inputRecords
	inputGenerator
	inputChannel
)

// Items is an input of variable-size items.
func Items(items [][]byte) Input { return Input{kind: inputItems, items: items} }

// Records is an input of fixed-size records: data cut into len(data)/size
// items of size bytes each (len(data) must be a multiple of size).
func Records(data []byte, size int) Input {
	return Input{kind: inputRecords, data: data, size: size}
}

// Generator is an input read by calling next until it returns io.EOF. Any
// other error ends the map with ErrInput and the error's text. next runs on
// the library's feeder thread (in the stepping goroutine's thread when the
// map runs in-process), one call at a time, a few items ahead of the
// workers; it must return in reasonable time, since stopping the map waits
// for a call in progress. A panic in next ends the map with ErrInput.
func Generator(next func() ([]byte, error)) Input {
	return Input{kind: inputGenerator, next: next}
}

// Channel is an input read from ch until it is closed. A receive that is
// waiting gives up when the map's context is done or the stream is closed.
func Channel(ch <-chan []byte) Input { return Input{kind: inputChannel, ch: ch} }

// cInput is a built pm_input and what must outlive the map that consumes it.
type cInput struct {
	in     *C.pm_input
	keep   unsafe.Pointer // the items' bytes (C memory), freed after the map
	puller *puller        // a Generator's or Channel's state, or nil
	count  int64          // number of items, -1 when unknown
}

// build makes the C input. On failure nothing is left to free.
func (in Input) build(ctx context.Context) (cInput, error) {
	var err [C.PMGO_ERR_LEN]C.char
	switch in.kind {
	case inputItems:
		total := 0
		for _, it := range in.items {
			total += len(it)
		}
		data := cAlloc(total)
		if data == nil {
			return cInput{}, &Error{Op: "parmapper", Status: ErrNoMemory, Index: -1,
				Message: fmt.Sprintf("cannot allocate %d bytes for the items", total)}
		}
		lens := make([]C.size_t, len(in.items)+1) // +1: never a nil table
		dst := unsafe.Slice((*byte)(data), total)
		off := 0
		for i, it := range in.items {
			off += copy(dst[off:], it)
			lens[i] = C.size_t(len(it))
		}
		var ci *C.pm_input
		if rc := C.pmgo_input_packed(&ci, data, &lens[0], C.size_t(len(in.items)), &err[0]); rc != C.PM_OK {
			C.free(data)
			return cInput{}, &Error{Op: "pm_input_create_records", Status: Status(rc), Index: -1,
				Message: C.GoString(&err[0])}
		}
		return cInput{in: ci, keep: data, count: int64(len(in.items))}, nil
	case inputRecords:
		if in.size <= 0 || len(in.data)%in.size != 0 {
			return cInput{}, invalid("Records: %d bytes are not a whole number of %d-byte records",
				len(in.data), in.size)
		}
		data := cAlloc(len(in.data))
		if data == nil {
			return cInput{}, &Error{Op: "parmapper", Status: ErrNoMemory, Index: -1,
				Message: fmt.Sprintf("cannot allocate %d bytes for the records", len(in.data))}
		}
		copy(unsafe.Slice((*byte)(data), len(in.data)), in.data)
		n := len(in.data) / in.size
		var ci *C.pm_input
		if rc := C.pmgo_input_array(&ci, data, C.size_t(in.size), C.size_t(n), &err[0]); rc != C.PM_OK {
			C.free(data)
			return cInput{}, &Error{Op: "pm_input_create_array", Status: Status(rc), Index: -1,
				Message: C.GoString(&err[0])}
		}
		return cInput{in: ci, keep: data, count: int64(n)}, nil
	case inputGenerator, inputChannel:
		if in.kind == inputGenerator && in.next == nil {
			return cInput{}, invalid("Generator: next is nil")
		}
		if in.kind == inputChannel && in.ch == nil {
			return cInput{}, invalid("Channel: the channel is nil")
		}
		p := &puller{next: in.next, ch: in.ch, ctx: ctx, stop: make(chan struct{})}
		h := cgo.NewHandle(p)
		var ci *C.pm_input
		// The handle is deleted by pmgoRelease, which the library runs once
		// when the input goes, also when this call fails.
		if rc := C.pmgo_input_pull(&ci, C.uintptr_t(h), &err[0]); rc != C.PM_OK {
			return cInput{}, &Error{Op: "pm_input_create_pull", Status: Status(rc), Index: -1,
				Message: C.GoString(&err[0])}
		}
		return cInput{in: ci, puller: p, count: -1}, nil
	}
	return cInput{}, invalid("unknown input kind")
}

// cAlloc allocates at least one byte of C memory, so that an input of empty
// items still has a base address.
func cAlloc(n int) unsafe.Pointer {
	if n < 1 {
		n = 1
	}
	return C.malloc(C.size_t(n))
}

// puller is a Generator's or Channel's state, reached from the feeder
// thread through a cgo.Handle. The feeder makes one call at a time, so the
// buffers need no lock.
type puller struct {
	next func() ([]byte, error)
	ch   <-chan []byte
	ctx  context.Context
	stop chan struct{} // closed by Stream.Close before the map is destroyed
	buf  []byte
	lens []C.size_t
}

// Limits of one pull call: keep a call short and its copy small.
const (
	pullMaxItems = 256
	pullMaxBytes = 4 << 20
)

var errStopped = errors.New("the map was stopped while the input was waiting")

// get returns the next item; block says whether a Channel may wait for one.
// io.EOF: the input is over; errWouldBlock: nothing ready without waiting.
func (p *puller) get(block bool) ([]byte, error) {
	if p.next != nil {
		return p.next()
	}
	if !block {
		select {
		case v, ok := <-p.ch:
			if !ok {
				return nil, io.EOF
			}
			return v, nil
		default:
			return nil, errWouldBlock
		}
	}
	select {
	case v, ok := <-p.ch:
		if !ok {
			return nil, io.EOF
		}
		return v, nil
	case <-p.stop:
		return nil, errStopped
	case <-p.ctx.Done():
		return nil, p.ctx.Err()
	}
}

var errWouldBlock = errors.New("no item ready")

// safeGet is get with a panic turned into an error: a panic must not
// unwind through the library's C frames, and the items read before it
// still go to the map.
func (p *puller) safeGet(block bool) (item []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			item, err = nil, fmt.Errorf("the input panicked: %v", r)
		}
	}()
	return p.get(block)
}

//export pmgoPull
func pmgoPull(h C.uintptr_t, feed *C.pm_feed) (rc C.int) {
	p := cgo.Handle(h).Value().(*puller)
	p.buf = p.buf[:0]
	p.lens = p.lens[:0]
	want := int(C.pm_feed_wanted(feed))
	if want < 1 {
		want = 1
	}
	if want > pullMaxItems {
		want = pullMaxItems
	}
	var end error
	for len(p.lens) < want && len(p.buf) < pullMaxBytes {
		// A Channel waits for the first item only: the ones after it are
		// taken if they are there, so that an item is never held back
		// waiting for the next.
		item, err := p.safeGet(len(p.lens) == 0)
		if err == errWouldBlock {
			break
		}
		if err != nil {
			end = err
			break
		}
		p.buf = append(p.buf, item...)
		p.lens = append(p.lens, C.size_t(len(item)))
	}
	if len(p.lens) > 0 {
		var data unsafe.Pointer
		if len(p.buf) > 0 {
			data = unsafe.Pointer(&p.buf[0])
		}
		var err [C.PMGO_ERR_LEN]C.char
		// Go memory, read (copied) only during the call.
		if prc := C.pmgo_feed_push_packed(feed, data, &p.lens[0], C.size_t(len(p.lens)), &err[0]); prc != C.PM_OK {
			return p.fail(feed, "pm_feed_push_packed: "+C.GoString(&err[0]))
		}
	}
	switch {
	case end == nil:
		return C.PM_OK
	case end == io.EOF:
		return C.PM_DONE
	default:
		return p.fail(feed, end.Error())
	}
}

func (p *puller) fail(feed *C.pm_feed, message string) C.int {
	cm := C.CString(message)
	C.pm_feed_set_error(feed, cm) // copied
	C.free(unsafe.Pointer(cm))
	return C.PM_EINPUT
}

//export pmgoRelease
func pmgoRelease(h C.uintptr_t) {
	cgo.Handle(h).Delete()
}
