//! Items per second for trivial items (`x * 2 + 1` on a `u64`, automatic
//! chunk size), as bench/trivial_items.c measures the C library: the crate
//! next to plain C-API loops written against parmapper-sys, in the same
//! run, so that the figure is the binding's own cost per item. Each figure
//! is the median of several runs; every run's results are checked. Wall
//! time depends on the load of the machine; the CPU time of this process
//! (the consuming side: stepping, decoding) and of its reaped children
//! (the workers, and their template process) much less so.
//!
//! Usage: cargo run --release --example bench [items [processes [runs]]]
//!        (defaults: 1000000 items, 2 processes, 5 runs)
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::time::Instant;

use parmapper::Options;
use parmapper_sys as sys;

unsafe extern "C" fn c_work(item: *const c_void, _len: usize, _index: u64, out: *mut sys::pm_sink, _ud: *mut c_void) -> c_int {
    let x = ptr::read_unaligned(item as *const u64) * 2 + 1;
    (sys::pm_sink_write(out, &x as *const u64 as *const c_void, 8) != sys::PM_OK) as c_int
}

unsafe extern "C" fn c_chunk(
    _first: u64,
    count: usize,
    items: *const *const c_void,
    _lens: *const usize,
    out: *mut sys::pm_sink,
    _ud: *mut c_void,
) -> c_int {
    for k in 0..count {
        let x = ptr::read_unaligned(*items.add(k) as *const u64) * 2 + 1;
        if sys::pm_sink_write(out, &x as *const u64 as *const c_void, 8) != sys::PM_OK || sys::pm_sink_end_item(out, 0) != sys::PM_OK {
            return 1;
        }
    }
    0
}

fn c_map(items: &[u64], processes: u32, chunked: bool) -> *mut sys::pm_map {
    unsafe {
        let mut opts = ptr::null_mut();
        assert_eq!(sys::pm_options_create(&mut opts), sys::PM_OK);
        sys::pm_options_set_processes(opts, processes);
        let mut input = ptr::null_mut();
        assert_eq!(sys::pm_input_create_array(&mut input, items.as_ptr() as *const c_void, 8, items.len()), sys::PM_OK);
        let mut map = ptr::null_mut();
        let rc = if chunked {
            sys::pm_map_create_chunked(&mut map, opts, input, Some(c_chunk), ptr::null_mut(), None)
        } else {
            sys::pm_map_create(&mut map, opts, input, Some(c_work), ptr::null_mut(), None)
        };
        assert_eq!(rc, sys::PM_OK);
        sys::pm_options_destroy(opts);
        map
    }
}

/// The C API as its README shows it: pm_map_next() once per result.
fn c_next_loop(items: &[u64], processes: u32) -> u64 {
    let map = c_map(items, processes, false);
    let (mut sum, mut n) = (0u64, 0usize);
    unsafe {
        let (mut index, mut data, mut len) = (0u64, ptr::null(), 0usize);
        let rc = loop {
            let rc = sys::pm_map_next(map, &mut index, &mut data, &mut len);
            if rc != sys::PM_OK {
                break rc;
            }
            let y = ptr::read_unaligned(data as *const u64);
            assert_eq!(y, items[index as usize] * 2 + 1);
            sum = sum.wrapping_add(y);
            n += 1;
        };
        assert_eq!(rc, sys::PM_DONE);
        sys::pm_map_destroy(map);
    }
    assert_eq!(n, items.len());
    sum
}

/// The C API with pm_map_next_batch(), 256 results at most per call, and
/// a per-item or a chunk work function.
fn c_batch_loop(items: &[u64], processes: u32, chunked: bool) -> u64 {
    const MAX: usize = 256;
    let map = c_map(items, processes, chunked);
    let (mut sum, mut n) = (0u64, 0usize);
    let (mut idx, mut st, mut data, mut lens) = ([0u64; MAX], [0 as c_int; MAX], [ptr::null(); MAX], [0usize; MAX]);
    unsafe {
        loop {
            let mut count = 0;
            let rc = sys::pm_map_next_batch(map, MAX, -1, idx.as_mut_ptr(), st.as_mut_ptr(), data.as_mut_ptr(), lens.as_mut_ptr(), &mut count);
            for i in 0..count {
                assert_eq!(st[i], sys::PM_OK);
                let y = ptr::read_unaligned(data[i] as *const u64);
                assert_eq!(y, items[idx[i] as usize] * 2 + 1);
                sum = sum.wrapping_add(y);
            }
            n += count;
            if rc == sys::PM_DONE {
                break;
            }
            assert_eq!(rc, sys::PM_OK);
        }
        sys::pm_map_destroy(map);
    }
    assert_eq!(n, items.len());
    sum
}

