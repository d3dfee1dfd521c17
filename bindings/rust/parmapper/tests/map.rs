//! The safe API end to end: inputs, results, error modes, panics, crashes,
//! timeouts, cancellation, pools. Every test forks real workers unless it
//! says in-process.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parmapper::{Decode, Encode, Encoder, ErrorKind, ErrorMode, Next, Options, Plain, Pool};

fn two() -> Options {
    Options::new().processes(2)
}

fn ok<T>(it: impl Iterator<Item = Result<T, parmapper::Error>>) -> Vec<T> {
    it.map(|r| r.expect("a result")).collect()
}

#[test]
fn ordered_results_match_a_serial_loop_in_every_configuration() {
    let items: Vec<u64> = (0..5000).map(|i| i * 7 + 3).collect();
    let expected: Vec<u64> = items.iter().map(|&x| x ^ 0x5555).collect();
    for processes in [1, 2] {
        for threads in [1, 2] {
            for chunk in [0, 1, 7] {
                for chunk_calls in [false, true] {
                    for batch in [1, 256] {
                        let opts = Options::new()
                            .processes(processes)
                            .threads(threads)
                            .chunk_size(chunk)
                            .chunk_calls(chunk_calls)
                            .batch(batch);
                        let got = parmapper::scope(|s| ok(s.map_with(&opts, &items, |&x| x ^ 0x5555).unwrap()));
                        assert_eq!(got, expected, "{:?}", opts);
                    }
                }
            }
        }
    }
}

#[test]
fn unordered_results_come_once_each_with_their_index() {
    let items: Vec<u32> = (0..3000).collect();
    let opts = two().ordered(false).chunk_size(13);
    let mut seen = vec![0u8; items.len()];
    parmapper::scope(|s| {
        for r in s.map_with(&opts, &items, |&x| x as u64 * 3).unwrap().indexed() {
            let (i, v) = r.unwrap();
            assert_eq!(v, i * 3);
            seen[i as usize] += 1;
        }
    });
    assert!(seen.iter().all(|&n| n == 1));
}

#[test]
fn the_closure_borrows_locals_and_workers_inherit_them() {
    let table: HashMap<u32, String> = (0..1000).map(|i| (i, format!("value {}", i))).collect();
    let keys: Vec<u32> = (0..1000).rev().collect();
    let got = parmapper::scope(|s| ok(s.map_with(&two(), &keys, |k| table[k].clone()).unwrap()));
    assert_eq!(got[0], "value 999");
    assert_eq!(got[999], "value 0");
}

#[test]
fn writes_in_a_worker_stay_there_and_in_process_maps_share_memory() {
    let items: Vec<u8> = vec![1; 100];
    let calls = AtomicUsize::new(0);
    let count = |_: &u8| {
        calls.fetch_add(1, Ordering::Relaxed);
    };
    parmapper::scope(|s| assert_eq!(s.map_with(&two(), &items, count).unwrap().count(), 100));
    assert_eq!(calls.load(Ordering::Relaxed), 0, "forked workers changed the caller's memory");
    for opts in [Options::new().processes(1), two().errors(ErrorMode::Inline)] {
        calls.store(0, Ordering::Relaxed);
        parmapper::scope(|s| assert_eq!(s.map_with(&opts, &items, count).unwrap().count(), 100));
        assert_eq!(calls.load(Ordering::Relaxed), 100, "{:?}", opts);
    }
}

