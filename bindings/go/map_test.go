package parmapper_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"parmapper"
	"parmapper/cwork"
)

// inputs builds each kind of input over the same items.
var inputs = map[string]func(items [][]byte) parmapper.Input{
	"Items": parmapper.Items,
	"Generator": func(items [][]byte) parmapper.Input {
		i := 0
		return parmapper.Generator(func() ([]byte, error) {
			if i == len(items) {
				return nil, io.EOF
			}
			i++
			return items[i-1], nil
		})
	},
	"Channel": func(items [][]byte) parmapper.Input {
		ch := make(chan []byte, 16)
		go func() {
			for _, it := range items {
				ch <- it
			}
			close(ch)
		}()
		return parmapper.Channel(ch)
	},
}

// Every mode gives the serial computation's results: input kinds, item and
// chunk work functions, processes, threads, order and chunk sizes.
func TestMapMatchesSerialComputation(t *testing.T) {
	clean(t)
	items := randomItems(300, 40, 1)
	want := make([][]byte, len(items))
	for i, it := range items {
		want[i] = fnvLE(it, i)
	}
	for _, input := range []string{"Items", "Generator", "Channel"} {
		for _, work := range []string{cwork.FNV, cwork.FNVChunk} {
			for _, procs := range []int{1, 2, 3} {
				for _, threads := range []int{1, 2} {
					for _, unordered := range []bool{false, true} {
						for _, chunk := range []int{0, 1, 7, 1000} {
							if threads == 2 && chunk != 7 {
								continue // threads: one chunk size is enough
							}
							name := fmt.Sprintf("%s/%s/p%d/t%d/unordered=%v/chunk%d",
								input, work, procs, threads, unordered, chunk)
							opts := &parmapper.Options{Processes: procs, Threads: threads,
								Unordered: unordered, ChunkSize: chunk}
							s, err := parmapper.Start(context.Background(), work,
								inputs[input](items), opts)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							seen := make([]bool, len(items))
							next := int64(0)
							for s.Next() {
								r := s.Result()
								if r.Err != nil {
									t.Fatalf("%s: item %d: %v", name, r.Index, r.Err)
								}
								if !unordered && r.Index != next {
									t.Fatalf("%s: result %d is item %d", name, next, r.Index)
								}
								if seen[r.Index] {
									t.Fatalf("%s: item %d twice", name, r.Index)
								}
								seen[r.Index] = true
								next++
								if !bytes.Equal(r.Data, want[r.Index]) {
									t.Fatalf("%s: item %d: got %x, want %x", name, r.Index, r.Data, want[r.Index])
								}
							}
							if err := s.Err(); err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							s.Close()
							if next != int64(len(items)) {
								t.Fatalf("%s: %d results for %d items", name, next, len(items))
							}
						}
					}
				}
			}
		}
	}
}

