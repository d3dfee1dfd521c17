//! The Rust binding's rows of `bench/pmbench`: one workload, one run, one
//! result line, through the `parmapper` crate's public API only. pmbench
//! runs it as
//!
//!     pmbench-rows WORKLOAD binding key=value...
//!
//! and reads `pmbench-result seconds=... items=...` from its stdout (the
//! contract of bench/child.c and bench/py_rows.py: the same work as
//! bench/work.c, every result checked, exit 1 with a message otherwise).
//!
//! The API each workload uses:
//! - trivial: `parmapper::scope` + `Scope::map_with(&opts, &items, ..)` over a
//!   `&Vec<u64>` (an array input, in place), `Options::processes`,
//!   `chunk_size`, `ordered`; the `Map` iterator (batched steps, 256 results
//!   per `pm_map_next_batch()`), and `Map::indexed()` when unordered.
//! - cpu: `Scope::map_with` over a `&Vec<u64>`, the `Map` iterator.
//! - big: `Scope::map_with` over a `&Vec<u64>`, the closure returning a
//!   `Vec<u8>`; the caller checks each result in place with
//!   `Map::next_bytes()` (no decoding, no copy).
//! - start: `Pool::new(&opts, f)` to start the workers, `drop(pool)`
//!   (`pm_pool_destroy`: stops and reaps them) to stop them.
//! - memory: `parmapper::map_with(&opts, parmapper::iter(0..n), ..)` (or
//!   `iter(0..)` for the endless input): a lazy iterator input, pulled on the
//!   library's feeder thread; dropping the `Map` stops the endless one.
//! - sizes: `Scope::map_with` over a `&Vec<Vec<u8>>` (records, in place), the
//!   closure seeing each item as `&[u8]`.
use std::collections::HashMap;
use std::fs;
use std::process;
use std::time::Instant;

use parmapper::{Options, Pool};

type Res<T> = Result<T, String>;

const PAGE: usize = 4096;
const ITEM_MUL: u64 = 0x9e37_79b9_7f4a_7c15;
const DIGEST_INIT: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

// ---------------------------------------------------------------------------
// The work: the arithmetic of bench/work.c, all u64 wrap-around.

fn trivial(x: u64) -> u64 {
    x.wrapping_mul(2).wrapping_add(1)
}

/// The sum of the Collatz stopping times of item*span+1 ..= item*span+span.
fn cpu(item: u64, span: u64) -> u64 {
    let first = item.wrapping_mul(span).wrapping_add(1);
    let end = first.wrapping_add(span);
    let mut total = 0u64;
    let mut n = first;
    while n < end {
        let mut x = n;
        while x != 1 {
            x = if x & 1 != 0 { x.wrapping_mul(3).wrapping_add(1) } else { x / 2 };
            total += 1;
        }
        n += 1;
    }
    total
}

/// A big result: every byte (u8)i, each 4 KiB page stamped with i + page.
fn big_fill(index: u64, len: usize) -> Vec<u8> {
    let mut v = vec![index as u8; len];
    let mut off = 0;
    while off + 8 <= len {
        let stamp = index.wrapping_add((off / PAGE) as u64);
        v[off..off + 8].copy_from_slice(&stamp.to_le_bytes());
        off += PAGE;
    }
    v
}

/// pmb_big_check: the stamps, the middle of each page, the last byte.
fn big_ok(p: &[u8], index: u64, rsize: usize) -> bool {
    let len = p.len();
    if len != rsize {
        return false;
    }
    let fill = index as u8;
    let mut off = 0;
    while off + 8 <= len {
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&p[off..off + 8]);
        if u64::from_le_bytes(stamp) != index.wrapping_add((off / PAGE) as u64) {
            return false;
        }
        if off + PAGE / 2 < len && p[off + PAGE / 2] != fill {
            return false;
        }
        off += PAGE;
    }
    !(len > 8 && p[len - 1] != fill && (len - 1) % PAGE >= 8)
}

/// Item i of the sizes workload: words i*MUL + k, little-endian.
fn sizes_item(index: u64, size: usize) -> Vec<u8> {
    let base = index.wrapping_mul(ITEM_MUL);
    (0..(size / 8) as u64).flat_map(|k| base.wrapping_add(k).to_le_bytes()).collect()
}

fn word_sum(bytes: &[u8]) -> u64 {
    bytes.chunks_exact(8).fold(0u64, |sum, w| {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        sum.wrapping_add(u64::from_le_bytes(b))
    })
}

