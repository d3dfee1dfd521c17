package parmapper_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"parmapper"
	"parmapper/cwork"
)

// Go work functions, registered in init so that a worker (a fresh run of
// this test binary, whose TestMain calls parmapper.Serve first) has them.
const (
	goAlloc   = "gotest.alloc"
	goCommand = "gotest.command"
)

func init() {
	parmapper.MustRegister(goAlloc, allocWork)
	parmapper.MustRegister(goCommand, commandWork)
}

// allocWork is garbage-heavy work with goroutines: the item is a uint64 n;
// four goroutines each fill a fresh 128 KiB buffer (on the heap: too big
// for the stack) from n and sum it. The
// result is the sum (8 bytes), the worker's pid (8) and its runtime.NumGC
// (8), all little-endian.
func allocWork(item []byte) ([]byte, error) {
	if len(item) != 8 {
		return nil, fmt.Errorf("want 8 bytes, got %d", len(item))
	}
	n := binary.LittleEndian.Uint64(item)
	var wg sync.WaitGroup
	sums := make([]uint64, 4)
	for g := range sums {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]uint64, 16384)
			for i := range buf {
				buf[i] = n + uint64(g)
			}
			for _, v := range buf {
				sums[g] += v
			}
		}(g)
	}
	wg.Wait()
	var ms runtime.MemStats
	if n%500 == 0 {
		runtime.ReadMemStats(&ms) // stops the world now and then
	}
	out := make([]byte, 24)
	binary.LittleEndian.PutUint64(out, sums[0]+sums[1]+sums[2]+sums[3])
	binary.LittleEndian.PutUint64(out[8:], uint64(os.Getpid()))
	binary.LittleEndian.PutUint64(out[16:], uint64(numGC()))
	return out, nil
}

func allocWant(n uint64) uint64 { return 16384 * (4*n + 6) }

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// commandWork is cwork.command in Go: "ok:TEXT", "error:TEXT",
// "panic:TEXT", "nil" (a nil dereference), "exit:N", "pid",
// "pidfile:PATH" (write the pid there, then hang), "hang", "env" (the
// environment a process started by os/exec gets, and the worker's
// PARMAPPER_WORKER as Go and C see it).
func commandWork(item []byte) ([]byte, error) {
	cmd, arg, _ := strings.Cut(string(item), ":")
	switch cmd {
	case "ok":
		return []byte(arg), nil
	case "error":
		return nil, errors.New(arg)
	case "panic":
		panic(arg)
	case "nil":
		var p *[4]int
		return []byte{byte(p[1])}, nil
	case "exit":
		n, _ := strconv.Atoi(arg)
		os.Exit(n)
	case "pid":
		return []byte(strconv.Itoa(os.Getpid())), nil
	case "pidfile":
		if err := os.WriteFile(arg+".tmp", []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(arg+".tmp", arg); err != nil {
			return nil, err
		}
		time.Sleep(time.Hour)
	case "hang":
		time.Sleep(time.Hour)
	case "env":
		out, err := exec.Command("/usr/bin/env").Output()
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf("go=%q c=%q\n%s", os.Getenv("PARMAPPER_WORKER"),
			cwork.CGetenv("PARMAPPER_WORKER"), out)), nil
	}
	return nil, fmt.Errorf("unknown command %q", item)
}

