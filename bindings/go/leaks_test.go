package parmapper_test

import (
	"context"
	"testing"
	"time"

	"parmapper"
	"parmapper/cwork"
)

// Hundreds of maps that end every way a map can end: no descriptor, child
// process or goroutine is left.
func TestManyMapsEndingEveryWayLeaveNothingBehind(t *testing.T) {
	clean(t)
	goroutines := numGoroutines()
	pool, err := parmapper.NewPool(cwork.Command, &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 240; k++ {
		opts := &parmapper.Options{Processes: 2, ChunkSize: 1}
		items := commands("ok:a", "ok:b", "ok:c", "ok:d")
		switch k % 8 {
		case 0: // done
		case 1: // a crash
			items[2] = []byte("segv")
		case 2: // an item failure in return mode
			items[1] = []byte("fail:x")
			opts.Errors = parmapper.Return
		case 3: // cancelled while stuck
			items[0] = []byte("hang")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, err := parmapper.Map(ctx, cwork.Command, items, opts)
			cancel()
			if err != context.DeadlineExceeded {
				t.Fatalf("map %d: %v", k, err)
			}
			continue
		case 4: // closed part-way
			s, err := parmapper.Start(context.Background(), cwork.Command, parmapper.Items(items), opts)
			if err != nil {
				t.Fatal(err)
			}
			s.Next()
			s.Close()
			continue
		case 5: // on the pool, with a crash
			items[3] = []byte("abort")
			if _, err := pool.Map(context.Background(), items, &parmapper.Options{ChunkSize: 1}); err == nil {
				t.Fatalf("map %d: no error", k)
			}
			continue
		case 6: // a channel input, cancelled while it waits
			ch := make(chan []byte)
			ctx, cancel := context.WithCancel(context.Background())
			s, err := parmapper.Start(ctx, cwork.Command, parmapper.Channel(ch), opts)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			for s.Next() {
			}
			s.Close()
			continue
		case 7: // a worker that exits
			items[0] = []byte("exit:0")
		}
		_, err := parmapper.Map(context.Background(), cwork.Command, items, opts)
		if (k%8 == 0) != (err == nil) {
			t.Fatalf("map %d: %v", k, err)
		}
	}
	pool.Close()
	// Goroutines the maps used (a channel's sender here has none) are gone.
	deadline := time.Now().Add(2 * time.Second)
	for numGoroutines() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := numGoroutines(); n > goroutines {
		t.Fatalf("%d goroutines, %d before", n, goroutines)
	}
}
