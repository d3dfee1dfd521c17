//! Inputs: what a map's items come from, and how they reach the library.
use std::ffi::CString;
use std::mem;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use parmapper_sys as sys;

use crate::data::{Encode, Encoder, Plain, View};
use crate::error::Error;
use crate::work::panic_text;

/// Anything kept alive for as long as a map may use it.
pub(crate) trait Keep {}
impl<T: ?Sized> Keep for T {}

/// A map's input, as handed to the library. Made by [`Items`]; opaque.
#[doc(hidden)]
pub struct Source<'a> {
    kind: Kind,
    keep: Option<Box<dyn Keep + 'a>>,
    total: Option<u64>,
}

enum Kind {
    Array { base: *const c_void, size: usize, count: usize },
    Records { ptrs: Vec<*const c_void>, lens: Vec<usize> },
    Pull { fn_: sys::pm_input_fn, state: *mut c_void },
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Array { .. } => "array",
            Kind::Records { .. } => "records",
            Kind::Pull { .. } => "pull",
        };
        f.debug_struct("Source").field("kind", &kind).field("total", &self.total).finish()
    }
}

impl<'a> Source<'a> {
    /// The length hint for the options (iterator inputs; arrays know theirs).
    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    /// Makes the `pm_input`; what it points at must then live, unchanged,
    /// until the map is destroyed: `keep` is returned for that.
    pub(crate) fn into_raw(self) -> Result<(*mut sys::pm_input, Option<Box<dyn Keep + 'a>>), Error> {
        let mut input = ptr::null_mut();
        // SAFETY: the pointers describe memory borrowed for 'a or held by keep.
        let rc = unsafe {
            match &self.kind {
                Kind::Array { base, size, count } => sys::pm_input_create_array(&mut input, *base, *size, *count),
                Kind::Records { ptrs, lens } => {
                    sys::pm_input_create_records(&mut input, ptrs.as_ptr(), lens.as_ptr(), ptrs.len())
                }
                Kind::Pull { fn_, state } => sys::pm_input_create_pull(&mut input, *fn_, *state, None),
            }
        };
        if rc != sys::PM_OK {
            let detail = unsafe { crate::error::c_text(sys::pm_last_error()) };
            return Err(Error::call(rc, "pm_input_create", detail));
        }
        Ok((input, self.keep))
    }
}

/// What a map can take its items from. The work function sees each item as
/// `&Self::Item` (see [`View`]).
///
/// | input | the closure gets | how it travels |
/// | --- | --- | --- |
/// | `&[T]`, `&Vec<T>`, `&[T; N]` (`T: Plain`) | `&T` | in place (`pm_input_create_array`), no copy |
/// | `Vec<T>` (`T: Plain`) | `&T` | moved into the map, then in place |
/// | `&[String]`, `&[&str]`, `&Vec<String>` | `&str` | in place (`pm_input_create_records`) |
/// | `&[Vec<T>]`, `&[&[T]]` (`T: Plain`) | `&[T]` | in place |
/// | `Vec<String>`, `Vec<Vec<T>>` | `&str`, `&[T]` | moved into the map, then in place |
/// | [`iter`]`(it)` | `&it::Item` | pulled lazily on the library's feeder thread, copied |
///
/// ```
/// let names = vec!["ada".to_string(), "grace".to_string()];
/// let lens = parmapper::scope(|s| -> Result<Vec<usize>, parmapper::Error> {
///     s.map(&names, |n: &str| n.len())?.collect()
/// }).unwrap();
/// assert_eq!(lens, [3, 5]);
/// ```
pub trait Items<'a> {
    /// How the work function sees an item.
    type Item: ?Sized + View;
    /// Turns the items into a source for the library.
    #[doc(hidden)]
    fn into_source(self) -> Source<'a>;
}

fn array<'a, T: Plain>(s: &'a [T], keep: Option<Box<dyn Keep + 'a>>) -> Source<'a> {
    Source {
        kind: Kind::Array { base: s.as_ptr() as *const c_void, size: mem::size_of::<T>(), count: s.len() },
        keep,
        total: None,
    }
}

impl<'a, T: Plain> Items<'a> for &'a [T] {
    type Item = T;
    fn into_source(self) -> Source<'a> {
        array(self, None)
    }
}

impl<'a, T: Plain> Items<'a> for &'a Vec<T> {
    type Item = T;
    fn into_source(self) -> Source<'a> {
        array(self, None)
    }
}

impl<'a, T: Plain, const N: usize> Items<'a> for &'a [T; N] {
    type Item = T;
    fn into_source(self) -> Source<'a> {
        array(self, None)
    }
}

impl<'a, T: Plain> Items<'a> for Vec<T> {
    type Item = T;
    fn into_source(self) -> Source<'a> {
        let v = Box::new(self);
        // The heap buffer stays where it is when the box moves.
        let (base, count) = (v.as_ptr() as *const c_void, v.len());
        Source { kind: Kind::Array { base, size: mem::size_of::<T>(), count }, keep: Some(v), total: None }
    }
}

/// Records whose bytes are `as_bytes(r)` for each element.
fn records<'a, R>(rs: &[R], as_bytes: impl Fn(&R) -> (*const c_void, usize), keep: Option<Box<dyn Keep + 'a>>) -> Source<'a> {
    let (ptrs, lens) = rs.iter().map(as_bytes).unzip();
    Source { kind: Kind::Records { ptrs, lens }, keep, total: None }
}

fn str_bytes<S: AsRef<str>>(s: &S) -> (*const c_void, usize) {
    let s = s.as_ref();
    (s.as_ptr() as *const c_void, s.len())
}

