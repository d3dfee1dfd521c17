//! Map a closure over items in parallel on a pool of `fork()`ed worker
//! processes, and get the results back as an iterator, in input order or as
//! they finish: the safe Rust binding of libparmapper.
//!
//! Workers are forks of this process, so the closure and everything it
//! borrows are *inherited*, never serialized: only the items' and results'
//! bytes cross process boundaries ([`Plain`] values as their own bytes,
//! `String` and `Vec` through [`Encode`]/[`Decode`]). A panic in the closure
//! is caught in the worker and comes back as that item's error, with the
//! panic's message; a worker that crashes is reported too, and the map goes
//! on or stops as [`ErrorMode`] says.
//!
//! ```
//! let weights: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
//! let bias = 1.0; // borrowed by the closure, inherited by the workers
//! let total: f64 = parmapper::scope(|s| {
//!     s.map(&weights, |&w| w * 2.0 + bias)
//!         .unwrap()
//!         .map(|r| r.unwrap())
//!         .sum()
//! });
//! assert_eq!(total, 1000.0 * 999.0 / 2.0 + 1000.0);
//! ```
//!
//! Borrowing maps live in a [`scope()`], as threads do in
//! [`std::thread::scope`]: a [`Map<'a, R>`](Map) cannot outlive what it
//! borrows, and the scope frees every map before it returns, even a leaked
//! one, since the library reads borrowed items until the map is destroyed.
//! Maps over owned (`'static`) data need no scope: [`map()`], [`map_with`],
//! [`Pool::new`].
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod data;
mod error;
mod exec;
mod input;
mod map;
mod options;
mod pool;
mod scope;
mod work;

use std::os::raw::c_void;
use std::ptr;

use parmapper_sys as sys;

pub use crate::data::{Decode, Encode, Encoder, Outcome, Plain, View};
pub use crate::error::{status_text, Error, ErrorKind};
pub use crate::exec::{register, serve, Registered};
pub use crate::input::{iter, Items, Iter, Source};
pub use crate::map::{Canceller, Indexed, Map, Next};
pub use crate::options::{ErrorMode, Options, StartMethod};
pub use crate::pool::Pool;
pub use crate::scope::{scope, Scope};

use crate::input::Keep;
use crate::map::MapCore;
use crate::options::RawOptions;
use crate::work::{work_chunk, work_item};

/// Results taken per `pm_map_next_batch()` call by default.
const DEFAULT_BATCH: usize = 256;

pub(crate) fn raises(opts: &Options) -> bool {
    opts.error_mode() != ErrorMode::Return
}

pub(crate) fn batch(opts: &Options) -> usize {
    opts.batch.unwrap_or(DEFAULT_BATCH)
}

/// Whether the work function is a chunk function (one call per chunk).
pub(crate) fn chunked(opts: &Options) -> bool {
    opts.chunk_calls.unwrap_or(false)
}

/// Makes a one-shot map (forks, unless in-process) whose core owns the
/// closure and the input's state.
pub(crate) fn create_map<'a, S, F, O>(opts: &Options, items: S, f: F) -> Result<MapCore<'a>, Error>
where
    S: Items<'a>,
    F: Fn(&S::Item) -> O + Sync + 'a,
    O: Outcome + 'a,
{
    crate::work::check_exec::<F>(opts, "pm_map_create")?;
    let source = items.into_source();
    let raw_opts = RawOptions::new(opts, source.total())?;
    crate::work::install_panic_hook();
    let work = Box::new(f);
    let user_data = &*work as *const F as *mut c_void;
    let (input, keep_input) = source.into_raw()?;
    let mut raw = ptr::null_mut();
    // SAFETY: user_data lives in the core, which destroys the map before it
    // drops the closure; the input is consumed by the call either way.
    let rc = unsafe {
        if chunked(opts) {
            sys::pm_map_create_chunked(&mut raw, raw_opts.raw, input, Some(work_chunk::<F, S::Item, O>), user_data, None)
        } else {
            sys::pm_map_create(&mut raw, raw_opts.raw, input, Some(work_item::<F, S::Item, O>), user_data, None)
        }
    };
    raw_opts.check_call(rc, "pm_map_create")?;
    let mut keep: Vec<Box<dyn Keep + 'a>> = vec![work];
    keep.extend(keep_input);
    Ok(MapCore::new(raw, keep))
}

/// Maps `f` over owned items with the default [`Options`]; see [`map_with`].
///
/// ```
/// let lengths: Vec<usize> = parmapper::map(vec!["a".to_string(), "bcd".to_string()], |s: &str| s.len())
///     .unwrap()
///     .collect::<Result<_, _>>()
///     .unwrap();
/// assert_eq!(lengths, [1, 3]);
/// ```
pub fn map<S, F, O>(items: S, f: F) -> Result<Map<'static, O::Output>, Error>
where
    S: Items<'static>,
    F: Fn(&S::Item) -> O + Sync + 'static,
    O: Outcome + 'static,
{
    map_with(&Options::new(), items, f)
}

/// Maps `f` over items that need no borrow (a `Vec` moved in, an
/// [`iter`] of owned values, a `&'static` slice), with `opts`: forks the
/// workers now and returns the running map. To borrow, use [`scope()`].
///
/// ```
/// use parmapper::{ErrorMode, Options};
/// let opts = Options::new().processes(2).errors(ErrorMode::Return);
/// let results: Vec<_> = parmapper::map_with(&opts, vec![1u32, 0, 4], |&x| {
///     if x == 0 { panic!("zero") }
///     100 / x
/// })
/// .unwrap()
/// .collect();
/// assert_eq!(results[0].as_ref().unwrap(), &100);
/// assert!(results[1].as_ref().unwrap_err().is_panic());
/// assert_eq!(results[2].as_ref().unwrap(), &25);
/// ```
pub fn map_with<S, F, O>(opts: &Options, items: S, f: F) -> Result<Map<'static, O::Output>, Error>
where
    S: Items<'static>,
    F: Fn(&S::Item) -> O + Sync + 'static,
    O: Outcome + 'static,
{
    let core = create_map(opts, items, f)?;
    Ok(Map::new(core, raises(opts), batch(opts)))
}

/// The version of the libparmapper that is loaded (`"0.3.0"`).
///
/// ```
/// assert!(parmapper::version().starts_with("0."));
/// ```
pub fn version() -> String {
    // SAFETY: a static string, never NULL.
    unsafe { error::c_text(sys::pm_version_string()) }
}
