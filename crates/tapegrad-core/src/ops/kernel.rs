//! Elementwise kernels: an op's formula, written once, runs through one of these, compiled into
//! a scalar path, an array kernel and an in-place kernel.
//!
//! An array kernel is one loop per op over contiguous runs of elements ([`Run`]), handed as a
//! `dyn` closure to drivers that walk the arrays run by run and cut large ones into parts for
//! rayon's threads. The drivers are compiled once per float type, not once per op: that keeps
//! the code, and the build time, of a program using tapegrad small.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn, Zip};
#[cfg(feature = "rayon")]
use rayon::prelude::*;

use crate::Float;
use crate::{buffer, simd};

/// Arrays of at least this many elements are computed on all cores (rayon): below it, splitting
/// the work and waking the pool's threads costs more than it saves (docs/performance.md).
const PARALLEL_MIN: usize = 1 << 18;

/// Arrays of at least this many elements take an op's formula for long arrays
/// ([`Kernel::unary_long`]); shorter ones, and numbers, the exact one.
pub(crate) const LONG_MIN: usize = 1 << 14;

/// Receives an op's elementwise formula (see `Op::elementwise`).
pub(crate) trait Kernel<F> {
    type Out;
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> Self::Out;
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> Self::Out;

    /// A formula `f` with a second form `long` for arrays of at least [`LONG_MIN`] elements:
    /// within 1 ulp of `f` and vectorisable where `f` calls libm (`exp` in `f64`). Short arrays
    /// and numbers keep `f`'s bits, where a loop's cost is the op's, not the formula's.
    fn unary_long(
        self,
        f: impl Fn(F) -> F + Sync + Send,
        _long: impl Fn(F) -> F + Sync + Send,
    ) -> Self::Out
    where
        Self: Sized,
    {
        self.unary(f)
    }
}

/// Only asks whether the op is elementwise.
pub(crate) struct Probe;

impl<F: Float> Kernel<F> for Probe {
    type Out = ();
    fn unary(self, _: impl Fn(F) -> F + Sync + Send) {}
    fn binary(self, _: impl Fn(F, F) -> F + Sync + Send) {}
}

/// Evaluates on plain numbers.
pub(crate) struct Scalars<'a, F>(pub(crate) &'a [F]);

impl<F: Float> Kernel<F> for Scalars<'_, F> {
    type Out = F;
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> F {
        f(self.0[0])
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> F {
        f(self.0[0], self.0[1])
    }
}

/// One operand over a run of elements: contiguous values, or one value repeated (broadcast).
#[derive(Clone, Copy)]
enum Run<'a, F> {
    Slice(&'a [F]),
    Repeat(F),
}

/// `out[i] = f(a[i], b[i])` over a run, for each way the operands can come.
#[cfg_attr(not(debug_assertions), inline(always))]
fn binary_run<F: Float, T>(
    out: &mut [T],
    a: Run<'_, F>,
    b: Run<'_, F>,
    f: impl Fn(F, F) -> F,
    set: impl Fn(&mut T, F),
) {
    match (a, b) {
        (Run::Slice(a), Run::Slice(b)) => {
            for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
                set(o, f(p, q));
            }
        }
        (Run::Slice(a), Run::Repeat(q)) => {
            for (o, &p) in out.iter_mut().zip(a) {
                set(o, f(p, q));
            }
        }
        (Run::Repeat(p), Run::Slice(b)) => {
            for (o, &q) in out.iter_mut().zip(b) {
                set(o, f(p, q));
            }
        }
        (Run::Repeat(p), Run::Repeat(q)) => {
            let v = f(p, q);
            out.iter_mut().for_each(|o| set(o, v));
        }
    }
}

/// Evaluates into a new array.
pub(crate) struct Arrays<'a, 'b, F>(pub(crate) &'a [ArrayViewD<'b, F>]);

