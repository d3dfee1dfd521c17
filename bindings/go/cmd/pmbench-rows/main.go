// Command pmbench-rows is the program behind the "Go binding" rows of
// bench/pmbench (bench/pmbench.c), which runs it once per row and run as
//
//	bindings/go/pmbench-rows WORKLOAD binding key=value...
//
// and reads the one "pmbench-result ..." line it prints (bench/bench.h).
// It runs the same work as bench/work.c through the binding's public API,
// checks every result the way bench/child.c does, and exits 1 with a
// message on stderr when one is wrong or missing. Build it with
// bindings/go/build_bench_rows.sh PREFIX.
//
// The work functions are Go functions registered in init (below), and main
// calls parmapper.Serve first: their workers are started by exec as fresh
// runs of this program with the same arguments, which is why the work's
// parameters (span, rsize, wrong) are read from os.Args at package
// initialisation rather than in main. work=c selects C work functions
// instead (cwork.go, parmapper.RegisterC), whose workers are forked.
//
// The binding API each workload uses (the timed region is around it):
//
//	trivial  parmapper.Start(ctx, name, parmapper.Records(items, 8), &Options{Processes,
//	         ChunkSize, Unordered}), stepped with Stream.Next/Result (which take
//	         up to 256 results per pm_map_next_batch call), then Stream.Close.
//	cpu      the same with the Collatz work, automatic chunk size, ordered.
//	big      the same with rsize-byte results, options: Processes only.
//	start    parmapper.NewPool(name, &Options{Processes: p}), Pool.Processes,
//	         Pool.Close (which reaps the workers).
//	memory   parmapper.Start with parmapper.Generator (a counting closure: the
//	         lazy input), Stream.Next/Result; with n=0 Stream.Close cancels it.
//	sizes    parmapper.Start with parmapper.Items (a [][]byte built beforehand),
//	         Stream.Next/Result, Stream.Close.
//
// Keys: as bench/child.c (n, p, chunk, ordered, span, rsize, mib, cycles,
// stop, size, warm), plus wrong=K (item K's result is made wrong, as in
// bench/child.c; pmbench passes wrong=1) and work=go|c. Unknown keys are
// ignored.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"parmapper"
)

const (
	itemMul    = 0x9e3779b97f4a7c15
	digestInit = 0xcbf29ce484222325
	fnvPrime   = 0x100000001b3
	page       = 4096
)

// The work's parameters, the same in the caller and in every worker (a
// worker is a fresh run of the program with the same arguments).
var params = workParams(os.Args)

type workParamsT struct {
	span  uint64 // cpu: numbers per item (a uint32 in bench/work.c)
	rsize int    // big: bytes per result
	wrong uint64 // the item whose result is made wrong; MaxUint64: none
}

// workParams reads what the work functions need, leniently: main checks
// the arguments strictly, before any worker starts.
func workParams(argv []string) workParamsT {
	p := workParamsT{span: 6000, rsize: 1 << 20, wrong: math.MaxUint64}
	args, _ := parseArgs(argv)
	if v, err := args.u64("span", p.span); err == nil {
		p.span = uint64(uint32(v))
	}
	if v, err := args.u64("rsize", uint64(p.rsize)); err == nil && v <= math.MaxInt32 {
		p.rsize = int(v)
	}
	if v, err := args.u64("wrong", p.wrong); err == nil {
		p.wrong = v
	}
	return p
}

// ---------------------------------------------------------------------------
// The work (bench/work.c), on little-endian u64 words with wrap-around.

func trivial(x uint64) uint64 { return x*2 + 1 }

// cpuWork is the sum of the Collatz stopping times of the span numbers
// after i*span.
func cpuWork(i, span uint64) uint64 {
	var total uint64
	first := i*span + 1
	for n := first; n < first+span; n++ {
		for x := n; x != 1; total++ {
			if x&1 != 0 {
				x = 3*x + 1
			} else {
				x /= 2
			}
		}
	}
	return total
}

// bigFill: every byte (u8)i, then at each page's start the u64 i+page
// number.
func bigFill(buf []byte, i uint64) {
	b := byte(i)
	for k := range buf {
		buf[k] = b
	}
	for off := 0; off+8 <= len(buf); off += page {
		binary.LittleEndian.PutUint64(buf[off:], i+uint64(off/page))
	}
}

