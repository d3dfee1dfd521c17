//! How items and results travel: as their bytes.
//!
//! Items and results cross the process boundary as byte strings with no
//! alignment promise. [`Plain`] types travel as their own bytes; [`Encode`]
//! and [`Decode`] are the byte codec for owned types such as `String` and
//! `Vec<T>`; [`View`] is how a work function sees an item's bytes.
use std::mem::{self, MaybeUninit};
use std::os::raw::c_void;
use std::{ptr, slice, str};

use parmapper_sys as sys;

/// Types that may travel between processes as their raw bytes.
///
/// Implemented for the integer and float types, `()`, and arrays of `Plain`
/// types. Implement it for your own `#[repr(C)]` (or `#[repr(transparent)]`)
/// structs of `Plain` fields when you can vouch for the contract.
///
/// # Safety
///
/// Implementing it promises that the type:
/// - has no padding bytes (add explicit fields for them), so that its bytes
///   may be read as `[u8]`;
/// - is valid for *any* bit pattern of its size (so `bool`, `char`,
///   enums, references and `NonZero*` are not `Plain`);
/// - owns nothing outside itself (no pointer, `Box` or handle: a result is
///   read in another process, where such a pointer means nothing).
///
/// ```
/// /// Two floats, no padding, any bits are a valid value.
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Point { x: f64, y: f64 }
/// unsafe impl parmapper::Plain for Point {}
///
/// let points = vec![Point { x: 3.0, y: 4.0 }, Point { x: 6.0, y: 8.0 }];
/// let lengths = parmapper::scope(|s| -> Result<Vec<f64>, parmapper::Error> {
///     s.map(&points, |p| (p.x * p.x + p.y * p.y).sqrt())?.collect()
/// }).unwrap();
/// assert_eq!(lengths, [5.0, 10.0]);
/// ```
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

macro_rules! plain {
    ($($t:ty)*) => {$( unsafe impl Plain for $t {} )*};
}
plain!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64);
unsafe impl Plain for () {}
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// Where [`Encode::encode`] writes: a worker's result, or an item buffer.
///
/// ```
/// use parmapper::{Decode, Encode, Encoder};
/// /// A result made of a count and a name, encoded as 4 bytes then the name.
/// #[derive(Debug, PartialEq)]
/// struct Named { count: u32, name: String }
/// impl Encode for Named {
///     fn encode(&self, out: &mut Encoder<'_>) {
///         out.write(&self.count.to_le_bytes());
///         out.write(self.name.as_bytes());
///     }
/// }
/// impl Decode for Named {
///     fn decode(bytes: &[u8]) -> Result<Self, String> {
///         if bytes.len() < 4 {
///             return Err(format!("{} bytes, expected at least 4", bytes.len()));
///         }
///         let count = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
///         let name = String::from_utf8(bytes[4..].to_vec()).map_err(|e| e.to_string())?;
///         Ok(Named { count, name })
///     }
/// }
/// let words = vec!["apple".to_string(), "fig".to_string()];
/// let named = parmapper::scope(|s| -> Result<Vec<Named>, parmapper::Error> {
///     s.map(&words, |w: &str| Named { count: w.len() as u32, name: w.to_uppercase() })?
///         .collect()
/// }).unwrap();
/// assert_eq!(named[1], Named { count: 3, name: "FIG".into() });
/// ```
pub struct Encoder<'a> {
    target: Target<'a>,
    failed: bool,
}

enum Target<'a> {
    Sink(*mut sys::pm_sink),
    Buf(&'a mut Vec<u8>),
}

impl std::fmt::Debug for Encoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match self.target {
            Target::Sink(_) => "a worker's result",
            Target::Buf(_) => "an item buffer",
        };
        f.debug_struct("Encoder").field("to", &to).finish()
    }
}

