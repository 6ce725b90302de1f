//! Elementwise math (DeZero steps 3, 22, 27, 34-35): `powf square exp log sin cos tanh sqrt abs
//! sign`. Every rule is written with ops, so each has derivatives of every order.
//!
//! | op | y | dy/dx |
//! |---|---|---|
//! | powf(c) | x^c | c x^(c-1) |
//! | square | x^2 | 2x |
//! | exp | e^x | y |
//! | log | ln x | 1 / x |
//! | sin | sin x | cos x |
//! | cos | cos x | -sin x |
//! | tanh | tanh x | 1 - y^2 |
//! | sqrt | sqrt x | 1 / (2y) |
//! | abs | abs x | sign x (0 at 0: the subgradient PyTorch also picks) |
//! | sign | -1, 0, 1 | 0 |

use super::{arith::or_panic, div, grads, mul, neg, scale, un, Grads, Op, Value};
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

    /// Natural logarithm, elementwise (NaN below 0, -inf at 0, as `f64::ln`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = x.log();
    /// y.backward();
    /// assert!((y.item() - 2f64.ln()).abs() < 1e-12);
    /// assert!((x.grad().unwrap()[[]] - 0.5).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_log`]'s error.
    #[track_caller]
    pub fn log(self) -> Var<'g, F> {
        or_panic(self.try_log())
    }

    /// Fallible [`Var::log`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_log(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Log, &[self])
    }

    /// Sine, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let y = x.sin();
    /// y.backward();
    /// assert!((y.item() - 1f64.sin()).abs() < 1e-12);
    /// assert!((x.grad().unwrap()[[]] - 1f64.cos()).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_sin`]'s error.
    #[track_caller]
    pub fn sin(self) -> Var<'g, F> {
        or_panic(self.try_sin())
    }

    /// Fallible [`Var::sin`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_sin(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Sin, &[self])
    }

    /// Cosine, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let y = x.cos();
    /// y.backward();
    /// assert!((y.item() - 1f64.cos()).abs() < 1e-12);
    /// assert!((x.grad().unwrap()[[]] - -1f64.sin()).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_cos`]'s error.
    #[track_caller]
    pub fn cos(self) -> Var<'g, F> {
        or_panic(self.try_cos())
    }

    /// Fallible [`Var::cos`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_cos(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Cos, &[self])
    }

    /// Hyperbolic tangent, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.5);
    /// let y = x.tanh();
    /// y.backward();
    /// assert!((y.item() - 0.5f64.tanh()).abs() < 1e-12);
    /// assert!((x.grad().unwrap()[[]] - (1.0 - 0.5f64.tanh().powi(2))).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_tanh`]'s error.
    #[track_caller]
    pub fn tanh(self) -> Var<'g, F> {
        or_panic(self.try_tanh())
    }

    /// Fallible [`Var::tanh`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_tanh(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Tanh, &[self])
    }

    /// Square root, elementwise (NaN below 0).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(4.0);
    /// let y = x.sqrt();
    /// y.backward();
    /// assert!((y.item() - 2.0).abs() < 1e-12);
    /// assert!((x.grad().unwrap()[[]] - 0.25).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_sqrt`]'s error.
    #[track_caller]
    pub fn sqrt(self) -> Var<'g, F> {
        or_panic(self.try_sqrt())
    }

    /// Fallible [`Var::sqrt`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_sqrt(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Sqrt, &[self])
    }

    /// Absolute value, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(-3.0);
    /// let y = x.abs();
    /// y.backward();
    /// assert!((y.item() - 3.0).abs() < 1e-12);
    /// assert!((x.grad().unwrap()[[]] - -1.0).abs() < 1e-12);
    /// ```
    ///
    /// The gradient at 0 is 0 (the subgradient PyTorch also uses).
    ///
    /// # Panics
    /// With the message of [`Var::try_abs`]'s error.
    #[track_caller]
    pub fn abs(self) -> Var<'g, F> {
        or_panic(self.try_abs())
    }

    /// Fallible [`Var::abs`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_abs(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Abs, &[self])
    }

    /// -1, 0 or 1 by the sign of each element (0 at ±0, NaN for NaN). Its derivative is 0, so
    /// no gradient flows through it: a variable reached only through `sign` keeps `grad() == None`.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(ndarray::array![-3.0, 0.0, 2.0]);
    /// let y = x.sign();
    /// assert_eq!(y.data(), ndarray::array![-1.0, 0.0, 1.0].into_dyn());
    /// y.backward();
    /// assert!(x.grad().is_none());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_sign`]'s error.
    #[track_caller]
    pub fn sign(self) -> Var<'g, F> {
        or_panic(self.try_sign())
    }

    /// Fallible [`Var::sign`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    pub fn try_sign(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Sign, &[self])
    }

    /// The logistic function `1 / (1 + e^-x)`, elementwise, computed without overflow.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.sigmoid();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (0.5, 0.25)); // y (1 - y)
    /// assert_eq!(g.scalar(-1000.0).sigmoid().item(), 0.0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn sigmoid(self) -> Var<'g, F> {
        or_panic(self.try_sigmoid())
    }

    /// Fallible [`Var::sigmoid`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar).
    pub fn try_sigmoid(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Sigmoid, &[self])
    }

    /// `max(x, 0)`, elementwise; its gradient is 0 at 0 (as PyTorch).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![-1.0, 0.0, 2.0]);
    /// let y = x.relu();
    /// y.backward();
    /// assert_eq!(y.data(), array![0.0, 0.0, 2.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![0.0, 0.0, 1.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn relu(self) -> Var<'g, F> {
        or_panic(self.try_relu())
    }

    /// Fallible [`Var::relu`].
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar).
    pub fn try_relu(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Relu, &[self])
    }

    /// Each element limited to `[lo, hi]`; the gradient is 1 inside (bounds included), 0 outside.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![-2.0, 0.5, 3.0]);
    /// let y = x.clip(-1.0, 1.0);
    /// y.backward();
    /// assert_eq!(y.data(), array![-1.0, 0.5, 1.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![0.0, 1.0, 0.0].into_dyn());
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
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when `lo > hi`;
    /// [`Error::StaleVar`](crate::Error::StaleVar).
    pub fn try_clip(self, lo: F, hi: F) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Clip(lo, hi), &[self])
    }
}

