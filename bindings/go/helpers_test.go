package parmapper_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"parmapper"
	_ "parmapper/cwork"
)

// TestMain serves items first when the test binary was started as a
// worker by exec (for the Go work functions), and checks, after every
// test, that the whole run left no child process and no descriptor behind.
func TestMain(m *testing.M) {
	parmapper.Serve()
	openFDs() // the runtime's own descriptors (netpoll) open at first use
	before := openFDs()
	code := m.Run()
	if code == 0 {
		if left := leakedFDs(before, openFDs()); left != "" {
			fmt.Fprintf(os.Stderr, "FAIL: descriptors left by the test run: %s\n", left)
			code = 1
		}
		if c := children(); c != "" {
			fmt.Fprintf(os.Stderr, "FAIL: %s after the test run\n", c)
			code = 1
		}
	}
	os.Exit(code)
}

// openFDs maps each open descriptor to what it refers to.
func openFDs() map[string]string {
	dir := "/proc/self/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	fds := map[string]string{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // the descriptor of the listing itself, closed by now
		}
		if strings.HasSuffix(target, "/fd") && strings.HasPrefix(target, "/proc/") {
			continue
		}
		fds[e.Name()] = target
	}
	return fds
}

func leakedFDs(before, after map[string]string) string {
	var left []string
	for fd, target := range after {
		if before[fd] != target {
			left = append(left, fd+" -> "+target)
		}
	}
	sort.Strings(left)
	return strings.Join(left, ", ")
}

// children is "" when the process has no child at all, running or zombie;
// else what it found (a zombie found is reaped).
func children() string {
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
	switch {
	case err == syscall.ECHILD:
		return ""
	case err != nil:
		return "wait4: " + err.Error()
	case pid == 0:
		return "a child process still running"
	default:
		return fmt.Sprintf("an unreaped child (pid %d, status %v)", pid, ws)
	}
}

// clean fails t if it leaves a descriptor or a child process behind.
func clean(t *testing.T) {
	t.Helper()
	before := openFDs()
	t.Cleanup(func() {
		if left := leakedFDs(before, openFDs()); left != "" {
			t.Errorf("descriptors left behind: %s", left)
		}
		if c := children(); c != "" {
			t.Errorf("%s", c)
		}
	})
}

// fnvLE is what cwork.fnv computes, in Go: FNV-1a 64 of the index (8
// bytes, little-endian) then the item, written little-endian.
func fnvLE(item []byte, index int) []byte {
	h := fnv.New64a()
	var idx [8]byte
	binary.LittleEndian.PutUint64(idx[:], uint64(index))
	h.Write(idx[:])
	h.Write(item)
	out := make([]byte, 8)
	binary.LittleEndian.PutUint64(out, h.Sum64())
	return out
}

// spinOf is what cwork.spin computes, in Go: the serial loop.
func spinOf(rounds uint64, index int) uint64 {
	x := uint64(index) + 1
	for k := uint64(0); k < rounds; k++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// randomItems makes n items of 0 to maxLen random bytes.
func randomItems(n, maxLen int, seed int64) [][]byte {
	r := rand.New(rand.NewSource(seed))
	items := make([][]byte, n)
	for i := range items {
		items[i] = make([]byte, r.Intn(maxLen+1))
		r.Read(items[i])
	}
	return items
}

func commands(cmds ...string) [][]byte {
	items := make([][]byte, len(cmds))
	for i, c := range cmds {
		items[i] = []byte(c)
	}
	return items
}

// asError is err as an *parmapper.Error, or fails the test.
func asError(t *testing.T, err error) *parmapper.Error {
	t.Helper()
	var e *parmapper.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *parmapper.Error, got %T: %v", err, err)
	}
	return e
}