// bigCheck is pmb_big_check: the stamps, the middle byte of each page and
// the last byte.
func bigCheck(buf []byte, i uint64) bool {
	b := byte(i)
	for off := 0; off+8 <= len(buf); off += page {
		if binary.LittleEndian.Uint64(buf[off:]) != i+uint64(off/page) {
			return false
		}
		if off+page/2 < len(buf) && buf[off+page/2] != b {
			return false
		}
	}
	n := len(buf)
	return !(n > 8 && buf[n-1] != b && (n-1)%page >= 8)
}

func sizesFill(buf []byte, i uint64) {
	for k := 0; k+8 <= len(buf); k += 8 {
		binary.LittleEndian.PutUint64(buf[k:], i*itemMul+uint64(k/8))
	}
}

func sizesSum(buf []byte) uint64 {
	var s uint64
	for k := 0; k+8 <= len(buf); k += 8 {
		s += binary.LittleEndian.Uint64(buf[k:])
	}
	return s
}

func sizesExpected(size int, i uint64) uint64 {
	w := uint64(size / 8)
	var tri uint64 // w*(w-1)/2 without overflow in the halving
	if w%2 == 0 {
		tri = (w / 2) * (w - 1)
	} else {
		tri = w * ((w - 1) / 2)
	}
	return w*(i*itemMul) + tri
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, v)
	return b
}

// The Go work functions. Items carry their index (a Go work function is
// not given it): the u64 itself, or for sizes the first word, i*itemMul.
func init() {
	parmapper.MustRegister("pmbench.trivial", func(item []byte) ([]byte, error) {
		x := binary.LittleEndian.Uint64(item)
		r := trivial(x)
		if x == params.wrong {
			r ^= 1
		}
		return u64(r), nil
	})
	parmapper.MustRegister("pmbench.cpu", func(item []byte) ([]byte, error) {
		i := binary.LittleEndian.Uint64(item)
		r := cpuWork(i, params.span)
		if i == params.wrong {
			r ^= 1
		}
		return u64(r), nil
	})
	parmapper.MustRegister("pmbench.big", func(item []byte) ([]byte, error) {
		i := binary.LittleEndian.Uint64(item)
		buf := make([]byte, params.rsize)
		bigFill(buf, i)
		if i == params.wrong && len(buf) > 0 {
			buf[0] ^= 1
		}
		return buf, nil
	})
	parmapper.MustRegister("pmbench.sizes", func(item []byte) ([]byte, error) {
		r := sizesSum(item)
		if len(item) >= 8 && binary.LittleEndian.Uint64(item) == params.wrong*itemMul {
			r ^= 1
		}
		return u64(r), nil
	})
}

// ---------------------------------------------------------------------------
// Arguments, measurements, output.

type args map[string]string

func parseArgs(argv []string) (args, error) {
	a := args{}
	if len(argv) < 3 {
		return a, fmt.Errorf("usage: pmbench-rows WORKLOAD binding key=value...")
	}
	for _, kv := range argv[3:] {
		if k, v, ok := strings.Cut(kv, "="); ok {
			a[k] = v
		} else {
			return a, fmt.Errorf("not key=value: %q", kv)
		}
	}
	return a, nil
}

func (a args) u64(key string, def uint64) (uint64, error) {
	v, ok := a[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%s is not a number", key, v)
	}
	return n, nil
}

// A failed run: the message goes to stderr and the program exits 1.
type failure struct{ msg string }

func fail(format string, a ...interface{}) {
	panic(failure{fmt.Sprintf(format, a...)})
}

// statusKiB is a field (VmRSS, VmHWM) of /proc/self/status, in KiB.
func statusKiB(key string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail("cannot read /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, key+":") {
			var v float64
			if _, err := fmt.Sscan(line[len(key)+1:], &v); err == nil {
				return v
			}
		}
	}
	fail("no %s in /proc/self/status", key)
	return 0
}

// resetPeakRSS zeroes VmHWM so that the timed run's peak is its own.
func resetPeakRSS() {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		fmt.Fprintf(os.Stderr, "pmbench (go): cannot reset the peak RSS: %v\n", err)
	}
}

// field is one key=value of the result line, in the order printed.
type field struct {
	key string
	val float64
}

type result struct {
	fields []field
	digest uint64 // 0: none
}

func (r *result) add(key string, v float64) { r.fields = append(r.fields, field{key, v}) }

