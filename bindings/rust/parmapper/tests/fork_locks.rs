//! A worker is a fork taken while other threads of the program may hold
//! std's locks; none of them is ever released in the worker. A panic in a
//! worker must not wait for them: here another thread panics over and over
//! with RUST_BACKTRACE=1, so that std's default panic hook holds its
//! backtrace lock (while it resolves symbols) at many of the forks. Each
//! item's panic must come back as that item's error, not hang (an item
//! timeout turns a hang into a TimedOut error, so the test fails instead
//! of hanging). In its own binary: it changes RUST_BACKTRACE.
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parmapper::{ErrorKind, ErrorMode, Options};

#[test]
fn a_worker_panic_never_waits_for_a_lock_held_at_the_fork() {
    std::env::set_var("RUST_BACKTRACE", "1");
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _ = panic::catch_unwind(|| panic!("background panic {}", n));
                n += 1;
            }
            n
        })
    };
    let items: Vec<u32> = (0..6).collect();
    let opts = Options::new()
        .processes(2)
        .chunk_size(1)
        .errors(ErrorMode::Return)
        .item_timeout(Duration::from_secs(3));
    for round in 0..12 {
        let got: Vec<_> = parmapper::scope(|s| {
            s.map_with(&opts, &items, |&x| -> u32 { panic!("item panic {}", x) }).unwrap().collect()
        });
        assert_eq!(got.len(), items.len());
        for (i, r) in got.iter().enumerate() {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Panic, "round {}, item {}: {}", round, i, e);
            assert!(e.message().starts_with(&format!("panicked at 'item panic {}', ", i)), "{}", e);
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert!(busy.join().unwrap() > 0, "the background thread never panicked");
}
