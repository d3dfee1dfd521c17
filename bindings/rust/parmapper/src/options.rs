//! Options: a plain Rust builder, turned into a `pm_options` for each call.
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::ptr;
use std::time::Duration;

use parmapper_sys as sys;

use crate::error::{c_text, Error};

/// What a failed item does to the map.
///
/// ```
/// use parmapper::{ErrorMode, Options};
/// let items: Vec<i32> = (0..6).collect();
/// parmapper::scope(|s| {
///     // Return: each failure comes back in its place and the map goes on.
///     let opts = Options::new().errors(ErrorMode::Return);
///     let failed = s.map_with(&opts, &items, |&x| if x % 2 == 1 { Err("odd") } else { Ok(x) })
///         .unwrap()
///         .filter(|r| r.is_err())
///         .count();
///     assert_eq!(failed, 3);
///     // Raise (the default): the first failure ends the map.
///     let seen = s.map(&items, |&x| if x % 2 == 1 { Err("odd") } else { Ok(x) })
///         .unwrap()
///         .count();
///     assert_eq!(seen, 2); // Ok(0), then Err for item 1
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorMode {
    /// The first failure ends the map: the iterator yields it (in ordered
    /// mode after every earlier result, so it is the lowest failed index),
    /// then ends (`PM_ERRORS_RAISE`, the default).
    Raise,
    /// Each failed item comes back in its place as an `Err`, and the map
    /// goes on (`PM_ERRORS_RETURN`).
    Return,
    /// Everything runs in this process and thread, without fork, and stops
    /// like `Raise`: for debuggers and sanitizers (`PM_ERRORS_INLINE`).
    Inline,
}

/// How worker processes start ([`Options::start_method`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMethod {
    /// A worker is a `fork()` of this process and inherits the closure and
    /// everything it borrows (`PM_START_FORK`, the default).
    Fork,
    /// A worker is a fresh run of this program (`PM_START_EXEC`), for a
    /// process whose other threads must not be forked. Its `main` must call
    /// [`serve()`](crate::serve) first; the work is a function registered
    /// by name with [`register()`](crate::register), or a closure that
    /// captures nothing. Nothing else of this process is inherited.
    Exec,
}

/// Settings of a map or pool, with the library's defaults for whatever is
/// not set. Chained setters; values are checked when a map or pool is made
/// (an [`ErrorKind::InvalidArgument`](crate::ErrorKind) error).
///
/// ```
/// use parmapper::{ErrorMode, Options};
/// use std::time::Duration;
/// let opts = Options::new()
///     .processes(2)              // worker processes (default: one per CPU)
///     .threads(1)                // threads per worker
///     .chunk_size(64)            // items per message (default: automatic)
///     .ordered(false)            // results as they finish
///     .errors(ErrorMode::Return) // failed items come back in place
///     .item_timeout(Duration::from_secs(10))
///     .retries(1);               // run again an item whose worker died
/// let items: Vec<u64> = (0..100).collect();
/// let mut sum = 0;
/// parmapper::scope(|s| {
///     for r in s.map_with(&opts, &items, |&x| x * 2).unwrap() {
///         sum += r.unwrap();
///     }
/// });
/// assert_eq!(sum, 9900);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub(crate) processes: Option<u32>,
    threads: Option<u32>,
    chunk_size: Option<usize>,
    ordered: Option<bool>,
    total: Option<u64>,
    pub(crate) errors: Option<ErrorMode>,
    max_in_flight: Option<usize>,
    daemon: Option<bool>,
    item_timeout: Option<Duration>,
    retries: Option<u32>,
    max_items_per_worker: Option<u64>,
    max_worker_rss: Option<u64>,
    progress_bar: Option<Option<String>>,
    reset_crash_signals: Option<bool>,
    pub(crate) batch: Option<usize>,
    pub(crate) chunk_calls: Option<bool>,
    pub(crate) start_method: Option<StartMethod>,
}

impl Options {
    /// All defaults: one worker process per CPU, one thread each, automatic
    /// chunks, ordered results, [`ErrorMode::Raise`].
    ///
    /// ```
    /// let opts = parmapper::Options::new();
    /// assert_eq!(opts.error_mode(), parmapper::ErrorMode::Raise);
    /// ```
    pub fn new() -> Options {
        Options::default()
    }