// 10,000 items through a Go work function that allocates enough for
// several garbage collections in every worker and starts goroutines, on 2
// processes of 2 threads each.
func TestGoWorkFunctionGarbageAndGoroutines(t *testing.T) {
	clean(t)
	const n = 10000
	items := make([][]byte, n)
	for i := range items {
		items[i] = binary.LittleEndian.AppendUint64(nil, uint64(i))
	}
	results, err := parmapper.Map(context.Background(), goAlloc, items,
		&parmapper.Options{Processes: 2, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	gcs := map[uint64]uint64{} // pid -> the highest NumGC seen
	for i, r := range results {
		if len(r) != 24 {
			t.Fatalf("item %d: %d bytes", i, len(r))
		}
		if got, want := binary.LittleEndian.Uint64(r), allocWant(uint64(i)); got != want {
			t.Fatalf("item %d: %d, want %d", i, got, want)
		}
		pid, gc := binary.LittleEndian.Uint64(r[8:]), binary.LittleEndian.Uint64(r[16:])
		if old, ok := gcs[pid]; !ok || gc > old {
			gcs[pid] = gc
		}
	}
	if len(gcs) != 2 {
		t.Fatalf("results from %d workers, want 2: %v", len(gcs), gcs)
	}
	for pid, gc := range gcs {
		if int(pid) == os.Getpid() {
			t.Fatalf("an item ran in the calling process")
		}
		if gc < 3 {
			t.Errorf("worker %d: %d garbage collections, want several", pid, gc)
		}
	}
	t.Logf("garbage collections per worker (pid: count): %v", gcs)
}

func TestGoWorkFunctionErrorAndPanicFailTheirItem(t *testing.T) {
	clean(t)
	items := commands("ok:a", "error:bad input", "panic:oh no", "nil", "ok:e")
	results, err := parmapper.Map(context.Background(), goCommand, items,
		&parmapper.Options{Processes: 2, ChunkSize: 1, Errors: parmapper.Return})
	var ie parmapper.ItemErrors
	if !errors.As(err, &ie) || len(ie) != 3 {
		t.Fatalf("want 3 item errors, got %v", err)
	}
	if string(results[0]) != "a" || string(results[4]) != "e" || results[1] != nil {
		t.Fatalf("results %q", results)
	}
	wants := []struct {
		index int64
		msg   string
	}{{1, "bad input"}, {2, "panic: oh no"}, {3, "panic: runtime error: invalid memory address or nil pointer dereference"}}
	for k, w := range wants {
		e := ie[k]
		if e.Status != parmapper.ErrItem || e.Index != w.index || e.Message != w.msg {
			t.Errorf("error %d: %#v, want item %d %q", k, e, w.index, w.msg)
		}
	}
	// A panic's stack comes along, naming the function that panicked.
	if p := string(ie[1].Payload); !strings.Contains(p, "commandWork") {
		t.Errorf("panic payload %q", p)
	}
	// Raise mode: the panic ends the map, with its message.
	_, err = parmapper.Map(context.Background(), goCommand, commands("ok:a", "panic:stop"),
		&parmapper.Options{Processes: 2, ChunkSize: 1})
	if e := asError(t, err); e.Status != parmapper.ErrItem || e.Index != 1 ||
		e.Error() != "parmapper: item 1: "+parmapper.ErrItem.Error()+": panic: stop" {
		t.Fatalf("%v", e)
	}
}

func TestGoWorkFunctionExitIsReported(t *testing.T) {
	clean(t)
	_, err := parmapper.Map(context.Background(), goCommand, commands("ok:a", "exit:3", "ok:c"),
		&parmapper.Options{Processes: 2, ChunkSize: 1})
	e := asError(t, err)
	if e.Status != parmapper.ErrWorker || e.Index != 1 ||
		!strings.Contains(e.Message, "exited with status 3 while running item 1") {
		t.Fatalf("%v", e)
	}
}

func TestGoWorkerKilledFromOutsideIsReported(t *testing.T) {
	clean(t)
	pidfile := t.TempDir() + "/pid"
	items := commands("ok:a", "pidfile:"+pidfile, "ok:c", "ok:d")
	s, err := parmapper.Start(context.Background(), goCommand, parmapper.Items(items),
		&parmapper.Options{Processes: 2, Threads: 2, ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pid := waitForPid(t, pidfile)
	if pid == os.Getpid() {
		t.Fatal("the item ran in the calling process")
	}
	if err := syscallKill(pid); err != nil {
		t.Fatal(err)
	}
	for s.Next() {
	}
	e := asError(t, s.Err())
	want := fmt.Sprintf("(pid %d) killed by signal 9 (SIGKILL) while running item 1", pid)
	if e.Status != parmapper.ErrWorker || e.Index != 1 || !strings.Contains(e.Message, want) {
		t.Fatalf("%v; want %q", e, want)
	}
}

// A cancelled context ends a map whose Go work functions never return.
func TestGoWorkFunctionMapEndsOnCancel(t *testing.T) {
	clean(t)
	pidfile := t.TempDir() + "/pid"
	items := commands("pidfile:"+pidfile, "hang", "hang", "hang", "ok:e")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := parmapper.Map(ctx, goCommand, items,
			&parmapper.Options{Processes: 2, Threads: 2, ChunkSize: 1})
		done <- err
	}()
	waitForPid(t, pidfile) // the workers are up and running items
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("%v, want context.Canceled", err)
		}
	case <-time.After(60 * time.Second): // generous: a hang, not a slow machine
		t.Fatal("the map did not end after its context was cancelled")
	}
}

// A pool of exec-started workers runs several maps of a Go function on
// the same processes.
func TestGoWorkFunctionPool(t *testing.T) {
	clean(t)
	pool, err := parmapper.NewPool(goCommand, &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pids := map[string]bool{}
	for k := 0; k < 5; k++ {
		items := commands("pid", "pid", "pid", "pid", "ok:x")
		results, err := pool.Map(context.Background(), items, &parmapper.Options{ChunkSize: 1})
		if err != nil {
			t.Fatalf("map %d: %v", k, err)
		}
		if string(results[4]) != "x" {
			t.Fatalf("map %d: %q", k, results)
		}
		for _, r := range results[:4] {
			pids[string(r)] = true
		}
	}
	if len(pids) > 2 || pids[strconv.Itoa(os.Getpid())] {
		t.Fatalf("items ran on %v", pids)
	}
	// A panic fails its item, and the pool goes on.
	if _, err := pool.Map(context.Background(), commands("panic:p"), nil); err == nil {
		t.Fatal("no error")
	}
	if r, err := pool.Map(context.Background(), commands("ok:y"), nil); err != nil || string(r[0]) != "y" {
		t.Fatalf("%q %v", r, err)
	}
}

func TestGoWorkFunctionStartMethods(t *testing.T) {
	clean(t)
	// Fork is refused for a Go function, before anything starts.
	_, err := parmapper.Map(context.Background(), goCommand, commands("ok:a"),
		&parmapper.Options{Processes: 2, Start: parmapper.StartFork})
	if e := asError(t, err); e.Status != parmapper.ErrInvalid ||
		!strings.Contains(e.Message, "is a Go function, which runs only in workers started by exec") {
		t.Fatalf("%v", e)
	}
	if _, err := parmapper.NewPool(goCommand, &parmapper.Options{Processes: 2,
		Start: parmapper.StartFork}); !errors.Is(err, parmapper.ErrInvalid) {
		t.Fatalf("%v", err)
	}
	// In-process, a Go function runs in the calling process.
	r, err := parmapper.Map(context.Background(), goCommand, commands("pid", "panic:in"),
		&parmapper.Options{Processes: 1, Errors: parmapper.Return})
	if err == nil || string(r[0]) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("%q %v", r, err)
	}
	// Exec for a C work function too.
	items := randomItems(200, 30, 7)
	res, err := parmapper.Map(context.Background(), cwork.FNV, items,
		&parmapper.Options{Processes: 2, Threads: 2, Start: parmapper.StartExec})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		if string(res[i]) != string(fnvLE(it, i)) {
			t.Fatalf("item %d", i)
		}
	}
	// An exec-started C crash is its signal.
	_, err = parmapper.Map(context.Background(), cwork.Command, commands("ok:a", "segv"),
		&parmapper.Options{Processes: 2, ChunkSize: 1, Start: parmapper.StartExec})
	if e := asError(t, err); !strings.Contains(e.Message, "killed by signal 11 (SIGSEGV) while running item 1") {
		t.Fatalf("%v", e)
	}
	if _, err := parmapper.Map(context.Background(), goCommand, nil,
		&parmapper.Options{Start: 7}); !errors.Is(err, parmapper.ErrInvalid) {
		t.Fatalf("%v", err)
	}
}

