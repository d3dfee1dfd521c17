package parmapper_test

import (
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func mathFloat64bits(f float64) uint64     { return math.Float64bits(f) }
func mathFloat64frombits(b uint64) float64 { return math.Float64frombits(b) }

// waitForPid reads the pid a worker wrote to path.
func waitForPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pidfile %q: %v", b, err)
			}
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// unsafePointerOf is some non-nil pointer, for registrations that must be
// refused before it is ever called.
func unsafePointerOf(t *testing.T) unsafe.Pointer { return unsafe.Pointer(t) }

func numGoroutines() int { return runtime.NumGoroutine() }
