//! The error type: a status code, the item's index, and a message.
use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_int};

use parmapper_sys as sys;

/// What went wrong, from the C status code and, for a failed item, what
/// this crate's work function trampoline recorded with it.
///
/// ```
/// use parmapper::{ErrorKind, Options};
/// let items = vec![1u8, 2, 3];
/// let err = parmapper::scope(|s| {
///     s.map_with(&Options::new().processes(2), &items, |&x| {
///         if x == 2 { panic!("two is not allowed") }
///         x
///     })
///     .unwrap()
///     .find_map(|r| r.err())
/// })
/// .unwrap();
/// assert_eq!(err.kind(), ErrorKind::Panic);
/// assert_eq!(err.index(), Some(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The work function panicked; the message is the panic's (`PM_EITEM`).
    Panic,
    /// The work function returned `Err`; the message is its `Display` (`PM_EITEM`).
    Failed,
    /// The item's bytes do not hold the work function's item type (`PM_EITEM`).
    BadItem,
    /// The result's bytes could not be decoded in this process.
    BadResult,
    /// The item failed in a way this crate did not record (`PM_EITEM`).
    Item,
    /// The worker process running the item died: a signal, an `exit`, killed
    /// from outside (`PM_EWORKER`).
    WorkerDied,
    /// The item ran past the item timeout and its worker was killed (`PM_ETIMEOUT`).
    TimedOut,
    /// A worker sent a corrupt result frame (`PM_EIO`).
    Io,
    /// The map was cancelled (`PM_ECANCELED`).
    Canceled,
    /// The input failed: an iterator input panicked (`PM_EINPUT`).
    Input,
    /// An option or argument was out of range (`PM_EINVAL`).
    InvalidArgument,
    /// Not allowed now, e.g. a second map on a busy pool (`PM_ESTATE`).
    State,
    /// Out of memory (`PM_ENOMEM`).
    NoMemory,
    /// A system call failed: fork, pipe, thread creation (`PM_ESYS`).
    System,
    /// A bug in libparmapper (`PM_EINTERNAL`).
    Internal,
    /// A status code this crate does not know.
    Other,
}

/// Tags of the failure payload that the work trampoline attaches with
/// `pm_sink_set_error_payload()`, telling apart the ways an item fails.
pub(crate) const TAG_PANIC: u8 = b'P';
pub(crate) const TAG_FAILED: u8 = b'F';
pub(crate) const TAG_BAD_ITEM: u8 = b'I';
pub(crate) const TAG_WRITE: u8 = b'W';
/// Payloads begin with this, so that a payload from some other code is not
/// taken for ours.
pub(crate) const PAYLOAD_MAGIC: &[u8; 8] = b"pm-rust\0";

/// An error of a map: its status code, the item it is about (if any), and
/// the library's or the work function's message.
///
/// ```
/// let items = vec![10u32, 20, 30];
/// let err = parmapper::scope(|s| {
///     let opts = parmapper::Options::new().processes(1);
///     s.map_with(&opts, &items, |&x| if x == 20 { Err(format!("{} is odd", x)) } else { Ok(x) })
///         .unwrap()
///         .collect::<Result<Vec<u32>, _>>()
///         .unwrap_err()
/// });
/// assert_eq!(err.index(), Some(1));
/// assert_eq!(err.status(), parmapper_sys::PM_EITEM);
/// assert_eq!(err.to_string(), "item 1: 20 is odd");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: i32,
    kind: ErrorKind,
    index: Option<u64>,
    message: String,
}

fn kind_of(status: c_int) -> ErrorKind {
    match status {
        sys::PM_EITEM => ErrorKind::Item,
        sys::PM_EWORKER => ErrorKind::WorkerDied,
        sys::PM_ETIMEOUT => ErrorKind::TimedOut,
        sys::PM_EIO => ErrorKind::Io,
        sys::PM_ECANCELED => ErrorKind::Canceled,
        sys::PM_EINPUT => ErrorKind::Input,
        sys::PM_EINVAL => ErrorKind::InvalidArgument,
        sys::PM_ESTATE => ErrorKind::State,
        sys::PM_ENOMEM => ErrorKind::NoMemory,
        sys::PM_ESYS => ErrorKind::System,
        sys::PM_EINTERNAL => ErrorKind::Internal,
        _ => ErrorKind::Other,
    }
}

/// Copies a C string the library owns ("" for NULL).
pub(crate) unsafe fn c_text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// The static text of a status code (`pm_status_str`).
///
/// ```
/// assert!(!parmapper::status_text(parmapper_sys::PM_EWORKER).is_empty());
/// ```
pub fn status_text(status: i32) -> String {
    // SAFETY: pm_status_str never returns NULL and its text is static.
    unsafe { c_text(sys::pm_status_str(status)) }
}

impl Error {
    /// An error with a status code, an item index and a message.
    pub(crate) fn new(status: c_int, index: Option<u64>, message: String) -> Error {
        Error { status, kind: kind_of(status), index, message }
    }