impl<F: Float> Kernel<F> for Arrays<'_, '_, F> {
    type Out = ArrayD<F>;
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> ArrayD<F> {
        let x = &self.0[0];
        new_array(x.shape(), [Some(x.view()), None], &|out, x, _| match x {
            Run::Slice(x) => simd::dispatch(|| {
                out.iter_mut().zip(x).for_each(|(o, &x)| {
                    o.write(f(x));
                })
            }),
            Run::Repeat(x) => {
                let v = f(x);
                out.iter_mut().for_each(|o| {
                    o.write(v);
                });
            }
        })
    }
    fn unary_long(
        self,
        f: impl Fn(F) -> F + Sync + Send,
        long: impl Fn(F) -> F + Sync + Send,
    ) -> ArrayD<F> {
        if self.0[0].len() >= LONG_MIN {
            self.unary(long)
        } else {
            self.unary(f)
        }
    }
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> ArrayD<F> {
        let (a, b) = (&self.0[0], &self.0[1]);
        // numpy broadcasting (shapes checked before).
        let shape = super::broadcast_shape(a.shape(), b.shape());
        let Some((shape, a, b)) = shape.and_then(|s| {
            let (a, b) = (a.broadcast(IxDyn(&s))?, b.broadcast(IxDyn(&s))?);
            Some((s, a, b))
        }) else {
            unreachable!("checked shapes broadcast")
        };
        new_array(&shape, [Some(a), Some(b)], &|out, a, b| {
            binary_run(out, a, b, &f, |o, v| {
                o.write(v);
            });
        })
    }
}

/// Evaluates into the first operand's buffer (same shape as the result).
pub(crate) struct InPlace<'a, 'b, F>(
    pub(crate) &'a mut ArrayD<F>,
    pub(crate) Option<ArrayViewD<'b, F>>,
);

impl<F: Float> Kernel<F> for InPlace<'_, '_, F> {
    type Out = ();
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) {
        in_place(self.0, None, &|a, _, _| {
            simd::dispatch(|| a.iter_mut().for_each(|a| *a = f(*a)))
        });
    }
    fn unary_long(self, f: impl Fn(F) -> F + Sync + Send, long: impl Fn(F) -> F + Sync + Send) {
        if self.0.len() >= LONG_MIN {
            self.unary(long)
        } else {
            self.unary(f)
        }
    }
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) {
        let Some(b) = self.1 else { return };
        let Some(b) = b.broadcast(self.0.raw_dim()) else {
            unreachable!("checked: the result has the first operand's shape")
        };
        in_place(self.0, Some(b), &|a, b, _| match b {
            Run::Slice(b) => a.iter_mut().zip(b).for_each(|(a, &b)| *a = f(*a, b)),
            Run::Repeat(b) => a.iter_mut().for_each(|a| *a = f(*a, b)),
        });
    }
}

/// An op's loop over one run: the output's elements and the matching runs of (up to) two
/// operands; an absent operand comes as `Run::Repeat(0)`.
type RunKernel<'k, T, F> = dyn Fn(&mut [T], Run<'_, F>, Run<'_, F>) + Sync + 'k;

/// Up to two operands, each a view of the output's shape (broadcast views included).
type Operands<'a, F> = [Option<ArrayViewD<'a, F>>; 2];

/// A new array of `shape`, every element written once by `kernel` from `operands`, with no pass
/// that fills it first.
#[allow(unsafe_code)]
fn new_array<F: Float>(
    shape: &[usize],
    operands: Operands<'_, F>,
    kernel: &RunKernel<'_, MaybeUninit<F>, F>,
) -> ArrayD<F> {
    let mut out = buffer::uninit(shape);
    drive(out.view_mut(), operands, kernel);
    // SAFETY: `drive` hands every element of `out` to `kernel` exactly once (its parts and runs
    // tile the array), and each kernel above writes every element of the run it is given.
    unsafe { out.assume_init() }
}

/// `a = kernel(a, b)`, `b` a view of `a`'s shape.
fn in_place<F: Float>(
    a: &mut ArrayD<F>,
    b: Option<ArrayViewD<'_, F>>,
    kernel: &RunKernel<'_, F, F>,
) {
    if !a.is_standard_layout() {
        *a = a.as_standard_layout().into_owned();
    }
    drive(a.view_mut(), [b, None], kernel);
}

/// Runs `kernel` over `out` (standard layout) and `operands`: on the whole arrays, or for large
/// ones on slabs cut along their first axis longer than one, on rayon's threads.
fn drive<T: Send, F: Float>(
    out: ArrayViewMutD<'_, T>,
    operands: Operands<'_, F>,
    kernel: &RunKernel<'_, T, F>,
) {
    let threads = crate::threads();
    let axis = out.shape().iter().position(|&n| n > 1);
    let (Some(axis), true) = (axis, out.len() >= PARALLEL_MIN && threads > 1) else {
        return by_runs(out, operands, kernel);
    };
    let count = out.shape()[axis].min(8 * threads);
    let mut slabs = Vec::with_capacity(count);
    let (mut out, mut operands) = (out, operands);
    for left in (2..=count).rev() {
        // An equal share of what is left; the last slab takes the rest.
        let at = out.shape()[axis] / left;
        let (head, tail) = out.split_at(Axis(axis), at);
        let split = operands.map(|x| x.map(|x| x.split_at(Axis(axis), at)));
        slabs.push((head, split.clone().map(|x| x.map(|x| x.0))));
        (out, operands) = (tail, split.map(|x| x.map(|x| x.1)));
    }
    slabs.push((out, operands));
    #[cfg(feature = "rayon")]
    let slabs = slabs.into_par_iter();
    #[cfg(not(feature = "rayon"))]
    let slabs = slabs.into_iter();
    slabs.for_each(|(out, operands)| by_runs(out, operands, kernel));
}

