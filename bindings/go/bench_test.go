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

// goFNV is cwork.fnv as a Go work function, for the start-method benchmark.
const goFNV = "gotest.fnv"

func init() {
	// fnvLE needs the index, which a Go work function is not given: the
	// items of the benchmark carry it (they are their index, 8 bytes).
	parmapper.MustRegister(goFNV, func(item []byte) ([]byte, error) {
		return fnvLE(item, int(binary.LittleEndian.Uint64(item))), nil
	})
}

// What each start method costs: a pool of 2 workers started, running one
// item on each, and stopped; 100,000 trivial items (a hash of 8 bytes)
// through a pool already running; the same items through Map, which starts
// its 2 workers each time (and in fork mode sends index ranges, not the
// items' bytes, since its workers have the items already). Fork with the C
// function, exec with the same C function, exec with a Go function
// computing the same hash.
func BenchmarkStartMethods(b *testing.B) {
	kinds := []struct {
		name, work string
		start      parmapper.StartMethod
	}{
		{"fork-C", cwork.FNV, parmapper.StartFork},
		{"exec-C", cwork.FNV, parmapper.StartExec},
		{"exec-Go", goFNV, parmapper.StartExec},
	}
	const n = 100000
	items := make([][]byte, n)
	for i := range items {
		items[i] = binary.LittleEndian.AppendUint64(nil, uint64(i))
	}
	for _, k := range kinds {
		opts := &parmapper.Options{Processes: 2, Start: k.start}
		b.Run("pool-start-stop/"+k.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pool, err := parmapper.NewPool(k.work, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Map(context.Background(), items[:2],
					&parmapper.Options{ChunkSize: 1}); err != nil {
					b.Fatal(err)
				}
				pool.Close()
			}
		})
		b.Run("trivial-items/"+k.name, func(b *testing.B) {
			pool, err := parmapper.NewPool(k.work, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				got, err := pool.Map(context.Background(), items, nil)
				if err != nil || len(got) != n {
					b.Fatal(err)
				}
				if i == 0 && string(got[n-1]) != string(fnvLE(items[n-1], n-1)) {
					b.Fatal("wrong result")
				}
			}
			reportItems(b, n, start)
		})
		b.Run("map-trivial-items/"+k.name, func(b *testing.B) {
			start := time.Now()
			for i := 0; i < b.N; i++ {
				got, err := parmapper.Map(context.Background(), k.work, items, opts)
				if err != nil || len(got) != n {
					b.Fatal(err)
				}
			}
			reportItems(b, n, start)
		})
	}
}