    /// The error of a failed map entry: its payload tells how the work
    /// function failed, when the trampoline of this crate recorded it.
    pub(crate) fn from_entry(status: c_int, index: u64, message: String, payload: &[u8]) -> Error {
        let index = match status {
            // The batch step's index is 0 for failures of no item.
            sys::PM_ECANCELED | sys::PM_ESYS | sys::PM_ENOMEM | sys::PM_EINTERNAL => None,
            _ => Some(index),
        };
        let mut e = Error::new(status, index, message);
        if status == sys::PM_EITEM && payload.len() == PAYLOAD_MAGIC.len() + 1 && payload.starts_with(PAYLOAD_MAGIC) {
            e.kind = match payload[PAYLOAD_MAGIC.len()] {
                TAG_PANIC => ErrorKind::Panic,
                TAG_FAILED => ErrorKind::Failed,
                TAG_BAD_ITEM => ErrorKind::BadItem,
                TAG_WRITE => ErrorKind::NoMemory,
                _ => ErrorKind::Item,
            };
        }
        if e.message.is_empty() {
            e.message = status_text(status);
        }
        e
    }

    pub(crate) fn bad_result(index: u64, why: String) -> Error {
        Error {
            status: sys::PM_EITEM,
            kind: ErrorKind::BadResult,
            index: Some(index),
            message: format!("cannot decode the result: {}", why),
        }
    }

    /// The error of a failing call: `what` names it, `detail` is the
    /// library's message for that call.
    pub(crate) fn call(status: c_int, what: &str, detail: String) -> Error {
        let detail = if detail.is_empty() { status_text(status) } else { detail };
        Error::new(status, None, format!("{}: {}", what, detail))
    }

    /// The C status code (`parmapper_sys::PM_E*`, negative).
    ///
    /// ```
    /// let e = parmapper::map(vec![0u8, 1], |&x| if x == 1 { Err("one") } else { Ok(x) })
    ///     .unwrap()
    ///     .find_map(Result::err)
    ///     .unwrap();
    /// assert_eq!(e.status(), parmapper_sys::PM_EITEM);
    /// ```
    pub fn status(&self) -> i32 {
        self.status
    }

    /// What went wrong.
    ///
    /// ```
    /// let e = parmapper::map(vec![0u8, 1], |&x| if x == 1 { Err("one") } else { Ok(x) })
    ///     .unwrap()
    ///     .find_map(Result::err)
    ///     .unwrap();
    /// assert_eq!(e.kind(), parmapper::ErrorKind::Failed);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The item's index in the input, for an error about one item (and for
    /// an input failure, the position it was filling).
    ///
    /// ```
    /// let e = parmapper::map(vec![0u8, 1], |&x| if x == 1 { Err("one") } else { Ok(x) })
    ///     .unwrap()
    ///     .find_map(Result::err)
    ///     .unwrap();
    /// assert_eq!(e.index(), Some(1));
    /// ```
    pub fn index(&self) -> Option<u64> {
        self.index
    }

    /// The message: the panic's, the work function's error text, or the
    /// library's (`worker 1 (pid 4242) killed by signal 11 (SIGSEGV) while
    /// running item 7`).
    ///
    /// ```
    /// let e = parmapper::map(vec![0u8, 1], |&x| if x == 1 { Err("one") } else { Ok(x) })
    ///     .unwrap()
    ///     .find_map(Result::err)
    ///     .unwrap();
    /// assert_eq!(e.message(), "one");
    /// assert_eq!(e.to_string(), "item 1: one");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the work function panicked on the item.
    ///
    /// ```
    /// let e = parmapper::map(vec![0u8, 1], |&x| if x == 1 { Err("one") } else { Ok(x) })
    ///     .unwrap()
    ///     .find_map(Result::err)
    ///     .unwrap();
    /// assert!(!e.is_panic()); // it returned Err
    /// ```
    pub fn is_panic(&self) -> bool {
        self.kind == ErrorKind::Panic
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "item {}: {}", i, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(tag: u8) -> Vec<u8> {
        let mut p = PAYLOAD_MAGIC.to_vec();
        p.push(tag);
        p
    }

    #[test]
    fn a_failed_entry_is_classified_by_its_status_and_payload() {
        let e = Error::from_entry(sys::PM_EITEM, 4, "panicked at 'x', a.rs:1:2".into(), &payload(TAG_PANIC));
        assert_eq!((e.kind(), e.index(), e.is_panic()), (ErrorKind::Panic, Some(4), true));
        assert_eq!(e.to_string(), "item 4: panicked at 'x', a.rs:1:2");
        let e = Error::from_entry(sys::PM_EITEM, 1, "no".into(), &payload(TAG_FAILED));
        assert_eq!(e.kind(), ErrorKind::Failed);
        // A payload that is not ours, or our tag under another status.
        assert_eq!(Error::from_entry(sys::PM_EITEM, 1, "c".into(), b"P").kind(), ErrorKind::Item);
        let e = Error::from_entry(sys::PM_EWORKER, 2, "killed".into(), &payload(TAG_PANIC));
        assert_eq!(e.kind(), ErrorKind::WorkerDied);
        // Failures of no item have no index; an empty message gets the status text.
        let e = Error::from_entry(sys::PM_ECANCELED, 0, String::new(), &[]);
        assert_eq!((e.kind(), e.index()), (ErrorKind::Canceled, None));
        assert_eq!(e.message(), status_text(sys::PM_ECANCELED));
        assert_eq!(Error::from_entry(sys::PM_EINPUT, 9, "gen".into(), &[]).index(), Some(9));
        assert_eq!(Error::from_entry(-99, 0, "?".into(), &[]).kind(), ErrorKind::Other);
    }
}
