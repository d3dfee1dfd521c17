//! Raw declarations of libparmapper's C API (`parmapper.h`, version 0.3).
//!
//! Every function, callback type and constant of the header is mirrored here
//! one to one, with the C names; the header's own comments are the
//! reference for what each does (ownership, return codes, thread-safety).
//! `build.rs` finds the library with `pkg-config` (package `parmapper`) and
//! links `-lparmapper`. The safe API is the `parmapper` crate.
//!
//! Callbacks are `Option<unsafe extern "C" fn ...>` so that `None` is C's
//! `NULL`. `int` status codes are `c_int`; the enum values are constants.
//!
//! ```
//! use parmapper_sys as sys;
//! use std::ffi::CStr;
//! // The library that is loaded, and the text of a status code.
//! let version = unsafe { CStr::from_ptr(sys::pm_version_string()) };
//! assert!(unsafe { sys::pm_version_number() } >= 300);
//! if sys::PM_VERSION_STRING != "unknown" {
//!     assert_eq!(version.to_str().unwrap(), sys::PM_VERSION_STRING);
//! }
//! let text = unsafe { CStr::from_ptr(sys::pm_status_str(sys::PM_EITEM)) };
//! assert!(!text.to_bytes().is_empty());
//! ```
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int, c_void};

/// The version of the library this crate was built against, as pkg-config
/// reported it (`"unknown"` when `PARMAPPER_LIB_DIR` bypassed pkg-config).
/// Compare with `pm_version_string()` for the library that is loaded.
pub const PM_VERSION_STRING: &str = env!("PARMAPPER_SYS_VERSION");

// ---------------------------------------------------------------------------
// Status codes. Values are pinned: new codes are appended, never renumbered.

/// Success.
pub const PM_OK: c_int = 0;
/// `pm_map_next`: every result has been delivered.
pub const PM_DONE: c_int = 1;
/// An argument is NULL, out of range or inconsistent.
pub const PM_EINVAL: c_int = -1;
/// Memory allocation failed.
pub const PM_ENOMEM: c_int = -2;
/// Call not allowed in the object's current state.
pub const PM_ESTATE: c_int = -3;
/// Transport failure: a bad or truncated frame from a worker.
pub const PM_EIO: c_int = -4;
/// A worker process died (signal or exit) holding items.
pub const PM_EWORKER: c_int = -5;
/// The map was cancelled (`pm_map_cancel`; since 0.2).
pub const PM_ECANCELED: c_int = -6;
/// A bug in libparmapper; the message says where.
pub const PM_EINTERNAL: c_int = -7;
/// The work function reported failure for an item.
pub const PM_EITEM: c_int = -8;
/// The input callback reported failure.
pub const PM_EINPUT: c_int = -9;
/// A system call failed (fork, pipe, thread creation).
pub const PM_ESYS: c_int = -10;
/// An item ran past the item timeout (since 0.2).
pub const PM_ETIMEOUT: c_int = -11;
/// `pm_map_next_batch`: nothing yet, the wait timed out (since 0.3).
pub const PM_EAGAIN: c_int = -12;

// Error modes (pm_options_set_error_mode).
/// Stop at the first failure.
pub const PM_ERRORS_RAISE: c_int = 0;
/// A failed item comes back in its place; the map goes on.
pub const PM_ERRORS_RETURN: c_int = 1;
/// Run in the calling process and thread, without fork; stop like RAISE.
pub const PM_ERRORS_INLINE: c_int = 2;

// Start methods (pm_options_set_start_method; since 0.3).
/// Workers are `fork()`s of the caller (the default).
pub const PM_START_FORK: c_int = 0;
/// Workers are fresh runs of this program whose `main` calls
/// `pm_worker_serve()` first.
pub const PM_START_EXEC: c_int = 1;

/// `pm_options_set_total()`: no length hint.
pub const PM_TOTAL_UNKNOWN: u64 = u64::MAX;
/// `pm_options_set_chunk_size()`: automatic chunk size.
pub const PM_CHUNK_AUTO: usize = 0;
/// Most worker processes a setter accepts.
pub const PM_MAX_PROCESSES: u32 = 1024;
/// Most threads per worker a setter accepts.
pub const PM_MAX_THREADS: u32 = 1024;
/// Largest chunk size a setter accepts.
pub const PM_MAX_CHUNK_SIZE: usize = 1 << 24;
/// Largest in-flight bound a setter accepts.
pub const PM_MAX_IN_FLIGHT: usize = 1 << 30;