#[test]
fn string_and_byte_records_are_seen_in_place() {
    let words: Vec<String> = (0..500).map(|i| "w".repeat(i % 17)).collect();
    let got = parmapper::scope(|s| ok(s.map_with(&two(), &words, |w: &str| w.len() as u32).unwrap()));
    assert_eq!(got, words.iter().map(|w| w.len() as u32).collect::<Vec<_>>());

    let strs: Vec<&str> = vec!["alpha", "", "gamma"];
    let upper = parmapper::scope(|s| ok(s.map_with(&two(), &strs, |w: &str| w.to_uppercase()).unwrap()));
    assert_eq!(upper, ["ALPHA", "", "GAMMA"]);

    let blobs: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; i]).collect();
    let sums = parmapper::scope(|s| {
        ok(s.map_with(&two(), &blobs, |b: &[u8]| b.iter().map(|&x| x as u64).sum::<u64>()).unwrap())
    });
    assert_eq!(sums[299], 299 * 43);

    // u16 records may arrive unaligned: the view copies them then.
    let backing: Vec<u16> = (0..100).collect();
    let slices: Vec<&[u16]> = (0..99).map(|i| &backing[i..i + 2]).collect();
    let pairs = parmapper::scope(|s| ok(s.map_with(&two(), &slices, |p: &[u16]| p.to_vec()).unwrap()));
    assert_eq!(pairs[41], vec![41u16, 42]);
}

#[test]
fn owned_inputs_need_no_scope_and_results_of_any_size_arrive_whole() {
    let map = parmapper::map_with(&two(), vec![0usize, 1, 1 << 20, 7], |&n| vec![n as u8; n]).unwrap();
    let got: Vec<Vec<u8>> = ok(map);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [0, 1, 1 << 20, 7]);
    assert!(got[2].iter().all(|&b| b == 0));

    let names = vec!["x".to_string(), "yz".to_string()];
    let got: Vec<String> = ok(parmapper::map_with(&two(), names, |s: &str| format!("<{}>", s)).unwrap());
    assert_eq!(got, ["<x>", "<yz>"]);

    let rows: Vec<Vec<f32>> = vec![vec![1.0, 2.0], vec![], vec![3.5]];
    let got: Vec<f32> = ok(parmapper::map_with(&two(), rows, |r: &[f32]| r.iter().sum::<f32>()).unwrap());
    assert_eq!(got, [3.0, 0.0, 3.5]);
}

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Particle {
    pos: [f64; 3],
    id: u32,
    pad: u32,
}
unsafe impl Plain for Particle {}

#[test]
fn plain_structs_and_zero_sized_items_travel_as_their_bytes() {
    let ps: Vec<Particle> = (0..100).map(|i| Particle { pos: [i as f64, 0.0, -1.0], id: i, pad: 0 }).collect();
    let moved = parmapper::scope(|s| {
        ok(s.map_with(&two(), &ps, |p| Particle { pos: [p.pos[0] + 1.0, p.pos[1], p.pos[2]], ..*p }).unwrap())
    });
    assert_eq!(moved[10].pos, [11.0, 0.0, -1.0]);
    assert_eq!(moved[10].id, 10);

    let units = [(); 5];
    let n = parmapper::scope(|s| s.map_with(&two(), &units, |_| 1u8).unwrap().count());
    assert_eq!(n, 5);

    let empty: Vec<u64> = Vec::new();
    assert_eq!(parmapper::scope(|s| s.map(&empty, |&x| x).unwrap().count()), 0);
}

#[test]
fn iterator_inputs_are_pulled_lazily_with_or_without_a_length() {
    let got: Vec<u64> = ok(parmapper::map_with(&two(), parmapper::iter(0..10_000u64), |&x| x + 1).unwrap());
    assert_eq!(got.len(), 10_000);
    assert_eq!(got[9_999], 10_000);

    // No exact size hint: the total is unknown.
    let odd = (0..2000u32).filter(|x| x % 2 == 1);
    let got: Vec<u32> = ok(parmapper::map_with(&two(), parmapper::iter(odd), |&x| x * 2).unwrap());
    assert_eq!(got.len(), 1000);
    assert_eq!(got[0], 2);

    // Owned strings: the closure sees each decoded.
    let words = (0..50).map(|i| format!("n{}", i));
    let got: Vec<usize> = ok(parmapper::map_with(&two(), parmapper::iter(words), |w: &String| w.len()).unwrap());
    assert_eq!(got[49], 3);

    // A borrowing iterator, in a scope.
    let base = vec![5u16, 6, 7];
    let got = parmapper::scope(|s| {
        ok(s.map_with(&two(), parmapper::iter(base.iter().map(|&x| x as u32 * 10)), |&x| x + 1).unwrap())
    });
    assert_eq!(got, [51, 61, 71]);
}

