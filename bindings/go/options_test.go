package parmapper_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"parmapper"
	"parmapper/cwork"
)

func distinctPids(t *testing.T, opts *parmapper.Options, n int) int {
	t.Helper()
	items := make([][]byte, n)
	for i := range items {
		items[i] = []byte("pid")
	}
	got, err := parmapper.Map(context.Background(), cwork.Command, items, opts)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]bool{}
	for _, p := range got {
		pids[string(p)] = true
	}
	return len(pids)
}

func TestRecyclingReplacesWorkers(t *testing.T) {
	clean(t)
	if n := distinctPids(t, &parmapper.Options{Processes: 2, ChunkSize: 1}, 100); n > 2 {
		t.Fatalf("%d workers without recycling", n)
	}
	if n := distinctPids(t, &parmapper.Options{Processes: 2, ChunkSize: 1, MaxItemsPerWorker: 5}, 100); n < 6 {
		t.Fatalf("%d workers for 100 items, recycled every 5", n)
	}
	if n := distinctPids(t, &parmapper.Options{Processes: 1}, 10); n != 1 {
		t.Fatalf("in-process: %d pids", n)
	} else if got, _ := parmapper.Map(context.Background(), cwork.Command, commands("pid"),
		&parmapper.Options{Processes: 1}); string(got[0]) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("in-process pid %s, the test's %d", got[0], os.Getpid())
	}
}

// The progress bar goes to descriptor 2 directly, with its label.
func TestProgressBarWritesItsLabel(t *testing.T) {
	clean(t)
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup2(int(f.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	_, mapErr := parmapper.Map(context.Background(), cwork.FNV, randomItems(50, 4, 5),
		&parmapper.Options{Processes: 2, ProgressBar: true, ProgressLabel: "hashing"})
	syscall.Dup2(saved, 2)
	syscall.Close(saved)
	if mapErr != nil {
		t.Fatal(mapErr)
	}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "hashing") || !strings.Contains(string(out), "50/50") ||
		!strings.Contains(string(out), "done") {
		t.Fatalf("stderr: %q", out)
	}
}
