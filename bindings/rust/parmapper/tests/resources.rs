//! Nothing is left behind: after every kind of map and pool, and every way
//! of ending one (drained, dropped part-way, crashed, cancelled, leaked
//! with mem::forget inside a scope, a panic unwinding through a scope), this
//! process has the same descriptors open and no child process. One test in
//! its own binary, so that no other test's workers or pipes are counted.
use std::collections::BTreeSet;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use parmapper::{ErrorKind, ErrorMode, Options};

extern "C" {
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
}
const WNOHANG: c_int = 1;
const ECHILD: i32 = 10;

fn open_fds() -> BTreeSet<String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The descriptors now, without the one read_dir had open while listing.
fn fds() -> BTreeSet<String> {
    let a = open_fds();
    let b = open_fds();
    a.intersection(&b).cloned().collect()
}

/// `None` if this process has no child at all (waitpid fails with ECHILD),
/// else what waitpid said: a live child (0) or a reaped zombie (its pid).
fn any_child() -> Option<String> {
    let mut status = 0;
    let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
    let err = std::io::Error::last_os_error();
    if pid == -1 && err.raw_os_error() == Some(ECHILD) {
        None
    } else {
        Some(format!("waitpid(-1, WNOHANG) = {} ({})", pid, err))
    }
}

fn check(what: &str, before: &BTreeSet<String>) {
    let after = fds();
    assert_eq!(&after, before, "descriptors after {}", what);
    assert_eq!(any_child(), None, "a child is left after {}", what);
}

#[test]
fn no_descriptor_or_child_process_outlives_its_map_or_pool() {
    let items: Vec<u64> = (0..2000).collect();
    let two = Options::new().processes(2);
    let before = fds();
    assert_eq!(any_child(), None, "a child before any map");

    parmapper::scope(|s| assert_eq!(s.map_with(&two, &items, |&x| x + 1).unwrap().count(), 2000));
    check("a drained map", &before);

    parmapper::scope(|s| {
        let mut m = s.map_with(&two.clone().chunk_size(1), &items, |&x| x).unwrap();
        m.next().unwrap().unwrap();
    });
    check("a map dropped part-way", &before);

    parmapper::scope(|s| {
        let slow = s
            .map_with(&two.clone().chunk_size(1), &items, |&x| {
                std::thread::sleep(Duration::from_secs(60));
                x
            })
            .unwrap();
        std::mem::forget(slow);
    });
    check("a map leaked with mem::forget in a scope", &before);

    parmapper::scope(|s| {
        let crash = s.map_with(&two, &items, |&x| if x == 1500 { std::process::abort() } else { x }).unwrap();
        assert_eq!(crash.last().unwrap().unwrap_err().kind(), ErrorKind::WorkerDied);
    });
    check("a map whose worker crashed", &before);

    parmapper::scope(|s| {
        let m = s.map_with(&two, &items, |&x| x).unwrap();
        let stop = m.canceller();
        stop.cancel();
        assert_eq!(m.last().unwrap().unwrap_err().kind(), ErrorKind::Canceled);
    });
    check("a cancelled map", &before);

    let owned = parmapper::map_with(&two, parmapper::iter(0..u64::MAX), |&x| x).unwrap();
    drop(owned);
    check("an endless iterator map dropped", &before);

    parmapper::scope(|s| {
        let mut pool = s.pool(&two, |&x: &u64| if x == 7 { std::process::abort() } else { x }).unwrap();
        let a: Vec<u64> = (10..500).collect();
        let _ = pool.map(a.clone()).unwrap().count();
        let _ = pool.map_with(&Options::new().errors(ErrorMode::Return), vec![6u64, 7, 8]).unwrap().count();
        std::mem::forget(pool.map(a).unwrap());
        let leaked = s.pool(&two, |&x: &u64| x).unwrap();
        std::mem::forget(leaked);
    });
    check("pools, a leaked pool map and a leaked pool", &before);

    let unwound = catch_unwind(AssertUnwindSafe(|| {
        parmapper::scope(|s| {
            let _m = s.map_with(&two, &items, |&x| x).unwrap();
            let leaked = s.map_with(&two, &items, |&x| x).unwrap();
            std::mem::forget(leaked);
            panic!("unwinding through the scope");
        })
    }));
    assert!(unwound.is_err());
    check("a panic through a scope holding maps", &before);

    // A worker's own view of a handle it inherited: dropping it there must
    // not stop the parent's map. The closure cancels and drops a clone of
    // the parent's canceller in the worker; the parent's map goes on.
    let outer_items: Vec<u64> = (0..200).collect();
    let inner_items: Vec<u8> = vec![0; 4];
    parmapper::scope(|s| {
        let outer = s.map_with(&two.clone().chunk_size(10), &outer_items, |&x| x * 2).unwrap();
        let stop = outer.canceller();
        let inner = s
            .map_with(&two, &inner_items, move |_| {
                // In a worker: pm_map_cancel refuses an inherited map.
                stop.cancel() as u8
            })
            .unwrap();
        let refused: Vec<u8> = inner.map(Result::unwrap).collect();
        assert_eq!(refused, [0, 0, 0, 0], "a worker cancelled its parent's map");
        let total: u64 = outer.map(Result::unwrap).sum();
        assert_eq!(total, 199 * 200);
    });
    check("maps whose workers touched an inherited canceller", &before);

    for processes in [1, 2] {
        let opts = Options::new().processes(processes).threads(2);
        parmapper::scope(|s| assert_eq!(s.map_with(&opts, &items, |&x| x).unwrap().count(), 2000));
    }
    check("maps with two threads per worker", &before);
}