#[test]
fn a_panicking_iterator_ends_the_map_after_the_items_before_it() {
    let items = (0..100u32).map(|i| if i == 60 { panic!("no item 60") } else { i });
    let results: Vec<_> = parmapper::map_with(&two().chunk_size(1), parmapper::iter(items), |&x| x).unwrap().collect();
    let (last, before) = results.split_last().unwrap();
    assert_eq!(before.len(), 60);
    assert!(before.iter().enumerate().all(|(i, r)| r.as_ref().ok() == Some(&(i as u32))));
    let e = last.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.message().starts_with("the input iterator panicked at 'no item 60', "), "{}", e);
    assert!(e.message().contains("map.rs:"), "the panic's location: {}", e);
}

fn panic_on_multiples_of_7(x: &u32) -> u32 {
    if x % 7 == 3 {
        panic!("bad item {}", x);
    }
    x * 2
}

#[test]
fn a_panic_fails_its_item_with_the_panic_message_in_every_mode() {
    let items: Vec<u32> = (0..50).collect();
    for opts in [two(), Options::new().processes(1), two().threads(2), two().chunk_calls(true), two().errors(ErrorMode::Inline)] {
        // Raise: the results before it, then the panic, then the end.
        let got: Vec<_> = parmapper::scope(|s| s.map_with(&opts, &items, panic_on_multiples_of_7).unwrap().collect());
        assert_eq!(got.len(), 4, "{:?}", opts);
        assert_eq!(got[..3].iter().map(|r| *r.as_ref().unwrap()).collect::<Vec<_>>(), [0, 2, 4]);
        let e = got[3].as_ref().unwrap_err();
        assert_eq!((e.kind(), e.index(), e.status()), (ErrorKind::Panic, Some(3), parmapper_sys::PM_EITEM));
        // std's words, with the location the panic hook recorded.
        let at = e.message().strip_prefix("panicked at 'bad item 3', ").expect(e.message());
        assert!(at.ends_with(".rs:187:9") && at.contains("map.rs"), "{}", at);
        assert_eq!(e.to_string(), format!("item 3: {}", e.message()));
    }
    for opts in [two(), Options::new().processes(1)] {
        // Return: each panic in its place, and the map goes on.
        let opts = opts.errors(ErrorMode::Return);
        let got: Vec<_> = parmapper::scope(|s| s.map_with(&opts, &items, panic_on_multiples_of_7).unwrap().collect());
        assert_eq!(got.len(), 50);
        for (i, r) in got.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v, i as u32 * 2),
                Err(e) => {
                    assert_eq!(i % 7, 3);
                    assert!(e.is_panic());
                    assert_eq!(e.index(), Some(i as u64));
                    assert!(e.message().starts_with(&format!("panicked at 'bad item {}', ", i)), "{}", e);
                }
            }
        }
        assert_eq!(got.iter().filter(|r| r.is_err()).count(), 7);
    }
}

#[test]
fn an_err_from_the_closure_fails_the_item_with_its_text() {
    let items: Vec<i64> = vec![4, -2, 9];
    let opts = two().errors(ErrorMode::Return);
    let got: Vec<_> = parmapper::scope(|s| {
        s.map_with(&opts, &items, |&x| if x < 0 { Err(format!("{} is negative", x)) } else { Ok(x * 10) }).unwrap().collect()
    });
    assert_eq!(got[0].as_ref().unwrap(), &40);
    let e = got[1].as_ref().unwrap_err();
    assert_eq!((e.kind(), e.index(), e.message()), (ErrorKind::Failed, Some(1), "-2 is negative"));
    assert_eq!(got[2].as_ref().unwrap(), &90);
}