fn slice_bytes<T: Plain, S: AsRef<[T]>>(s: &S) -> (*const c_void, usize) {
    let s = s.as_ref();
    (s.as_ptr() as *const c_void, mem::size_of_val(s))
}

macro_rules! str_records {
    ($($t:ty),*) => {$(
        impl<'a, 'b: 'a> Items<'a> for &'a [$t] {
            type Item = str;
            fn into_source(self) -> Source<'a> { records(self, str_bytes, None) }
        }
        impl<'a, 'b: 'a> Items<'a> for &'a Vec<$t> {
            type Item = str;
            fn into_source(self) -> Source<'a> { records(self, str_bytes, None) }
        }
    )*};
}
str_records!(String, &'b str);

impl<'a, 'b: 'a, T: Plain> Items<'a> for &'a [&'b [T]] {
    type Item = [T];
    fn into_source(self) -> Source<'a> {
        records(self, slice_bytes, None)
    }
}

impl<'a, 'b: 'a, T: Plain> Items<'a> for &'a Vec<&'b [T]> {
    type Item = [T];
    fn into_source(self) -> Source<'a> {
        records(self, slice_bytes, None)
    }
}

impl<'a, T: Plain> Items<'a> for &'a [Vec<T>] {
    type Item = [T];
    fn into_source(self) -> Source<'a> {
        records(self, slice_bytes, None)
    }
}

impl<'a, T: Plain> Items<'a> for &'a Vec<Vec<T>> {
    type Item = [T];
    fn into_source(self) -> Source<'a> {
        records(self, slice_bytes, None)
    }
}

impl<'a> Items<'a> for Vec<String> {
    type Item = str;
    fn into_source(self) -> Source<'a> {
        let v = Box::new(self);
        let s = records(&v, str_bytes, None);
        Source { keep: Some(v), ..s }
    }
}

impl<'a, T: Plain> Items<'a> for Vec<Vec<T>> {
    type Item = [T];
    fn into_source(self) -> Source<'a> {
        let v = Box::new(self);
        let s = records(&v, slice_bytes, None);
        Source { keep: Some(v), ..s }
    }
}

/// An iterator input: see [`iter`].
///
/// ```
/// let input: parmapper::Iter<std::ops::Range<u32>> = parmapper::iter(0..3);
/// let n = parmapper::map(input, |&x| x).unwrap().count();
/// assert_eq!(n, 3);
/// ```
#[derive(Debug)]
pub struct Iter<I> {
    iter: I,
}

/// Items pulled lazily from an iterator, on the library's feeder thread,
/// as the workers need them (bounded by [`Options::max_in_flight`](crate::Options::max_in_flight));
/// each item is encoded ([`Encode`]) and copied. Hence `Send`. An exact
/// `size_hint` gives the map its total. A panic in the iterator ends the map
/// with an [`ErrorKind::Input`](crate::ErrorKind) error, after the results
/// of the items before it.
///
/// ```
/// // Items that are never all in memory at once.
/// let squares = parmapper::map(parmapper::iter(0..1000u64), |&x| x * x).unwrap();
/// let sum: u64 = squares.map(|r| r.unwrap()).sum();
/// assert_eq!(sum, 332_833_500);
/// ```
pub fn iter<I: IntoIterator>(items: I) -> Iter<I::IntoIter> {
    Iter { iter: items.into_iter() }
}

impl<'a, I> Items<'a> for Iter<I>
where
    I: Iterator + Send + 'a,
    I::Item: Encode + View,
{
    type Item = I::Item;
    fn into_source(self) -> Source<'a> {
        let total = match self.iter.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo as u64),
            _ => None,
        };
        let state = Box::new(Pull { iter: self.iter, buf: Vec::new(), lens: Vec::new(), done: false });
        let p = &*state as *const Pull<I> as *mut c_void;
        Source { kind: Kind::Pull { fn_: Some(pull_items::<I>), state: p }, keep: Some(state), total }
    }
}

struct Pull<I> {
    iter: I,
    buf: Vec<u8>,
    lens: Vec<usize>,
    done: bool,
}

/// Items pushed per feeder call at most: enough to amortise the call.
const PULL_MAX: usize = 256;

/// The `pm_input_fn` of an iterator input. Runs on the feeder thread, one
/// call at a time; pushes as many items as the feeder wants (up to
/// PULL_MAX) in one packed push.
unsafe extern "C" fn pull_items<I>(feed: *mut sys::pm_feed, state: *mut c_void) -> c_int
where
    I: Iterator,
    I::Item: Encode,
{
    let st = &mut *(state as *mut Pull<I>);
    if st.done {
        return sys::PM_DONE;
    }
    let wanted = sys::pm_feed_wanted(feed).clamp(1, PULL_MAX);
    st.buf.clear();
    st.lens.clear();
    let Pull { iter, buf, lens, .. } = st;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        while lens.len() < wanted {
            match iter.next() {
                Some(item) => {
                    let start = buf.len();
                    item.encode(&mut Encoder::buf(buf));
                    lens.push(buf.len() - start);
                }
                None => return true,
            }
        }
        false
    }));
    let n = st.lens.len();
    if n > 0 {
        let rc = sys::pm_feed_push_packed(feed, st.buf.as_ptr() as *const c_void, st.lens.as_ptr(), n);
        if rc != sys::PM_OK {
            return rc;
        }
    }
    match outcome {
        Ok(false) => sys::PM_OK,
        Ok(true) => {
            st.done = true;
            sys::PM_DONE
        }
        Err(payload) => {
            st.done = true;
            let msg = format!("the input iterator {}", panic_text(payload));
            let msg = CString::new(msg.replace('\0', " ")).expect("no NUL left");
            sys::pm_feed_set_error(feed, msg.as_ptr());
            sys::PM_EINPUT
        }
    }
}
