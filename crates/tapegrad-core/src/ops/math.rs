//! Elementwise math (DeZero steps 3, 22, 27, 43): `neg square exp log sqrt abs sign sigmoid relu
//! log1p expm1`. Each row below is one op: its name, its formula and its backward
//! rule, written with ops so that each has derivatives of every order.

use super::pairwise::Pairwise;
use super::{ScalarOp, call, div, mul, neg, pair, scale, square_backward};
use crate::Float;

unary_ops! {
    /// Elementwise functions without a parameter.
    enum Math {
        /// d/dx (-x) = -1
        Neg("neg", |x| -x, |_, _, gy| Some(neg(gy))),
        /// d/dx x^2 = 2x
        Square("square", |x| x * x, |x, _, gy| Some(square_backward(gy, x))),
        /// d/dx e^x = e^x = y
        Exp("exp", |x| x.exp_op(); long |x| x.exp_array(), |_, y, gy| Some(mul(gy, y))),
        /// d/dx ln x = 1 / x
        Log("log", |x| x.ln(), |x, _, gy| Some(div(gy, x))),
        /// d/dx sqrt x = 1 / (2y)
        Sqrt("sqrt", |x| x.sqrt(), |_, y, gy| Some(scale(div(gy, y), F::from_f64(0.5)))),
        /// d/dx |x| = sign x (0 at 0: the subgradient PyTorch also picks)
        Abs("abs", |x| x.abs(), |x, _, gy| Some(mul(gy, &call(Math::Sign, x)))),
        /// -1, 0 or 1 (0 at ±0, NaN for NaN); derivative 0: no gradient flows
        Sign("sign", |x| sign(x), |_, _, _| None),
        /// d/dx sigmoid x = y (1 - y)
        Sigmoid("sigmoid", |x| sigmoid((-x).exp_op()); long |x| sigmoid((-x).exp_array()), |_, y, gy| {
            Some(pair(Pairwise::SigmoidBackward, gy, y))
        }),
        /// d/dx max(x, 0) = 1 where x > 0, else 0
        Relu("relu", |x| if x < F::zero() { F::zero() } else { x }, |x, _, gy| {
            Some(mul(gy, &call(Math::Positive, x)))
        }),
        /// 1 where x > 0, else 0 (relu's derivative); derivative 0: no gradient flows
        Positive("positive", |x| if x > F::zero() { F::one() } else { F::zero() }, |_, _, _| None),
        /// d/dx ln(1 + x) = 1 / (1 + x)
        Log1p("log1p", |x| x.ln_1p(), |x, _, gy| Some(div(gy, &call((ScalarOp::Add, F::one()), x)))),
        /// d/dx (e^x - 1) = e^x = y + 1
        Expm1("expm1", |x| x.exp_m1(), |_, y, gy| Some(mul(gy, &call((ScalarOp::Add, F::one()), y)))),
    }
}

impl Math {
    /// Whether a gradient flows through the op (not through derivatives whose derivative is 0).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn passes_gradient(self) -> bool {
        !matches!(self, Math::Sign | Math::Positive)
    }
}

/// The logistic function `1 / (1 + e^-x)`, from `e^-x`. Branch-free, so that on a vectorisable
/// `exp` it vectorises; for very negative `x`, `e^-x` overflows to infinity and the result is the
/// correct limit 0, never NaN.
fn sigmoid<F: Float>(e_neg_x: F) -> F {
    F::one() / (F::one() + e_neg_x)
}

/// sign(x): -1, 0 or 1; unlike `f64::signum`, 0 at ±0.
fn sign<F: Float>(x: F) -> F {
    if x > F::zero() {
        F::one()
    } else if x < F::zero() {
        -F::one()
    } else {
        x // ±0, or NaN
    }
}

var_methods! {
    /// `-self`, elementwise; the unary `-` operator panics where
    /// [`Var::try_neg`](crate::Var::try_neg) returns an error.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = x.neg();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (-2.0, -1.0));
    /// ```
    #[allow(clippy::should_implement_trait)] // (it is implemented too: `-x` calls this)
    fn neg / try_neg(self) [] = Math::Neg;

    /// `self * self`, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// let y = x.square();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (9.0, 6.0));
    /// ```
    fn square / try_square(self) [] = Math::Square;

    /// `e^self`, elementwise. In `f64`, numbers and arrays of fewer than 2^14 elements get
    /// `f64::exp`'s bits; longer arrays a vectorised `e^x` within 1 ulp of it, as numpy's and
    /// PyTorch's vectorised loops ([`Float::exp_array`]). In `f32`, that vectorised form always.
    ///
    /// ```
    /// use ndarray::Array1;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.exp();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (1.0, 1.0));
    /// assert_eq!(g.scalar(1.0).exp().item(), std::f64::consts::E);
    ///
    /// let long = Array1::linspace(-5.0, 5.0, 1 << 14);
    /// let e = g.var(long.clone()).exp().data();
    /// let ulp = |v: f64| f64::from_bits(v.to_bits() + 1) - v;
    /// assert!(long.iter().zip(&e).all(|(&x, &y)| (y - x.exp()).abs() <= ulp(x.exp())));
    /// ```
    fn exp / try_exp(self) [] = Math::Exp;

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
    fn log / try_log(self) [] = Math::Log;

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
    fn sqrt / try_sqrt(self) [] = Math::Sqrt;

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
    fn abs / try_abs(self) [] = Math::Abs;

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
    fn sign / try_sign(self) [] = Math::Sign;

    /// The logistic function `1 / (1 + e^-x)`, elementwise, computed without overflow (`e^-x`
    /// as [`Var::exp`](crate::Var::exp) computes it).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.sigmoid();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (0.5, 0.25)); // y (1 - y)
    /// assert_eq!(g.scalar(-1000.0).sigmoid().item(), 0.0);
    /// ```
    fn sigmoid / try_sigmoid(self) [] = Math::Sigmoid;

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
    fn relu / try_relu(self) [] = Math::Relu;

    /// `ln(1 + x)`, elementwise, accurate for small `x` (where `(1 + x).ln()` loses digits).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1e-10);
    /// let y = x.log1p();
    /// y.backward();
    /// assert!((y.item() - 1e-10).abs() < 1e-20); // ln(1 + x) = x - x^2/2 + ...
    /// assert!((x.grad().unwrap()[[]] - 1.0 / (1.0 + 1e-10)).abs() < 1e-15); // 1 / (1 + x)
    /// ```
    fn log1p / try_log1p(self) [] = Math::Log1p;

    /// `e^x - 1`, elementwise, accurate for small `x` (where `x.exp() - 1` loses digits).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1e-10);
    /// let y = x.expm1();
    /// y.backward();
    /// assert!((y.item() - 1e-10).abs() < 1e-20); // e^x - 1 = x + x^2/2 + ...
    /// assert!((x.grad().unwrap()[[]] - 1e-10f64.exp()).abs() < 1e-15); // e^x
    /// ```
    fn expm1 / try_expm1(self) [] = Math::Expm1;
}