/// Rows shorter than this are not worth a call each: operands are then copied to the output's
/// layout, and the whole array is one run.
const ROW_MIN: usize = 16;

/// Runs `kernel` over `out` (standard layout): in one run when every operand has that layout,
/// else row by row (rows along the last axis: contiguous, or one value repeated).
fn by_runs<T, F: Float>(
    mut out: ArrayViewMutD<'_, T>,
    operands: Operands<'_, F>,
    kernel: &RunKernel<'_, T, F>,
) {
    let row = out.shape().last().copied().unwrap_or(1);
    let by_rows = |x: &ArrayViewD<'_, F>| match (x.shape().last(), x.strides().last()) {
        (Some(&n), Some(&s)) => n <= 1 || s == 0 || s == 1,
        _ => true,
    };
    let mut present = operands.iter().flatten();
    let copy = !present.clone().all(|x| x.is_standard_layout())
        && (row < ROW_MIN || !present.all(by_rows));
    let copies = operands
        .each_ref()
        .map(|x| x.as_ref().filter(|_| copy).map(|x| x.as_standard_layout()));
    let operands = [0, 1].map(|k| match &copies[k] {
        Some(c) => Some(c.view()),
        None => operands[k].clone(),
    });

    if operands.iter().flatten().all(|x| x.is_standard_layout()) {
        let Some(out) = out.as_slice_mut() else {
            unreachable!("outputs are in standard layout")
        };
        return kernel(out, whole_run(&operands[0]), whole_run(&operands[1]));
    }
    let zero = ndarray::arr0(F::zero()).into_dyn();
    let Some(filler) = zero.broadcast(out.raw_dim()) else {
        unreachable!("a number broadcasts to any shape")
    };
    let [a, b] = operands;
    let (a, b) = (a.unwrap_or_else(|| filler.clone()), b.unwrap_or(filler));
    Zip::from(out.rows_mut())
        .and(a.rows())
        .and(b.rows())
        .for_each(|mut o, a, b| {
            let Some(o) = o.as_slice_mut() else {
                unreachable!("rows of a standard layout are contiguous")
            };
            kernel(o, row_run(a), row_run(b));
        });
}

/// An operand in standard layout as one run (an absent one as zeros).
fn whole_run<'a, F: Float>(x: &'a Option<ArrayViewD<'_, F>>) -> Run<'a, F> {
    match x.as_ref().and_then(|x| x.as_slice()) {
        Some(s) => Run::Slice(s),
        None => Run::Repeat(F::zero()),
    }
}

