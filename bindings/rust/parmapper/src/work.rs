//! The work function trampolines: `extern "C"` functions the library calls
//! in a worker (or in this process), which run the closure with the item,
//! catch any panic, and write the result or the failure into the sink.
use std::any::Any;
use std::cell::RefCell;
use std::ffi::CString;
use std::mem;
use std::os::raw::{c_int, c_void};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::slice;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

use parmapper_sys as sys;

use crate::data::{Encode, Encoder, Outcome, View};
use crate::error::{PAYLOAD_MAGIC, TAG_BAD_ITEM, TAG_FAILED, TAG_PANIC, TAG_WRITE};

thread_local! {
    /// Where the last panic on this thread happened, recorded by the hook.
    static PANIC_LOCATION: RefCell<Option<String>> = RefCell::new(None);
}

/// The process that installed the hook; 0 before.
static HOOK_PID: AtomicU32 = AtomicU32::new(0);
static HOOK: Once = Once::new();

/// Installs, once per process and before the first fork, a panic hook that
/// wraps the one in place. In this process it records the panic's location
/// and calls the previous hook, so nothing changes here. In a *forked*
/// process (a worker) it only records the location: the panic is caught by
/// the trampoline and comes back as the item's error, so printing it is not
/// needed, and the default hook would take std's locks (the backtrace lock
/// with RUST_BACKTRACE set, a test's output capture) that another thread of
/// this process may have held at the fork, where no thread will ever
/// release them: the worker would wait for ever.
pub(crate) fn install_panic_hook() {
    if std::thread::panicking() {
        return; // set_hook would panic; a later map installs it
    }
    HOOK.call_once(|| {
        HOOK_PID.store(std::process::id(), Ordering::SeqCst);
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                let at = at.to_string();
                let _ = PANIC_LOCATION.try_with(|l| *l.borrow_mut() = Some(at));
            }
            if std::process::id() == HOOK_PID.load(Ordering::SeqCst) {
                previous(info);
            }
        }));
    });
}

/// Runs `serve` (`pm_worker_serve()`) with the hook quiet, as in a forked
/// worker: in a worker started by exec it never returns, and a panic there
/// comes back as the item's error without being printed; in the caller
/// it returns and the hook prints again.
pub(crate) fn quiet_while(serve: impl FnOnce()) {
    install_panic_hook();
    let me = HOOK_PID.swap(0, Ordering::SeqCst);
    serve();
    HOOK_PID.store(me, Ordering::SeqCst);
}

/// "panicked at 'text', file:line:col", as std prints it; the location is
/// the one the hook recorded on this thread, if any.
pub(crate) fn panic_text(payload: Box<dyn Any + Send>) -> String {
    let text = panic_message(payload);
    match PANIC_LOCATION.try_with(|l| l.borrow_mut().take()).ok().flatten() {
        Some(at) => format!("panicked at '{}', {}", text, at),
        None => format!("panicked at '{}'", text),
    }
}

/// The text of a panic's payload (`panic!("...")` gives a `&str` or a
/// `String`). The payload is dropped here, and a panic in its own `drop`
/// is caught and forgotten, so nothing unwinds into C.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_string()
    };
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        mem::forget(again);
    }
    text
}

/// Fails the item: its message, and a payload that tells this crate's
/// kinds of failure apart.
#[cold]
unsafe fn fail(out: *mut sys::pm_sink, tag: u8, message: &str) -> c_int {
    let msg = CString::new(message.replace('\0', " ")).expect("no NUL left");
    sys::pm_sink_set_error(out, msg.as_ptr());
    let mut payload = [0u8; 9];
    payload[..8].copy_from_slice(PAYLOAD_MAGIC);
    payload[8] = tag;
    sys::pm_sink_set_error_payload(out, payload.as_ptr() as *const c_void, payload.len());
    1
}

/// Runs one item's closure and writes its result; a panic is left to the
/// caller's `catch_unwind`. Returns 0, or nonzero with the failure recorded.
#[inline(always)]
unsafe fn run_item_unguarded<F, I, O>(work: &F, bytes: &[u8], out: *mut sys::pm_sink) -> c_int
where
    F: Fn(&I) -> O,
    I: ?Sized + View,
    O: Outcome,
{
    match I::view(bytes, |item| work(item).into_result()) {
        Ok(Ok(result)) => {
            let mut enc = Encoder::sink(out);
            result.encode(&mut enc);
            if enc.failed() {
                fail(out, TAG_WRITE, "cannot write the result (out of memory)")
            } else {
                0
            }
        }
        Ok(Err(message)) => fail(out, TAG_FAILED, &message),
        Err(why) => fail(out, TAG_BAD_ITEM, &why),
    }
}