    /// Worker processes; 0 means one per online CPU (the default), and 1
    /// runs the map in this process, without fork.
    ///
    /// ```
    /// let opts = parmapper::Options::new().processes(1); // no fork
    /// # let _ = opts;
    /// ```
    pub fn processes(mut self, n: u32) -> Options {
        self.processes = Some(n);
        self
    }

    /// Threads per worker process (default 1). With more than one the work
    /// function runs on several threads at once, hence its `Sync` bound.
    ///
    /// ```
    /// let opts = parmapper::Options::new().processes(2).threads(2);
    /// # let _ = opts;
    /// ```
    pub fn threads(mut self, n: u32) -> Options {
        self.threads = Some(n);
        self
    }

    /// Items per chunk, the unit sent to a worker; 0 is automatic (the
    /// default: the total split evenly when known, else about 20 ms of work).
    ///
    /// ```
    /// let opts = parmapper::Options::new().chunk_size(1); // one item per message
    /// # let _ = opts;
    /// ```
    pub fn chunk_size(mut self, n: usize) -> Options {
        self.chunk_size = Some(n);
        self
    }

    /// `true` (the default): results in input order; `false`: as they
    /// finish (see [`Map::indexed`](crate::Map::indexed) for which is which).
    ///
    /// ```
    /// let opts = parmapper::Options::new().ordered(false);
    /// # let _ = opts;
    /// ```
    pub fn ordered(mut self, ordered: bool) -> Options {
        self.ordered = Some(ordered);
        self
    }

    /// The number of items an iterator input will give, for chunking and
    /// the progress bar (an exact `size_hint` sets it by itself).
    ///
    /// ```
    /// let opts = parmapper::Options::new().total(1000);
    /// # let _ = opts;
    /// ```
    pub fn total(mut self, n: u64) -> Options {
        self.total = Some(n);
        self
    }

    /// What a failed item does: see [`ErrorMode`].
    ///
    /// ```
    /// let opts = parmapper::Options::new().errors(parmapper::ErrorMode::Return);
    /// assert_eq!(opts.error_mode(), parmapper::ErrorMode::Return);
    /// ```
    pub fn errors(mut self, mode: ErrorMode) -> Options {
        self.errors = Some(mode);
        self
    }

    /// The error mode that is set ([`ErrorMode::Raise`] by default).
    ///
    /// ```
    /// assert_eq!(parmapper::Options::new().error_mode(), parmapper::ErrorMode::Raise);
    /// ```
    pub fn error_mode(&self) -> ErrorMode {
        self.errors.unwrap_or(ErrorMode::Raise)
    }

    /// Bound on items read from the input but not yet yielded (0:
    /// automatic): memory stays bounded whatever the input's length.
    ///
    /// ```
    /// let opts = parmapper::Options::new().max_in_flight(1000);
    /// # let _ = opts;
    /// ```
    pub fn max_in_flight(mut self, n: usize) -> Options {
        self.max_in_flight = Some(n);
        self
    }

    /// `true` (the default): workers die with this process (and with the
    /// thread that made the map or pool: Linux ties it to the thread).
    ///
    /// ```
    /// let opts = parmapper::Options::new().daemon(true);
    /// # let _ = opts;
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Options {
        self.daemon = Some(daemon);
        self
    }

    /// An item running longer fails with [`ErrorKind::TimedOut`](crate::ErrorKind)
    /// and its worker is killed and replaced (millisecond resolution; zero:
    /// none, the default). Not in-process (one process or `Inline`).
    ///
    /// ```
    /// let opts = parmapper::Options::new().item_timeout(std::time::Duration::from_millis(500));
    /// # let _ = opts;
    /// ```
    pub fn item_timeout(mut self, timeout: Duration) -> Options {
        self.item_timeout = Some(timeout);
        self
    }

    /// Runs again, up to `n` more times, an item whose worker died or timed
    /// out (not one whose work function panicked or returned `Err`).
    ///
    /// ```
    /// let opts = parmapper::Options::new().retries(2);
    /// # let _ = opts;
    /// ```
    pub fn retries(mut self, n: u32) -> Options {
        self.retries = Some(n);
        self
    }

