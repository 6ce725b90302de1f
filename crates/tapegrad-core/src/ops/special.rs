//! Activations and special functions (PyTorch's `torch.special` and `nn.functional` names):
//! `erf softplus floor ceil round` as rows of one family, and `gelu silu log_sigmoid leaky_relu
//! elu reciprocal rsqrt clamp` composed from ops, so that every one has derivatives of every
//! order.
//!
//! | op | y | dy/dx |
//! |---|---|---|
//! | erf | erf x | 2/sqrt(pi) e^(-x^2) |
//! | softplus | ln(1 + e^x), computed as max(x, 0) + ln(1 + e^-abs(x)) | sigmoid x |
//! | floor, ceil, round | (round: half to even) | 0 |
//! | gelu | x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 | Phi(x) + x phi(x) |
//! | silu | x sigmoid x | |
//! | log_sigmoid | -softplus(-x) | sigmoid(-x) |
//! | leaky_relu(s) | relu x + s min(x, 0) | 1 for x > 0, s for x <= 0 (PyTorch's choice at 0) |
//! | elu(a) | relu x + a (e^min(x, 0) - 1) | 1 for x > 0, a e^x for x <= 0 |

use super::math::Math;
use super::{call, mul, neg, scale, square, un};
use crate::Float;

unary_ops! {
    /// Special functions and roundings.
    enum Special {
        /// d/dx erf x = 2/sqrt(pi) e^(-x^2)
        Erf("erf", |x| x.erf(), |x, _, gy| {
            let d = scale(un(Math::Exp, neg(square(x))), F::from_f64(std::f64::consts::FRAC_2_SQRT_PI));
            Some(mul(gy, &d))
        }),
        /// d/dx ln(1 + e^x) = sigmoid x
        Softplus("softplus", |x| softplus(x), |x, _, gy| Some(mul(gy, &call(Math::Sigmoid, x)))),
        /// d/dx floor x = 0 (PyTorch's gradient: zeros)
        Floor("floor", |x| x.floor(), |_, _, gy| Some(scale(gy, F::zero()))),
        /// d/dx ceil x = 0
        Ceil("ceil", |x| x.ceil(), |_, _, gy| Some(scale(gy, F::zero()))),
        /// d/dx round x = 0; half-way cases go to the even neighbour (numpy, PyTorch)
        Round("round", |x| x.round_even(), |_, _, gy| Some(scale(gy, F::zero()))),
    }
}

/// `ln(1 + e^x)` without overflow: `max(x, 0) + ln(1 + e^-|x|)`.
fn softplus<F: Float>(x: F) -> F {
    let m = if x > F::zero() { x } else { F::zero() };
    m + (-x.abs()).exp().ln_1p()
}