/// What word_sum gives for item i: w*(i*MUL) + w*(w-1)/2, mod 2^64.
fn sizes_expected(size: usize, index: u64) -> u64 {
    let w = (size / 8) as u64;
    // Halve the even factor first, as work.c does, so nothing overflows.
    let tri = if w % 2 == 0 { (w / 2).wrapping_mul(w.wrapping_sub(1)) } else { w.wrapping_mul(w.saturating_sub(1) / 2) };
    w.wrapping_mul(index.wrapping_mul(ITEM_MUL)).wrapping_add(tri)
}

// ---------------------------------------------------------------------------
// Arguments, memory figures, the result line.

struct Args {
    values: HashMap<String, String>,
}

impl Args {
    fn parse(pairs: &[String]) -> Res<Args> {
        let mut values = HashMap::new();
        for pair in pairs {
            match pair.split_once('=') {
                Some((k, v)) => {
                    values.insert(k.to_string(), v.to_string());
                }
                None => return Err(format!("argument {:?} is not key=value", pair)),
            }
        }
        Ok(Args { values })
    }

    fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    fn u64(&self, key: &str, default: u64) -> Res<u64> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{}={}: not a number", key, v)),
        }
    }

    fn u32(&self, key: &str, default: u32) -> Res<u32> {
        let v = self.u64(key, u64::from(default))?;
        u32::try_from(v).map_err(|_| format!("{}={}: too large", key, v))
    }

    fn usize(&self, key: &str, default: usize) -> Res<usize> {
        let v = self.u64(key, default as u64)?;
        usize::try_from(v).map_err(|_| format!("{}={}: too large", key, v))
    }
}

/// A field of /proc/self/status in KiB (VmRSS, VmHWM); -1 if missing.
fn status_kib(key: &str) -> f64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            if let Some(Ok(kib)) = rest.split_whitespace().next().map(str::parse::<u64>) {
                return kib as f64;
            }
        }
    }
    -1.0
}

/// Zeroes VmHWM, so that the timed run's peak is its own (Linux 4.0+).
fn reset_peak_rss() {
    if let Err(e) = fs::write("/proc/self/clear_refs", "5") {
        eprintln!("pmbench (rust): cannot reset the peak RSS: {}", e);
    }
}

/// The fields of the result line; None is not printed.
#[derive(Default)]
struct Report {
    seconds: f64,
    items: Option<f64>,
    bytes: Option<f64>,
    rss_start_kib: Option<f64>,
    rss_peak_kib: Option<f64>,
    rss_early_kib: Option<f64>,
    start: Option<f64>,
    stop: Option<f64>,
    digest: Option<u64>,
}

impl Report {
    fn line(&self) -> String {
        let mut s = format!("pmbench-result seconds={}", fmt_g9(self.seconds));
        let optional = [
            ("items", self.items),
            ("bytes", self.bytes),
            ("rss_start_kib", self.rss_start_kib),
            ("rss_peak_kib", self.rss_peak_kib),
            ("rss_early_kib", self.rss_early_kib),
            ("start", self.start),
            ("stop", self.stop),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                s += &format!(" {}={}", key, fmt_g9(v));
            }
        }
        if let Some(h) = self.digest {
            s += &format!(" digest={:016x}", h);
        }
        s
    }
}