// The result line; %.9g and %016x as bench_res_print prints them.
func (r *result) line() string {
	var b strings.Builder
	b.WriteString("pmbench-result")
	for _, f := range r.fields {
		fmt.Fprintf(&b, " %s=%s", f.key, cg(f.val))
	}
	if r.digest != 0 {
		fmt.Fprintf(&b, " digest=%016x", r.digest)
	}
	return b.String()
}

// cg is C's %.9g: Go's %.9g is the same (9 significant digits, no
// trailing zeros, an exponent of at least two digits past 1e9).
func cg(v float64) string { return fmt.Sprintf("%.9g", v) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	k := len(s)
	if k%2 == 1 {
		return s[k/2]
	}
	return (s[k/2-1] + s[k/2]) / 2
}

func since(t0 time.Time) float64 { return time.Since(t0).Seconds() }

// ---------------------------------------------------------------------------
// The workloads.

type bench struct {
	workload string
	a        args
	n        uint64
	p        int    // 0: the library's default, one process per online CPU
	work     string // the work functions' name prefix: "pmbench." or "pmbench.c."
}

// indexRecords is items 0..n-1 as little-endian u64 records, for Records.
func indexRecords(n uint64) []byte {
	buf := make([]byte, 8*n)
	for i := uint64(0); i < n; i++ {
		binary.LittleEndian.PutUint64(buf[8*i:], i)
	}
	return buf
}

// value8 is an 8-byte result as a u64.
func value8(what string, r parmapper.Result) uint64 {
	if len(r.Data) != 8 {
		fail("%s: item %d: a result of %d bytes, not 8", what, r.Index, len(r.Data))
	}
	return binary.LittleEndian.Uint64(r.Data)
}

// startMap starts a map, failing the run if it cannot. The caller defers
// Close, so that a failed check stops the workers too.
func (b *bench) startMap(work string, in parmapper.Input, opts *parmapper.Options) *parmapper.Stream {
	s, err := parmapper.Start(context.Background(), b.work+work, in, opts)
	if err != nil {
		fail("%s: %v", b.workload, err)
	}
	return s
}

// end checks that a stream ended well (after its last result) and with
// count results of want.
func (b *bench) end(s *parmapper.Stream, count, want uint64) {
	if err := s.Err(); err != nil {
		fail("%s: %v", b.workload, err)
	}
	if count != want {
		fail("%s: %d results of %d", b.workload, count, want)
	}
}

func (b *bench) trivial(res *result) {
	chunk, err := b.a.u64("chunk", 0)
	check(err)
	ordered, err := b.a.u64("ordered", 1)
	check(err)
	n := b.n
	items := indexRecords(n)
	seen := make([]bool, n)
	rss0 := statusKiB("VmRSS")
	t0 := time.Now()
	s := b.startMap("trivial", parmapper.Records(items, 8), &parmapper.Options{
		Processes: b.p, ChunkSize: int(chunk), Unordered: ordered == 0})
	defer s.Close()
	var count uint64
	for s.Next() {
		r := s.Result()
		i := uint64(r.Index)
		if i >= n || seen[i] || (ordered != 0 && i != count) {
			fail("trivial: item %d out of order, out of range or twice", r.Index)
		}
		seen[i] = true
		if value8("trivial", r) != trivial(i) {
			fail("trivial: wrong result for item %d", i)
		}
		count++
	}
	s.Close()
	t := since(t0)
	b.end(s, count, n)
	res.add("seconds", t)
	res.add("items", float64(n))
	res.add("rss_start_kib", rss0)
	res.add("rss_peak_kib", statusKiB("VmHWM"))
}

func (b *bench) cpu(res *result) {
	n := b.n
	items := indexRecords(n)
	results := make([]uint64, n)
	h := uint64(digestInit)
	t0 := time.Now()
	s := b.startMap("cpu", parmapper.Records(items, 8), &parmapper.Options{Processes: b.p})
	defer s.Close()
	var count uint64
	for s.Next() {
		r := s.Result()
		if uint64(r.Index) != count {
			fail("cpu: item %d out of order (expected %d)", r.Index, count)
		}
		v := value8("cpu", r)
		results[count] = v
		h = (h ^ v) * fnvPrime
		count++
	}
	s.Close()
	t := since(t0)
	b.end(s, count, n)
	// Recomputing every result would take as long as a serial run; check a
	// sample outside the timed region (the first items, and 16 spread
	// over the rest), and pmbench compares the digest with the C rows'.
	for _, i := range cpuSample(n) {
		if results[i] != cpuWork(i, params.span) {
			fail("cpu: wrong result for item %d", i)
		}
	}
	res.add("seconds", t)
	res.add("items", float64(n))
	res.digest = h
}

