package parmapper_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"parmapper"
	"parmapper/cwork"
)

// A producer that waits for each result before it gives the next item:
// libparmapper 0.3 sends what a pull callback pushed before calling it
// again, so this no longer deadlocks, whether the input is a Channel or a
// Generator, in-process or on forked or exec-started workers.
func TestProducerWaitingForEachResult(t *testing.T) {
	for _, work := range []string{cwork.Command, goCommand} {
		for _, procs := range []int{1, 2} {
			for _, kind := range []string{"Channel", "Generator"} {
				t.Run(fmt.Sprintf("%s/processes-%d/%s", work, procs, kind), func(t *testing.T) {
					clean(t)
					producerWaitingForEachResult(t, work, procs, kind)
				})
			}
		}
	}
}

func producerWaitingForEachResult(t *testing.T, work string, procs int, kind string) {
	// Generous: the bound is for a deadlock, not for speed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 20
	ack := make(chan struct{}, n)
	var in parmapper.Input
	if kind == "Channel" {
		ch := make(chan []byte)
		go func() {
			defer close(ch)
			for i := 0; i < n; i++ {
				select {
				case ch <- []byte(fmt.Sprintf("ok:%d", i)):
				case <-ctx.Done():
					return
				}
				select { // item i's result first
				case <-ack:
				case <-ctx.Done():
					return
				}
			}
		}()
		in = parmapper.Channel(ch)
	} else {
		i := 0
		in = parmapper.Generator(func() ([]byte, error) {
			if i > 0 {
				select { // item i-1's result first
				case <-ack:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			if i == n {
				return nil, io.EOF
			}
			i++
			return []byte(fmt.Sprintf("ok:%d", i-1)), nil
		})
	}
	s, err := parmapper.Start(ctx, work, in, &parmapper.Options{Processes: procs, ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := 0
	for s.Next() {
		if r := s.Result(); string(r.Data) != fmt.Sprint(r.Index) {
			t.Fatalf("item %d: %q", r.Index, r.Data)
		}
		got++
		ack <- struct{}{}
	}
	if err := s.Err(); err != nil || got != n {
		t.Fatalf("%d results, then %v", got, err)
	}
}