/// The crate: a scoped map of a closure over the borrowed slice.
fn crate_loop(items: &[u64], opts: &Options) -> u64 {
    parmapper::scope(|s| {
        let mut sum = 0u64;
        for (i, r) in s.map_with(opts, items, |&x| x * 2 + 1).unwrap().enumerate() {
            let y = r.unwrap();
            assert_eq!(y, items[i] * 2 + 1);
            sum = sum.wrapping_add(y);
        }
        sum
    })
}

/// The crate over an iterator (pull input, items encoded and copied).
fn crate_iter_loop(items: &[u64], opts: &Options) -> u64 {
    let n = items.len() as u64;
    let mut sum = 0u64;
    for (i, r) in parmapper::map_with(opts, parmapper::iter(0..n), |&x| x * 2 + 1).unwrap().enumerate() {
        let y = r.unwrap();
        assert_eq!(y, i as u64 * 2 + 1);
        sum = sum.wrapping_add(y);
    }
    sum
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}
const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const RUSAGE_CHILDREN: i32 = -1;

/// CPU seconds of this process (all its threads).
fn self_cpu() -> f64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    assert_eq!(unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) }, 0);
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

/// CPU seconds of the children this process has reaped (and theirs).
fn children_cpu() -> f64 {
    let mut ru = Rusage { utime: [0; 2], stime: [0; 2], rest: [0; 14] };
    assert_eq!(unsafe { getrusage(RUSAGE_CHILDREN, &mut ru) }, 0);
    let tv = |t: [i64; 2]| t[0] as f64 + t[1] as f64 * 1e-6;
    tv(ru.utime) + tv(ru.stime)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.get(0).map(|a| a.parse().expect("items")).unwrap_or(1_000_000);
    let processes: u32 = args.get(1).map(|a| a.parse().expect("processes")).unwrap_or(2);
    let runs: usize = args.get(2).map(|a| a.parse().expect("runs")).unwrap_or(5).max(1);
    let items: Vec<u64> = (0..n as u64).collect();
    let expected: u64 = items.iter().fold(0u64, |s, &x| s.wrapping_add(x * 2 + 1));
    let opts = Options::new().processes(processes);
    let per_item = opts.clone().chunk_calls(false);
    let chunked = opts.clone().chunk_calls(true);
    let one = opts.clone().batch(1);

    type Way<'a> = (&'a str, Box<dyn Fn() -> u64 + 'a>);
    let ways: Vec<Way> = vec![
        ("C API, pm_map_next loop", Box::new(|| c_next_loop(&items, processes))),
        ("C API, pm_map_next_batch loop", Box::new(|| c_batch_loop(&items, processes, false))),
        ("C API, next_batch, chunk fn", Box::new(|| c_batch_loop(&items, processes, true))),
        ("crate, scope map (default)", Box::new(|| crate_loop(&items, &opts))),
        ("crate, chunk_calls(false)", Box::new(|| crate_loop(&items, &per_item))),
        ("crate, chunk_calls(true)", Box::new(|| crate_loop(&items, &chunked))),
        ("crate, batch(1)", Box::new(|| crate_loop(&items, &one))),
        ("crate, iter input", Box::new(|| crate_iter_loop(&items, &opts))),
    ];
    println!("{} items, {} processes, median of {} runs (runs interleaved)", n, processes, runs);
    let mut times: Vec<[Vec<f64>; 3]> = vec![Default::default(); ways.len()];
    for _ in 0..runs {
        for (k, (_, f)) in ways.iter().enumerate() {
            let (c0, w0, t0) = (self_cpu(), children_cpu(), Instant::now());
            assert_eq!(f(), expected);
            times[k][0].push(t0.elapsed().as_secs_f64());
            times[k][1].push(self_cpu() - c0);
            times[k][2].push(children_cpu() - w0);
        }
    }
    println!("{:32} {:>10} {:>9} {:>12} {:>12}", "", "M items/s", "wall ms", "caller CPU", "workers CPU");
    for (k, (name, _)) in ways.iter().enumerate() {
        let [t, c, w] = [0, 1, 2].map(|j| median(times[k][j].clone()));
        println!("{:32} {:10.2} {:9.1} {:9.1} ms {:9.1} ms", name, n as f64 / t / 1e6, t * 1e3, c * 1e3, w * 1e3);
    }
}