impl<'a> Encoder<'a> {
    #[inline]
    pub(crate) fn sink(out: *mut sys::pm_sink) -> Encoder<'static> {
        Encoder { target: Target::Sink(out), failed: false }
    }

    #[inline]
    pub(crate) fn buf(buf: &'a mut Vec<u8>) -> Encoder<'a> {
        Encoder { target: Target::Buf(buf), failed: false }
    }

    /// Appends `bytes` to what is being encoded.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        match &mut self.target {
            Target::Buf(buf) => buf.extend_from_slice(bytes),
            Target::Sink(out) => {
                // SAFETY: `out` is the sink of the running work function call.
                let rc = unsafe { sys::pm_sink_write(*out, bytes.as_ptr() as *const c_void, bytes.len()) };
                self.failed |= rc != sys::PM_OK;
            }
        }
    }

    /// Whether a write into a worker's result failed (out of memory).
    #[inline]
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }
}

/// Types that can be written as bytes: results, and items of an
/// iterator input ([`iter`](crate::iter)). See [`Encoder`] for an
/// implementation of your own.
///
/// ```
/// // Vec<u16> items, encoded on the feeder thread, decoded in the workers.
/// let rows = (0..4u16).map(|i| vec![i; i as usize]);
/// let sums: Vec<u32> = parmapper::map(parmapper::iter(rows), |r: &Vec<u16>| {
///     r.iter().map(|&x| u32::from(x)).sum::<u32>()
/// })
/// .unwrap()
/// .map(Result::unwrap)
/// .collect();
/// assert_eq!(sums, [0, 1, 4, 9]);
/// ```
pub trait Encode {
    /// Writes the value's bytes; [`Decode::decode`] reads them back.
    fn encode(&self, out: &mut Encoder<'_>);
}

/// Types that can be read back from the bytes [`Encode`] wrote: the results
/// a map yields. A failure becomes an [`ErrorKind::BadResult`](crate::ErrorKind)
/// error for that item.
///
/// ```
/// use parmapper::Decode;
/// assert_eq!(u16::decode(&[1, 0]).map(u16::from_le), Ok(1));
/// assert!(u32::decode(&[1, 2, 3]).is_err());
/// assert_eq!(String::decode(b"hi").unwrap(), "hi");
/// ```
pub trait Decode: Sized {
    /// Reads a value from exactly `bytes`, or says why it cannot.
    fn decode(bytes: &[u8]) -> Result<Self, String>;
}

fn as_bytes<T: Plain>(v: &T) -> &[u8] {
    // SAFETY: Plain types have no padding: all their bytes are initialised.
    unsafe { slice::from_raw_parts(v as *const T as *const u8, mem::size_of::<T>()) }
}

fn slice_as_bytes<T: Plain>(v: &[T]) -> &[u8] {
    // SAFETY: as above, for each element.
    unsafe { slice::from_raw_parts(v.as_ptr() as *const u8, mem::size_of_val(v)) }
}

#[cold]
fn wrong_size<T>(len: usize) -> String {
    format!("{} bytes, expected {} for {}", len, mem::size_of::<T>(), std::any::type_name::<T>())
}

/// Reads a `T` from bytes with no alignment promise.
#[inline]
pub(crate) fn read_plain<T: Plain>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() != mem::size_of::<T>() {
        return Err(wrong_size::<T>(bytes.len()));
    }
    // SAFETY: the length is right and any bit pattern is a valid Plain value.
    Ok(unsafe { ptr::read_unaligned(bytes.as_ptr() as *const T) })
}

fn read_plain_vec<T: Plain>(bytes: &[u8]) -> Result<Vec<T>, String> {
    let size = mem::size_of::<T>();
    if size == 0 {
        return if bytes.is_empty() {
            Ok(Vec::new())
        } else {
            Err(format!("{} bytes for a vector of zero-sized values", bytes.len()))
        };
    }
    if bytes.len() % size != 0 {
        return Err(format!(
            "{} bytes, not a whole number of {} ({} bytes each)",
            bytes.len(),
            std::any::type_name::<T>(),
            size
        ));
    }
    let n = bytes.len() / size;
    let mut v: Vec<MaybeUninit<T>> = Vec::with_capacity(n);
    // SAFETY: the vector has room for n values = bytes.len() bytes; any bit
    // pattern is a valid T, so every element is initialised by the copy.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr() as *mut u8, bytes.len());
        v.set_len(n);
        let mut v = mem::ManuallyDrop::new(v);
        Ok(Vec::from_raw_parts(v.as_mut_ptr() as *mut T, n, v.capacity()))
    }
}

