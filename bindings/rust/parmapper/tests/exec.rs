//! Exec mode (workers that are fresh runs of this program). A test binary
//! of its own, without libtest's harness: its main registers the work
//! functions and calls `parmapper::serve()` first, as such a program must.
//! It prints a libtest-like summary line for run_tests.sh.
use std::sync::atomic::{AtomicU64, Ordering};

use parmapper::{ErrorKind, ErrorMode, Options, StartMethod};

/// Set in the caller before each map: a forked worker inherits it, a
/// worker started by exec sees its value of a new run (0).
static MARK: AtomicU64 = AtomicU64::new(0);

fn square(x: &u64) -> u64 {
    x * x
}

fn mark(_: &u64) -> u64 {
    MARK.load(Ordering::SeqCst)
}

fn pid(_: &u32) -> u32 {
    std::process::id()
}

fn checked(x: &i64) -> Result<i64, String> {
    if *x == 3 {
        panic!("three")
    }
    if *x < 0 {
        return Err(format!("negative: {}", x));
    }
    Ok(*x)
}

fn upper(s: &str) -> String {
    s.to_uppercase()
}

fn exec_opts() -> Options {
    Options::new().processes(2).start_method(StartMethod::Exec)
}

fn registered_function_by_name() {
    let work = parmapper::register("exec-test-square", square).unwrap();
    assert_eq!(work.name(), "exec-test-square");
    let items: Vec<u64> = (0..1000).collect();
    let out: Vec<u64> = work.map_with(&exec_opts(), items).unwrap().map(Result::unwrap).collect();
    assert_eq!(out, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
}

fn workers_are_fresh_runs_not_forks() {
    let work = parmapper::register("exec-test-mark", mark).unwrap();
    MARK.store(42, Ordering::SeqCst);
    let exec: Vec<u64> = work.map_with(&exec_opts(), vec![0u64; 8]).unwrap().map(Result::unwrap).collect();
    assert_eq!(exec, [0; 8], "an exec worker has its own globals");
    let fork = Options::new().processes(2).start_method(StartMethod::Fork);
    let forked: Vec<u64> = work.map_with(&fork, vec![0u64; 8]).unwrap().map(Result::unwrap).collect();
    assert_eq!(forked, [42; 8], "a forked worker inherits them");
    MARK.store(0, Ordering::SeqCst);

    let pids = parmapper::register("exec-test-pid", pid).unwrap();
    let me = std::process::id();
    let opts = exec_opts().chunk_size(1);
    for r in pids.map_with(&opts, vec![0u32; 16]).unwrap() {
        assert_ne!(r.unwrap(), me);
    }
}

fn failures_and_panics_come_back() {
    let work = parmapper::register("exec-test-checked", checked).unwrap();
    let opts = exec_opts().errors(ErrorMode::Return);
    let out: Vec<_> = work.map_with(&opts, vec![1i64, -2, 3, 4]).unwrap().collect();
    assert_eq!(out[0].as_ref().unwrap(), &1);
    let e = out[1].as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Failed, "{}", e);
    assert!(e.to_string().contains("negative: -2"), "{}", e);
    let e = out[2].as_ref().unwrap_err();
    assert!(e.is_panic(), "{}", e);
    assert!(e.to_string().contains("three"), "{}", e);
    assert_eq!(out[3].as_ref().unwrap(), &4);
}

fn strings_and_pull_inputs() {
    let work = parmapper::register("exec-test-upper", upper).unwrap();
    let items = vec!["a".to_string(), "bc".to_string()];
    let out: Vec<String> = work.map_with(&exec_opts(), items).unwrap().map(Result::unwrap).collect();
    assert_eq!(out, ["A", "BC"]);
    let squares = parmapper::register("exec-test-square", square).unwrap();
    let sum: u64 = squares.map_with(&exec_opts(), parmapper::iter(0..100u64)).unwrap().map(Result::unwrap).sum();
    assert_eq!(sum, (0..100u64).map(|x| x * x).sum());
}

fn closures_without_captures_run_captures_are_refused() {
    let out: Vec<u64> = parmapper::map_with(&exec_opts(), vec![1u64, 2, 3], |&x| x + 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, [2, 3, 4]);
    let mut pool = parmapper::Pool::new(&exec_opts(), |&x: &u32| x * 3).unwrap();
    let out: Vec<u32> = pool.map(vec![1u32, 2]).unwrap().map(Result::unwrap).collect();
    assert_eq!(out, [3, 6]);

    let offset = 10u64;
    let e = parmapper::map_with(&exec_opts(), vec![1u64], move |&x| x + offset).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{}", e);
    assert!(e.to_string().contains("capture nothing"), "{}", e);
    // In-process maps start no worker: captures are fine there.
    let opts = exec_opts().processes(1);
    let out: Vec<u64> = parmapper::map_with(&opts, vec![1u64], move |&x| x + offset).unwrap().map(Result::unwrap).collect();
    assert_eq!(out, [11]);
}

fn bad_names_are_refused() {
    assert!(parmapper::register("", square).is_err());
    assert!(parmapper::register("with space", square).is_err());
    assert!(parmapper::register("nul\0byte", square).is_err());
}

fn main() {
    parmapper::register("exec-test-square", square).unwrap();
    parmapper::register("exec-test-mark", mark).unwrap();
    parmapper::register("exec-test-pid", pid).unwrap();
    parmapper::register("exec-test-checked", checked).unwrap();
    parmapper::register("exec-test-upper", upper).unwrap();
    parmapper::serve();

    let tests: [(&str, fn()); 6] = [
        ("registered_function_by_name", registered_function_by_name),
        ("workers_are_fresh_runs_not_forks", workers_are_fresh_runs_not_forks),
        ("failures_and_panics_come_back", failures_and_panics_come_back),
        ("strings_and_pull_inputs", strings_and_pull_inputs),
        ("closures_without_captures_run_captures_are_refused", closures_without_captures_run_captures_are_refused),
        ("bad_names_are_refused", bad_names_are_refused),
    ];
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    println!("\nrunning {} tests", tests.len());
    let (mut passed, mut failed, mut filtered) = (0, 0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        match std::panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {} ... ok", name);
                passed += 1;
            }
            Err(_) => {
                println!("test {} ... FAILED", name);
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out\n",
        if failed == 0 { "ok" } else { "FAILED" },
        passed,
        failed,
        filtered
    );
    std::process::exit(if failed == 0 { 0 } else { 101 });
}