/// A result whose bytes do not decode when the value is odd.
#[derive(Debug, PartialEq)]
struct EvenOnly(u32);
impl Encode for EvenOnly {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.write(&self.0.to_le_bytes());
    }
}
impl Decode for EvenOnly {
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let v = u32::from_le_bytes(bytes.try_into().map_err(|_| "not 4 bytes".to_string())?);
        if v % 2 == 1 {
            Err(format!("{} is odd", v))
        } else {
            Ok(EvenOnly(v))
        }
    }
}

#[test]
fn a_result_that_does_not_decode_is_an_error_of_its_item() {
    let items: Vec<u32> = (0..10).collect();
    let got: Vec<_> = parmapper::scope(|s| s.map_with(&two(), &items, |&x| EvenOnly(x)).unwrap().collect());
    assert_eq!(got.len(), 2, "raise mode ends at the first bad result");
    assert_eq!(got[0].as_ref().unwrap(), &EvenOnly(0));
    let e = got[1].as_ref().unwrap_err();
    assert_eq!((e.kind(), e.index()), (ErrorKind::BadResult, Some(1)));
    assert!(e.message().contains("1 is odd"), "{}", e);

    let opts = two().errors(ErrorMode::Return);
    let bad = parmapper::scope(|s| s.map_with(&opts, &items, |&x| EvenOnly(x)).unwrap().filter(|r| r.is_err()).count());
    assert_eq!(bad, 5);
}

#[test]
fn a_worker_that_crashes_is_reported_and_retries_can_get_past_it() {
    let items: Vec<u32> = (0..40).collect();
    let crash_at_5 = |&x: &u32| {
        if x == 5 {
            std::process::abort();
        }
        x
    };
    let got: Vec<_> = parmapper::scope(|s| s.map_with(&two().chunk_size(4), &items, crash_at_5).unwrap().collect());
    assert_eq!(got.len(), 6);
    let e = got[5].as_ref().unwrap_err();
    assert_eq!((e.kind(), e.index()), (ErrorKind::WorkerDied, Some(5)));
    assert!(e.message().contains("SIGABRT"), "{}", e);

    let opts = two().chunk_size(4).errors(ErrorMode::Return);
    let got: Vec<_> = parmapper::scope(|s| s.map_with(&opts, &items, crash_at_5).unwrap().collect());
    assert_eq!(got.len(), 40);
    assert!(got.iter().enumerate().all(|(i, r)| (i == 5) == r.is_err()));

    // The first attempt at item 5 crashes, the retry succeeds: a marker
    // file tells the attempts apart across processes.
    let marker = std::env::temp_dir().join(format!("parmapper-rust-retry-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let once = |&x: &u32| {
        if x == 5 && std::fs::File::options().write(true).create_new(true).open(&marker).is_ok() {
            std::process::abort();
        }
        x
    };
    let got = parmapper::scope(|s| ok(s.map_with(&two().retries(1), &items, once).unwrap()));
    assert_eq!(got, items);
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();
}

#[test]
fn an_item_past_the_timeout_fails_and_the_others_come() {
    let items: Vec<u32> = (0..8).collect();
    let opts = two().chunk_size(1).item_timeout(Duration::from_millis(200)).errors(ErrorMode::Return);
    let t0 = Instant::now();
    let got: Vec<_> = parmapper::scope(|s| {
        s.map_with(&opts, &items, |&x| {
            if x == 3 {
                std::thread::sleep(Duration::from_secs(60));
            }
            x
        })
        .unwrap()
        .collect()
    });
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(got.len(), 8);
    let e = got[3].as_ref().unwrap_err();
    assert_eq!((e.kind(), e.index()), (ErrorKind::TimedOut, Some(3)));
    assert!(e.message().contains("item timeout"), "{}", e);
    assert!(got.iter().enumerate().all(|(i, r)| i == 3 || r.as_ref().ok() == Some(&(i as u32))));
}

#[test]
fn a_canceller_stops_a_map_blocked_on_another_thread() {
    let items: Vec<u32> = (0..100).collect();
    parmapper::scope(|s| {
        let mut map = s
            .map_with(&two().chunk_size(1), &items, |&x| {
                std::thread::sleep(Duration::from_secs(60));
                x
            })
            .unwrap();
        let stop = map.canceller();
        let t0 = Instant::now();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            assert!(stop.cancel());
            stop
        });
        let e = map.next().unwrap().unwrap_err();
        assert_eq!((e.kind(), e.index()), (ErrorKind::Canceled, None));
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        assert!(map.next().is_none());
        let stop = canceller.join().unwrap();
        drop(map);
        assert!(!stop.cancel(), "a canceller of a dropped map does nothing");
    });
}

