//! `clip` (DeZero step 43's `clip`, PyTorch's `clamp`): each element limited to `[lo, hi]`, with
//! the op of its derivative, 1 strictly inside the bounds and 0 at and beyond them.

use super::kernel::Kernel;
use super::{Op, Value, call, mul};
use crate::error::{Result, or_panic};
use crate::{Float, Var};

/// `clip` and its derivative, with bounds `lo <= hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bounds {
    /// `min(max(x, lo), hi)`, of derivative [`Bounds::Inside`]: 0 at the bounds, as PyTorch's
    /// `clamp` (the minimum-norm subgradient, as `relu`'s at 0; DeZero's `clip` passes 1).
    Clip,
    /// [`Bounds::Clip`] of derivative [`Bounds::InRange`], 1 at the bounds too: `min(x, 0)` in
    /// `leaky_relu` and `elu`, whose gradient at 0 is the slope below it (PyTorch's).
    ClipClosed,
    /// 1 where `lo < x < hi`, else 0; of derivative 0.
    Inside,
    /// 1 where `lo <= x <= hi`, else 0; of derivative 0.
    InRange,
}

impl Bounds {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Bounds::Clip | Bounds::ClipClosed => "clip",
            Bounds::Inside => "inside",
            Bounds::InRange => "in_range",
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn check<F: Float>(self, lo: F, hi: F) -> Result<()> {
        match self {
            Bounds::Clip | Bounds::ClipClosed if lo <= hi => Ok(()),
            Bounds::Clip | Bounds::ClipClosed => Err(crate::Error::InvalidArgument {
                op: "clip",
                reason: format!("lo ({lo}) is greater than hi ({hi})"),
            }),
            Bounds::Inside | Bounds::InRange => Ok(()),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn kernel<F: Float, K: Kernel<F>>(self, lo: F, hi: F, k: K) -> K::Out {
        let indicator = |inside: bool| if inside { F::one() } else { F::zero() };
        match self {
            // (comparisons, not `max`/`min`, which would turn NaN into a bound)
            Bounds::Clip | Bounds::ClipClosed => k.unary(move |x| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            }),
            Bounds::Inside => k.unary(move |x| indicator(lo < x && x < hi)),
            Bounds::InRange => k.unary(move |x| indicator(lo <= x && x <= hi)),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn rule<F: Float, T: Value<F>>(self, lo: F, hi: F, x: &T, gy: T) -> Option<T> {
        let derivative = |b: Bounds| Some(mul(gy, &call(Op::Bounds(b, Box::new([lo, hi])), x)));
        match self {
            // d/dx clip(x, lo, hi) = 1 on (lo, hi), 0 elsewhere
            Bounds::Clip => derivative(Bounds::Inside),
            // 1 on [lo, hi], 0 elsewhere
            Bounds::ClipClosed => derivative(Bounds::InRange),
            Bounds::Inside | Bounds::InRange => None,
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn passes_gradient(self) -> bool {
        matches!(self, Bounds::Clip | Bounds::ClipClosed)
    }
}

impl<'g, F: Float> Var<'g, F> {
    /// Each element limited to `[lo, hi]`; the gradient is 1 strictly inside, 0 at the bounds
    /// and beyond, as PyTorch's `clamp` (the minimum-norm subgradient, as `relu`'s at 0;
    /// DeZero's `clip` passes 1 at the bounds).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![-2.0, -1.0, 0.5, 3.0]);
    /// let y = x.clip(-1.0, 1.0);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![-1.0, -1.0, 0.5, 1.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![0.0, 0.0, 1.0, 0.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_clip`]'s error.
    #[track_caller]
    pub fn clip(self, lo: F, hi: F) -> Var<'g, F> {
        or_panic(self.try_clip(lo, hi))
    }

    /// Fallible [`Var::clip`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_clip(0.0, 1.0).is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_clip(0.0, 1.0), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when `lo > hi`;
    /// [`Error::StaleVar`](crate::Error::StaleVar).
    #[inline(never)]
    pub fn try_clip(self, lo: F, hi: F) -> Result<Var<'g, F>> {
        self.graph
            .apply1(Op::Bounds(Bounds::Clip, Box::new([lo, hi])), &[self])
    }
}
