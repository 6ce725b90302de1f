//! New large arrays: reused from the ones the engine freed, or backed by huge pages.
//!
//! A fresh array of megabytes is paid for less by its arithmetic than by the kernel: every 4 KiB
//! page faults on its first write and is unmapped on drop. Two remedies (measured in
//! docs/performance.md):
//! - the arrays a graph frees (its values when it is cleared or dropped, the gradients its
//!   backward pass consumed) wait in a per-thread pool for the next graph's arrays of about the
//!   same size, so a training loop's step reuses the last step's memory;
//! - a new array of at least [`HUGE_MIN_BYTES`] asks Linux for 2 MiB pages (`MADV_HUGEPAGE`, as
//!   PyTorch's CPU allocator can): 512 times fewer faults.

use std::any::Any;
use std::cell::RefCell;
use std::mem::{ManuallyDrop, MaybeUninit};

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::Float;

/// Arrays of at least this many bytes (two huge pages) are advised huge pages. Smaller ones have
/// too few whole 2 MiB blocks to gain. Below glibc's mmap threshold an array may come from its
/// heap instead of a fresh mapping; the advice then covers heap pages, which is just as valid
/// (measured in docs/performance.md).
const HUGE_MIN_BYTES: usize = 4 << 20;

/// Arrays of at least this many bytes are pooled: smaller ones are cheap for the allocator.
const POOL_MIN_BYTES: usize = 64 << 10;
/// The most a thread's pool keeps, in bytes and in buffers; past either the oldest go. Enough
/// for what one step of a mid-sized model or a graph of a few 10^7-element arrays frees
/// ([`empty_cache`] gives it back at once).
const POOL_MAX_BYTES: usize = 1 << 30;
const POOL_MAX_BUFFERS: usize = 128;

/// Freed buffers, oldest first: their size in bytes and the empty `Vec<F>` (of either element
/// type) itself.
#[derive(Default)]
struct Pool {
    buffers: Vec<(usize, Box<dyn Any>)>,
    bytes: usize,
}

impl Pool {
    fn remove(&mut self, k: usize) -> Box<dyn Any> {
        let (bytes, b) = self.buffers.remove(k);
        self.bytes -= bytes;
        b
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// A pooled buffer with room for `n` values and not twice that, the smallest such.
fn take_pooled<F: Float>(n: usize) -> Option<Vec<F>> {
    let want = n * size_of::<F>();
    POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let (k, _) = (pool.buffers.iter().enumerate())
            .filter(|(_, (bytes, b))| want <= *bytes && *bytes / 2 < want && b.is::<Vec<F>>())
            .min_by_key(|(_, (bytes, _))| *bytes)?;
        pool.remove(k).downcast::<Vec<F>>().ok().map(|v| *v)
    })
    .ok()
    .flatten()
}

/// Gives `a`'s memory to the pool for the next array of about its size (or frees it, if it is
/// small).
pub(crate) fn recycle<F: Float>(a: ArrayD<F>) {
    if a.len() * size_of::<F>() < POOL_MIN_BYTES {
        return;
    }
    let (mut v, _) = a.into_raw_vec_and_offset();
    v.clear();
    let bytes = v.capacity() * size_of::<F>();
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.bytes += bytes;
        pool.buffers.push((bytes, Box::new(v)));
        while pool.bytes > POOL_MAX_BYTES || pool.buffers.len() > POOL_MAX_BUFFERS {
            drop(pool.remove(0));
        }
    });
}

/// Frees the memory tapegrad keeps on this thread for the next arrays, as PyTorch's
/// `torch.cuda.empty_cache()` does for its GPU allocator.
///
/// The arrays a graph frees (its values when it is cleared or dropped, the gradients its backward
/// pass consumed) are kept for the next graph's arrays of about the same size, up to 1 GiB per
/// thread: a training loop's step then reuses the last step's memory instead of faulting in fresh
/// pages. Call this when the thread is done with large graphs and the memory should go back to
/// the system now.
///
/// ```
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let x = g.var(tapegrad_core::ndarray::Array1::<f64>::ones(1 << 20)); // 8 MiB
/// (x * 2.0).sum().backward();
/// drop(g); // its arrays are kept for the next graph on this thread...
/// tapegrad_core::empty_cache(); // ...or freed now
/// ```
pub fn empty_cache() {
    let _ = POOL.try_with(|pool| *pool.borrow_mut() = Pool::default());
}