func cpuSample(n uint64) []uint64 {
	var out []uint64
	for i := uint64(0); i < n && i < 4; i++ {
		out = append(out, i)
	}
	for k := uint64(1); k <= 16 && n > 4; k++ {
		out = append(out, 4+(n-5)*k/16)
	}
	return out
}

func (b *bench) big(res *result) {
	n := b.n
	rsize := params.rsize
	items := indexRecords(n)
	rss0 := statusKiB("VmRSS")
	t0 := time.Now()
	s := b.startMap("big", parmapper.Records(items, 8), &parmapper.Options{Processes: b.p})
	defer s.Close()
	var count uint64
	for s.Next() {
		r := s.Result()
		if uint64(r.Index) != count {
			fail("big: item %d out of order (expected %d)", r.Index, count)
		}
		if len(r.Data) != rsize || !bigCheck(r.Data, count) {
			fail("big: wrong result for item %d", count)
		}
		count++
	}
	s.Close()
	t := since(t0)
	b.end(s, count, n)
	res.add("seconds", t)
	res.add("items", float64(n))
	res.add("bytes", float64(n)*float64(rsize))
	res.add("rss_start_kib", rss0)
	res.add("rss_peak_kib", statusKiB("VmHWM"))
}

func (b *bench) startStop(res *result) {
	mib, err := b.a.u64("mib", 0)
	check(err)
	cycles, err := b.a.u64("cycles", 3)
	check(err)
	if cycles == 0 || cycles > 64 {
		cycles = 3
	}
	p := b.p
	if _, ok := b.a["p"]; !ok {
		p = 2
	}
	// A big parent: every page written, kept until the end.
	touched := make([]byte, mib<<20)
	for off := 0; off < len(touched); off += page {
		touched[off] = 1
	}
	var starts, stops, totals []float64
	for c := uint64(0); c <= cycles; c++ { // cycle 0 warms up, not counted
		t0 := time.Now()
		pool, err := parmapper.NewPool(b.work+"trivial", &parmapper.Options{Processes: p})
		t1 := time.Now()
		if err != nil {
			fail("start: %v", err)
		}
		// An in-process pool (p=1) has no worker processes.
		if got := pool.Processes(); p > 1 && got != p {
			pool.Close()
			fail("start: the pool has %d processes, not %d", got, p)
		}
		pool.Close()
		t2 := time.Now()
		if c > 0 {
			starts = append(starts, t1.Sub(t0).Seconds())
			stops = append(stops, t2.Sub(t1).Seconds())
			totals = append(totals, t2.Sub(t0).Seconds())
		}
	}
	if len(touched) > 0 && touched[len(touched)-page] != 1 {
		fail("start: the touched memory changed")
	}
	runtime.KeepAlive(touched)
	res.add("seconds", median(totals))
	res.add("rss_peak_kib", statusKiB("VmHWM"))
	res.add("start", median(starts))
	res.add("stop", median(stops))
}

func (b *bench) memory(res *result) {
	stop, err := b.a.u64("stop", 30000000)
	check(err)
	n := b.n // 0: endless
	limit := n
	if n == 0 {
		limit = stop
	}
	// The lazy input: one item per call, never the whole array. The binding
	// copies what the generator returns before calling it again (README:
	// "pushed with pm_feed_push_packed (copied)"), so one buffer serves.
	var next uint64
	buf := make([]byte, 8)
	gen := func() ([]byte, error) {
		if n != 0 && next == n {
			return nil, io.EOF
		}
		binary.LittleEndian.PutUint64(buf, next)
		next++
		return buf, nil
	}
	rss0 := statusKiB("VmRSS")
	rssEarly := -1.0
	t0 := time.Now()
	s := b.startMap("trivial", parmapper.Generator(gen), &parmapper.Options{Processes: b.p})
	defer s.Close()
	var count uint64
	for (n != 0 || count < limit) && s.Next() { // n>0: until the input's end
		r := s.Result()
		if uint64(r.Index) != count || value8("memory", r) != trivial(count) {
			fail("memory: wrong result for item %d", count)
		}
		count++
		if n == 0 && count == limit/10 {
			rssEarly = statusKiB("VmHWM")
		}
	}
	s.Close() // with n=0, cancels the map: the input never ends
	t := since(t0)
	if n != 0 {
		b.end(s, count, n)
	} else if count != limit {
		fail("memory: %d results of %d (%v)", count, limit, s.Err())
	}
	res.add("seconds", t)
	res.add("items", float64(count))
	res.add("rss_start_kib", rss0)
	res.add("rss_peak_kib", statusKiB("VmHWM"))
	if n == 0 && rssEarly >= 0 {
		res.add("rss_early_kib", rssEarly)
	}
}

