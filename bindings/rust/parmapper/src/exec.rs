//! Exec mode: work functions registered by name, and [`serve()`], which a
//! program whose workers start by exec calls first thing in `main`.
use std::ffi::{CString, OsString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStringExt;
use std::ptr;

use parmapper_sys as sys;

use crate::data::{Outcome, View};
use crate::error::{c_text, Error};
use crate::input::Items;
use crate::map::{Map, MapCore};
use crate::options::{Options, RawOptions};
use crate::work::work_item;

/// A work function registered by name with [`register()`]: maps made
/// with it ([`Registered::map_with`]) find it by name, in fork mode as in
/// exec mode ([`StartMethod::Exec`](crate::StartMethod)).
pub struct Registered<I: ?Sized, O> {
    name: CString,
    _types: PhantomData<fn(&I) -> O>,
}

impl<I: ?Sized, O> Clone for Registered<I, O> {
    fn clone(&self) -> Self {
        Registered { name: self.name.clone(), _types: PhantomData }
    }
}

impl<I: ?Sized, O> fmt::Debug for Registered<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered").field("name", &self.name).finish()
    }
}

/// Registers `f` under `name` (1 to 255 printable ASCII bytes, no spaces;
/// registering a name again replaces it) with `pm_register_work()`. A
/// program whose workers start by exec registers the same names in every
/// run, before [`serve()`], so that a worker (a fresh run) finds them.
///
/// ```
/// fn square(x: &u64) -> u64 { x * x }
/// let work = parmapper::register("doc-square", square).unwrap();
/// let v: Vec<u64> = work.map(vec![1u64, 2, 3]).unwrap().map(Result::unwrap).collect();
/// assert_eq!(v, [1, 4, 9]);
/// assert!(parmapper::register("no spaces allowed", square).is_err());
/// ```
pub fn register<I, O>(name: &str, f: fn(&I) -> O) -> Result<Registered<I, O>, Error>
where
    I: ?Sized + View + 'static,
    O: Outcome + 'static,
{
    let c_name = CString::new(name)
        .map_err(|_| Error::call(sys::PM_EINVAL, "pm_register_work", format!("the name {:?} has a NUL byte", name)))?;
    crate::work::install_panic_hook();
    // The registry keeps the pointer for the program's life.
    let user_data = Box::into_raw(Box::new(f)) as *mut c_void;
    // SAFETY: user_data is a leaked fn(&I) -> O, the type work_item reads.
    let rc = unsafe { sys::pm_register_work(c_name.as_ptr(), Some(work_item::<fn(&I) -> O, I, O>), user_data) };
    if rc != sys::PM_OK {
        // SAFETY: not registered, so nothing else holds it.
        drop(unsafe { Box::from_raw(user_data as *mut fn(&I) -> O) });
        return Err(Error::call(rc, "pm_register_work", unsafe { c_text(sys::pm_last_error()) }));
    }
    Ok(Registered { name: c_name, _types: PhantomData })
}

impl<I: ?Sized + View + 'static, O: Outcome + 'static> Registered<I, O> {
    /// The name it was registered under.
    pub fn name(&self) -> &str {
        self.name.to_str().expect("registered from a &str")
    }

    /// [`Registered::map_with`] with the default [`Options`].
    pub fn map<S>(&self, items: S) -> Result<Map<'static, O::Output>, Error>
    where
        S: Items<'static, Item = I>,
    {
        self.map_with(&Options::new(), items)
    }

    /// Maps the registered function over owned items with
    /// `pm_map_create_named()`: as [`map_with`](crate::map_with), but the
    /// workers find the function by its name, so with
    /// [`StartMethod::Exec`](crate::StartMethod) they may be fresh runs of
    /// the program. One call from C per item (`chunk_calls` is not used).
    pub fn map_with<S>(&self, opts: &Options, items: S) -> Result<Map<'static, O::Output>, Error>
    where
        S: Items<'static, Item = I>,
    {
        let source = items.into_source();
        let raw_opts = RawOptions::new(opts, source.total())?;
        let (input, keep) = source.into_raw()?;
        let mut raw = ptr::null_mut();
        // SAFETY: the input is consumed by the call either way; the
        // registered function and its user_data live for ever.
        let rc = unsafe { sys::pm_map_create_named(&mut raw, raw_opts.raw, input, self.name.as_ptr()) };
        raw_opts.check_call(rc, "pm_map_create_named")?;
        let core = MapCore::new(raw, keep.into_iter().collect());
        Ok(Map::new(core, crate::raises(opts), crate::batch(opts)))
    }
}

/// Call first thing in `main`, after the [`register()`] calls, in a
/// program whose workers start by exec ([`StartMethod::Exec`](crate::StartMethod)):
/// in a worker (a run of the program started by the library) it serves
/// items and never returns; otherwise it returns at once
/// (`pm_worker_serve()`).
///
/// ```no_run
/// fn square(x: &u64) -> u64 { x * x }
/// fn main() {
///     let work = parmapper::register("square", square).unwrap();
///     parmapper::serve();
///     let opts = parmapper::Options::new().start_method(parmapper::StartMethod::Exec);
///     for r in work.map_with(&opts, vec![1u64, 2, 3]).unwrap() {
///         println!("{}", r.unwrap());
///     }
/// }
/// ```
pub fn serve() {
    let args: Vec<CString> = std::env::args_os()
        .map(|a: OsString| CString::new(a.into_vec()).unwrap_or_default())
        .collect();
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
    argv.push(ptr::null_mut());
    // SAFETY: argv is NULL-terminated and outlives the call, which does not
    // keep it.
    crate::work::quiet_while(|| unsafe {
        sys::pm_worker_serve(args.len() as c_int, argv.as_mut_ptr());
    });
}