#[test]
fn next_timeout_says_pending_until_a_result_is_ready() {
    let items: Vec<u32> = vec![1, 2];
    parmapper::scope(|s| {
        let mut map = s
            .map_with(&two().chunk_size(1), &items, |&x| {
                std::thread::sleep(Duration::from_millis(300));
                x
            })
            .unwrap();
        assert!(matches!(map.next_timeout(Duration::from_millis(20)), Next::Pending));
        let mut got = Vec::new();
        loop {
            match map.next_timeout(Duration::from_millis(50)) {
                Next::Ready(r) => got.push(r.unwrap()),
                Next::Pending => {}
                Next::Done => break,
            }
        }
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn next_bytes_gives_the_result_bytes_in_place() {
    let items: Vec<u16> = vec![0x0102, 0x0304];
    parmapper::scope(|s| {
        let mut map = s.map(&items, |&x| x.to_be_bytes()).unwrap();
        let (i, b) = map.next_bytes().unwrap().unwrap();
        assert_eq!((i, b), (0, &[1u8, 2][..]));
        let (i, b) = map.next_bytes().unwrap().unwrap();
        assert_eq!((i, b), (1, &[3u8, 4][..]));
        assert!(map.next_bytes().is_none());
    });
}

#[test]
fn bad_options_are_refused_with_the_option_named() {
    let items = vec![1u8];
    let err = parmapper::scope(|s| s.map_with(&Options::new().processes(5000), &items, |&x| x).err().unwrap());
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("processes(5000)"), "{}", err);
    let err = Pool::new(&Options::new().threads(0), |&x: &u8| x).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("threads(0)"), "{}", err);
}

#[test]
fn a_pool_runs_maps_one_after_another_and_survives_crashes() {
    let factor = 3u64;
    // A scoped pool's items outlive the scope, like the closure's borrows.
    let a: Vec<u64> = (0..100).collect();
    let b: Vec<u64> = (1010..1020).collect();
    let c: Vec<u64> = vec![1, 2];
    parmapper::scope(|s| {
        let mut pool = s
            .pool(&two(), |&x: &u64| {
                if x == 1013 {
                    std::process::abort();
                }
                x * factor
            })
            .unwrap();
        assert_eq!(pool.processes(), 2);
        assert_eq!(ok(pool.map(&a).unwrap())[99], 297);
        // A crash ends this map; the pool replaces the worker.
        let got: Vec<_> = pool.map(&b).unwrap().collect();
        assert_eq!(got.last().unwrap().as_ref().unwrap_err().kind(), ErrorKind::WorkerDied);
        let got = ok(pool.map_with(&Options::new().ordered(false), &c).unwrap());
        assert_eq!(got.iter().sum::<u64>(), 9);
        assert_eq!(pool.processes(), 2);
        // A leaked map does not block the next one.
        std::mem::forget(pool.map(&a).unwrap());
        assert_eq!(ok(pool.map(&c).unwrap()), [3, 6]);
    });
}

#[test]
fn progress_bar_and_other_options_leave_results_alone() {
    let items: Vec<u32> = (0..1000).collect();
    let opts = two()
        .progress_bar("rust test")
        .max_in_flight(64)
        .max_items_per_worker(100)
        .daemon(true)
        .reset_crash_signals(true)
        .total(1000);
    let got = parmapper::scope(|s| ok(s.map_with(&opts, &items, |&x| x + 1).unwrap()));
    assert_eq!(got[999], 1000);
}