func (b *bench) sizes(res *result) {
	sz, err := b.a.u64("size", 8)
	check(err)
	if sz == 0 || sz%8 != 0 || sz > math.MaxInt32 {
		fail("sizes: size=%d is not a positive multiple of 8", sz)
	}
	size := int(sz)
	n := b.n
	items := make([][]byte, n)
	for i := range items {
		items[i] = make([]byte, size)
		sizesFill(items[i], uint64(i))
	}
	rss0 := statusKiB("VmRSS")
	t0 := time.Now()
	s := b.startMap("sizes", parmapper.Items(items), &parmapper.Options{Processes: b.p})
	defer s.Close()
	var count uint64
	for s.Next() {
		r := s.Result()
		if uint64(r.Index) != count || value8("sizes", r) != sizesExpected(size, count) {
			fail("sizes: wrong result for item %d", count)
		}
		count++
	}
	s.Close()
	t := since(t0)
	b.end(s, count, n)
	runtime.KeepAlive(items)
	res.add("seconds", t)
	res.add("items", float64(n))
	res.add("bytes", float64(n)*float64(size))
	res.add("rss_start_kib", rss0)
	res.add("rss_peak_kib", statusKiB("VmHWM"))
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

// warmItems is the warm-up's item count, as bench/child.c's warm_items.
func warmItems(workload string, a args) uint64 {
	n, _ := a.u64("n", 0)
	if workload == "memory" && n == 0 {
		n, _ = a.u64("stop", 10000)
	}
	lim := uint64(10000)
	switch workload {
	case "cpu", "big":
		lim = 4
	case "sizes":
		lim = 64
	}
	if n < lim {
		return n
	}
	return lim
}

func (b *bench) run(res *result) {
	switch b.workload {
	case "trivial":
		b.trivial(res)
	case "cpu":
		b.cpu(res)
	case "big":
		b.big(res)
	case "start":
		b.startStop(res)
	case "memory":
		b.memory(res)
	case "sizes":
		b.sizes(res)
	default:
		fail("unknown workload %q", b.workload)
	}
}

var defaultN = map[string]uint64{"trivial": 1000, "cpu": 4000, "big": 1024, "start": 0,
	"memory": 0, "sizes": 1000}

func main() {
	parmapper.Serve() // first: in a worker, serves items and never returns

	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			fmt.Fprintf(os.Stderr, "pmbench (go): %s\n", f.msg)
			os.Exit(1)
		}
	}()
	a, err := parseArgs(os.Args)
	check(err)
	b := &bench{workload: os.Args[1], a: a, work: "pmbench."}
	if os.Args[2] != "binding" {
		fail("the second argument is %q, not \"binding\"", os.Args[2])
	}
	if _, ok := defaultN[b.workload]; !ok {
		fail("unknown workload %q", b.workload)
	}
	switch a["work"] {
	case "", "go":
	case "c":
		b.work = "pmbench.c."
	default:
		fail("work=%s: go or c", a["work"])
	}
	p, err := a.u64("p", 0)
	check(err)
	if p > math.MaxInt32 {
		fail("p=%d is too large", p)
	}
	b.p = int(p)
	for _, k := range []string{"span", "rsize", "wrong"} {
		_, err := a.u64(k, 0)
		check(err)
	}
	if params.rsize%8 != 0 {
		fail("rsize must be a multiple of 8")
	}
	// A warm-up of a few items first (not for start, which warms up
	// itself), its results checked too, then the peak RSS reset.
	if warm, err := a.u64("warm", 1); err != nil {
		check(err)
	} else if warm != 0 && b.workload != "start" {
		b.n = warmItems(b.workload, a)
		if b.workload != "memory" || b.n > 0 { // memory with n=0 is endless
			b.run(&result{})
		}
		resetPeakRSS()
	}
	b.n, err = a.u64("n", defaultN[b.workload])
	check(err)
	var res result
	b.run(&res)
	fmt.Println(res.line())
}
