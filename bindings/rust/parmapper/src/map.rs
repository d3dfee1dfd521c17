//! A running map: the owning handle, its batched stepping, cancellation.
use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::slice;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parmapper_sys as sys;

use crate::data::Decode;
use crate::error::{c_text, Error};
use crate::input::Keep;

/// Where a map's `pm_map` pointer is shared with its cancellers. The owner
/// clears it, under the lock, before it destroys the map, so a canceller
/// never touches a destroyed map.
pub(crate) struct CancelSlot {
    map: Mutex<usize>,
}

impl CancelSlot {
    fn cancel(&self) -> bool {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if *map == 0 {
            return false;
        }
        // SAFETY: the map is alive while the slot holds it (see clear); the
        // library allows pm_map_cancel from any thread, during a step too.
        unsafe { sys::pm_map_cancel(*map as *mut sys::pm_map) == sys::PM_OK }
    }

    fn clear(&self) {
        *self.map.lock().unwrap_or_else(|e| e.into_inner()) = 0;
    }
}

/// The owned part of a map: the `pm_map`, and what it uses (the closure of
/// a one-shot map, the input's state or owned items), freed after it.
/// Whoever holds it (the [`Map`] handle, a scope, a pool) destroys it.
pub(crate) struct MapCore<'a> {
    raw: *mut sys::pm_map,
    cancel: Arc<CancelSlot>,
    _keep: Vec<Box<dyn Keep + 'a>>,
}

impl<'a> MapCore<'a> {
    pub(crate) fn new(raw: *mut sys::pm_map, keep: Vec<Box<dyn Keep + 'a>>) -> MapCore<'a> {
        MapCore { raw, cancel: Arc::new(CancelSlot { map: Mutex::new(raw as usize) }), _keep: keep }
    }

    /// What a handle of this map needs: the map and its cancel slot.
    pub(crate) fn parts(&self) -> (*mut sys::pm_map, Arc<CancelSlot>) {
        (self.raw, self.cancel.clone())
    }
}

impl Drop for MapCore<'_> {
    fn drop(&mut self) {
        self.cancel.clear();
        // SAFETY: made by pm_map_create / pm_pool_map, destroyed once, never
        // while a step runs (the Map handle is gone or forgotten). The
        // closure and input state in _keep are dropped after this returns,
        // when no callback can run any more.
        unsafe { sys::pm_map_destroy(self.raw) }
    }
}

/// Something that owns map cores and frees one when its handle goes.
pub(crate) trait Release {
    fn release(&self, id: usize);
}

pub(crate) enum Owner<'a> {
    Own(Option<MapCore<'a>>),
    Held { by: &'a dyn Release, id: usize },
}

/// A cloneable handle that cancels its map from any thread; see
/// [`Map::canceller`].
///
/// ```
/// use std::time::Duration;
/// let items: Vec<u32> = (0..1000).collect();
/// parmapper::scope(|s| {
///     let opts = parmapper::Options::new().processes(2).chunk_size(1);
///     let map = s.map_with(&opts, &items, |&x| {
///         std::thread::sleep(Duration::from_millis(50));
///         x
///     }).unwrap();
///     let stop = map.canceller();
///     std::thread::spawn(move || {
///         std::thread::sleep(Duration::from_millis(100));
///         stop.cancel();
///     });
///     let last = map.last().unwrap();
///     assert_eq!(last.unwrap_err().kind(), parmapper::ErrorKind::Canceled);
/// });
/// ```
#[derive(Clone)]
pub struct Canceller {
    slot: Arc<CancelSlot>,
}

impl Canceller {
    /// Cancels the map: the workers stop at once, and the map's next step
    /// (also one blocked on another thread, within about a second) yields
    /// an [`ErrorKind::Canceled`](crate::ErrorKind) error, then the iterator
    /// ends. Returns `false`, doing nothing, once the map is gone.
    ///
    /// ```
    /// let map = parmapper::map(vec![1u8, 2], |&x| x).unwrap();
    /// let stop = map.canceller();
    /// drop(map);
    /// assert!(!stop.cancel()); // the map is gone: nothing to cancel
    /// ```
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }
}

// SAFETY: the slot holds the pointer as an integer under a mutex, and
// pm_map_cancel may be called from any thread.
unsafe impl Send for CancelSlot {}
unsafe impl Sync for CancelSlot {}

