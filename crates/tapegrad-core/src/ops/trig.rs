//! Trigonometric and hyperbolic functions (DeZero steps 27, 34-35): `sin cos tanh atan asin acos
//! sinh cosh`. Each row below is one op: its name, its formula and its backward rule, written with
//! ops so that each has derivatives of every order.

use super::pairwise::Pairwise;
use super::{Value, call, div, mul, neg, offset, pair, rsub, sqrt, square};
use crate::error::Result;
use crate::{Float, Var};

unary_ops! {
    /// Trigonometric and hyperbolic functions.
    enum Trig {
        /// d/dx sin x = cos x
        Sin("sin", |x| x.sin(), |x, _, gy| Some(mul(gy, &call(Trig::Cos, x)))),
        /// d/dx cos x = -sin x
        Cos("cos", |x| x.cos(), |x, _, gy| Some(neg(mul(gy, &call(Trig::Sin, x))))),
        /// d/dx tanh x = 1 - y^2
        Tanh("tanh", |x| x.tanh_op(), |_, y, gy| Some(pair(Pairwise::TanhBackward, gy, y))),
        /// d/dx atan x = 1 / (1 + x^2)
        Atan("atan", |x| x.atan(), |x, _, gy| {
            Some(div(gy, &offset(square(x), F::one())))
        }),
        /// d/dx asin x = 1 / sqrt(1 - x^2)
        Asin("asin", |x| x.asin(), |x, _, gy| Some(div(gy, &sqrt_one_minus_square(x)))),
        /// d/dx acos x = -1 / sqrt(1 - x^2)
        Acos("acos", |x| x.acos(), |x, _, gy| Some(neg(div(gy, &sqrt_one_minus_square(x))))),
        /// d/dx sinh x = cosh x
        Sinh("sinh", |x| x.sinh(), |x, _, gy| Some(mul(gy, &call(Trig::Cosh, x)))),
        /// d/dx cosh x = sinh x
        Cosh("cosh", |x| x.cosh(), |x, _, gy| Some(mul(gy, &call(Trig::Sinh, x)))),
    }
}

/// `sqrt(1 - x^2)`, the denominator of asin's and acos's derivatives.
fn sqrt_one_minus_square<F: Float, T: Value<F>>(x: &T) -> T {
    sqrt(rsub(F::one(), square(x)))
}

impl<'g, F: Float> Var<'g, F> {
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
    #[inline(never)]
    #[track_caller]
    pub fn sin(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Sin, [self])
    }

    /// Fallible [`Var::sin`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_sin().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_sin(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_sin(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Sin, &[self])
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
    #[inline(never)]
    #[track_caller]
    pub fn cos(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Cos, [self])
    }

    /// Fallible [`Var::cos`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_cos().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_cos(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_cos(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Cos, &[self])
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
    #[inline(never)]
    #[track_caller]
    pub fn tanh(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Tanh, [self])
    }

    /// Fallible [`Var::tanh`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_tanh().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_tanh(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_tanh(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Tanh, &[self])
    }

    /// Arctangent, elementwise, in `(-pi/2, pi/2)`.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let y = x.atan();
    /// y.backward();
    /// assert!((y.item() - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    /// assert!((x.grad().unwrap()[[]] - 0.5).abs() < 1e-15); // 1 / (1 + x^2)
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_atan`]'s error.
    #[inline(never)]
    #[track_caller]
    pub fn atan(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Atan, [self])
    }

    /// Fallible [`Var::atan`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_atan().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_atan(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_atan(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Atan, &[self])
    }

    /// Arcsine, elementwise, in `[-pi/2, pi/2]` (NaN outside `[-1, 1]`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.5);
    /// let y = x.asin();
    /// y.backward();
    /// assert!((y.item() - std::f64::consts::FRAC_PI_6).abs() < 1e-15);
    /// assert!((x.grad().unwrap()[[]] - 1.0 / 0.75f64.sqrt()).abs() < 1e-15); // 1 / sqrt(1 - x^2)
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_asin`]'s error.
    #[inline(never)]
    #[track_caller]
    pub fn asin(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Asin, [self])
    }

    /// Fallible [`Var::asin`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_asin().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_asin(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_asin(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Asin, &[self])
    }

    /// Arccosine, elementwise, in `[0, pi]` (NaN outside `[-1, 1]`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.5);
    /// let y = x.acos();
    /// y.backward();
    /// assert!((y.item() - std::f64::consts::FRAC_PI_3).abs() < 1e-15);
    /// assert!((x.grad().unwrap()[[]] + 1.0 / 0.75f64.sqrt()).abs() < 1e-15); // -1 / sqrt(1 - x^2)
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_acos`]'s error.
    #[inline(never)]
    #[track_caller]
    pub fn acos(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Acos, [self])
    }

    /// Fallible [`Var::acos`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_acos().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_acos(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_acos(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Acos, &[self])
    }

    /// Hyperbolic sine, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let y = x.sinh();
    /// y.backward();
    /// assert!((y.item() - 1f64.sinh()).abs() < 1e-15);
    /// assert!((x.grad().unwrap()[[]] - 1f64.cosh()).abs() < 1e-15); // cosh x
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_sinh`]'s error.
    #[inline(never)]
    #[track_caller]
    pub fn sinh(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Sinh, [self])
    }

    /// Fallible [`Var::sinh`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_sinh().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_sinh(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_sinh(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Sinh, &[self])
    }

    /// Hyperbolic cosine, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let y = x.cosh();
    /// y.backward();
    /// assert!((y.item() - 1f64.cosh()).abs() < 1e-15);
    /// assert!((x.grad().unwrap()[[]] - 1f64.sinh()).abs() < 1e-15); // sinh x
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_cosh`]'s error.
    #[inline(never)]
    #[track_caller]
    pub fn cosh(self) -> Var<'g, F> {
        self.graph.apply1_or_panic(Trig::Cosh, [self])
    }

    /// Fallible [`Var::cosh`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_cosh().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_cosh(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`.
    #[inline(never)]
    pub fn try_cosh(self) -> Result<Var<'g, F>> {
        self.graph.apply1(Trig::Cosh, &[self])
    }
}