impl<T: Plain> Encode for T {
    #[inline]
    fn encode(&self, out: &mut Encoder<'_>) {
        out.write(as_bytes(self))
    }
}

impl<T: Plain> Decode for T {
    #[inline]
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        read_plain(bytes)
    }
}

impl<T: Plain> Encode for [T] {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.write(slice_as_bytes(self))
    }
}

impl<T: Plain> Encode for Vec<T> {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.write(slice_as_bytes(self))
    }
}

impl<T: Plain> Decode for Vec<T> {
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        read_plain_vec(bytes)
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.write(self.as_bytes())
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.write(self.as_bytes())
    }
}

impl Decode for String {
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| format!("result is not UTF-8: {}", e))
    }
}

/// How a work function sees an item: the closure of a map gets `&Self`.
///
/// - `T: Plain` (the items of a `&[T]` or `Vec<T>`): a copy of the value,
///   read from the item's bytes, which have no alignment promise;
/// - `str` (items of `&[String]`, `&[&str]`): the bytes themselves, checked
///   to be UTF-8, not copied;
/// - `[T]` (items of `&[Vec<T>]`, `&[&[T]]`): the bytes themselves when they
///   are aligned for `T` (always for `[u8]`), else a copy;
/// - `String`, `Vec<T>` (items of an [`iter`](crate::iter) of them): decoded
///   into a new value.
///
/// ```
/// use parmapper::View;
/// let seen = <str as View>::view(b"abc", |s| s.len()).unwrap();
/// assert_eq!(seen, 3);
/// assert!(<u64 as View>::view(&[0; 3], |x| *x).is_err());
/// ```
pub trait View {
    /// Calls `f` with the item that `bytes` hold, or says why they hold none.
    fn view<R, F: FnOnce(&Self) -> R>(bytes: &[u8], f: F) -> Result<R, String>;
}

impl<T: Plain> View for T {
    #[inline]
    fn view<R, F: FnOnce(&Self) -> R>(bytes: &[u8], f: F) -> Result<R, String> {
        let v: T = read_plain(bytes)?;
        Ok(f(&v))
    }
}

impl View for str {
    #[inline]
    fn view<R, F: FnOnce(&Self) -> R>(bytes: &[u8], f: F) -> Result<R, String> {
        let s = str::from_utf8(bytes).map_err(|e| format!("item is not UTF-8: {}", e))?;
        Ok(f(s))
    }
}

impl<T: Plain> View for [T] {
    #[inline]
    fn view<R, F: FnOnce(&Self) -> R>(bytes: &[u8], f: F) -> Result<R, String> {
        let size = mem::size_of::<T>();
        if size != 0 && bytes.len() % size == 0 && bytes.as_ptr() as usize % mem::align_of::<T>() == 0 {
            // SAFETY: aligned, whole elements, any bit pattern is a valid T.
            let s = unsafe { slice::from_raw_parts(bytes.as_ptr() as *const T, bytes.len() / size) };
            return Ok(f(s));
        }
        let v = read_plain_vec::<T>(bytes)?;
        Ok(f(&v))
    }
}

impl View for String {
    fn view<R, F: FnOnce(&Self) -> R>(bytes: &[u8], f: F) -> Result<R, String> {
        let s = String::decode(bytes).map_err(|e| e.replace("result", "item"))?;
        Ok(f(&s))
    }
}

impl<T: Plain> View for Vec<T> {
    fn view<R, F: FnOnce(&Self) -> R>(bytes: &[u8], f: F) -> Result<R, String> {
        let v = read_plain_vec::<T>(bytes)?;
        Ok(f(&v))
    }
}