    /// Replaces a worker once it has run about `n` items (0: never).
    ///
    /// ```
    /// let opts = parmapper::Options::new().max_items_per_worker(10_000);
    /// # let _ = opts;
    /// ```
    pub fn max_items_per_worker(mut self, n: u64) -> Options {
        self.max_items_per_worker = Some(n);
        self
    }

    /// Replaces a worker once its resident memory exceeds `bytes` (0: never).
    ///
    /// ```
    /// let opts = parmapper::Options::new().max_worker_rss(1 << 30);
    /// # let _ = opts;
    /// ```
    pub fn max_worker_rss(mut self, bytes: u64) -> Options {
        self.max_worker_rss = Some(bytes);
        self
    }

    /// Draws the library's progress bar on stderr, with a label (`""` for
    /// none); drawn by the thread that steps the map.
    ///
    /// ```
    /// let opts = parmapper::Options::new().progress_bar("squares");
    /// # let _ = opts;
    /// ```
    pub fn progress_bar(mut self, label: &str) -> Options {
        self.progress_bar = Some(Some(label.to_string()));
        self
    }

    /// Gives the crash signals (SIGSEGV, SIGABRT, ...) their default action
    /// in each worker, so that a crash is reported as that signal even if
    /// the program installed handlers for them.
    ///
    /// ```
    /// let opts = parmapper::Options::new().reset_crash_signals(true);
    /// # let _ = opts;
    /// ```
    pub fn reset_crash_signals(mut self, reset: bool) -> Options {
        self.reset_crash_signals = Some(reset);
        self
    }

    /// Most results taken from the library per step (default 256): the map
    /// asks for every ready result at once, `pm_map_next_batch()`, to cut
    /// the cost per item. 1 steps one result at a time.
    ///
    /// ```
    /// let opts = parmapper::Options::new().batch(1);
    /// # let _ = opts;
    /// ```
    pub fn batch(mut self, n: usize) -> Options {
        self.batch = Some(n.max(1));
        self
    }

    /// `true`: the work function crosses from C into Rust once per chunk
    /// (`pm_map_create_chunked()`), not once per item. The default is
    /// `false`: examples/bench.rs measured no gain from it (see the README).
    ///
    /// ```
    /// let opts = parmapper::Options::new().chunk_calls(true);
    /// let v: Vec<u64> = parmapper::map_with(&opts, vec![1u64, 2], |&x| x + 1)
    ///     .unwrap().map(Result::unwrap).collect();
    /// assert_eq!(v, [2, 3]);
    /// ```
    pub fn chunk_calls(mut self, on: bool) -> Options {
        self.chunk_calls = Some(on);
        self
    }

    /// How the workers start: [`StartMethod::Fork`] (the default, unless
    /// the environment variable `PARMAPPER_START=exec` says otherwise) or
    /// [`StartMethod::Exec`]. In-process maps (one process,
    /// [`ErrorMode::Inline`]) start no worker and ignore it.
    ///
    /// ```
    /// use parmapper::{Options, StartMethod};
    /// let opts = Options::new().start_method(StartMethod::Fork);
    /// let v: Vec<u8> = parmapper::map_with(&opts, vec![1u8], |&x| x).unwrap().map(Result::unwrap).collect();
    /// assert_eq!(v, [1]);
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Options {
        self.start_method = Some(method);
        self
    }

    /// Whether maps made with these options run in this process.
    pub(crate) fn in_process(&self) -> bool {
        self.processes == Some(1) || self.errors == Some(ErrorMode::Inline)
    }

    /// Whether workers may start by exec: set so, or left to the
    /// environment.
    pub(crate) fn may_exec(&self) -> bool {
        match self.start_method {
            Some(m) => m == StartMethod::Exec,
            None => std::env::var_os("PARMAPPER_START").map_or(false, |v| v == "exec"),
        }
    }
}

/// A `pm_options` made from [`Options`] for one call, with the error buffer
/// that call's failure message is written to.
pub(crate) struct RawOptions {
    pub(crate) raw: *mut sys::pm_options,
    // Boxed: the library keeps the pointer until the options are destroyed.
    error: Box<[u8; 1024]>,
}

impl Drop for RawOptions {
    fn drop(&mut self) {
        // SAFETY: made by pm_options_create, destroyed once.
        unsafe { sys::pm_options_destroy(self.raw) }
    }
}