// The role the library gives a worker in its environment is gone from both
// Go's copy and C's once the worker serves: a process a work function
// starts is not taken for a worker.
func TestGoWorkerRoleIsNotInherited(t *testing.T) {
	clean(t)
	r, err := parmapper.Map(context.Background(), goCommand, commands("env"),
		&parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	first, env, _ := strings.Cut(string(r[0]), "\n")
	if first != `go="" c=""` || strings.Contains(env, "PARMAPPER_WORKER") || !strings.Contains(env, "PATH=") {
		t.Fatalf("%s", r[0])
	}
}

var lateRuns int

// A Go function registered after the program started (not in init) is
// unknown to the workers, fresh runs of the program: the map says so.
func TestGoWorkFunctionRegisteredLateIsReported(t *testing.T) {
	clean(t)
	lateRuns++ // a name of its own for each run of the test (go test -count)
	late := fmt.Sprintf("gotest.late%d", lateRuns)
	if err := parmapper.Register(late, commandWork); err != nil {
		t.Fatal(err)
	}
	_, err := parmapper.Map(context.Background(), late, commands("ok:a"),
		&parmapper.Options{Processes: 2})
	e := asError(t, err)
	if e.Status != parmapper.ErrWorker || !strings.Contains(e.Message, "exited with status 68") ||
		!strings.Contains(e.Message, "not registered under their name in the worker") {
		t.Fatalf("%v", e)
	}
	// In-process it runs: it is registered here.
	r, err := parmapper.Map(context.Background(), late, commands("ok:a"),
		&parmapper.Options{Processes: 1})
	if err != nil || string(r[0]) != "a" {
		t.Fatalf("%q %v", r, err)
	}
	if err := parmapper.Register(late, commandWork); err == nil {
		t.Fatal("registered twice")
	}
	if err := parmapper.Register("has space", commandWork); !errors.Is(err, parmapper.ErrInvalid) {
		t.Fatalf("%v", err)
	}
}