/// The outcome of [`Map::next_timeout`].
///
/// ```
/// use parmapper::Next;
/// use std::time::Duration;
/// let mut map = parmapper::map(vec![7u8], |&x| x + 1).unwrap();
/// loop {
///     match map.next_timeout(Duration::from_millis(10)) {
///         Next::Ready(r) => assert_eq!(r.unwrap(), 8),
///         Next::Pending => continue, // nothing yet: do something else
///         Next::Done => break,
///     }
/// }
/// ```
#[derive(Debug)]
pub enum Next<T> {
    /// A result, or a failure.
    Ready(Result<T, Error>),
    /// Nothing arrived within the timeout; the map goes on.
    Pending,
    /// The map is over.
    Done,
}

/// What one step gives, before decoding.
enum Step {
    Entry(usize),
    Fail(Error),
    Pending,
    Done,
}

/// A running map: an iterator of `Result<R, Error>`, one per item, in input
/// order unless `ordered(false)`.
///
/// It owns the library's map. Dropping it part-way stops the map: a
/// one-shot map's workers are killed and reaped, a pool's finish what they
/// hold. It borrows what it was made from for `'a` (the items, the closure's
/// environment, the pool), so it cannot outlive them. Results are taken
/// from the library many at a time (`pm_map_next_batch()`), and decoded one
/// by one as the iterator is advanced, straight from the library's buffer.
///
/// With [`ErrorMode::Raise`](crate::ErrorMode) the first failure is the
/// iterator's last item; with `Return` each failed item is an `Err` in its
/// place; failures of the map itself (cancelled, the input failed) end it
/// in both modes.
///
/// ```
/// let words = vec!["a".to_string(), "bb".to_string(), "ccc".to_string()];
/// parmapper::scope(|s| {
///     let mut total = 0;
///     for r in s.map(&words, |w: &str| w.len()).unwrap() {
///         total += r.unwrap();
///     }
///     assert_eq!(total, 6);
/// });
/// ```
pub struct Map<'a, R> {
    raw: *mut sys::pm_map,
    owner: Owner<'a>,
    cancel: Arc<CancelSlot>,
    raise: bool,
    cap: usize,
    indices: Vec<u64>,
    statuses: Vec<c_int>,
    data: Vec<*const c_void>,
    lens: Vec<usize>,
    count: usize,
    pos: usize,
    /// The last batch's return code: PM_OK, or final (PM_DONE or a failure).
    rc: c_int,
    over: bool,
    _results: PhantomData<fn() -> R>,
}

