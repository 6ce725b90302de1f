//! Binary elementwise functions beyond arithmetic, broadcasting as numpy: `maximum minimum pow
//! atan2`. The sweep reduces each gradient to its input's shape, as for `+ - * /`.
//!
//! | op | y | gradients |
//! |---|---|---|
//! | maximum | max(a, b) | gy where a > b, gy / 2 where a == b (PyTorch's split of ties) |
//! | minimum | min(a, b) | the same with a < b |
//! | pow | a^b | gy b a^(b-1) (0 where b == 0), gy a^b ln a (0 where a == 0 and b >= 0) |
//! | atan2 | atan2(a, b) | gy b / (a^2 + b^2), -gy a / (a^2 + b^2) |
//! | sigmoid_backward | a b (1 - b) | gy b (1 - b), gy a (1 - 2b) |
//! | tanh_backward | a (1 - b^2) | gy (1 - b^2), -2 gy a b |
//! | square_backward | 2 a b | 2 gy b, 2 gy a |
//!
//! The last three are derivatives in one pass over the arrays instead of two or three (`a` the
//! output's gradient): of `sigmoid` and `tanh` at their output `b` (PyTorch's ops of the same
//! names), and of `square` and `x * x` at their input `b`.
//! NaN in either operand gives NaN (`maximum`, `minimum` propagate it, as PyTorch's).

use super::arith::Operand;
use super::clip::Bounds;
use super::kernel::Kernel;
use super::{
    Grads, Op, Value, add, call, div, equal_to, grads, mul, neg, offset, rsub, scale, square,
    square_backward,
};
use crate::error::{Error, Result};
use crate::{Float, Var};

/// The binary functions of this file, and the weight of maximum's derivative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pairwise {
    Maximum,
    Minimum,
    Pow,
    Atan2,
    /// 1 where `a > b`, 1/2 where `a == b`, else 0: `d max(a, b) / da`; derivative 0.
    Wins,
    /// `a b (1 - b)`: `a` times sigmoid's derivative at its output `b`.
    SigmoidBackward,
    /// `a (1 - b^2)`: `a` times tanh's derivative at its output `b`.
    TanhBackward,
    /// `2 a b`: `a` times the derivative of `b^2`.
    SquareBackward,
}

impl<F> From<Pairwise> for Op<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn from(p: Pairwise) -> Self {
        Op::Pairwise(p)
    }
}