/// An empty vector with room for `n` values: a pooled one, or a new one on huge pages if it is
/// large.
fn with_capacity<F: Float>(n: usize) -> Vec<F> {
    if n * size_of::<F>() >= POOL_MIN_BYTES
        && let Some(v) = take_pooled(n)
    {
        return v;
    }
    let v = Vec::with_capacity(n);
    if n * std::mem::size_of::<F>() >= HUGE_MIN_BYTES {
        advise_huge_pages(&v);
    }
    v
}

/// Asks the kernel to back the whole 2 MiB blocks inside `v`'s allocation with huge pages. A
/// hint: if the kernel says no, the pages are ordinary ones.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages<F>(v: &Vec<F>) {
    const HUGE_PAGE: usize = 2 << 20;
    let start = v.as_ptr() as usize;
    let end = start + v.capacity() * std::mem::size_of::<F>();
    let (lo, hi) = (
        start.next_multiple_of(HUGE_PAGE),
        end / HUGE_PAGE * HUGE_PAGE,
    );
    if lo < hi {
        // SAFETY: `lo..hi` lies inside the allocation `v` owns, and nothing else refers to it.
        // MADV_HUGEPAGE changes no contents and no permissions: it only tells the kernel how to
        // back pages that are faulted in later. Its result is ignored: on failure, or a kernel
        // with transparent huge pages off, the pages stay ordinary ones.
        unsafe {
            libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<F>(_: &Vec<F>) {}

/// An array of `shape` whose elements are still to be written (the kernels of `ops/kernel.rs`
/// write each once).
#[allow(unsafe_code)]
pub(crate) fn uninit<F: Float>(shape: &[usize]) -> ArrayD<MaybeUninit<F>> {
    let n = shape.iter().product();
    let mut v = ManuallyDrop::new(with_capacity::<F>(n));
    // SAFETY: an empty `Vec<F>`'s allocation taken over as a `Vec<MaybeUninit<F>>` of the same
    // capacity: `MaybeUninit<F>` has `F`'s size and alignment, so the layout it frees with is the
    // one it was allocated with, and `v` (not dropped) gives up its ownership.
    let mut v =
        unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<MaybeUninit<F>>(), 0, v.capacity()) };
    v.resize_with(n, MaybeUninit::uninit);
    from_vec(shape, v)
}

/// An array of `shape` filled with `v`.
pub(crate) fn filled<F: Float>(shape: &[usize], v: F) -> ArrayD<F> {
    let n = shape.iter().product();
    let mut out = with_capacity(n);
    out.resize(n, v);
    from_vec(shape, out)
}

/// A copy of `a`.
pub(crate) fn copy<F: Float>(a: &ArrayD<F>) -> ArrayD<F> {
    match a.as_slice() {
        Some(_) => owned(&a.view()),
        None => a.clone(), // (a layout other than the standard one: kept as it is)
    }
}

/// A standard-layout copy of any view (a broadcast, a permutation) in logical order, as
/// `to_owned` gives, in pooled memory.
pub(crate) fn owned<F: Float>(a: &ArrayViewD<'_, F>) -> ArrayD<F> {
    if let Some(s) = a.as_slice() {
        let mut v = with_capacity(s.len());
        v.extend_from_slice(s);
        return from_vec(a.shape(), v);
    }
    if a.strides().iter().all(|&s| s == 0)
        && let Some(&x) = a.iter().next()
    {
        return filled(a.shape(), x); // one value broadcast (the gradient of a sum)
    }
    let mut v = with_capacity(a.len());
    v.extend(a.iter().copied());
    from_vec(a.shape(), v)
}

fn from_vec<F>(shape: &[usize], v: Vec<F>) -> ArrayD<F> {
    match ArrayD::from_shape_vec(IxDyn(shape), v) {
        Ok(a) => a,
        Err(e) => unreachable!("a buffer of the shape's length: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A freed array's memory serves the next array of its size, not one twice as large, and
    /// `empty_cache` gives it back.
    #[test]
    fn freed_arrays_serve_the_next_ones_of_their_size() {
        empty_cache();
        let a = filled::<f64>(&[256, 64], 1.0); // 128 KiB
        let ptr = a.as_ptr();
        recycle(a);
        assert!(filled::<f64>(&[1024, 64], 0.0).as_ptr() != ptr); // too large for it
        let b = filled::<f64>(&[200, 64], 2.0);
        assert_eq!(b.as_ptr(), ptr, "the pooled buffer is reused");
        assert!(b.iter().all(|&v| v == 2.0));
        recycle(b);
        empty_cache();
        assert_eq!(POOL.with(|p| p.borrow().buffers.len()), 0);
        let c = owned(&ndarray::arr0(3.0).into_dyn().broadcast(vec![4, 5]).unwrap());
        assert_eq!(c, ArrayD::from_elem(vec![4, 5], 3.0));
    }
}