/// What a work function may return: a result (any [`Encode`] +
/// [`Decode`] type), or a `Result` whose `Err` fails the item with its
/// `Display` text ([`ErrorKind::Failed`](crate::ErrorKind)).
///
/// ```
/// let items = vec![4u32, 0, 2];
/// parmapper::scope(|s| {
///     let opts = parmapper::Options::new().errors(parmapper::ErrorMode::Return);
///     let out: Vec<_> = s
///         .map_with(&opts, &items, |&x| if x == 0 { Err("zero") } else { Ok(12 / x) })
///         .unwrap()
///         .collect();
///     assert_eq!(out[0].as_ref().unwrap(), &3);
///     assert_eq!(out[1].as_ref().unwrap_err().message(), "zero");
///     assert_eq!(out[2].as_ref().unwrap(), &6);
/// });
/// ```
pub trait Outcome {
    /// The result type the map yields.
    type Output: Encode + Decode;
    /// The result, or the message of the item's failure.
    fn into_result(self) -> Result<Self::Output, String>;
}

impl<T: Encode + Decode> Outcome for T {
    type Output = T;
    #[inline]
    fn into_result(self) -> Result<T, String> {
        Ok(self)
    }
}

impl<T: Encode + Decode, E: std::fmt::Display> Outcome for Result<T, E> {
    type Output = T;
    #[inline]
    fn into_result(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_round_trip_and_refuse_a_wrong_length() {
        let mut buf = Vec::new();
        0x0102_0304u32.encode(&mut Encoder::buf(&mut buf));
        [1.5f64, -2.0].encode(&mut Encoder::buf(&mut buf));
        assert_eq!(buf.len(), 4 + 16);
        assert_eq!(u32::decode(&buf[..4]), Ok(0x0102_0304));
        assert_eq!(<[f64; 2]>::decode(&buf[4..]), Ok([1.5, -2.0]));
        let e = u32::decode(&buf[..3]).unwrap_err();
        assert_eq!(e, "3 bytes, expected 4 for u32");
        assert_eq!(<()>::decode(&[]), Ok(()));
    }

    #[test]
    fn vectors_and_strings_round_trip_and_refuse_bad_bytes() {
        let mut buf = Vec::new();
        vec![7u16, 8, 9].encode(&mut Encoder::buf(&mut buf));
        assert_eq!(Vec::<u16>::decode(&buf), Ok(vec![7, 8, 9]));
        assert!(Vec::<u16>::decode(&buf[..5]).unwrap_err().contains("not a whole number"));
        assert_eq!(Vec::<()>::decode(&[]), Ok(vec![]));
        assert!(Vec::<()>::decode(&[0]).is_err());
        assert_eq!(String::decode("héllo".as_bytes()).unwrap(), "héllo");
        assert!(String::decode(&[0xff, 0xfe]).unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn views_borrow_aligned_bytes_and_copy_unaligned_ones() {
        let words = [1u32, 2, 3, 4];
        let bytes: &[u8] = unsafe { slice::from_raw_parts(words.as_ptr() as *const u8, 16) };
        let aligned = <[u32] as View>::view(bytes, |s| (s.as_ptr() as usize, s.to_vec())).unwrap();
        assert_eq!(aligned, (words.as_ptr() as usize, vec![1, 2, 3, 4]));
        let mut shifted = vec![0u8; 17];
        shifted[1..].copy_from_slice(bytes);
        let unaligned = <[u32] as View>::view(&shifted[1..], |s| s.to_vec()).unwrap();
        assert_eq!(unaligned, vec![1, 2, 3, 4]);
        assert!(<[u32] as View>::view(&shifted[..3], |s| s.len()).is_err());
        assert_eq!(<u32 as View>::view(&shifted[1..5], |x| *x), Ok(1));
        assert!(<str as View>::view(&[0xc3], |s| s.len()).unwrap_err().contains("not UTF-8"));
        assert_eq!(<String as View>::view(b"ab", |s| s.clone()), Ok("ab".to_string()));
    }

    #[test]
    fn outcomes_carry_results_and_error_texts() {
        assert_eq!(5u8.into_result(), Ok(5));
        assert_eq!(Ok::<u8, &str>(6).into_result(), Ok(6));
        assert_eq!(Err::<u8, _>(std::fmt::Error).into_result(), Err("an error occurred when formatting an argument".to_string()));
    }
}