// ---------------------------------------------------------------------------
// Opaque handles (the nomicon's pattern: not constructible, !Send, !Sync,
// !Unpin).

macro_rules! opaque {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque! {
    /// Map and pool settings.
    pm_options;
    /// Where items come from.
    pm_input;
    /// Given to a `pm_input_fn` to push items.
    pm_feed;
    /// Given to a work function to write a result.
    pm_sink;
    /// Forked workers reused by several maps.
    pm_pool;
    /// One running map, stepped by `pm_map_next`.
    pm_map;
    /// One function in a background process (since 0.2).
    pm_process;
}

// ---------------------------------------------------------------------------
// Callbacks. Every callback takes an opaque user_data as its last argument.

/// Releases a user_data once the library no longer needs it.
pub type pm_destroy_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;
/// The work function, run in a worker process once per item.
pub type pm_work_fn = Option<
    unsafe extern "C" fn(
        item: *const c_void,
        len: usize,
        index: u64,
        out: *mut pm_sink,
        user_data: *mut c_void,
    ) -> c_int,
>;
/// A pull input (a generator), run on the library's feeder thread.
pub type pm_input_fn = Option<unsafe extern "C" fn(feed: *mut pm_feed, user_data: *mut c_void) -> c_int>;
/// Progress, on the thread calling `pm_map_next()`.
pub type pm_progress_fn = Option<unsafe extern "C" fn(done: u64, total: u64, user_data: *mut c_void)>;
/// Worker init hook (since 0.2).
pub type pm_worker_init_fn = Option<
    unsafe extern "C" fn(worker_id: u32, state: *mut *mut c_void, user_data: *mut c_void) -> c_int,
>;
/// Worker exit hook (since 0.2).
pub type pm_worker_exit_fn =
    Option<unsafe extern "C" fn(worker_id: u32, state: *mut c_void, user_data: *mut c_void)>;
/// A chunk work function (since 0.3): once per chunk with all its items.
pub type pm_chunk_fn = Option<
    unsafe extern "C" fn(
        first_index: u64,
        count: usize,
        items: *const *const c_void,
        lens: *const usize,
        out: *mut pm_sink,
        user_data: *mut c_void,
    ) -> c_int,
>;
/// Fork hooks (since 0.3).
pub type pm_fork_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;
/// Worker-thread hooks (since 0.3).
pub type pm_thread_fn = Option<unsafe extern "C" fn(worker_id: u32, thread: u32, user_data: *mut c_void)>;
/// The function a background process runs (since 0.2).
pub type pm_process_fn = Option<unsafe extern "C" fn(out: *mut pm_sink, user_data: *mut c_void) -> c_int>;
/// A function of rows, for `pm_pareval()` (since 0.2).
pub type pm_rows_fn = Option<
    unsafe extern "C" fn(
        x: *const f64,
        rows: usize,
        ndim: usize,
        y: *mut f64,
        out_width: usize,
        user_data: *mut c_void,
    ) -> c_int,
>;

extern "C" {
    // Version and errors.
    pub fn pm_version_string() -> *const c_char;
    pub fn pm_version_number() -> u32;
    pub fn pm_status_str(status: c_int) -> *const c_char;
    pub fn pm_last_error() -> *const c_char;

    // Options.
    pub fn pm_options_create(out: *mut *mut pm_options) -> c_int;
    pub fn pm_options_destroy(opts: *mut pm_options);
    pub fn pm_options_set_processes(opts: *mut pm_options, n: u32) -> c_int;
    pub fn pm_options_set_threads(opts: *mut pm_options, n: u32) -> c_int;
    pub fn pm_options_set_chunk_size(opts: *mut pm_options, n: usize) -> c_int;
    pub fn pm_options_set_ordered(opts: *mut pm_options, ordered: c_int) -> c_int;
    pub fn pm_options_set_total(opts: *mut pm_options, total: u64) -> c_int;
    pub fn pm_options_set_error_mode(opts: *mut pm_options, mode: c_int) -> c_int;
    pub fn pm_options_set_max_in_flight(opts: *mut pm_options, n: usize) -> c_int;
    pub fn pm_options_set_daemon(opts: *mut pm_options, daemon: c_int) -> c_int;
    pub fn pm_options_set_progress(opts: *mut pm_options, fn_: pm_progress_fn, user_data: *mut c_void) -> c_int;
    pub fn pm_options_set_progress_bar(opts: *mut pm_options, enable: c_int, label: *const c_char) -> c_int;
    pub fn pm_options_set_item_timeout(opts: *mut pm_options, ms: u64) -> c_int;
    pub fn pm_options_set_retries(opts: *mut pm_options, n: u32) -> c_int;
    pub fn pm_options_set_max_items_per_worker(opts: *mut pm_options, n: u64) -> c_int;
    pub fn pm_options_set_max_worker_rss(opts: *mut pm_options, bytes: u64) -> c_int;
    pub fn pm_options_set_worker_hooks(
        opts: *mut pm_options,
        init: pm_worker_init_fn,
        exit: pm_worker_exit_fn,
        user_data: *mut c_void,
    ) -> c_int;
    pub fn pm_options_set_fork_hooks(
        opts: *mut pm_options,
        prepare: pm_fork_fn,
        parent: pm_fork_fn,
        child: pm_fork_fn,
        user_data: *mut c_void,
    ) -> c_int;
    pub fn pm_options_set_thread_hooks(
        opts: *mut pm_options,
        start: pm_thread_fn,
        stop: pm_thread_fn,
        user_data: *mut c_void,
    ) -> c_int;
    pub fn pm_options_set_error_buffer(opts: *mut pm_options, buf: *mut c_char, len: usize) -> c_int;
    pub fn pm_options_set_reset_crash_signals(opts: *mut pm_options, reset: c_int) -> c_int;

    // Inputs.
    pub fn pm_input_create_pull(
        out: *mut *mut pm_input,
        fn_: pm_input_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> c_int;
    pub fn pm_input_create_array(
        out: *mut *mut pm_input,
        base: *const c_void,
        record_size: usize,
        count: usize,
    ) -> c_int;
    pub fn pm_input_create_records(
        out: *mut *mut pm_input,
        items: *const *const c_void,
        lens: *const usize,
        count: usize,
    ) -> c_int;
    pub fn pm_input_destroy(input: *mut pm_input);
    pub fn pm_feed_push(feed: *mut pm_feed, data: *const c_void, len: usize) -> c_int;
    pub fn pm_feed_set_error(feed: *mut pm_feed, message: *const c_char) -> c_int;
    pub fn pm_feed_push_packed(feed: *mut pm_feed, data: *const c_void, lens: *const usize, count: usize) -> c_int;
    pub fn pm_feed_wanted(feed: *const pm_feed) -> usize;

    // Inside a work function.
    pub fn pm_sink_write(out: *mut pm_sink, data: *const c_void, len: usize) -> c_int;
    pub fn pm_sink_reserve(out: *mut pm_sink, len: usize, buf: *mut *mut c_void) -> c_int;
    pub fn pm_sink_set_error(out: *mut pm_sink, message: *const c_char) -> c_int;
    pub fn pm_sink_set_error_payload(out: *mut pm_sink, data: *const c_void, len: usize) -> c_int;
    pub fn pm_sink_end_item(out: *mut pm_sink, failed: c_int) -> c_int;
    pub fn pm_sink_worker_id(out: *const pm_sink) -> u32;
    pub fn pm_sink_worker_state(out: *const pm_sink) -> *mut c_void;

    // One-shot maps.
    pub fn pm_map_create(
        out: *mut *mut pm_map,
        opts: *const pm_options,
        input: *mut pm_input,
        work: pm_work_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> c_int;
    pub fn pm_map_next(map: *mut pm_map, index: *mut u64, data: *mut *const c_void, len: *mut usize) -> c_int;
    pub fn pm_map_error(map: *const pm_map) -> *const c_char;
    pub fn pm_map_destroy(map: *mut pm_map);
    pub fn pm_map_cancel(map: *mut pm_map) -> c_int;

    // Workers that start by exec (since 0.3).
    pub fn pm_register_work(name: *const c_char, work: pm_work_fn, user_data: *mut c_void) -> c_int;
    pub fn pm_register_chunk_work(name: *const c_char, work: pm_chunk_fn, user_data: *mut c_void) -> c_int;
    pub fn pm_register_worker_hooks(
        name: *const c_char,
        init: pm_worker_init_fn,
        exit: pm_worker_exit_fn,
        thread_start: pm_thread_fn,
        thread_stop: pm_thread_fn,
        user_data: *mut c_void,
    ) -> c_int;
    pub fn pm_worker_serve(argc: c_int, argv: *mut *mut c_char) -> c_int;
    pub fn pm_options_set_start_method(opts: *mut pm_options, method: c_int) -> c_int;
    pub fn pm_options_set_worker_hooks_name(opts: *mut pm_options, name: *const c_char) -> c_int;
    pub fn pm_map_create_named(
        out: *mut *mut pm_map,
        opts: *const pm_options,
        input: *mut pm_input,
        work_name: *const c_char,
    ) -> c_int;
    pub fn pm_pool_create_named(out: *mut *mut pm_pool, opts: *const pm_options, work_name: *const c_char) -> c_int;

    // Batched steps (since 0.3).
    pub fn pm_map_create_chunked(
        out: *mut *mut pm_map,
        opts: *const pm_options,
        input: *mut pm_input,
        work: pm_chunk_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> c_int;
    pub fn pm_map_next_batch(
        map: *mut pm_map,
        max: usize,
        timeout_ms: c_int,
        indices: *mut u64,
        statuses: *mut c_int,
        data: *mut *const c_void,
        lens: *mut usize,
        count: *mut usize,
    ) -> c_int;
    pub fn pm_map_entry_error(map: *const pm_map, i: usize) -> *const c_char;
    pub fn pm_map_error_payload(map: *const pm_map, data: *mut *const c_void, len: *mut usize) -> c_int;

    // Pools.
    pub fn pm_pool_create(
        out: *mut *mut pm_pool,
        opts: *const pm_options,
        work: pm_work_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> c_int;
    pub fn pm_pool_create_chunked(
        out: *mut *mut pm_pool,
        opts: *const pm_options,
        work: pm_chunk_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> c_int;
    pub fn pm_pool_map(out: *mut *mut pm_map, pool: *mut pm_pool, opts: *const pm_options, input: *mut pm_input) -> c_int;
    pub fn pm_pool_processes(pool: *const pm_pool) -> u32;
    pub fn pm_pool_destroy(pool: *mut pm_pool);

    // Stream workers (since 0.3): a pool over byte streams, and their far end.
    pub fn pm_pool_create_streams(
        out: *mut *mut pm_pool,
        opts: *const pm_options,
        count: usize,
        task_fds: *const c_int,
        result_fds: *const c_int,
        destroy: pm_destroy_fn,
        user_data: *mut c_void,
    ) -> c_int;
    pub fn pm_stream_serve(
        task_fd: c_int,
        result_fd: c_int,
        opts: *const pm_options,
        work_name: *const c_char,
        where_: *const c_char,
    ) -> c_int;

    // Background processes (since 0.2).
    pub fn pm_process_start(
        out: *mut *mut pm_process,
        opts: *const pm_options,
        fn_: pm_process_fn,
        user_data: *mut c_void,
        destroy: pm_destroy_fn,
    ) -> c_int;
    pub fn pm_process_join(proc_: *mut pm_process, data: *mut *const c_void, len: *mut usize) -> c_int;
    pub fn pm_process_error(proc_: *const pm_process) -> *const c_char;
    pub fn pm_process_destroy(proc_: *mut pm_process);

    // ParEval (since 0.2).
    pub fn pm_pareval_set_error(message: *const c_char) -> c_int;
    pub fn pm_pareval(
        opts: *const pm_options,
        fn_: pm_rows_fn,
        user_data: *mut c_void,
        x: *const f64,
        n: usize,
        ndim: usize,
        y: *mut f64,
        out_width: usize,
        n_chunks: usize,
        n_eval: usize,
        n_min: usize,
    ) -> c_int;
}