/// C's `%.9g`: 9 significant digits, trailing zeros dropped, exponent form
/// below 1e-4 and from 1e9 on. Rust's float formatting is exact, as
/// glibc's is, so the digits are the same.
fn fmt_g9(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() { "nan".into() } else if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{:.8e}", v); // "d.dddddddde<exp>", rounded to 9 digits
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} has a decimal exponent");
    fn trim(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    if !(-4..9).contains(&exp) {
        format!("{}e{}{:02}", trim(mantissa), if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        trim(&format!("{:.*}", (8 - exp) as usize, v)).to_string()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN time"));
    let k = v.len();
    if k % 2 == 1 {
        v[k / 2]
    } else {
        (v[k / 2 - 1] + v[k / 2]) / 2.0
    }
}

fn lib_err(e: parmapper::Error) -> String {
    e.to_string()
}

fn wrong_result(what: &str, index: u64) -> String {
    format!("{}: wrong result for item {}", what, index)
}

// ---------------------------------------------------------------------------
// The workloads. `wrong` is the item whose work returns a wrong result
// (`wrong=1`: item 1), to check that the checks fail the run.

struct Run<'a> {
    args: &'a Args,
    n: u64,
    wrong: Option<u64>,
}

fn run_trivial(r: &Run) -> Res<Report> {
    let n = r.n;
    let p = r.args.u32("p", 0)?; // 0: one per online CPU
    let chunk = r.args.usize("chunk", 0)?; // 0: automatic
    let ordered = r.args.u64("ordered", 1)? != 0;
    let wrong = r.wrong;
    let items: Vec<u64> = (0..n).collect();
    // Written now, so that the timed region pays no first touch.
    let mut unseen = if ordered { Vec::new() } else { vec![true; n as usize] };
    let opts = Options::new().processes(p).chunk_size(chunk).ordered(ordered);
    let work = move |&x: &u64| if Some(x) == wrong { trivial(x).wrapping_add(1) } else { trivial(x) };

    let rss_start = status_kib("VmRSS");
    let t0 = Instant::now();
    let count = parmapper::scope(|s| -> Res<u64> {
        let map = s.map_with(&opts, &items, work).map_err(lib_err)?;
        let mut count = 0u64;
        if ordered {
            for result in map {
                if result.map_err(lib_err)? != trivial(count) {
                    return Err(wrong_result("trivial", count));
                }
                count += 1;
            }
        } else {
            for result in map.indexed() {
                let (i, v) = result.map_err(lib_err)?;
                if i >= n || !unseen[i as usize] || v != trivial(i) {
                    return Err(wrong_result("trivial (unordered: or seen twice)", i));
                }
                unseen[i as usize] = false;
                count += 1;
            }
        }
        Ok(count)
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    if count != n {
        return Err(format!("trivial: {} results of {}", count, n));
    }
    Ok(Report {
        seconds,
        items: Some(n as f64),
        rss_start_kib: Some(rss_start),
        rss_peak_kib: Some(status_kib("VmHWM")),
        ..Report::default()
    })
}

fn run_cpu(r: &Run) -> Res<Report> {
    let n = r.n;
    let p = r.args.u32("p", 0)?;
    let span = r.args.u64("span", 6000)?;
    let wrong = r.wrong;
    let items: Vec<u64> = (0..n).collect();
    let mut results = vec![u64::MAX; n as usize];
    let opts = Options::new().processes(p);
    let work = move |&i: &u64| if Some(i) == wrong { cpu(i, span) ^ 1 } else { cpu(i, span) };

    let t0 = Instant::now();
    let count = parmapper::scope(|s| -> Res<usize> {
        let mut count = 0;
        for (slot, result) in results.iter_mut().zip(s.map_with(&opts, &items, work).map_err(lib_err)?) {
            *slot = result.map_err(lib_err)?;
            count += 1;
        }
        Ok(count)
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    if count as u64 != n {
        return Err(format!("cpu: {} results of {}", count, n));
    }
    // pmbench checks every result through the digest, which must equal the
    // other rows'; recomputing them all here would cost the whole serial
    // run. Spot-check the first few and the last one, after the timing.
    let last = n.checked_sub(1);
    for i in (0..n.min(4)).chain(last) {
        if results[i as usize] != cpu(i, span) {
            return Err(wrong_result("cpu", i));
        }
    }
    let digest = results.iter().fold(DIGEST_INIT, |h, &r| (h ^ r).wrapping_mul(FNV_PRIME));
    Ok(Report { seconds, items: Some(n as f64), digest: Some(digest), ..Report::default() })
}

fn run_big(r: &Run) -> Res<Report> {
    let n = r.n;
    let rsize = r.args.usize("rsize", 1 << 20)?;
    if rsize % 8 != 0 {
        return Err(format!("big: rsize={} is not a multiple of 8", rsize));
    }
    let wrong = r.wrong;
    let items: Vec<u64> = (0..n).collect();
    // The default options, as the C API row: a process count only if asked.
    let mut opts = Options::new();
    if r.args.has("p") {
        opts = opts.processes(r.args.u32("p", 0)?);
    }
    let work = move |&i: &u64| {
        let mut v = big_fill(i, rsize);
        if Some(i) == wrong && rsize > 0 {
            v[0] ^= 1;
        }
        v
    };

    let rss_start = status_kib("VmRSS");
    let t0 = Instant::now();
    let count = parmapper::scope(|s| -> Res<u64> {
        let mut map = s.map_with(&opts, &items, work).map_err(lib_err)?;
        let mut count = 0u64;
        // In place: the bytes in the library's buffer, not a decoded Vec.
        while let Some(result) = map.next_bytes() {
            let (index, bytes) = result.map_err(lib_err)?;
            if index != count || !big_ok(bytes, index, rsize) {
                return Err(wrong_result("big", count));
            }
            count += 1;
        }
        Ok(count)
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    if count != n {
        return Err(format!("big: {} results of {}", count, n));
    }
    Ok(Report {
        seconds,
        items: Some(n as f64),
        bytes: Some(n as f64 * rsize as f64),
        rss_start_kib: Some(rss_start),
        rss_peak_kib: Some(status_kib("VmHWM")),
        ..Report::default()
    })
}

fn run_start(r: &Run) -> Res<Report> {
    let p = r.args.u32("p", 2)?;
    let mib = r.args.usize("mib", 0)?;
    let cycles = match r.args.u64("cycles", 3)? {
        c @ 1..=64 => c,
        _ => 3, // as bench/child.c
    };
    let wrong = r.wrong;
    let work = move |&x: &u64| if Some(x) == wrong { trivial(x).wrapping_add(1) } else { trivial(x) };
    let opts = Options::new().processes(p);
    // A parent of `mib` MiB, every page written (vec! of a nonzero byte
    // fills the whole allocation).
    let touched = vec![1u8; mib << 20];

    let (mut starts, mut stops, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for cycle in 0..=cycles {
        let t0 = Instant::now();
        let pool = Pool::new(&opts, work).map_err(lib_err)?;
        let t1 = Instant::now();
        if p > 1 && pool.processes() != p {
            return Err(format!("start: the pool has {} processes, not {}", pool.processes(), p));
        }
        drop(pool); // pm_pool_destroy: the workers exit and are reaped
        let t2 = Instant::now();
        if cycle > 0 {
            // Cycle 0 warms up, not counted.
            starts.push((t1 - t0).as_secs_f64());
            stops.push((t2 - t1).as_secs_f64());
            totals.push((t2 - t0).as_secs_f64());
        }
    }
    let rss_peak = status_kib("VmHWM");

    // Not timed: a pool of this work must also run it right (and wrong=1
    // must fail the run, as in every workload).
    let mut pool = Pool::new(&opts, work).map_err(lib_err)?;
    for (i, result) in pool.map(vec![0u64, 1, 2, 3]).map_err(lib_err)?.enumerate() {
        if result.map_err(lib_err)? != trivial(i as u64) {
            return Err(wrong_result("start (a map on the pool)", i as u64));
        }
    }
    drop(pool);
    if mib > 0 && unsafe { std::ptr::read_volatile(&touched[touched.len() - 1]) } != 1 {
        return Err("start: the touched memory changed".into());
    }
    Ok(Report {
        seconds: median(totals),
        start: Some(median(starts)),
        stop: Some(median(stops)),
        rss_peak_kib: Some(rss_peak),
        ..Report::default()
    })
}

fn run_memory(r: &Run) -> Res<Report> {
    let n = r.n; // 0: endless
    let stop = r.args.u64("stop", 30_000_000)?;
    let p = r.args.u32("p", 0)?;
    let limit = if n > 0 { n } else { stop };
    let wrong = r.wrong;
    let opts = Options::new().processes(p);
    let work = move |&x: &u64| if Some(x) == wrong { trivial(x).wrapping_add(1) } else { trivial(x) };

    let rss_start = status_kib("VmRSS");
    let mut rss_early = None;
    let t0 = Instant::now();
    // Items made one by one on the feeder thread, never all in memory.
    let mut map = if n > 0 {
        parmapper::map_with(&opts, parmapper::iter(0..n), work)
    } else {
        parmapper::map_with(&opts, parmapper::iter(0u64..), work)
    }
    .map_err(lib_err)?;
    let mut count = 0u64;
    while n > 0 || count < limit {
        match map.next() {
            None => break,
            Some(result) => {
                if result.map_err(lib_err)? != trivial(count) {
                    return Err(wrong_result("memory", count));
                }
                count += 1;
                if n == 0 && count == limit / 10 {
                    rss_early = Some(status_kib("VmHWM"));
                }
            }
        }
    }
    drop(map); // the endless map: stops its workers and reaps them
    let seconds = t0.elapsed().as_secs_f64();
    if count != limit {
        return Err(format!("memory: {} results of {}", count, limit));
    }
    Ok(Report {
        seconds,
        items: Some(count as f64),
        rss_start_kib: Some(rss_start),
        rss_peak_kib: Some(status_kib("VmHWM")),
        rss_early_kib: rss_early,
        ..Report::default()
    })
}

fn run_sizes(r: &Run) -> Res<Report> {
    let n = r.n;
    let size = r.args.usize("size", 8)?;
    if size == 0 || size % 8 != 0 {
        return Err(format!("sizes: size={} is not a positive multiple of 8", size));
    }
    let p = r.args.u32("p", 0)?;
    let opts = Options::new().processes(p);
    let items: Vec<Vec<u8>> = (0..n).map(|i| sizes_item(i, size)).collect();
    // The closure gets the item, not its index: the wrong item is told by
    // its first word, i*MUL (MUL is odd, so only item i has it).
    let wrong_word = r.wrong.map(|i| i.wrapping_mul(ITEM_MUL));
    let work = move |b: &[u8]| {
        let sum = word_sum(b);
        // (the sum of b[..8] is its first word)
        if wrong_word.is_some() && wrong_word == Some(word_sum(&b[..8])) {
            sum.wrapping_add(1)
        } else {
            sum
        }
    };

    let rss_start = status_kib("VmRSS");
    let t0 = Instant::now();
    let count = parmapper::scope(|s| -> Res<u64> {
        let mut count = 0u64;
        for result in s.map_with(&opts, &items, work).map_err(lib_err)? {
            if result.map_err(lib_err)? != sizes_expected(size, count) {
                return Err(wrong_result("sizes", count));
            }
            count += 1;
        }
        Ok(count)
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    if count != n {
        return Err(format!("sizes: {} results of {}", count, n));
    }
    Ok(Report {
        seconds,
        items: Some(n as f64),
        bytes: Some(n as f64 * size as f64),
        rss_start_kib: Some(rss_start),
        rss_peak_kib: Some(status_kib("VmHWM")),
        ..Report::default()
    })
}

/// The warm-up's item count: a small map of the same kind first, so that
/// the timed one does not pay what only a process's first map pays.
fn warm_items(workload: &str, args: &Args) -> Res<u64> {
    let mut n = args.u64("n", 0)?;
    if workload == "memory" && n == 0 {
        n = args.u64("stop", 30_000_000)?;
    }
    Ok(match workload {
        "cpu" | "big" => n.min(4),
        "sizes" => n.min(64),
        _ => n.min(10_000),
    })
}

fn run(workload: &str, args: &Args, n: u64) -> Res<Report> {
    let wrong = if args.has("wrong") { Some(args.u64("wrong", 0)?) } else { None };
    let r = Run { args, n, wrong };
    match workload {
        "trivial" => run_trivial(&r),
        "cpu" => run_cpu(&r),
        "big" => run_big(&r),
        "start" => run_start(&r),
        "memory" => run_memory(&r),
        "sizes" => run_sizes(&r),
        _ => Err(format!("unknown workload {}", workload)),
    }
}

fn main_result() -> Res<String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.len() < 2 || argv[1] != "binding" {
        return Err("usage: pmbench-rows WORKLOAD binding [key=value...]".into());
    }
    let workload = argv[0].as_str();
    let args = Args::parse(&argv[2..])?;
    let default_n = match workload {
        "trivial" | "sizes" => 1000,
        "cpu" => 4000,
        "big" => 1024,
        _ => 0, // memory: endless; start has no n
    };
    if workload != "start" && args.u64("warm", 1)? != 0 {
        let warm = warm_items(workload, &args)?;
        // A memory warm-up of 0 items would be an endless one.
        if warm > 0 || workload != "memory" {
            run(workload, &args, warm)?;
        }
        reset_peak_rss();
    }
    let report = run(workload, &args, args.u64("n", default_n)?)?;
    Ok(report.line())
}

fn main() {
    match main_result() {
        Ok(line) => println!("{}", line),
        Err(message) => {
            eprintln!("pmbench (rust): {}", message);
            process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_c_printf_g9() {
        // The right-hand sides are what glibc's printf("%.9g") prints.
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (1000000.0, "1000000"),
            (123456789.0, "123456789"),
            (1073741824.0, "1.07374182e+09"),
            (1234567891.0, "1.23456789e+09"),
            (0.1, "0.1"),
            (2.0 / 3.0, "0.666666667"),
            (0.000123456789, "0.000123456789"),
            (1.5e-5, "1.5e-05"),
            (0.0123456789012, "0.0123456789"),
            (99999999.95, "100000000"),
            (999999999.5, "1e+09"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_g9(v), want, "{}", v);
        }
    }

    #[test]
    fn the_work_is_work_c_s() {
        // Stopping times: 1 -> 0, 2 -> 1, 3 -> 7.
        assert_eq!(cpu(0, 3), 8);
        let big = big_fill(7, 3 * PAGE + 16);
        assert!(big_ok(&big, 7, big.len()));
        let mut bad = big.clone();
        bad[PAGE + PAGE / 2] ^= 1;
        assert!(!big_ok(&bad, 7, bad.len()));
        assert!(!big_ok(&big[..big.len() - 8], 7, big.len()));
        for (size, i) in [(8, 0), (8, 1), (24, 5), (4096, 123456)] {
            assert_eq!(word_sum(&sizes_item(i, size)), sizes_expected(size, i));
        }
    }
}