/// d/dx x^c = c x^(c-1)
/// `x^c`, with the common exponents as plain arithmetic (numpy does the same for 2): `x * x` is
/// the correctly rounded square, as good as `powf` or better, and several times cheaper.
#[inline]
pub(super) fn powf<F: Float>(x: F, c: F) -> F {
    if c == F::from_f64(2.0) {
        x * x
    } else if c == F::one() {
        x
    } else {
        x.powf(c)
    }
}

#[inline]
pub(super) fn powf_backward<F: Float, T: Value<F>>(c: F, x: &T, gy: T) -> Grads<T> {
    let d = scale(T::apply(Op::PowF(c - F::one()), &[x]), c);
    grads![Some(mul(gy, &d))]
}

/// d/dx x^2 = 2x
#[inline]
pub(super) fn square_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(scale(mul(gy, x), F::from_f64(2.0)))]
}

/// d/dx e^x = e^x = y
#[inline]
pub(super) fn exp_backward<F: Float, T: Value<F>>(y: &T, gy: T) -> Grads<T> {
    grads![Some(mul(gy, y))]
}

/// The logistic function. Branch-free, so it vectorises; for very negative `x`, `e^-x`
/// overflows to infinity and the result is the correct limit 0, never NaN.
pub(super) fn sigmoid<F: Float>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

pub(super) fn check_clip<F: Float>(lo: F, hi: F) -> Result<()> {
    if lo <= hi {
        Ok(())
    } else {
        Err(crate::Error::InvalidArgument {
            op: "clip",
            reason: format!("lo ({lo}) is greater than hi ({hi})"),
        })
    }
}

/// d/dx sigmoid x = y (1 - y)
#[inline]
pub(super) fn sigmoid_backward<F: Float, T: Value<F>>(y: &T, gy: T) -> Grads<T> {
    let d = mul(un(Op::RSubScalar(F::one()), y.clone()), y);
    grads![Some(mul(gy, &d))]
}

/// sign(x): -1, 0 or 1; unlike `f64::signum`, 0 at ±0.
pub(super) fn sign<F: Float>(x: F) -> F {
    if x > F::zero() {
        F::one()
    } else if x < F::zero() {
        -F::one()
    } else {
        x // ±0, or NaN
    }
}

/// d/dx sin x = cos x
#[inline]
pub(super) fn sin_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(mul(gy, &T::apply(Op::Cos, &[x])))]
}

/// d/dx cos x = -sin x
#[inline]
pub(super) fn cos_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(neg(mul(gy, &T::apply(Op::Sin, &[x]))))]
}

/// d/dx tanh x = 1 - y^2
#[inline]
pub(super) fn tanh_backward<F: Float, T: Value<F>>(y: &T, gy: T) -> Grads<T> {
    let d = un(Op::RSubScalar(F::one()), T::apply(Op::Square, &[y]));
    grads![Some(mul(gy, &d))]
}

/// d/dx sqrt x = 1 / (2y)
#[inline]
pub(super) fn sqrt_backward<F: Float, T: Value<F>>(y: &T, gy: T) -> Grads<T> {
    grads![Some(scale(div(gy, y), F::from_f64(0.5)))]
}

/// d/dx |x| = sign x (0 at 0)
#[inline]
pub(super) fn abs_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(mul(gy, &T::apply(Op::Sign, &[x])))]
}
