package parmapper_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"parmapper"
	"parmapper/cwork"
)

// Many goroutines run maps at once, and each failure they get is their own:
// creating calls that fail (in the library and in its options), pool maps
// refused, and items that fail with a message no other map has. Under
// GOMAXPROCS 2 the goroutines move between OS threads all the time, which
// is what mixed the messages of the per-thread pm_last_error() up.
func TestManyMapsFromManyGoroutinesKeepTheirOwnErrors(t *testing.T) {
	clean(t)
	const goroutines, maps = 8, 24
	var wg sync.WaitGroup
	errs := make(chan string, goroutines*maps)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// An in-process pool: a refused second map costs no fork.
			pool, err := parmapper.NewPool(cwork.Command, &parmapper.Options{Processes: 1})
			if err != nil {
				errs <- err.Error()
				return
			}
			defer pool.Close()
			for m := 0; m < maps; m++ {
				if msg := oneMap(pool, g, m); msg != "" {
					errs <- fmt.Sprintf("goroutine %d, map %d: %s", g, m, msg)
				}
				runtime.Gosched()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	var all []string
	for e := range errs {
		all = append(all, e)
	}
	if len(all) > 0 {
		t.Fatalf("%d wrong outcomes, e.g.:\n%s", len(all), strings.Join(all[:min(len(all), 10)], "\n"))
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// oneMap runs map m of goroutine g, of the kind m says, and tells what was
// wrong with its outcome ("" if nothing).
func oneMap(pool *parmapper.Pool, g, m int) string {
	ctx := context.Background()
	own := fmt.Sprintf("goroutine %d map %d", g, m)
	check := func(err error, status parmapper.Status, index int64, message string) string {
		e, ok := err.(*parmapper.Error)
		if !ok {
			return fmt.Sprintf("want an *Error, got %v", err)
		}
		if e.Status != status || e.Index != index || e.Message != message {
			return fmt.Sprintf("got (%d, %d, %q), want (%d, %d, %q)",
				e.Status, e.Index, e.Message, status, index, message)
		}
		return ""
	}
	switch m % 6 {
	case 0: // an item fails, in a forked map, with a message of its own
		k := m % 5
		items := commands("ok:a", "ok:b", "ok:c", "ok:d", "ok:e")
		items[k] = []byte("fail:" + own)
		_, err := parmapper.Map(ctx, cwork.Command, items, &parmapper.Options{Processes: 2})
		return check(err, parmapper.ErrItem, int64(k), own)
	case 1: // a setter refuses a value
		_, err := parmapper.Map(ctx, cwork.Command, commands("ok:a"), &parmapper.Options{Threads: 2000})
		return check(err, parmapper.ErrInvalid, -1, "pm_options_set_threads: need 1 to PM_MAX_THREADS threads")
	case 2: // a pool refuses a second map
		s, err := pool.Start(ctx, parmapper.Items(commands("ok:a")), nil)
		if err != nil {
			return err.Error()
		}
		defer s.Close()
		_, err = pool.Map(ctx, commands("ok:b"), nil)
		return check(err, parmapper.ErrState, -1, "pm_pool_map: another map of this pool is still alive")
	case 3: // an in-process item failure, in return mode, two of them
		items := commands("ok:a", "fail:"+own+" first", "ok:c", "fail:"+own+" second")
		_, err := pool.Map(ctx, items, &parmapper.Options{Errors: parmapper.Return})
		fails, ok := err.(parmapper.ItemErrors)
		if !ok || len(fails) != 2 {
			return fmt.Sprintf("want 2 ItemErrors, got %v", err)
		}
		if msg := check(fails[0], parmapper.ErrItem, 1, own+" first"); msg != "" {
			return msg
		}
		return check(fails[1], parmapper.ErrItem, 3, own+" second")
	case 4: // another setter
		_, err := parmapper.Map(ctx, cwork.Command, commands("ok:a"), &parmapper.Options{Processes: 1025})
		return check(err, parmapper.ErrInvalid, -1, "pm_options_set_processes: more than PM_MAX_PROCESSES")
	default: // a map that works
		got, err := parmapper.Map(ctx, cwork.Command, commands("ok:"+own), &parmapper.Options{Processes: 2})
		if err != nil || len(got) != 1 || string(got[0]) != own {
			return fmt.Sprintf("got %q, %v", got, err)
		}
		return ""
	}
}

// Thousands of failing calls from goroutines that each fail in their own
// way (a setter, or a pool that refuses a second map: the options' error
// buffer), parked and woken between calls so that they keep changing OS
// threads: every message must be the goroutine's own.
func TestFailingCallsFromManyGoroutinesGetTheirOwnMessage(t *testing.T) {
	clean(t)
	setter := func(opts *parmapper.Options) func(*parmapper.Pool) error {
		return func(*parmapper.Pool) error {
			_, err := parmapper.Start(context.Background(), cwork.FNV, parmapper.Items(nil), opts)
			return err
		}
	}
	busyPool := func(p *parmapper.Pool) error {
		_, err := p.Start(context.Background(), parmapper.Items(nil), nil)
		return err
	}
	kinds := []struct {
		call func(*parmapper.Pool) error
		msg  string
	}{
		{setter(&parmapper.Options{Threads: 2000}), "pm_options_set_threads: need 1 to PM_MAX_THREADS threads"},
		{setter(&parmapper.Options{Processes: 1025}), "pm_options_set_processes: more than PM_MAX_PROCESSES"},
		{setter(&parmapper.Options{Retries: 1001}), "pm_options_set_retries: more than 1000"},
		{setter(&parmapper.Options{Errors: 9}), "pm_options_set_error_mode: unknown mode"},
		{setter(&parmapper.Options{ChunkSize: 1<<24 + 1}), "pm_options_set_chunk_size: more than PM_MAX_CHUNK_SIZE"},
		{setter(&parmapper.Options{MaxInFlight: 1<<30 + 1}), "pm_options_set_max_in_flight: more than PM_MAX_IN_FLIGHT"},
		{busyPool, "pm_pool_map: another map of this pool is still alive"},
	}
	const perGoroutine = 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	var example string
	ping := make(chan struct{})
	for g := 0; g < 2*len(kinds); g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			k := kinds[g%len(kinds)]
			// An in-process pool with a map open: every further map is refused.
			pool, err := parmapper.NewPool(cwork.FNV, &parmapper.Options{Processes: 1})
			if err != nil {
				t.Error(err)
				return
			}
			defer pool.Close()
			open, err := pool.Start(context.Background(), parmapper.Items(nil), nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer open.Close()
			for i := 0; i < perGoroutine; i++ {
				err := k.call(pool)
				e, ok := err.(*parmapper.Error)
				if !ok || e.Message != k.msg {
					mu.Lock()
					wrong++
					example = fmt.Sprintf("got %v, want %q", err, k.msg)
					mu.Unlock()
				}
				// Park and wake: the goroutine goes on on whichever thread
				// takes it.
				select {
				case ping <- struct{}{}:
				case <-ping:
				default:
					runtime.Gosched()
				}
			}
		}(g)
	}
	wg.Wait()
	if wrong > 0 {
		t.Fatalf("%d of %d messages were not the call's own, e.g. %s",
			wrong, 2*len(kinds)*perGoroutine, example)
	}
}
