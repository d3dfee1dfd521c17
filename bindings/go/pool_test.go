package parmapper_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"parmapper"
	"parmapper/cwork"
)

func TestAPoolRunsMapsOneAfterAnother(t *testing.T) {
	clean(t)
	pool, err := parmapper.NewPool(cwork.FNV, &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n := pool.Processes(); n != 2 {
		t.Fatalf("%d processes", n)
	}
	for k := 0; k < 5; k++ {
		items := randomItems(100+k*50, 30, int64(10+k))
		got, err := pool.Map(context.Background(), items,
			&parmapper.Options{ChunkSize: k, Unordered: k%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range items {
			if !bytes.Equal(got[i], fnvLE(items[i], i)) {
				t.Fatalf("map %d, item %d: %x", k, i, got[i])
			}
		}
	}
	pool.Close()
	pool.Close()
	if _, err := pool.Map(context.Background(), [][]byte{{1}}, nil); !errors.Is(err, parmapper.ErrState) {
		t.Fatalf("a closed pool: %v", err)
	}
}

func TestAPoolRefusesASecondOpenMap(t *testing.T) {
	clean(t)
	pool, err := parmapper.NewPool(cwork.Command, &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := pool.Start(context.Background(), parmapper.Items(commands("ok:a", "ok:b")), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Start(context.Background(), parmapper.Items(commands("ok:c")), nil)
	e := asError(t, err)
	if e.Status != parmapper.ErrState || e.Op != "pm_pool_map" ||
		e.Message != "pm_pool_map: another map of this pool is still alive" {
		t.Fatalf("%#v", e)
	}
	s.Close()
	got, err := pool.Map(context.Background(), commands("ok:c"), nil)
	if err != nil || string(got[0]) != "c" {
		t.Fatalf("after Close: %q, %v", got, err)
	}
	_, err = pool.Map(context.Background(), commands("ok:c"), &parmapper.Options{Errors: parmapper.Inline})
	if e := asError(t, err); e.Message != "pm_pool_map: PM_ERRORS_INLINE needs a pool created in-process" {
		t.Fatalf("inline on a forked pool: %v", err)
	}
}

// A crash or a cancelled map costs the pool nothing: the next map has every
// worker.
func TestAPoolStaysWholeAfterCrashesAndCancels(t *testing.T) {
	clean(t)
	pool, err := parmapper.NewPool(cwork.Command, &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for k := 0; k < 3; k++ {
		_, err := pool.Map(context.Background(), commands("ok:a", "segv", "ok:c"),
			&parmapper.Options{ChunkSize: 1})
		if e := asError(t, err); e.Index != 1 ||
			!strings.Contains(e.Message, "killed by signal 11 (SIGSEGV) while running item 1") {
			t.Fatalf("crash %d: %v", k, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s, err := pool.Start(ctx, parmapper.Items(commands("hang", "hang")), &parmapper.Options{ChunkSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if s.Next() || s.Err() != context.Canceled {
			t.Fatalf("cancel %d: %v", k, s.Err())
		}
		s.Close()
		got, err := pool.Map(context.Background(), commands("ok:x", "ok:y"), nil)
		if err != nil || string(got[0])+string(got[1]) != "xy" {
			t.Fatalf("after %d: %q, %v", k, got, err)
		}
		if n := pool.Processes(); n != 2 {
			t.Fatalf("after %d: %d processes", k, n)
		}
	}
}

func TestAChunkPoolAndAnInProcessPool(t *testing.T) {
	clean(t)
	items := randomItems(500, 16, 3)
	for _, opts := range []*parmapper.Options{{Processes: 2}, {Processes: 1}, {Processes: 2, Threads: 2}} {
		pool, err := parmapper.NewPool(cwork.FNVChunk, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pool.Map(context.Background(), items, &parmapper.Options{ChunkSize: 9})
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range items {
			if !bytes.Equal(got[i], fnvLE(items[i], i)) {
				t.Fatalf("%+v: item %d: %x", opts, i, got[i])
			}
		}
	}
}
