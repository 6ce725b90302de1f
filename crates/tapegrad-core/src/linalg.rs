//! The matrix product every op of the library runs on ([`gemm()`]): the `gemm` crate's kernels
//! (candle's CPU matmul) for `f32` and `f64`, on both cores for large products.

use std::any::TypeId;
use std::mem::MaybeUninit;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, Ix2};

use crate::Float;

/// Products of at least this many multiply-adds are shared among rayon's threads; smaller ones
/// would spend more on waking threads than they save.
#[cfg(feature = "rayon")]
const PARALLEL_FROM: usize = 1 << 24;

/// `c = alpha a b + beta c` (BLAS's GEMM) for matrices of any strides.
///
/// Large products run on rayon's threads. Each element of `c` is summed in the same order on
/// any number of threads.
///
/// ```
/// use tapegrad_core::linalg::gemm;
/// use tapegrad_core::ndarray::{array, Array2};
/// let (a, b) = (array![[1.0, 2.0], [3.0, 4.0]], array![[5.0], [6.0]]);
/// let mut c = Array2::from_elem((2, 1), 1.0);
/// gemm(2.0, &a.view(), &b.view(), 1.0, &mut c.view_mut());
/// assert_eq!(c, array![[35.0], [79.0]]); // 2 a b + c
/// ```
///
/// # Panics
/// If the shapes do not chain (`a`: `m x k`, `b`: `k x n`, `c`: `m x n`).
pub fn gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, F>,
) {
    product(alpha, a, b, beta, c, true);
}

/// [`gemm()`] on the calling thread only, for a caller that already runs products in parallel
/// (a convolution's images): threads within threads would only take turns.
///
/// ```
/// use tapegrad_core::linalg::gemm_serial;
/// use tapegrad_core::ndarray::{array, Array2};
/// let (a, b) = (array![[1.0, 2.0]], array![[3.0], [4.0]]);
/// let mut c = Array2::zeros((1, 1));
/// gemm_serial(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
/// assert_eq!(c, array![[11.0]]);
/// ```
///
/// # Panics
/// As [`gemm()`].
pub fn gemm_serial<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, F>,
) {
    product(alpha, a, b, beta, c, false);
}

fn product<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, F>,
    parallel: bool,
) {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: shapes {:?} x {:?} -> {:?} do not chain",
        a.shape(),
        b.shape(),
        c.shape()
    );
    if !by_gemm(a, b, c.strides()) {
        general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    let raw = c.raw_view_mut().cast::<MaybeUninit<F>>();
    // SAFETY: `MaybeUninit<F>` has `F`'s layout, the new view borrows `c` mutably for its
    // lifetime, and only initialised values are written through it.
    #[allow(unsafe_code)]
    let mut c = unsafe { raw.deref_into_view_mut() };
    on_threads(alpha, a, b, beta, &mut c, parallel);
}

/// `a b` in a new array (2-D operands that chain), taken from the buffer pool unwritten: the
/// product writes every element, so it is not zeroed first.
pub(crate) fn product_new<F: Float>(a: &ArrayView2<'_, F>, b: &ArrayView2<'_, F>) -> ArrayD<F> {
    let shape = [a.nrows(), b.ncols()];
    if !by_gemm(a, b, &[shape[1] as isize, 1]) {
        let y = crate::buffer::filled(&shape, F::zero());
        let mut y = y
            .into_dimensionality::<Ix2>()
            .unwrap_or_else(|_| unreachable!("made 2-D"));
        general_mat_mul(F::one(), a, b, F::zero(), &mut y);
        return y.into_dyn();
    }
    let y = crate::buffer::uninit::<F>(&shape);
    let mut y = y
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| unreachable!("made 2-D"));
    on_threads(F::one(), a, b, F::zero(), &mut y.view_mut(), true);
    // SAFETY: with `beta` zero, the gemm crate writes every element of the destination without
    // reading it (no side is empty: checked by `by_gemm`), and the threads' blocks tile it.
    #[allow(unsafe_code)]
    let y = unsafe { y.assume_init() };
    y.into_dyn()
}