#[cold]
fn fail_panic(out: *mut sys::pm_sink, payload: Box<dyn Any + Send>) -> c_int {
    let message = panic_text(payload);
    // SAFETY: `out` is the sink of the running call.
    unsafe { fail(out, TAG_PANIC, &message) }
}

/// Runs one item. Returns 0, or nonzero with the failure recorded in `out`.
#[inline]
unsafe fn run_item<F, I, O>(work: &F, bytes: &[u8], out: *mut sys::pm_sink) -> c_int
where
    F: Fn(&I) -> O,
    I: ?Sized + View,
    O: Outcome,
{
    match catch_unwind(AssertUnwindSafe(|| run_item_unguarded(work, bytes, out))) {
        Ok(rc) => rc,
        Err(payload) => fail_panic(out, payload),
    }
}

#[inline]
unsafe fn item_bytes<'b>(item: *const c_void, len: usize) -> &'b [u8] {
    if len == 0 || item.is_null() {
        &[]
    } else {
        slice::from_raw_parts(item as *const u8, len)
    }
}

/// The closure `user_data` points at. A closure that captures nothing
/// (zero-sized) needs no pointer: an exec-mode worker, a fresh run of the
/// program, gets user_data NULL for a function the library found by its
/// place in the executable, and the closure's (only) value is used then.
#[inline(always)]
unsafe fn closure<'f, F>(user_data: *mut c_void) -> &'f F {
    if mem::size_of::<F>() == 0 {
        &*std::ptr::NonNull::<F>::dangling().as_ptr()
    } else {
        &*(user_data as *const F)
    }
}

/// Refuses, before the library sees it, a closure that captures something
/// in exec mode: a worker started by exec has none of this process's
/// memory, so its captures would not be there.
pub(crate) fn check_exec<F>(opts: &crate::Options, what: &str) -> Result<(), crate::Error> {
    if mem::size_of::<F>() != 0 && opts.may_exec() && !opts.in_process() {
        return Err(crate::Error::call(
            sys::PM_EINVAL,
            what,
            "in exec mode (StartMethod::Exec) the work must capture nothing: \
             a closure without captures, or a function registered with parmapper::register()"
                .to_string(),
        ));
    }
    Ok(())
}

/// The `pm_work_fn` for a closure `F` given as `user_data`; `I` and `O`
/// are the item type it sees and what it returns.
pub(crate) unsafe extern "C" fn work_item<F, I, O>(
    item: *const c_void,
    len: usize,
    _index: u64,
    out: *mut sys::pm_sink,
    user_data: *mut c_void,
) -> c_int
where
    F: Fn(&I) -> O,
    I: ?Sized + View,
    O: Outcome,
{
    let work = closure::<F>(user_data);
    run_item(work, item_bytes(item, len), out)
}

/// The `pm_chunk_fn` for a closure `F`: one crossing per chunk, and one
/// `catch_unwind` per chunk unless an item panics (that item is failed
/// with the panic, and the rest of the chunk runs under a new one).
pub(crate) unsafe extern "C" fn work_chunk<F, I, O>(
    _first: u64,
    count: usize,
    items: *const *const c_void,
    lens: *const usize,
    out: *mut sys::pm_sink,
    user_data: *mut c_void,
) -> c_int
where
    F: Fn(&I) -> O,
    I: ?Sized + View,
    O: Outcome,
{
    let work = closure::<F>(user_data);
    let mut k = 0;
    while k < count {
        let run = catch_unwind(AssertUnwindSafe(|| {
            while k < count {
                let failed = run_item_unguarded(work, item_bytes(*items.add(k), *lens.add(k)), out);
                k += 1;
                if sys::pm_sink_end_item(out, failed) != sys::PM_OK {
                    return 1;
                }
            }
            0
        }));
        match run {
            Ok(0) => {}
            Ok(_) => return 1,
            Err(payload) => {
                // Item k panicked: it was not ended.
                fail_panic(out, payload);
                k += 1;
                if sys::pm_sink_end_item(out, 1) != sys::PM_OK {
                    return 1;
                }
            }
        }
    }
    0
}