func TestMapReturnsResultsByIndexInEveryOrder(t *testing.T) {
	clean(t)
	items := randomItems(1000, 20, 2)
	for _, unordered := range []bool{false, true} {
		got, err := parmapper.Map(context.Background(), cwork.FNV, items,
			&parmapper.Options{Processes: 2, Unordered: unordered, ChunkSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(items) {
			t.Fatalf("%d results for %d items", len(got), len(items))
		}
		for i := range items {
			if !bytes.Equal(got[i], fnvLE(items[i], i)) {
				t.Fatalf("unordered=%v: item %d: got %x", unordered, i, got[i])
			}
		}
	}
}

func TestRecordsInputCutsFixedSizeRecords(t *testing.T) {
	clean(t)
	vals := []float64{0, 1.5, -2, 3e10, 0.25}
	data := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(data[8*i:], mathFloat64bits(v))
	}
	s, err := parmapper.Start(context.Background(), cwork.Square,
		parmapper.Records(data, 8), &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data[0] = 0xff // the input was copied: this changes nothing
	n := 0
	for s.Next() {
		r := s.Result()
		got := mathFloat64frombits(binary.LittleEndian.Uint64(r.Data))
		if v := vals[r.Index]; got != v*v {
			t.Errorf("item %d: %v squared is %v", r.Index, v, got)
		}
		n++
	}
	if err := s.Err(); err != nil || n != len(vals) {
		t.Fatalf("%d results, %v", n, err)
	}
	if _, err := parmapper.Start(context.Background(), cwork.Square,
		parmapper.Records(data[:9], 8), nil); !errors.Is(err, parmapper.ErrInvalid) {
		t.Fatalf("9 bytes of 8-byte records: %v", err)
	}
}

func TestEmptyInputsAndEmptyResults(t *testing.T) {
	clean(t)
	got, err := parmapper.Map(context.Background(), cwork.FNV, nil, &parmapper.Options{Processes: 2})
	if err != nil || len(got) != 0 {
		t.Fatalf("no items: %v, %v", got, err)
	}
	got, err = parmapper.Map(context.Background(), cwork.Command,
		commands("ok:", "ok:x", "ok:"), &parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || len(got[0]) != 0 || string(got[1]) != "x" || got[2] == nil {
		t.Fatalf("results %q", got)
	}
	// Empty items reach the work function as empty items.
	items := [][]byte{{}, nil, {1}}
	got, err = parmapper.Map(context.Background(), cwork.FNV, items, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range items {
		if !bytes.Equal(got[i], fnvLE(items[i], i)) {
			t.Fatalf("item %d: %x", i, got[i])
		}
	}
}

func TestALargeMapStreamsEveryResult(t *testing.T) {
	clean(t)
	const n = 200000
	data := make([]byte, 8*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(i%7))
	}
	s, err := parmapper.Start(context.Background(), cwork.Spin, parmapper.Records(data, 8),
		&parmapper.Options{Processes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	i := 0
	for s.Next() {
		r := s.Result()
		if r.Index != int64(i) || binary.LittleEndian.Uint64(r.Data) != spinOf(uint64(i%7), i) {
			t.Fatalf("result %d: item %d, %x", i, r.Index, r.Data)
		}
		i++
	}
	if s.Err() != nil || i != n {
		t.Fatalf("%d results: %v", i, s.Err())
	}
}

func TestRaiseModeEndsAtTheFirstFailureWithItsMessage(t *testing.T) {
	clean(t)
	items := commands("ok:a", "ok:b", "ok:c", "ok:d", "ok:e", "fail:five is out", "ok:g",
		"fail:seven too", "ok:i")
	for _, procs := range []int{1, 2} {
		s, err := parmapper.Start(context.Background(), cwork.Command, parmapper.Items(items),
			&parmapper.Options{Processes: procs, ChunkSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for s.Next() {
			got = append(got, string(s.Result().Data))
		}
		if strings.Join(got, "") != "abcde" {
			t.Errorf("processes %d: results before the failure %q", procs, got)
		}
		e := asError(t, s.Err())
		if e.Status != parmapper.ErrItem || e.Index != 5 || e.Message != "five is out" ||
			string(e.Payload) != "payload:five is out" {
			t.Errorf("processes %d: %#v", procs, e)
		}
		if !errors.Is(s.Err(), parmapper.ErrItem) || errors.Is(s.Err(), parmapper.ErrWorker) {
			t.Errorf("errors.Is on %v", s.Err())
		}
		if want := "parmapper: item 5: the work function failed an item: five is out"; s.Err().Error() != want {
			t.Errorf("Error() = %q, want %q", s.Err().Error(), want)
		}
		s.Close()
		_, err = parmapper.Map(context.Background(), cwork.Command, items, &parmapper.Options{Processes: procs})
		if e := asError(t, err); e.Index != 5 {
			t.Errorf("Map: %v", err)
		}
	}
}

func TestReturnModeGivesEachFailureInItsPlace(t *testing.T) {
	clean(t)
	for _, procs := range []int{1, 2} {
		items := commands("ok:a", "fail:one", "ok:c", "segv", "fail:four", "ok:f")
		if procs == 1 {
			items[3] = []byte("ok:d") // in-process, a crash would take the test along
		}
		got, err := parmapper.Map(context.Background(), cwork.Command, items,
			&parmapper.Options{Processes: procs, Errors: parmapper.Return, ChunkSize: 2})
		var fails parmapper.ItemErrors
		if !errors.As(err, &fails) {
			t.Fatalf("processes %d: want ItemErrors, got %v", procs, err)
		}
		wantFails := []int64{1, 3, 4}
		if procs == 1 {
			wantFails = []int64{1, 4}
		}
		if len(fails) != len(wantFails) {
			t.Fatalf("processes %d: %v", procs, fails)
		}
		for k, f := range fails {
			if f.Index != wantFails[k] {
				t.Errorf("failure %d is item %d", k, f.Index)
			}
		}
		if fails[0].Message != "one" || string(fails[0].Payload) != "payload:one" {
			t.Errorf("item 1: %#v", fails[0])
		}
		if procs == 2 {
			if fails[1].Status != parmapper.ErrWorker ||
				!strings.Contains(fails[1].Message, "killed by signal 11 (SIGSEGV) while running item 3") {
				t.Errorf("item 3: %#v", fails[1])
			}
			if !errors.Is(err, parmapper.ErrWorker) {
				t.Errorf("errors.Is(ErrWorker) on %v", err)
			}
		}
		for _, i := range []int{0, 2, 5} {
			if want := string(items[i][3:]); string(got[i]) != want {
				t.Errorf("item %d: %q", i, got[i])
			}
		}
		if got[1] != nil || got[4] != nil {
			t.Errorf("failed items have results: %q", got)
		}
	}
}

// A crash in a C work function is reported as its signal, even though the
// Go runtime installed handlers for those signals, with the item's index.
func TestACrashIsReportedWithItsSignalAndIndex(t *testing.T) {
	clean(t)
	cases := []struct{ cmd, want string }{
		{"segv", "killed by signal 11 (SIGSEGV) while running item 3"},
		{"abort", "killed by signal 6 (SIGABRT) while running item 3"},
		{"exit:3", "exited with status 3 while running item 3"},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 0} {
			items := commands("ok:a", "ok:b", "ok:c", c.cmd, "ok:e", "ok:f", "ok:g")
			s, err := parmapper.Start(context.Background(), cwork.Command, parmapper.Items(items),
				&parmapper.Options{Processes: 2, ChunkSize: chunk})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for s.Next() {
				if s.Result().Index != int64(n) {
					t.Errorf("%s: result %d is item %d", c.cmd, n, s.Result().Index)
				}
				n++
			}
			e := asError(t, s.Err())
			s.Close()
			if n != 3 || e.Status != parmapper.ErrWorker || e.Index != 3 ||
				!strings.Contains(e.Message, c.want) {
				t.Errorf("%s, chunk %d: %d results, then %v", c.cmd, chunk, n, e)
			}
		}
	}
}

func TestRetriesRunACrashedItemAgain(t *testing.T) {
	clean(t)
	items := commands("ok:a", "segv", "ok:c")
	_, err := parmapper.Map(context.Background(), cwork.Command, items,
		&parmapper.Options{Processes: 2, ChunkSize: 1, Retries: 2})
	e := asError(t, err)
	if e.Status != parmapper.ErrWorker || e.Index != 1 ||
		!strings.Contains(e.Message, "(item 1 failed 3 attempts)") {
		t.Fatalf("%v", e)
	}
}

func TestAWorkerKilledFromOutsideIsReported(t *testing.T) {
	clean(t)
	pidfile := t.TempDir() + "/pid"
	items := commands("ok:a", "pidfile:"+pidfile, "ok:c", "ok:d")
	s, err := parmapper.Start(context.Background(), cwork.Command, parmapper.Items(items),
		&parmapper.Options{Processes: 2, ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pid := waitForPid(t, pidfile)
	if err := syscallKill(pid); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for s.Next() {
		got = append(got, s.Result().Index)
	}
	e := asError(t, s.Err())
	want := fmt.Sprintf("(pid %d) killed by signal 9 (SIGKILL) while running item 1", pid)
	if len(got) != 1 || e.Status != parmapper.ErrWorker || e.Index != 1 || !strings.Contains(e.Message, want) {
		t.Fatalf("results %v, then %v; want %q", got, e, want)
	}
}

func TestAnItemPastTheTimeoutFails(t *testing.T) {
	clean(t)
	items := commands("ok:a", "ok:b", "hang", "ok:d")
	t0 := time.Now()
	_, err := parmapper.Map(context.Background(), cwork.Command, items,
		&parmapper.Options{Processes: 2, ChunkSize: 1, ItemTimeout: 200 * time.Millisecond})
	e := asError(t, err)
	if e.Status != parmapper.ErrTimeout || e.Index != 2 ||
		!strings.Contains(e.Message, "ran past the 200 ms item timeout") {
		t.Fatalf("%v", e)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// A cancelled context stops a map whose work functions never return: the
// call returns within a second, and no process or descriptor is left.
func TestContextCancelStopsStuckWorkFunctions(t *testing.T) {
	clean(t)
	items := commands("hang", "hang", "hang", "hang", "hang", "hang")
	for _, work := range []string{"cancel", "deadline"} {
		ctx, cancel := context.WithCancel(context.Background())
		var cancelled time.Time
		if work == "deadline" {
			ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			cancelled = time.Now().Add(300 * time.Millisecond)
		} else {
			go func() {
				time.Sleep(300 * time.Millisecond)
				cancelled = time.Now()
				cancel()
			}()
		}
		_, err := parmapper.Map(ctx, cwork.Command, items, &parmapper.Options{Processes: 2, ChunkSize: 1})
		returned := time.Now()
		cancel()
		want := context.Canceled
		if work == "deadline" {
			want = context.DeadlineExceeded
		}
		if err != want {
			t.Errorf("%s: err %v, want %v", work, err, want)
		}
		if d := returned.Sub(cancelled); d > time.Second {
			t.Errorf("%s: returned %v after the cancel", work, d)
		}
		if c := children(); c != "" {
			t.Errorf("%s: %s once Map returned", work, c)
		}
	}
	// A context done before the start forks nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := parmapper.Map(ctx, cwork.FNV, [][]byte{{1}}, nil); err != context.Canceled {
		t.Errorf("done before the start: %v", err)
	}
}

// A Channel input that waits for items gives up when the context is done,
// in forked and in in-process maps.
func TestContextCancelStopsAWaitingChannelInput(t *testing.T) {
	clean(t)
	for _, procs := range []int{1, 2} {
		ch := make(chan []byte, 1)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := parmapper.Start(ctx, cwork.Command, parmapper.Channel(ch),
			&parmapper.Options{Processes: procs, ChunkSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		ch <- []byte("ok:first")
		// The library reads a pull input ahead (in-process: before it hands
		// over a result; forked: up to 64 chunks before it sends them), so
		// the first result may wait for more items: the wait is cancelled.
		go func() {
			time.Sleep(100 * time.Millisecond)
			cancel()
		}()
		t0 := time.Now()
		for s.Next() {
			if string(s.Result().Data) != "first" {
				t.Fatalf("processes %d: a result from nowhere: %q", procs, s.Result().Data)
			}
		}
		if s.Err() != context.Canceled || time.Since(t0) > time.Second {
			t.Errorf("processes %d: %v after %v", procs, s.Err(), time.Since(t0))
		}
		s.Close()
	}
}

func TestCloseStopsAMapPartWay(t *testing.T) {
	clean(t)
	items := make([][]byte, 2000)
	for i := range items {
		items[i] = []byte("sleep:5")
	}
	s, err := parmapper.Start(context.Background(), cwork.Command, parmapper.Items(items),
		&parmapper.Options{Processes: 2, ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		if !s.Next() {
			t.Fatal(s.Err())
		}
	}
	t0 := time.Now()
	s.Close()
	s.Close()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if s.Next() || !errors.Is(s.Err(), parmapper.ErrState) {
		t.Errorf("after Close: %v", s.Err())
	}
}

func TestAGeneratorErrorOrPanicEndsTheMap(t *testing.T) {
	clean(t)
	for _, kind := range []string{"error", "panic"} {
		i := 0
		gen := parmapper.Generator(func() ([]byte, error) {
			if i == 5 {
				if kind == "panic" {
					panic("boom")
				}
				return nil, errors.New("disk on fire")
			}
			i++
			return []byte("ok:x"), nil
		})
		s, err := parmapper.Start(context.Background(), cwork.Command, gen, &parmapper.Options{Processes: 2})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for s.Next() {
			n++
		}
		e := asError(t, s.Err())
		want := map[string]string{"error": "disk on fire", "panic": "the input panicked: boom"}[kind]
		if n != 5 || e.Status != parmapper.ErrInput || e.Index != 5 || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %d results, then %v", kind, n, e)
		}
		s.Close()
	}
}

func TestBadArgumentsAreClearErrors(t *testing.T) {
	clean(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		work   string
		opts   *parmapper.Options
		status parmapper.Status
		msg    string
	}{
		{"unknown work", "no.such", nil, parmapper.ErrInvalid, `no work function is registered as "no.such"`},
		{"negative", cwork.FNV, &parmapper.Options{Processes: -1}, parmapper.ErrInvalid, "Processes is negative"},
		{"processes", cwork.FNV, &parmapper.Options{Processes: 5000}, parmapper.ErrInvalid,
			"pm_options_set_processes: more than PM_MAX_PROCESSES"},
		{"threads", cwork.FNV, &parmapper.Options{Threads: 5000}, parmapper.ErrInvalid,
			"pm_options_set_threads: need 1 to PM_MAX_THREADS threads"},
		{"retries", cwork.FNV, &parmapper.Options{Retries: 1001}, parmapper.ErrInvalid,
			"pm_options_set_retries: more than 1000"},
		{"mode", cwork.FNV, &parmapper.Options{Errors: 7}, parmapper.ErrInvalid,
			"pm_options_set_error_mode: unknown mode"},
	}
	for _, c := range cases {
		_, err := parmapper.Map(ctx, c.work, [][]byte{{1}}, c.opts)
		e := asError(t, err)
		if e.Status != c.status || e.Message != c.msg {
			t.Errorf("%s: %v (message %q)", c.name, err, e.Message)
		}
	}
	if err := parmapper.RegisterC(cwork.FNV, unsafePointerOf(t), nil); err == nil ||
		!strings.Contains(err.Error(), "already registered") {
		t.Errorf("a second registration: %v", err)
	}
	if err := parmapper.RegisterC("x", nil, nil); err == nil {
		t.Errorf("a nil function was registered")
	}
	names := strings.Join(parmapper.Registered(), " ")
	if !strings.Contains(names, cwork.FNV) || !strings.Contains(names, cwork.Command) {
		t.Errorf("Registered() = %s", names)
	}
}