fn check(rc: c_int, what: &str) -> Result<(), Error> {
    if rc == sys::PM_OK {
        Ok(())
    } else {
        // Read at once, on the thread of the failing call: nothing else ran.
        Err(Error::call(rc, what, unsafe { c_text(sys::pm_last_error()) }))
    }
}

impl RawOptions {
    /// `total`: the input's length hint, unless the options set one.
    pub(crate) fn new(o: &Options, total: Option<u64>) -> Result<RawOptions, Error> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::pm_options_create(&mut raw) }, "pm_options_create")?;
        let mut r = RawOptions { raw, error: Box::new([0; 1024]) };
        let p = r.raw;
        unsafe {
            check(
                sys::pm_options_set_error_buffer(p, r.error.as_mut_ptr() as *mut c_char, r.error.len()),
                "pm_options_set_error_buffer",
            )?;
            if let Some(n) = o.processes {
                check(sys::pm_options_set_processes(p, n), &format!("processes({})", n))?;
            }
            if let Some(n) = o.threads {
                check(sys::pm_options_set_threads(p, n), &format!("threads({})", n))?;
            }
            if let Some(n) = o.chunk_size {
                check(sys::pm_options_set_chunk_size(p, n), &format!("chunk_size({})", n))?;
            }
            if let Some(b) = o.ordered {
                check(sys::pm_options_set_ordered(p, b as c_int), "ordered")?;
            }
            if let Some(n) = o.total.or(total) {
                check(sys::pm_options_set_total(p, n), &format!("total({})", n))?;
            }
            if let Some(m) = o.errors {
                let mode = match m {
                    ErrorMode::Raise => sys::PM_ERRORS_RAISE,
                    ErrorMode::Return => sys::PM_ERRORS_RETURN,
                    ErrorMode::Inline => sys::PM_ERRORS_INLINE,
                };
                check(sys::pm_options_set_error_mode(p, mode), "errors")?;
            }
            if let Some(n) = o.max_in_flight {
                check(sys::pm_options_set_max_in_flight(p, n), &format!("max_in_flight({})", n))?;
            }
            if let Some(b) = o.daemon {
                check(sys::pm_options_set_daemon(p, b as c_int), "daemon")?;
            }
            if let Some(t) = o.item_timeout {
                let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
                // A timeout below 1 ms would mean none: round it up.
                let ms = if ms == 0 && !t.is_zero() { 1 } else { ms };
                check(sys::pm_options_set_item_timeout(p, ms), &format!("item_timeout({:?})", t))?;
            }
            if let Some(n) = o.retries {
                check(sys::pm_options_set_retries(p, n), &format!("retries({})", n))?;
            }
            if let Some(n) = o.max_items_per_worker {
                check(sys::pm_options_set_max_items_per_worker(p, n), &format!("max_items_per_worker({})", n))?;
            }
            if let Some(n) = o.max_worker_rss {
                check(sys::pm_options_set_max_worker_rss(p, n), &format!("max_worker_rss({})", n))?;
            }
            if let Some(Some(label)) = &o.progress_bar {
                let label = CString::new(label.replace('\0', " ")).expect("no NUL left");
                check(sys::pm_options_set_progress_bar(p, 1, label.as_ptr()), "progress_bar")?;
            }
            if let Some(b) = o.reset_crash_signals {
                check(sys::pm_options_set_reset_crash_signals(p, b as c_int), "reset_crash_signals")?;
            }
            if let Some(m) = o.start_method {
                let method = match m {
                    StartMethod::Fork => sys::PM_START_FORK,
                    StartMethod::Exec => sys::PM_START_EXEC,
                };
                check(sys::pm_options_set_start_method(p, method), "start_method")?;
            }
        }
        Ok(r)
    }

    /// The message the last failing call with these options left.
    pub(crate) fn error_message(&self) -> String {
        let end = self.error.iter().position(|&b| b == 0).unwrap_or(self.error.len());
        String::from_utf8_lossy(&self.error[..end]).into_owned()
    }

    /// `Err` for a failing create call made with these options.
    pub(crate) fn check_call(&self, rc: c_int, what: &str) -> Result<(), Error> {
        if rc == sys::PM_OK {
            Ok(())
        } else {
            Err(Error::call(rc, what, self.error_message()))
        }
    }
}
