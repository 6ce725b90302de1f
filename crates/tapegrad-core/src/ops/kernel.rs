//! Elementwise kernels: an op's formula, written once, runs through one of these, compiled into
//! a scalar path, an array kernel and an in-place kernel (rayon for large arrays).

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use crate::Float;
use crate::buffer;

/// Arrays of at least this many elements are computed on all cores (rayon): below it, splitting
/// the work and waking the pool's threads costs more than it saves (docs/performance.md).
const PARALLEL_MIN: usize = 1 << 18;

/// Receives an op's elementwise formula (see `Op::elementwise`).
pub(crate) trait Kernel<F> {
    type Out;
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> Self::Out;
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> Self::Out;
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
    #[inline(always)]
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> F {
        f(self.0[0])
    }
    #[inline(always)]
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> F {
        f(self.0[0], self.0[1])
    }
}

/// Evaluates into a new array.
pub(crate) struct Arrays<'a, 'b, F>(pub(crate) &'a [ArrayViewD<'b, F>]);

impl<F: Float> Kernel<F> for Arrays<'_, '_, F> {
    type Out = ArrayD<F>;
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> ArrayD<F> {
        let x = &self.0[0];
        if x.len() >= PARALLEL_MIN {
            match x.as_slice() {
                Some(s) => buffer::par_map(x.shape(), s, f),
                None => Zip::from(x).par_map_collect(|&x| f(x)),
            }
        } else {
            x.mapv(f)
        }
    }
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> ArrayD<F> {
        let (a, b) = (&self.0[0], &self.0[1]);
        if a.len() >= PARALLEL_MIN
            && a.shape() == b.shape()
            && let (Some(p), Some(q)) = (a.as_slice(), b.as_slice())
        {
            return buffer::par_zip_map(a.shape(), p, q, f);
        }
        // numpy broadcasting (shapes checked before).
        let broadcast = super::broadcast_shape(a.shape(), b.shape())
            .and_then(|s| Some((a.broadcast(IxDyn(&s))?, b.broadcast(IxDyn(&s))?)));
        let Some((a, b)) = broadcast else {
            unreachable!("checked shapes broadcast")
        };
        let zip = Zip::from(&a).and(&b);
        if a.len() >= PARALLEL_MIN {
            zip.par_map_collect(|&p, &q| f(p, q))
        } else {
            zip.map_collect(|&p, &q| f(p, q))
        }
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
        if self.0.len() >= PARALLEL_MIN {
            Zip::from(self.0).par_for_each(|a| *a = f(*a));
        } else {
            self.0.mapv_inplace(f);
        }
    }
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) {
        if let Some(b) = self.1 {
            let parallel = self.0.len() >= PARALLEL_MIN;
            let zip = Zip::from(self.0).and_broadcast(&b);
            if parallel {
                zip.par_for_each(|a, &b| *a = f(*a, b));
            } else {
                zip.for_each(|a, &b| *a = f(*a, b));
            }
        }
    }
}
