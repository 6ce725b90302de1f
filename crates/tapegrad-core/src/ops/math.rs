//! Elementwise math (DeZero steps 3, 22): `powf square exp`.
//!
//! | op | y | dy/dx |
//! |---|---|---|
//! | powf(c) | x^c | c x^(c-1) |
//! | square | x^2 | 2x |
//! | exp | e^x | y |

use smallvec::smallvec;

use super::{arith::or_panic, mul, scale, Grads, Op, Value};
use crate::error::Result;
use crate::{Float, Var};

impl<'g, F: Float> Var<'g, F> {
    /// `self` to the constant power `c`, elementwise (DeZero's `x ** c`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = x.powf(3.0);
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (8.0, 12.0)); // 3 x^2 = 12
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_powf`]'s error.
    #[track_caller]
    pub fn powf(self, c: F) -> Var<'g, F> {
        or_panic(self.try_powf(c))
    }

    /// Fallible [`Var::powf`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_powf(self, c: F) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::PowF(c), &[self])
    }

    /// `self * self`, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// let y = x.square();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (9.0, 6.0));
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_square`]'s error.
    #[track_caller]
    pub fn square(self) -> Var<'g, F> {
        or_panic(self.try_square())
    }

    /// Fallible [`Var::square`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_square(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Square, &[self])
    }

    /// `e^self`, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.exp();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (1.0, 1.0));
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_exp`]'s error.
    #[track_caller]
    pub fn exp(self) -> Var<'g, F> {
        or_panic(self.try_exp())
    }

    /// Fallible [`Var::exp`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_exp(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Exp, &[self])
    }
}

/// d/dx x^c = c x^(c-1)
pub(super) fn powf_backward<F: Float, T: Value<F>>(c: F, x: &T, gy: T) -> Grads<T> {
    let d = scale(&T::apply(Op::PowF(c - F::one()), &[x]), c);
    smallvec![Some(mul(&gy, &d))]
}

/// d/dx x^2 = 2x
pub(super) fn square_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    smallvec![Some(mul(&gy, &scale(x, F::from_f64(2.0))))]
}

/// d/dx e^x = e^x = y
pub(super) fn exp_backward<F: Float, T: Value<F>>(y: &T, gy: T) -> Grads<T> {
    smallvec![Some(mul(&gy, y))]
}