var_methods! {
    /// The error function `erf x = 2/sqrt(pi) ∫_0^x e^(-t^2) dt`, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.erf();
    /// y.backward();
    /// assert_eq!(y.item(), 0.0);
    /// assert!((x.grad().unwrap()[[]] - 2.0 / std::f64::consts::PI.sqrt()).abs() < 1e-15);
    /// ```
    fn erf / try_erf(self) [] = Special::Erf;

    /// `ln(1 + e^x)`, elementwise, without overflow for large `x` (derivative: `sigmoid x`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.softplus();
    /// y.backward();
    /// assert!((y.item() - 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(x.grad().unwrap()[[]], 0.5);
    /// assert_eq!(g.scalar(1000.0).softplus().item(), 1000.0);
    /// ```
    fn softplus / try_softplus(self) [] = Special::Softplus;

    /// The largest integer not above each element; its gradient is 0 (as PyTorch's).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![-1.5, 0.5, 2.0]);
    /// let y = x.floor();
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![-2.0, 0.0, 2.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![0.0, 0.0, 0.0].into_dyn());
    /// ```
    fn floor / try_floor(self) [] = Special::Floor;

    /// The smallest integer not below each element; its gradient is 0.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![-1.5, 0.5]).ceil().data(), array![-1.0, 1.0].into_dyn());
    /// ```
    fn ceil / try_ceil(self) [] = Special::Ceil;

    /// Each element rounded to the nearest integer, half-way cases to the even one (as numpy and
    /// PyTorch: `0.5 -> 0`, `1.5 -> 2`, `2.5 -> 2`); its gradient is 0.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let y = g.var(array![0.5, 1.5, 2.5, -0.7]).round();
    /// assert_eq!(y.data(), array![0.0, 2.0, 2.0, -1.0].into_dyn());
    /// ```
    fn round / try_round(self) [] = Special::Round;

    /// The exact GELU, `x Phi(x) = x (1 + erf(x / sqrt 2)) / 2` (PyTorch's default `gelu`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.gelu();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (0.0, 0.5)); // Phi(0) + 0
    /// ```
    fn gelu / try_gelu(self) [] {
        let phi = self
            .try_mul(F::from_f64(std::f64::consts::FRAC_1_SQRT_2))?
            .try_erf()?
            .try_add(F::one())?
            .try_mul(F::from_f64(0.5))?;
        self.try_mul(phi)
    }

    /// SiLU (swish), `x sigmoid x`.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.silu();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (0.0, 0.5));
    /// ```
    fn silu / try_silu(self) [] {
        self.try_mul(self.try_sigmoid()?)
    }

    /// `ln sigmoid x = -softplus(-x)`, elementwise, without overflow.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(0.0);
    /// let y = x.log_sigmoid();
    /// y.backward();
    /// assert!((y.item() + 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(x.grad().unwrap()[[]], 0.5); // sigmoid(-x)
    /// assert_eq!(g.scalar(-1000.0).log_sigmoid().item(), -1000.0);
    /// ```
    fn log_sigmoid / try_log_sigmoid(self) [] {
        self.try_neg()?.try_softplus()?.try_neg()
    }

    /// `x` where `x > 0`, `slope x` elsewhere; the gradient at 0 is `slope` (PyTorch's choice).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![-2.0, 0.0, 3.0]);
    /// let y = x.leaky_relu(0.1);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![-0.2, 0.0, 3.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![0.1, 0.1, 1.0].into_dyn());
    /// ```
    fn leaky_relu / try_leaky_relu(self, slope: F) [0.1] {
        // relu x + slope min(x, 0), min(x, 0) of gradient 1 at 0
        let below = self.min0()?.try_mul(slope)?;
        self.try_relu()?.try_add(below)
    }

    /// ELU: `x` where `x > 0`, `alpha (e^x - 1)` elsewhere; the gradient at 0 is `alpha`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![0.0, 3.0]);
    /// let y = x.elu(1.0);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![0.0, 3.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![1.0, 1.0].into_dyn());
    /// ```
    fn elu / try_elu(self, alpha: F) [1.0] {
        // relu x + alpha (e^min(x, 0) - 1): no e^x of a large x, so no 0 * inf in the gradient
        let below = self.min0()?.try_expm1()?.try_mul(alpha)?;
        self.try_relu()?.try_add(below)
    }

    /// `1 / x`, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = x.reciprocal();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (0.5, -0.25)); // -1 / x^2
    /// ```
    fn reciprocal / try_reciprocal(self) [] = (super::arith::ScalarOp::RDiv, F::one());

    /// `1 / sqrt x`, elementwise.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(4.0);
    /// let y = x.rsqrt();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (0.5, -0.0625)); // -x^(-3/2) / 2
    /// ```
    fn rsqrt / try_rsqrt(self) [] {
        self.try_sqrt()?.try_reciprocal()
    }

    /// PyTorch's name for [`Var::clip`](crate::Var::clip): each element limited to `[lo, hi]`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let y = g.var(array![-2.0, 0.5, 3.0]).clamp(-1.0, 1.0);
    /// assert_eq!(y.data(), array![-1.0, 0.5, 1.0].into_dyn());
    /// ```
    fn clamp / try_clamp(self, lo: F, hi: F) [0.0, 1.0] {
        self.try_clip(lo, hi)
    }
}

impl<'g, F: Float> crate::Var<'g, F> {
    /// `min(x, 0)` with gradient 1 at 0 (the slope below 0 is the one `leaky_relu` and `elu`
    /// give at 0, as PyTorch's), and no `e^x` of a large `x` behind it.
    fn min0(self) -> crate::error::Result<crate::Var<'g, F>> {
        let bounds = super::clip::Bounds::ClipClosed;
        self.graph.apply1(
            super::Op::Bounds(bounds, Box::new([F::neg_infinity(), F::zero()])),
            &[self],
        )
    }
}