/// Whether the `gemm` crate takes the product: `f32` or `f64`, no negative stride, no empty side.
fn by_gemm<F: Float>(a: &ArrayView2<'_, F>, b: &ArrayView2<'_, F>, c_strides: &[isize]) -> bool {
    let supported =
        TypeId::of::<F>() == TypeId::of::<f32>() || TypeId::of::<F>() == TypeId::of::<f64>();
    let positive = [a.strides(), b.strides(), c_strides]
        .iter()
        .all(|s| s.iter().all(|&d| d >= 0));
    supported && positive && a.nrows() > 0 && a.ncols() > 0 && b.ncols() > 0
}

/// The product by the `gemm` crate, shared among rayon's threads when it is large and
/// `parallel` is set.
fn on_threads<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, MaybeUninit<F>>,
    parallel: bool,
) {
    #[cfg(feature = "rayon")]
    {
        let (threads, size) = (crate::threads(), a.nrows() * a.ncols() * b.ncols());
        if parallel && threads > 1 && size >= PARALLEL_FROM && split(alpha, a, b, beta, c, threads)
        {
            return;
        }
    }
    #[cfg(not(feature = "rayon"))]
    let _ = parallel;
    serial(alpha, a, b, beta, c);
}

/// Output columns (or rows) per thread are cut at multiples of this, so that every thread's
/// share is whole kernel tiles.
#[cfg(feature = "rayon")]
const SPLIT_ALIGN: usize = 64;

/// `c`'s longer side cut into one block per thread, each block's product run on the calling
/// thread of a rayon task: the `gemm` crate's own threading shares a 100-row product unevenly
/// (docs/performance.md). Each element of `c` is then summed by one serial product, in the order
/// it would be on one thread. False (nothing done) when a side is too short.
#[cfg(feature = "rayon")]
fn split<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, MaybeUninit<F>>,
    threads: usize,
) -> bool {
    use ndarray::Axis;
    use rayon::prelude::*;
    let (m, n) = c.dim();
    let (axis, len, other) = if n >= m {
        (Axis(1), n, m)
    } else {
        (Axis(0), m, n)
    };
    let block = len.div_ceil(threads).next_multiple_of(SPLIT_ALIGN);
    // (with both sides of a block at most 64, the gemm crate would sum in blocks of its own)
    if block >= len || other <= SPLIT_ALIGN {
        return false;
    }
    let c_blocks: Vec<_> = c.axis_chunks_iter_mut(axis, block).collect();
    c_blocks
        .into_par_iter()
        .enumerate()
        .for_each(|(i, mut ci)| {
            let range = ndarray::Slice::from(i * block..(i * block + block).min(len));
            match axis {
                Axis(1) => serial(alpha, a, &b.slice_axis(Axis(1), range), beta, &mut ci),
                _ => serial(alpha, &a.slice_axis(Axis(0), range), b, beta, &mut ci),
            }
        });
    true
}

/// The product on the calling thread, by the `gemm` crate ([`by_gemm`] checked). `c` is read
/// only when `beta` is not zero, and then must be initialised.
fn serial<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, MaybeUninit<F>>,
) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let (cs, as_, bs) = (c.strides(), a.strides(), b.strides());
    let (c_rs, c_cs, c_ptr) = (cs[0], cs[1], c.as_mut_ptr().cast::<F>());
    // SAFETY: the three views are valid for their dims and (checked non-negative) strides,
    // which are what gemm reads and writes through; `c` is borrowed mutably, so it aliases
    // neither `a` nor `b`; `F` is `f32` or `f64` (checked), both supported by gemm; `c` is read
    // only when `beta` is not zero, which the callers pass only with `c` initialised.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c_ptr,
            c_cs,
            c_rs,
            beta != F::zero(), // read c only if it is scaled in
            a.as_ptr(),
            as_[1],
            as_[0],
            b.as_ptr(),
            bs[1],
            bs[0],
            beta,  // gemm's `alpha` scales the destination
            alpha, // and its `beta` the product
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
