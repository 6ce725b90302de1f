//! Trigonometric and hyperbolic functions (DeZero steps 27, 34-35): `sin cos tanh atan asin acos
//! sinh cosh`. Each row below is one op: its name, its formula and its backward rule, written with
//! ops so that each has derivatives of every order.

use super::pairwise::Pairwise;
use super::{Value, call, div, mul, neg, offset, pair, rsub, sqrt, square};
use crate::Float;

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

var_methods! {
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
    fn sin / try_sin(self) [] = Trig::Sin;

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
    fn cos / try_cos(self) [] = Trig::Cos;

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
    fn tanh / try_tanh(self) [] = Trig::Tanh;

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
    fn atan / try_atan(self) [] = Trig::Atan;

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
    fn asin / try_asin(self) [] = Trig::Asin;

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
    fn acos / try_acos(self) [] = Trig::Acos;

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
    fn sinh / try_sinh(self) [] = Trig::Sinh;

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
    fn cosh / try_cosh(self) [] = Trig::Cosh;
}
