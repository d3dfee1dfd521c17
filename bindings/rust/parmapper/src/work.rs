//! The work function trampolines: `extern "C"` functions the library calls
//! in a worker (or in this process), which run the closure with the item,
//! catch any panic, and write the result or the failure into the sink.
use std::any::Any;
use std::ffi::CString;
use std::mem;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::slice;

use parmapper_sys as sys;

use crate::data::{Encode, Encoder, Outcome, View};
use crate::error::{PAYLOAD_MAGIC, TAG_BAD_ITEM, TAG_FAILED, TAG_PANIC, TAG_WRITE};

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
unsafe fn fail(out: *mut sys::pm_sink, tag: u8, message: &str) -> c_int {
    let msg = CString::new(message.replace('\0', " ")).expect("no NUL left");
    sys::pm_sink_set_error(out, msg.as_ptr());
    let mut payload = [0u8; 9];
    payload[..8].copy_from_slice(PAYLOAD_MAGIC);
    payload[8] = tag;
    sys::pm_sink_set_error_payload(out, payload.as_ptr() as *const c_void, payload.len());
    1
}

/// Runs one item. Returns 0, or nonzero with the failure recorded in `out`.
#[inline]
unsafe fn run_item<F, I, O>(work: &F, bytes: &[u8], out: *mut sys::pm_sink) -> c_int
where
    F: Fn(&I) -> O,
    I: ?Sized + View,
    O: Outcome,
{
    let mut enc = Encoder::sink(out);
    let outcome = catch_unwind(AssertUnwindSafe(|| match I::view(bytes, |item| work(item).into_result()) {
        Ok(Ok(result)) => {
            result.encode(&mut enc);
            Ok(())
        }
        Ok(Err(message)) => Err((TAG_FAILED, message)),
        Err(why) => Err((TAG_BAD_ITEM, why)),
    }));
    match outcome {
        Ok(Ok(())) if enc.failed() => fail(out, TAG_WRITE, "cannot write the result (out of memory)"),
        Ok(Ok(())) => 0,
        Ok(Err((tag, message))) => fail(out, tag, &message),
        Err(payload) => fail(out, TAG_PANIC, &format!("panicked: {}", panic_message(payload))),
    }
}

unsafe fn item_bytes<'b>(item: *const c_void, len: usize) -> &'b [u8] {
    if len == 0 || item.is_null() {
        &[]
    } else {
        slice::from_raw_parts(item as *const u8, len)
    }
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
    let work = &*(user_data as *const F);
    run_item(work, item_bytes(item, len), out)
}

/// The `pm_chunk_fn` for a closure `F`: one crossing per chunk.
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
    let work = &*(user_data as *const F);
    for k in 0..count {
        let failed = run_item(work, item_bytes(*items.add(k), *lens.add(k)), out);
        if sys::pm_sink_end_item(out, failed) != sys::PM_OK {
            return 1;
        }
    }
    0
}