impl<'a, R> Map<'a, R> {
    pub(crate) fn new(core: MapCore<'a>, raise: bool, batch: usize) -> Map<'a, R> {
        let (raw, cancel) = (core.raw, core.cancel.clone());
        Map::with_owner(raw, cancel, Owner::Own(Some(core)), raise, batch)
    }

    /// A handle for a map core that `by` holds as `id`.
    pub(crate) fn held(parts: (*mut sys::pm_map, Arc<CancelSlot>), by: &'a dyn Release, id: usize, raise: bool, batch: usize) -> Map<'a, R> {
        Map::with_owner(parts.0, parts.1, Owner::Held { by, id }, raise, batch)
    }

    fn with_owner(raw: *mut sys::pm_map, cancel: Arc<CancelSlot>, owner: Owner<'a>, raise: bool, batch: usize) -> Self {
        Map {
            raw,
            owner,
            cancel,
            raise,
            cap: batch,
            indices: vec![0; batch],
            statuses: vec![0; batch],
            data: vec![ptr::null(); batch],
            lens: vec![0; batch],
            count: 0,
            pos: 0,
            rc: sys::PM_OK,
            over: false,
            _results: PhantomData,
        }
    }

    /// A handle that cancels this map from any thread ([`Canceller`]).
    ///
    /// ```
    /// let map = parmapper::map(parmapper::iter(0..u32::MAX), |&x| x).unwrap();
    /// let stop = map.canceller();
    /// std::thread::spawn(move || stop.cancel()).join().unwrap();
    /// assert!(map.last().unwrap().is_err());
    /// ```
    pub fn canceller(&self) -> Canceller {
        Canceller { slot: self.cancel.clone() }
    }

    /// Cancels the map (see [`Canceller::cancel`]): the next step yields an
    /// [`ErrorKind::Canceled`](crate::ErrorKind) error, then the iterator ends.
    ///
    /// ```
    /// let mut map = parmapper::map(parmapper::iter(0..u64::MAX), |&x| x).unwrap();
    /// map.cancel();
    /// // Results that were ready may still come; then the cancellation.
    /// let last = map.last().unwrap();
    /// assert_eq!(last.unwrap_err().kind(), parmapper::ErrorKind::Canceled);
    /// ```
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// One step of the library, when the last batch is used up.
    #[inline]
    fn step(&mut self, timeout_ms: c_int) -> Step {
        if self.over {
            return Step::Done;
        }
        if self.pos < self.count {
            self.pos += 1;
            return Step::Entry(self.pos - 1);
        }
        if self.rc != sys::PM_OK {
            self.over = true;
            return Step::Done;
        }
        let mut count = 0;
        // SAFETY: the arrays have room for cap entries; the map is alive
        // (owned by this handle or its holder) and stepped by one thread,
        // since `&mut self`.
        let rc = unsafe {
            sys::pm_map_next_batch(
                self.raw,
                self.cap,
                timeout_ms,
                self.indices.as_mut_ptr(),
                self.statuses.as_mut_ptr(),
                self.data.as_mut_ptr(),
                self.lens.as_mut_ptr(),
                &mut count,
            )
        };
        match rc {
            sys::PM_EAGAIN => return Step::Pending,
            sys::PM_EINVAL | sys::PM_ESTATE if count == 0 => {
                self.over = true;
                let detail = unsafe { c_text(sys::pm_map_error(self.raw)) };
                return Step::Fail(Error::call(rc, "pm_map_next_batch", detail));
            }
            _ => {}
        }
        self.rc = rc;
        self.count = count.min(self.cap);
        self.pos = 0;
        if self.count == 0 {
            self.over = true;
            return Step::Done;
        }
        self.pos = 1;
        Step::Entry(0)
    }

    #[inline]
    fn entry_bytes(&self, i: usize) -> &[u8] {
        let (p, n) = (self.data[i], self.lens[i]);
        if p.is_null() || n == 0 {
            &[]
        } else {
            // SAFETY: valid until the next step, which needs `&mut self`.
            unsafe { slice::from_raw_parts(p as *const u8, n) }
        }
    }

    /// The error of a failed entry; ends the map when it is final.
    #[cold]
    fn entry_error(&mut self, i: usize) -> Error {
        let message = unsafe { c_text(sys::pm_map_entry_error(self.raw, i)) };
        let e = Error::from_entry(self.statuses[i], self.indices[i], message, self.entry_bytes(i));
        if self.raise || (i + 1 == self.count && self.rc != sys::PM_OK && self.rc != sys::PM_DONE) {
            self.over = true;
        }
        e
    }

    /// A failure found by this crate (a result that does not decode): in
    /// raise mode it ends the map, and the workers are stopped at once.
    fn local_failure(&mut self, e: Error) -> Error {
        if self.raise {
            self.over = true;
            self.cancel.cancel();
        }
        e
    }

    #[inline]
    fn step_bytes(&mut self, timeout_ms: c_int) -> Next<(u64, usize)> {
        match self.step(timeout_ms) {
            Step::Done => Next::Done,
            Step::Pending => Next::Pending,
            Step::Fail(e) => Next::Ready(Err(e)),
            Step::Entry(i) if self.statuses[i] == sys::PM_OK => Next::Ready(Ok((self.indices[i], i))),
            Step::Entry(i) => Next::Ready(Err(self.entry_error(i))),
        }
    }

    /// The next result's index and bytes, without decoding or copying
    /// them: they point into the library's buffer, valid until the next
    /// step. `None` once the map is over.
    ///
    /// ```
    /// let words = vec!["x".to_string(), "yy".to_string()];
    /// parmapper::scope(|s| {
    ///     let mut map = s.map(&words, |w: &str| w.repeat(2)).unwrap();
    ///     let mut seen = Vec::new();
    ///     while let Some(r) = map.next_bytes() {
    ///         let (index, bytes) = r.unwrap();
    ///         seen.push((index, bytes.to_vec()));
    ///     }
    ///     assert_eq!(seen, [(0, b"xx".to_vec()), (1, b"yyyy".to_vec())]);
    /// });
    /// ```
    pub fn next_bytes(&mut self) -> Option<Result<(u64, &[u8]), Error>> {
        match self.step_bytes(-1) {
            Next::Done | Next::Pending => None,
            Next::Ready(Err(e)) => Some(Err(e)),
            Next::Ready(Ok((index, i))) => Some(Ok((index, self.entry_bytes(i)))),
        }
    }

    /// Wraps the map in an iterator of `(index, result)`, which tells
    /// results apart when they come as they finish (`ordered(false)`).
    ///
    /// ```
    /// let items: Vec<u32> = (0..50).collect();
    /// parmapper::scope(|s| {
    ///     let opts = parmapper::Options::new().ordered(false);
    ///     let mut got: Vec<(u64, u32)> = s.map_with(&opts, &items, |&x| x * 10)
    ///         .unwrap()
    ///         .indexed()
    ///         .map(|r| r.unwrap())
    ///         .collect();
    ///     got.sort();
    ///     assert!(got.iter().all(|&(i, r)| r == i as u32 * 10));
    /// });
    /// ```
    pub fn indexed(self) -> Indexed<'a, R> {
        Indexed { map: self }
    }
}

impl<'a, R: Decode> Map<'a, R> {
    #[inline]
    fn decode(&mut self, timeout_ms: c_int) -> Next<(u64, R)> {
        match self.step_bytes(timeout_ms) {
            Next::Ready(Ok((index, i))) => match R::decode(self.entry_bytes(i)) {
                Ok(r) => Next::Ready(Ok((index, r))),
                Err(why) => Next::Ready(Err(self.local_failure(Error::bad_result(index, why)))),
            },
            Next::Ready(Err(e)) => Next::Ready(Err(e)),
            Next::Pending => Next::Pending,
            Next::Done => Next::Done,
        }
    }

