//! Pools: workers forked once, with one work function, for several maps.
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::c_void;
use std::ptr;

use parmapper_sys as sys;

use crate::data::{Outcome, View};
use crate::error::Error;
use crate::input::{Items, Keep};
use crate::map::{Map, MapCore, Release};
use crate::options::{Options, RawOptions};
use crate::work::{work_chunk, work_item};

/// The owned part of a pool: the `pm_pool`, its work closure, and the map
/// that runs on it now, if any (at most one: the library runs one map at a
/// time per pool). Freed map first, then the pool, then the closure.
pub(crate) struct PoolCore<'a> {
    raw: *mut sys::pm_pool,
    current: RefCell<Option<MapCore<'a>>>,
    _work: Box<dyn Keep + 'a>,
}

impl<'a> PoolCore<'a> {
    pub(crate) fn create<I, F, O>(opts: &Options, f: F) -> Result<Box<PoolCore<'a>>, Error>
    where
        I: ?Sized + View + 'a,
        F: Fn(&I) -> O + Sync + 'a,
        O: Outcome + 'a,
    {
        crate::work::check_exec::<F>(opts, "pm_pool_create")?;
        let raw_opts = RawOptions::new(opts, None)?;
        crate::work::install_panic_hook();
        let work = Box::new(f);
        let user_data = &*work as *const F as *mut c_void;
        let mut raw = ptr::null_mut();
        // SAFETY: user_data lives in the core, which destroys the pool
        // before it drops the closure.
        let rc = unsafe {
            if crate::chunked(opts) {
                sys::pm_pool_create_chunked(&mut raw, raw_opts.raw, Some(work_chunk::<F, I, O>), user_data, None)
            } else {
                sys::pm_pool_create(&mut raw, raw_opts.raw, Some(work_item::<F, I, O>), user_data, None)
            }
        };
        raw_opts.check_call(rc, "pm_pool_create")?;
        Ok(Box::new(PoolCore { raw, current: RefCell::new(None), _work: work }))
    }
}

impl Release for PoolCore<'_> {
    fn release(&self, _id: usize) {
        let map = self.current.borrow_mut().take();
        drop(map);
    }
}

impl Drop for PoolCore<'_> {
    fn drop(&mut self) {
        drop(self.current.get_mut().take());
        // SAFETY: made by pm_pool_create, destroyed once, with no map left.
        unsafe { sys::pm_pool_destroy(self.raw) }
    }
}

enum PoolOwner<'a> {
    // Held for its Drop: `Pool::core` points into it.
    #[allow(dead_code)]
    Own(Box<PoolCore<'a>>),
    Held { by: &'a dyn Release, id: usize },
}

/// Worker processes forked once, with one work function, that run several
/// maps one after the other without forking again: the workers see memory
/// as it was when the pool was made, plus each item's bytes.
///
/// `I` is the item type the work function sees (`u64` for `&[u64]` items,
/// `str` for `&[String]`, ...), `O` what it returns. Maps run one at a time:
/// [`Pool::map`] borrows the pool mutably. Dropping the pool stops and reaps
/// its workers. [`Pool::new`] makes a pool whose closure and items are
/// `'static`; [`Scope::pool`](crate::Scope::pool) one that may borrow.
///
/// ```
/// let mut pool = parmapper::Pool::new(&parmapper::Options::new().processes(2), |&x: &u32| x + 1).unwrap();
/// for round in 0..3u32 {
///     let items: Vec<u32> = (0..10).map(|i| i * round).collect();
///     let out: Vec<u32> = pool.map(items).unwrap().map(Result::unwrap).collect();
///     assert_eq!(out[9], 9 * round + 1);
/// }
/// ```
pub struct Pool<'a, I: ?Sized, O> {
    core: *const PoolCore<'a>,
    owner: PoolOwner<'a>,
    opts: Options,
    _types: PhantomData<fn(&I) -> O>,
}

impl<I: ?Sized, O> Pool<'static, I, O> {
    /// Forks the pool's workers now (unless one process or
    /// [`ErrorMode::Inline`](crate::ErrorMode)), with `f` as their work
    /// function. `opts` gives the pool's processes, threads and daemon, and
    /// the defaults of its maps.
    ///
    /// ```
    /// use parmapper::{Options, Pool};
    /// let mut pool = Pool::new(&Options::new().processes(2), |s: &str| s.to_uppercase()).unwrap();
    /// let out: Vec<String> = pool.map(vec!["a".to_string()]).unwrap().map(Result::unwrap).collect();
    /// assert_eq!(out, ["A"]);
    /// assert_eq!(pool.processes(), 2);
    /// ```
    pub fn new<F>(opts: &Options, f: F) -> Result<Self, Error>
    where
        I: View + 'static,
        F: Fn(&I) -> O + Sync + 'static,
        O: Outcome + 'static,
    {
        let core = PoolCore::create(opts, f)?;
        Ok(Pool { core: &*core, owner: PoolOwner::Own(core), opts: opts.clone(), _types: PhantomData })
    }
}

