//! New large arrays, backed by huge pages.
//!
//! A fresh array of megabytes is paid for less by its arithmetic than by the kernel: every 4 KiB
//! page faults on its first write and is unmapped on drop. Asking Linux for 2 MiB pages
//! (`MADV_HUGEPAGE`, as PyTorch's CPU allocator can) makes that 512 times fewer faults
//! (measured in docs/performance.md). Below [`HUGE_MIN_BYTES`] nothing changes.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, IxDyn};

use crate::Float;

/// Arrays of at least this many bytes (two huge pages) are advised huge pages. Smaller ones have
/// too few whole 2 MiB blocks to gain. Below glibc's mmap threshold an array may come from its
/// heap instead of a fresh mapping; the advice then covers heap pages, which is just as valid
/// (measured in docs/performance.md).
const HUGE_MIN_BYTES: usize = 4 << 20;

/// An empty vector with room for `n` values, on huge pages if it is large.
fn with_capacity<F>(n: usize) -> Vec<F> {
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
pub(crate) fn uninit<F>(shape: &[usize]) -> ArrayD<MaybeUninit<F>> {
    let n = shape.iter().product();
    let mut v = with_capacity(n);
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
        Some(s) => {
            let mut v = with_capacity(s.len());
            v.extend_from_slice(s);
            from_vec(a.shape(), v)
        }
        None => a.clone(), // (a layout other than the standard one: kept as it is)
    }
}

fn from_vec<F>(shape: &[usize], v: Vec<F>) -> ArrayD<F> {
    match ArrayD::from_shape_vec(IxDyn(shape), v) {
        Ok(a) => a,
        Err(e) => unreachable!("a buffer of the shape's length: {e}"),
    }
}
