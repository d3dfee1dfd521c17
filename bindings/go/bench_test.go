package parmapper_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"parmapper"
	"parmapper/cwork"
)

// spinItems are n items of cwork.spin, rounds rounds each.
func spinItems(n int, rounds uint64) [][]byte {
	items := make([][]byte, n)
	for i := range items {
		items[i] = make([]byte, 8)
		binary.LittleEndian.PutUint64(items[i], rounds)
	}
	return items
}

func reportItems(b *testing.B, items int, start time.Time) {
	b.ReportMetric(float64(items)*float64(b.N)/time.Since(start).Seconds(), "items/s")
}

// CPU-bound items of about 0.1 ms: the serial Go loop, the C function
// through the library in-process (Processes 1, no fork) and on worker
// processes. Every run's results are checked against the serial loop.
func BenchmarkSpin(b *testing.B) {
	const n, rounds = 2000, 60000
	items := spinItems(n, rounds)
	want := make([]uint64, n)
	for i := range want {
		want[i] = spinOf(rounds, i)
	}
	b.Run("serial-go", func(b *testing.B) {
		start := time.Now()
		for k := 0; k < b.N; k++ {
			for i := range items {
				if spinOf(binary.LittleEndian.Uint64(items[i]), i) != want[i] {
					b.Fatal("wrong")
				}
			}
		}
		reportItems(b, n, start)
	})
	for _, procs := range []int{1, 2} {
		b.Run("map-processes-"+string(rune('0'+procs)), func(b *testing.B) {
			start := time.Now()
			for k := 0; k < b.N; k++ {
				got, err := parmapper.Map(context.Background(), cwork.Spin, items,
					&parmapper.Options{Processes: procs})
				if err != nil {
					b.Fatal(err)
				}
				for i := range got {
					if binary.LittleEndian.Uint64(got[i]) != want[i] {
						b.Fatalf("item %d", i)
					}
				}
			}
			reportItems(b, n, start)
		})
	}
}

// Trivial items (a hash of 8 bytes): what the binding and the library cost
// per item, next to the serial Go loop.
func BenchmarkTrivial(b *testing.B) {
	const n = 100000
	items := randomItems(n, 8, 4)
	for i := range items {
		items[i] = append(items[i][:0], make([]byte, 8)...)
		binary.LittleEndian.PutUint64(items[i], uint64(i))
	}
	b.Run("serial-go", func(b *testing.B) {
		start := time.Now()
		for k := 0; k < b.N; k++ {
			for i := range items {
				_ = fnvLE(items[i], i)
			}
		}
		reportItems(b, n, start)
	})
	for _, procs := range []int{1, 2} {
		b.Run("map-processes-"+string(rune('0'+procs)), func(b *testing.B) {
			start := time.Now()
			for k := 0; k < b.N; k++ {
				got, err := parmapper.Map(context.Background(), cwork.FNV, items,
					&parmapper.Options{Processes: procs})
				if err != nil || len(got) != n {
					b.Fatal(err)
				}
			}
			reportItems(b, n, start)
		})
	}
}
