//! Scopes: maps and pools that borrow from their environment.
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::data::{Outcome, View};
use crate::error::Error;
use crate::input::{Items, Keep};
use crate::map::{Map, Release};
use crate::options::Options;
use crate::pool::{Pool, PoolCore};

/// What a scope holds, lifetime erased (see `Registry::insert`).
type Entry = Box<dyn Keep>;

/// The maps and pools of a scope, each freed when its handle goes, and
/// every one still there freed when the scope ends.
pub(crate) struct Registry {
    slots: RefCell<Vec<Option<Entry>>>,
    free: RefCell<Vec<usize>>,
}

impl Registry {
    fn new() -> Registry {
        Registry { slots: RefCell::new(Vec::new()), free: RefCell::new(Vec::new()) }
    }

    /// Holds `entry` until it is released or the scope ends.
    ///
    /// SAFETY (of the transmute): the entry may borrow for `'a`, the scope's
    /// lifetime; [`scope`] frees every entry before it returns, within
    /// `'a`, and nothing else reads it. Erasing the lifetime keeps the
    /// registry free of it, so the scope has no drop-check constraint on it.
    pub(crate) fn insert<'a>(&'a self, entry: Box<dyn Keep + 'a>) -> usize {
        let entry: Entry = unsafe { mem::transmute::<Box<dyn Keep + 'a>, Box<dyn Keep + 'static>>(entry) };
        let mut slots = self.slots.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(id) => {
                slots[id] = Some(entry);
                id
            }
            None => {
                slots.push(Some(entry));
                slots.len() - 1
            }
        }
    }

    /// Frees every entry, the latest first.
    fn clear(&self) {
        loop {
            // Not dropped while borrowed: a pool's drop may free its map.
            let last = self.slots.borrow_mut().pop();
            match last {
                Some(entry) => drop(entry),
                None => break,
            }
        }
        self.free.borrow_mut().clear();
    }
}

impl Release for Registry {
    fn release(&self, id: usize) {
        let entry = self.slots.borrow_mut()[id].take();
        self.free.borrow_mut().push(id);
        drop(entry);
    }
}

/// A scope for maps and pools that borrow from their environment: made by
/// [`scope`]. Its maps and pools may borrow anything that outlives the
/// scope, for their items and in their closures.
///
/// ```
/// let data: Vec<f64> = (1..=4).map(f64::from).collect();
/// let scale = 10.0; // borrowed by the closure: the workers inherit it
/// parmapper::scope(|s| {
///     let out: Vec<f64> = s.map(&data, |&x| x * scale).unwrap().map(Result::unwrap).collect();
///     assert_eq!(out, [10.0, 20.0, 30.0, 40.0]);
/// });
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    reg: Registry,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.reg.slots.borrow().iter().filter(|e| e.is_some()).count();
        f.debug_struct("Scope").field("live_maps_and_pools", &live).finish()
    }
}

/// Runs `f` with a [`Scope`] in which maps and pools may borrow local
/// variables (the items, and whatever their closure uses), like
/// [`std::thread::scope`]. Every map and pool made in the scope is stopped
/// and freed before `scope` returns, even one that was leaked with
/// [`std::mem::forget`] or whose handle `f` still had when it panicked:
/// that is what makes borrowing sound, since the library reads borrowed
/// items (and may run the closure in this process) until its map is
/// destroyed.
///
/// ```
/// let items: Vec<u32> = (0..10).collect();
/// let offset = 100;
/// let results = parmapper::scope(|s| -> Result<Vec<u32>, parmapper::Error> {
///     s.map(&items, |&x| x + offset)?.collect()
/// })
/// .unwrap();
/// assert_eq!(results[9], 109);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope { reg: Registry::new(), scope: PhantomData, env: PhantomData };
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.reg.clear();
    match outcome {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Maps `f` over `items` with the default [`Options`]: forks the workers
    /// now, and returns the running map, an iterator of results. See
    /// [`Scope::map_with`].
    ///
    /// ```
    /// let v = vec![1u64, 2, 3];
    /// let squares: Vec<u64> = parmapper::scope(|s| {
    ///     s.map(&v, |&x| x * x).unwrap().map(Result::unwrap).collect()
    /// });
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn map<S, F, O>(&'scope self, items: S, f: F) -> Result<Map<'scope, O::Output>, Error>
    where
        S: Items<'scope>,
        F: Fn(&S::Item) -> O + Sync + 'scope,
        O: Outcome + 'scope,
    {
        self.map_with(&Options::new(), items, f)
    }

    /// Maps `f` over `items` with `opts`. Forks the workers now (unless one
    /// process or [`ErrorMode::Inline`](crate::ErrorMode)): they see memory,
    /// the closure's captures included, as it is at this call. `f` runs in
    /// the workers; a panic in it fails that item with the panic's message
    /// ([`ErrorKind::Panic`](crate::ErrorKind)).
    ///
    /// ```
    /// let v: Vec<i64> = (0..1000).collect();
    /// let opts = parmapper::Options::new().processes(2).ordered(false);
    /// let sum: i64 = parmapper::scope(|s| {
    ///     s.map_with(&opts, &v, |&x| x * 3).unwrap().map(Result::unwrap).sum()
    /// });
    /// assert_eq!(sum, 3 * 999 * 1000 / 2);
    /// ```
    pub fn map_with<S, F, O>(&'scope self, opts: &Options, items: S, f: F) -> Result<Map<'scope, O::Output>, Error>
    where
        S: Items<'scope>,
        F: Fn(&S::Item) -> O + Sync + 'scope,
        O: Outcome + 'scope,
    {
        let core = crate::create_map(opts, items, f)?;
        let parts = core.parts();
        let id = self.reg.insert(Box::new(core));
        Ok(Map::held(parts, &self.reg, id, crate::raises(opts), crate::batch(opts)))
    }

    /// A [`Pool`] whose workers are forked now, once, with `f` as their work
    /// function; `f` may borrow from the environment. See [`Pool::new`].
    ///
    /// ```
    /// let table = vec![10u32, 20, 30];
    /// parmapper::scope(|s| {
    ///     let mut pool = s.pool(&parmapper::Options::new().processes(2), |&i: &usize| table[i]).unwrap();
    ///     let first: Vec<u32> = pool.map(vec![2usize, 0]).unwrap().map(Result::unwrap).collect();
    ///     let again: Vec<u32> = pool.map(vec![1usize]).unwrap().map(Result::unwrap).collect();
    ///     assert_eq!((first, again), (vec![30, 10], vec![20]));
    /// });
    /// ```
    pub fn pool<I, F, O>(&'scope self, opts: &Options, f: F) -> Result<Pool<'scope, I, O>, Error>
    where
        I: ?Sized + View + 'scope,
        F: Fn(&I) -> O + Sync + 'scope,
        O: Outcome + 'scope,
    {
        let core: Box<PoolCore<'scope>> = PoolCore::create(opts, f)?;
        let ptr: *const PoolCore<'scope> = &*core;
        let id = self.reg.insert(core);
        Ok(Pool::held(ptr, &self.reg, id, opts.clone()))
    }
}