impl<'a, I: ?Sized + View, O: Outcome> Pool<'a, I, O> {
    pub(crate) fn held(core: *const PoolCore<'a>, by: &'a dyn Release, id: usize, opts: Options) -> Self {
        Pool { core, owner: PoolOwner::Held { by, id }, opts, _types: PhantomData }
    }

    fn core(&self) -> &PoolCore<'a> {
        // SAFETY: the core lives until this handle drops (its owner frees
        // it then, and not before).
        unsafe { &*self.core }
    }

    /// Runs a map of the pool's work function over `items`, with the
    /// pool's options. No fork. The items may borrow for the pool's
    /// lifetime `'a` (`'static` for [`Pool::new`], the scope's for
    /// [`Scope::pool`](crate::Scope::pool)).
    ///
    /// ```
    /// let mut pool = parmapper::Pool::new(&parmapper::Options::new(), |&x: &u8| x / 2).unwrap();
    /// let halves: Result<Vec<u8>, _> = pool.map(vec![4u8, 8]).unwrap().collect();
    /// assert_eq!(halves.unwrap(), [2, 4]);
    /// ```
    pub fn map<S>(&mut self, items: S) -> Result<Map<'_, O::Output>, Error>
    where
        S: Items<'a, Item = I>,
    {
        let opts = self.opts.clone();
        self.map_with(&opts, items)
    }

    /// [`Pool::map`] with per-map options: chunk size, order, total, error
    /// mode, in-flight bound, item timeout, retries, progress bar (the
    /// pool's processes, threads and daemon stay).
    ///
    /// ```
    /// use parmapper::{ErrorMode, Options, Pool};
    /// let mut pool = Pool::new(&Options::new(), |&x: &i32| if x < 0 { Err("negative") } else { Ok(x) }).unwrap();
    /// let opts = Options::new().errors(ErrorMode::Return);
    /// let oks = pool.map_with(&opts, vec![1, -1, 2]).unwrap().filter(Result::is_ok).count();
    /// assert_eq!(oks, 2);
    /// ```
    pub fn map_with<S>(&mut self, opts: &Options, items: S) -> Result<Map<'_, O::Output>, Error>
    where
        S: Items<'a, Item = I>,
    {
        let core = self.core();
        // A map whose handle was leaked still holds the pool: free it.
        drop(core.current.borrow_mut().take());
        let source = items.into_source();
        let raw_opts = RawOptions::new(opts, source.total())?;
        let (input, keep) = source.into_raw()?;
        let mut raw = ptr::null_mut();
        // SAFETY: the input is consumed by the call, whatever it returns.
        let rc = unsafe { sys::pm_pool_map(&mut raw, core.raw, raw_opts.raw, input) };
        raw_opts.check_call(rc, "pm_pool_map")?;
        let map = MapCore::new(raw, keep.into_iter().collect());
        let parts = map.parts();
        *core.current.borrow_mut() = Some(map);
        Ok(Map::held(parts, core, 0, crate::raises(opts), crate::batch(opts)))
    }

    /// The number of live worker processes (0 for an in-process pool).
    ///
    /// ```
    /// let pool = parmapper::Pool::new(&parmapper::Options::new().processes(1), |&x: &u8| x).unwrap();
    /// assert_eq!(pool.processes(), 0); // one process: runs in this one
    /// ```
    pub fn processes(&self) -> u32 {
        // SAFETY: the pool is alive; one thread uses it (`&self`, !Sync).
        unsafe { sys::pm_pool_processes(self.core().raw) }
    }
}

impl<I: ?Sized, O> fmt::Debug for Pool<'_, I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("items", &std::any::type_name::<I>())
            .field("returns", &std::any::type_name::<O>())
            .field("options", &self.opts)
            .finish()
    }
}

impl<I: ?Sized, O> Drop for Pool<'_, I, O> {
    fn drop(&mut self) {
        match &mut self.owner {
            PoolOwner::Own(_) => {} // the box drops with the handle
            PoolOwner::Held { by, id } => by.release(*id),
        }
    }
}