    /// Like [`Iterator::next`], but waits at most `timeout` (rounded to
    /// milliseconds) for a result: [`Next::Pending`] if none came.
    ///
    /// ```
    /// use parmapper::Next;
    /// use std::time::Duration;
    /// let mut map = parmapper::map(vec![1u8], |&x| {
    ///     std::thread::sleep(Duration::from_millis(200));
    ///     x
    /// })
    /// .unwrap();
    /// assert!(matches!(map.next_timeout(Duration::ZERO), Next::Pending));
    /// assert!(matches!(map.next_timeout(Duration::from_secs(10)), Next::Ready(Ok(1))));
    /// assert!(matches!(map.next_timeout(Duration::from_secs(10)), Next::Done));
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Next<R> {
        let ms = timeout.as_millis().min(i32::MAX as u128) as c_int;
        match self.decode(ms) {
            Next::Ready(r) => Next::Ready(r.map(|(_, v)| v)),
            Next::Pending => Next::Pending,
            Next::Done => Next::Done,
        }
    }
}

impl<'a, R: Decode> Iterator for Map<'a, R> {
    type Item = Result<R, Error>;

    #[inline]
    fn next(&mut self) -> Option<Result<R, Error>> {
        match self.decode(-1) {
            Next::Ready(r) => Some(r.map(|(_, v)| v)),
            Next::Pending | Next::Done => None,
        }
    }
}

impl<'a, R: Decode> FusedIterator for Map<'a, R> {}

impl<R> fmt::Debug for Map<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("results", &std::any::type_name::<R>())
            .field("buffered", &(self.count - self.pos))
            .field("over", &self.over)
            .finish()
    }
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alive = *self.slot.map.lock().unwrap_or_else(|e| e.into_inner()) != 0;
        f.debug_struct("Canceller").field("map_alive", &alive).finish()
    }
}

impl<R> fmt::Debug for Indexed<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Indexed").field(&self.map).finish()
    }
}

impl<R> Drop for Map<'_, R> {
    fn drop(&mut self) {
        match &mut self.owner {
            Owner::Own(core) => drop(core.take()),
            Owner::Held { by, id } => by.release(*id),
        }
    }
}

/// The iterator of [`Map::indexed`]: `(index, result)` pairs.
///
/// ```
/// let pairs: Vec<(u64, u8)> = parmapper::map(vec![5u8, 6], |&x| x * 2)
///     .unwrap()
///     .indexed()
///     .collect::<Result<_, _>>()
///     .unwrap();
/// assert_eq!(pairs, [(0, 10), (1, 12)]);
/// ```
pub struct Indexed<'a, R> {
    map: Map<'a, R>,
}

impl<'a, R> Indexed<'a, R> {
    /// The map, to cancel it or take a [`Canceller`].
    ///
    /// ```
    /// let it = parmapper::map(vec![1u8], |&x| x).unwrap().indexed();
    /// let _stop = it.inner().canceller();
    /// ```
    pub fn inner(&self) -> &Map<'a, R> {
        &self.map
    }
}

impl<'a, R: Decode> FusedIterator for Indexed<'a, R> {}

impl<'a, R: Decode> Iterator for Indexed<'a, R> {
    type Item = Result<(u64, R), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.map.decode(-1) {
            Next::Ready(r) => Some(r),
            Next::Pending | Next::Done => None,
        }
    }
}