impl Pairwise {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Pairwise::Maximum => "maximum",
            Pairwise::Minimum => "minimum",
            Pairwise::Pow => "pow",
            Pairwise::Atan2 => "atan2",
            Pairwise::Wins => "wins",
            Pairwise::SigmoidBackward => "sigmoid_backward",
            Pairwise::TanhBackward => "tanh_backward",
            Pairwise::SquareBackward => "square_backward",
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn kernel<F: Float, K: Kernel<F>>(self, k: K) -> K::Out {
        let nan = |a: F, b: F| a.is_nan() || b.is_nan();
        match self {
            Pairwise::Maximum => k.binary(move |a, b| if nan(a, b) { F::nan() } else { a.max(b) }),
            Pairwise::Minimum => k.binary(move |a, b| if nan(a, b) { F::nan() } else { a.min(b) }),
            Pairwise::Pow => k.binary(|a, b| a.powf(b)),
            Pairwise::Atan2 => k.binary(|a, b| a.atan2(b)),
            Pairwise::Wins => k.binary(|a, b| {
                if a > b {
                    F::one()
                } else if a == b {
                    F::from_f64(0.5)
                } else {
                    F::zero()
                }
            }),
            Pairwise::SigmoidBackward => k.binary(|a, b| a * ((F::one() - b) * b)),
            Pairwise::TanhBackward => k.binary(|a, b| a * (F::one() - b * b)),
            Pairwise::SquareBackward => k.binary(|a, b| a * b * F::from_f64(2.0)),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn rule<F: Float, T: Value<F>>(self, xs: &[T], y: &T, gy: T) -> Grads<T> {
        let (a, b) = (&xs[0], &xs[1]);
        let op = |p: Pairwise, x: &T, z: &T| T::apply(Op::Pairwise(p), &[x, z]);
        match self {
            // d max(a, b) = (gy wins(a, b), gy wins(b, a))
            Pairwise::Maximum => grads![
                Some(mul(op(Pairwise::Wins, a, b), &gy)),
                Some(mul(op(Pairwise::Wins, b, a), &gy))
            ],
            Pairwise::Minimum => grads![
                Some(mul(op(Pairwise::Wins, b, a), &gy)),
                Some(mul(op(Pairwise::Wins, a, b), &gy))
            ],
            Pairwise::Pow => {
                let is0 = |x: &T| call(equal_to(F::zero()), x);
                // d/da a^b = b a^(b-1); where a = b = 0 it is 0, computed at a = 1 instead of 0 * inf
                let a1 = add(a.clone(), &mul(is0(a), &is0(b)));
                let da = mul(op(Pairwise::Pow, &a1, &offset(b.clone(), -F::one())), b);
                // d/db a^b = a^b ln a; where a = 0 and b >= 0 it is 0, computed at a = 1
                let nonneg = call(
                    Op::Bounds(Bounds::InRange, Box::new([F::zero(), F::infinity()])),
                    b,
                );
                let a2 = add(a.clone(), &mul(is0(a), &nonneg));
                let db = mul(call(super::math::Math::Log, &a2), y);
                grads![Some(mul(da, &gy)), Some(mul(db, &gy))]
            }
            // d atan2(a, b) = (b, -a) / (a^2 + b^2); 0 at the origin, as PyTorch (computed
            // with r = 1 there instead of 0 / 0)
            Pairwise::Atan2 => {
                let r = add(square(a), &square(b));
                let r = add(r.clone(), &call(equal_to(F::zero()), &r));
                let ga = div(mul(gy.clone(), b), &r);
                let gb = neg(div(mul(gy, a), &r));
                grads![Some(ga), Some(gb)]
            }
            Pairwise::Wins => grads![None, None],
            // d a b (1 - b) = (gy b (1 - b), gy a (1 - 2b))
            Pairwise::SigmoidBackward => {
                let ga = mul(gy.clone(), &mul(rsub(F::one(), b.clone()), b));
                let gb = mul(
                    mul(gy, a),
                    &rsub(F::one(), scale(b.clone(), F::from_f64(2.0))),
                );
                grads![Some(ga), Some(gb)]
            }
            // d a (1 - b^2) = (gy (1 - b^2), -2 gy a b)
            Pairwise::TanhBackward => {
                let ga = mul(gy.clone(), &rsub(F::one(), square(b)));
                let gb = scale(mul(mul(gy, a), b), F::from_f64(-2.0));
                grads![Some(ga), Some(gb)]
            }
            // d 2ab = (2 gy b, 2 gy a)
            Pairwise::SquareBackward => {
                let ga = square_backward(gy.clone(), b);
                grads![Some(ga), Some(square_backward(gy, a))]
            }
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn passes_gradient(self) -> bool {
        !matches!(self, Pairwise::Wins)
    }
}

/// `kind(x, rhs)`: a scalar or array `rhs` becomes a constant of `x`'s graph.
fn pairwise<'g, F: Float>(
    kind: Pairwise,
    x: Var<'g, F>,
    rhs: Operand<'g, F>,
) -> Result<Var<'g, F>> {
    let g = x.graph;
    let rhs = match rhs {
        Operand::Var(v) => v,
        Operand::Scalar(c) => g.constant(ndarray::arr0(c)),
        Operand::Array(a) => {
            let shape = x.try_shape()?;
            if super::broadcast_shape(&shape, a.shape()).is_none() {
                let (lhs, rhs) = (shape, a.shape().to_vec());
                return Err(Error::ShapeMismatch {
                    op: kind.name(),
                    lhs,
                    rhs,
                });
            }
            g.constant(a)
        }
    };
    g.apply1(Op::Pairwise(kind), &[x, rhs])
}

var_methods! {
    /// The larger of `self` and `other` elementwise, broadcasting (`torch.maximum`); `other` is a
    /// variable, a scalar or an array. Where they are equal each gets half the gradient, as in
    /// PyTorch; NaN in either gives NaN.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let a = g.var(array![1.0, 5.0, 3.0]);
    /// let b = g.var(array![2.0, 4.0, 3.0]);
    /// let y = a.maximum(b);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![2.0, 5.0, 3.0].into_dyn());
    /// assert_eq!(a.grad().unwrap(), array![0.0, 1.0, 0.5].into_dyn());
    /// assert_eq!(b.grad().unwrap(), array![1.0, 0.0, 0.5].into_dyn());
    /// ```
    fn maximum / try_maximum(self, other: impl Into<Operand<'g, F>>) [x] {
        pairwise(Pairwise::Maximum, self, other.into())
    }

    /// The smaller of `self` and `other` elementwise, broadcasting (`torch.minimum`); ties split
    /// the gradient evenly.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let a = g.var(array![1.0, 5.0]);
    /// let y = a.minimum(2.0);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![1.0, 2.0].into_dyn());
    /// assert_eq!(a.grad().unwrap(), array![1.0, 0.0].into_dyn());
    /// ```
    fn minimum / try_minimum(self, other: impl Into<Operand<'g, F>>) [x] {
        pairwise(Pairwise::Minimum, self, other.into())
    }

    /// `self^exponent` with a variable (or array) exponent, broadcasting (`torch.pow`); for a
    /// constant number prefer [`Var::powf`]. As in PyTorch, the gradient for the base is 0 where
    /// the exponent is 0, and for the exponent 0 where the base is 0 and the exponent `>= 0`.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let (a, b) = (g.scalar(2.0), g.scalar(3.0));
    /// let y = a.pow(b);
    /// y.backward();
    /// assert_eq!(y.item(), 8.0);
    /// assert_eq!(a.grad().unwrap()[[]], 12.0); // b a^(b-1)
    /// assert!((b.grad().unwrap()[[]] - 8.0 * 2f64.ln()).abs() < 1e-12); // a^b ln a
    /// ```
    fn pow / try_pow(self, exponent: impl Into<Operand<'g, F>>) [2.0] {
        pairwise(Pairwise::Pow, self, exponent.into())
    }

    /// The angle of the point `(other, self)`, `atan2(self, other)` elementwise, broadcasting
    /// (`torch.atan2`: `self` is y, `other` is x).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let (y, x) = (g.scalar(1.0), g.scalar(1.0));
    /// let t = y.atan2(x);
    /// t.backward();
    /// assert!((t.item() - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    /// assert_eq!((y.grad().unwrap()[[]], x.grad().unwrap()[[]]), (0.5, -0.5));
    /// ```
    fn atan2 / try_atan2(self, other: impl Into<Operand<'g, F>>) [x] {
        pairwise(Pairwise::Atan2, self, other.into())
    }
}
