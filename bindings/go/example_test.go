package parmapper_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"parmapper"
	"parmapper/cwork"
)

// Squares of float64s by the C work function cwork.square, on two worker
// processes.
func ExampleMap() {
	var items [][]byte
	for _, x := range []float64{1, 1.5, 2, 3} {
		item := make([]byte, 8)
		binary.LittleEndian.PutUint64(item, math.Float64bits(x))
		items = append(items, item)
	}
	results, err := parmapper.Map(context.Background(), cwork.Square, items,
		&parmapper.Options{Processes: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Println(math.Float64frombits(binary.LittleEndian.Uint64(r)))
	}
	// Output:
	// 1
	// 2.25
	// 4
	// 9
}

// A crash in a C work function comes back as an error with the item's
// index and its signal.
func ExampleError() {
	items := [][]byte{[]byte("ok:fine"), []byte("segv")}
	_, err := parmapper.Map(context.Background(), cwork.Command, items,
		&parmapper.Options{Processes: 2, ChunkSize: 1})
	var e *parmapper.Error
	if errors.As(err, &e) && errors.Is(err, parmapper.ErrWorker) {
		fmt.Println("item", e.Index, "failed:", e.Status)
	}
	// Output:
	// item 1 failed: a worker process died
}

// A stream of results as they finish, from a channel of items.
func ExampleStart() {
	ch := make(chan []byte)
	go func() {
		for _, w := range []string{"a", "b", "c"} {
			ch <- []byte("ok:" + w + w)
		}
		close(ch)
	}()
	s, err := parmapper.Start(context.Background(), cwork.Command, parmapper.Channel(ch),
		&parmapper.Options{Processes: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	n := 0
	for s.Next() {
		n += len(s.Result().Data)
	}
	fmt.Println(n, "bytes,", s.Err())
	// Output:
	// 6 bytes, <nil>
}

// A Go work function, registered in init under a name: its workers are
// fresh runs of the program (the test binary here, whose TestMain calls
// parmapper.Serve first), which find it by that name.
func init() {
	parmapper.MustRegister("example.reverse", func(item []byte) ([]byte, error) {
		if len(item) == 0 {
			return nil, errors.New("an empty item")
		}
		out := make([]byte, len(item))
		for i, c := range item {
			out[len(item)-1-i] = c
		}
		return out, nil
	})
}

func ExampleRegister() {
	items := [][]byte{[]byte("stressed"), []byte("drawer"), []byte(""), []byte("live")}
	results, err := parmapper.Map(context.Background(), "example.reverse", items,
		&parmapper.Options{Processes: 2, Errors: parmapper.Return})
	for i, r := range results {
		fmt.Printf("%d %q\n", i, r)
	}
	fmt.Println(err)
	// Output:
	// 0 "desserts"
	// 1 "reward"
	// 2 ""
	// 3 "evil"
	// parmapper: item 2: the work function failed an item: an empty item
}