/// A row as a run: its values, or its one value when it is broadcast.
fn row_run<'a, F: Float>(row: ndarray::ArrayView1<'a, F>) -> Run<'a, F> {
    match row.to_slice() {
        Some(s) => Run::Slice(s),
        None => Run::Repeat(row[0]),
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array, ArrayD, IxDyn};

    use super::{Arrays, InPlace, Kernel, LONG_MIN, PARALLEL_MIN, Scalars};
    use crate::ops::math::Math;

    /// Values that differ at every element, so that a misplaced one shows.
    fn ramp(shape: &[usize]) -> ArrayD<f64> {
        let n: usize = shape.iter().product();
        Array::from_iter((0..n).map(|i| (i as f64 * 0.37).sin()))
            .into_shape_with_order(IxDyn(shape))
            .unwrap()
    }

    /// The drivers (whole runs, rows, copies, slabs on threads) against ndarray's own
    /// broadcasting arithmetic, on small and parallel sizes, broadcast and transposed operands.
    #[test]
    fn kernels_agree_with_ndarray_on_every_layout() {
        let big = PARALLEL_MIN / 64 + 3; // rows of 64: more than PARALLEL_MIN elements
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![5, 7], vec![5, 7]),
            (vec![5, 7], vec![7]),
            (vec![5, 1], vec![1, 7]),
            (vec![5, 40], vec![5, 1]),
            (vec![3, 4, 40], vec![4, 1]),
            (vec![], vec![6]),
            (vec![0, 3], vec![3]),
            (vec![big, 64], vec![big, 64]),
            (vec![big, 64], vec![64]),
            (vec![big, 64], vec![big, 1]),
            (vec![1, big * 64], vec![1]),
        ];
        let f = |p: f64, q: f64| 2.0 * p - q * q;
        for (sa, sb) in cases {
            let (a, b) = (ramp(&sa), ramp(&sb));
            let want = &a * 2.0 - &b * &b;
            let got = Arrays(&[a.view(), b.view()]).binary(f);
            assert_eq!(got, want, "{sa:?} with {sb:?}");
            let got = Arrays(&[a.view()]).unary(|p| p.exp());
            assert_eq!(got, a.mapv(f64::exp), "{sa:?}");
            if want.shape() == a.shape() {
                let mut c = a.clone();
                InPlace(&mut c, Some(b.view())).binary(f);
                assert_eq!(c, want, "in place, {sa:?} with {sb:?}");
                InPlace(&mut c, None).unary(|p| p + 1.0);
                assert_eq!(c, &want + 1.0, "in place, {sa:?}");
            }
        }
        // Operands in other layouts: transposed (columns contiguous) and every other element.
        let a = ramp(&[big, 64]);
        let t = ramp(&[64, big]).reversed_axes();
        let want = &a * 2.0 - &t * &t;
        assert_eq!(Arrays(&[a.view(), t.view()]).binary(f), want);
        let mut c = t.to_owned();
        InPlace(&mut c, Some(a.view())).binary(|p, q| q - p);
        assert_eq!(c, &a - &t);
        let s = ramp(&[9, 14]);
        let s = s.slice(ndarray::s![.., ..;2]).into_dyn();
        assert_eq!(Arrays(&[s.view()]).unary(|p| -p), s.mapv(|p| -p));
    }

    /// `f64`'s `exp` and `sigmoid`: numbers and arrays shorter than `LONG_MIN` give libm's
    /// bits, longer ones the vectorised `exp`'s (which differ from libm's at some of them), in a
    /// new array and in place alike.
    #[test]
    fn long_f64_arrays_take_the_vectorised_exp() {
        use crate::simd::exp_f64;
        let short = Array::linspace(-30.0, 30.0, LONG_MIN - 1).into_dyn();
        let long = Array::linspace(-30.0, 30.0, LONG_MIN).into_dyn();
        type Formula = fn(f64) -> f64;
        let cases: [(Math, Formula, Formula); 2] = [
            (Math::Exp, f64::exp, exp_f64),
            (
                Math::Sigmoid,
                |x| 1.0 / (1.0 + (-x).exp()),
                |x| 1.0 / (1.0 + exp_f64(-x)),
            ),
        ];
        for (op, exact, vectorised) in cases {
            for (x, f) in [(&short, exact), (&long, vectorised)] {
                let want = x.mapv(f);
                assert_eq!(
                    op.kernel(Arrays(&[x.view()])),
                    want,
                    "{op:?} of {}",
                    x.len()
                );
                let mut c = x.clone();
                op.kernel(InPlace(&mut c, None));
                assert_eq!(c, want, "{op:?} of {} in place", x.len());
            }
            assert_ne!(
                long.mapv(exact),
                long.mapv(vectorised),
                "{op:?}: they differ"
            );
            assert_eq!(op.kernel(Scalars(&[1.5])), exact(1.5), "{op:?} of a number");
        }
    }

    /// Loops compiled for wide vectors (`simd::dispatch`) give the bits of the scalar path:
    /// `f32`'s `exp` and `sigmoid`, on every element of a ramp through their whole range.
    #[test]
    fn vectorised_loops_give_the_scalar_bits() {
        let x = Array::linspace(-110.0f32, 95.0, 100_003).into_dyn();
        let same = |a: &ArrayD<f32>, b: &ArrayD<f32>| {
            a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        for op in [Math::Exp, Math::Sigmoid] {
            let want = x.mapv(|p| op.kernel(Scalars(&[p])));
            assert!(same(&op.kernel(Arrays(&[x.view()])), &want), "{op:?}");
            let mut c = x.clone();
            op.kernel(InPlace(&mut c, None));
            assert!(same(&c, &want), "{op:?} in place");
        }
        let tanh = crate::ops::trig::Trig::Tanh;
        let want = x.mapv(|p| tanh.kernel(Scalars(&[p])));
        assert!(same(&tanh.kernel(Arrays(&[x.view()])), &want), "tanh");
    }
}
