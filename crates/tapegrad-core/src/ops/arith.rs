//! Arithmetic (DeZero steps 11-13, 20-22): `add sub mul div` with a variable, a scalar or an
//! array on either side, `powf`, and the `+ - * /` and unary `-` operators.
//!
//! | op | y | gradients |
//! |---|---|---|
//! | add | x0 + x1 | gy, gy |
//! | sub | x0 - x1 | gy, -gy |
//! | mul | x0 * x1 | gy * x1, gy * x0 |
//! | div | x0 / x1 | gy / x1, -gy * x0 / x1^2 |
//! | powf(c) | x^c | gy * c x^(c-1) |
//!
//! A scalar constant becomes a one-input op carrying the constant ([`ScalarOp`]): no arena entry
//! for the constant, no gradient computed for it. A 0-d array constant is a scalar; any other
//! array constant becomes a leaf of the graph. Operands broadcast as in numpy; the sweep reduces
//! each gradient to its input's shape.

use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{Array, ArrayD, Dimension};

use super::kernel::Kernel;
use super::{
    Grads, Op, Value, call, div, equal_to, grads, mul, neg, scale, square, square_backward, sum_to,
    un,
};
use crate::engine::Inside;
use crate::error::or_panic;
use crate::error::{Error, Result};
use crate::{Float, Var};

/// The right-hand side of a binary op: another variable, a scalar constant or an array constant.
///
/// `try_add` and its siblings take `impl Into<Operand>`, so all three read naturally:
/// ```
/// use ndarray::{array, ArrayD};
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let x = g.var(array![1.0, 2.0]);
/// let a = x.try_add(x).unwrap();                            // Var
/// let b = x.try_add(1.0).unwrap();                          // scalar
/// let c = x.try_add(array![10.0, 20.0].into_dyn()).unwrap(); // ArrayD
/// assert_eq!(a.data(), array![2.0, 4.0].into_dyn());
/// assert_eq!(b.data(), array![2.0, 3.0].into_dyn());
/// assert_eq!(c.data(), array![11.0, 22.0].into_dyn());
/// ```
#[derive(Debug, Clone)]
pub enum Operand<'g, F: Float = f64> {
    /// A variable of the same graph.
    Var(Var<'g, F>),
    /// A constant broadcast to any shape.
    Scalar(F),
    /// A constant array: 0-d acts as a scalar, otherwise it broadcasts with the variable.
    Array(ArrayD<F>),
}

impl<'g, F: Float> From<Var<'g, F>> for Operand<'g, F> {
    fn from(v: Var<'g, F>) -> Self {
        Operand::Var(v)
    }
}
impl<F: Float> From<F> for Operand<'_, F> {
    fn from(c: F) -> Self {
        Operand::Scalar(c)
    }
}
impl<F: Float, D: Dimension> From<Array<F, D>> for Operand<'_, F> {
    fn from(a: Array<F, D>) -> Self {
        Operand::Array(a.into_dyn())
    }
}

/// The binary ops of two variables (broadcasting as numpy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    /// 1 where `x0 == x1`, else 0 (the maxima of `max_axis`); derivative 0.
    Equal,
}

impl Binary {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Equal => "equal",
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn kernel<F: Float, K: Kernel<F>>(self, k: K) -> K::Out {
        match self {
            Binary::Add => k.binary(|a, b| a + b),
            Binary::Sub => k.binary(|a, b| a - b),
            Binary::Mul => k.binary(|a, b| a * b),
            Binary::Div => k.binary(|a, b| a / b),
            Binary::Equal => k.binary(|a, b| if a == b { F::one() } else { F::zero() }),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn rule<F: Float, T: Value<F>>(self, xs: &[T], gy: T, needs: &[bool]) -> Grads<T> {
        match self {
            // d(x0 + x1) = (gy, gy)
            Binary::Add => pass_through(xs, gy, needs, false),
            // d(x0 - x1) = (gy, -gy)
            Binary::Sub => pass_through(xs, gy, needs, true),
            // d(x0 * x1) = (gy * x1, gy * x0): the first into a new value, the second in gy's
            // buffer; only those needed, and for `x * x` their sum 2 gy x in one pass
            Binary::Mul => match needs {
                [true, true] if xs[0].is_same(&xs[1]) => {
                    grads![Some(square_backward(gy, &xs[0])), None]
                }
                [true, true] => {
                    let gx0 = T::apply(Op::Binary(Binary::Mul), &[&gy, &xs[1]]);
                    grads![Some(gx0), Some(mul(gy, &xs[0]))]
                }
                [true, false] => grads![Some(mul(gy, &xs[1])), None],
                _ => grads![None, needs[1].then(|| mul(gy, &xs[0]))],
            },
            // d(x0 / x1) = (gy / x1, -(gy / x1) * x0 / x1)
            Binary::Div => {
                let gx0 = div(gy, &xs[1]);
                let gx1 = neg(div(
                    T::apply(Op::Binary(Binary::Mul), &[&gx0, &xs[0]]),
                    &xs[1],
                ));
                grads![Some(gx0), Some(gx1)]
            }
            Binary::Equal => grads![None, None],
        }
    }

    /// The forward-mode rule, from the inputs' tangents (`None` for zero).
    pub(crate) fn jvp<F: Float, T: Value<F>>(
        self,
        xs: &[T],
        y: &T,
        txs: &[Option<T>],
    ) -> Option<T> {
        let [t0, t1] = [&txs[0], &txs[1]];
        match self {
            // d(x0 + x1) = t0 + t1
            Binary::Add => super::sum_of(t0.clone(), t1.clone()),
            // d(x0 - x1) = t0 - t1
            Binary::Sub => super::sum_of(t0.clone(), t1.clone().map(neg)),
            // d(x0 x1) = t0 x1 + x0 t1
            Binary::Mul => super::sum_of(
                t0.clone().map(|t| mul(t, &xs[1])),
                t1.clone().map(|t| mul(t, &xs[0])),
            ),
            // d(x0 / x1) = (t0 - y t1) / x1
            Binary::Div => {
                let num = super::sum_of(t0.clone(), t1.clone().map(|t| neg(mul(t, y))));
                num.map(|n| div(n, &xs[1]))
            }
            Binary::Equal => None,
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn passes_gradient(self) -> bool {
        !matches!(self, Binary::Equal)
    }

    /// `x (op) c`, or `c (op) x` when `swapped`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn with_scalar<F: Float>(self, c: F, swapped: bool) -> Op<F> {
        let s = |s| Op::Scalar(s, c);
        match (self, swapped) {
            (Binary::Add, _) => s(ScalarOp::Add), // c + x == x + c exactly
            (Binary::Sub, false) => Op::Scalar(ScalarOp::Add, -c), // IEEE: x - c == x + (-c)
            (Binary::Sub, true) => s(ScalarOp::RSub),
            (Binary::Mul, _) => s(ScalarOp::Mul),
            (Binary::Div, false) => s(ScalarOp::Div),
            (Binary::Div, true) => s(ScalarOp::RDiv),
            (Binary::Equal, _) => equal_to(c),
        }
    }
}

/// Ops of a variable and a constant `c`: no arena entry for the constant, no gradient for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarOp {
    /// `x + c` (also `x - c`, as `x + (-c)`)
    Add,
    /// `c - x`
    RSub,
    /// `x * c`
    Mul,
    /// `x / c`
    Div,
    /// `c / x`
    RDiv,
    /// `x^c`
    Pow,
}

impl ScalarOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ScalarOp::Add => "add",
            ScalarOp::RSub => "sub",
            ScalarOp::Mul => "mul",
            ScalarOp::Div | ScalarOp::RDiv => "div",
            ScalarOp::Pow => "powf",
        }
    }

    /// The name in graph exports: `rsub(c)` is `c - x` and `rdiv(c)` is `c / x`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ScalarOp::RSub => "rsub",
            ScalarOp::RDiv => "rdiv",
            ScalarOp::Add | ScalarOp::Mul | ScalarOp::Div | ScalarOp::Pow => self.name(),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn kernel<F: Float, K: Kernel<F>>(self, c: F, k: K) -> K::Out {
        match self {
            ScalarOp::Add => k.unary(move |x| x + c),
            ScalarOp::RSub => k.unary(move |x| c - x),
            ScalarOp::Mul => k.unary(move |x| x * c),
            ScalarOp::Div => k.unary(move |x| x / c),
            ScalarOp::RDiv => k.unary(move |x| c / x),
            ScalarOp::Pow => k.unary(move |x| powf(x, c)),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn rule<F: Float, T: Value<F>>(self, c: F, x: &T, gy: T) -> T {
        match self {
            ScalarOp::Add => gy,                                   // d(x + c) = 1
            ScalarOp::RSub => neg(gy),                             // d(c - x) = -1
            ScalarOp::Mul => scale(gy, c),                         // d(x c) = c
            ScalarOp::Div => un(Op::Scalar(ScalarOp::Div, c), gy), // d(x / c) = 1 / c
            ScalarOp::RDiv => {
                // d(c / x) = -c / x^2
                let d = un(Op::Scalar(ScalarOp::RDiv, -c), square(x));
                mul(gy, &d)
            }
            // d x^0 = 0, also at x = 0 (where c x^(c-1) would be 0 * inf)
            ScalarOp::Pow if c == F::zero() => scale(gy, c),
            ScalarOp::Pow => {
                // d x^c = c x^(c-1)
                let d = scale(call(Op::Scalar(ScalarOp::Pow, c - F::one()), x), c);
                mul(gy, &d)
            }
        }
    }
}

/// `x^c`, with the common exponents as plain arithmetic (numpy does the same for 2): `x * x` is
/// the correctly rounded square, and several times cheaper than `powf`.
#[inline]
fn powf<F: Float>(x: F, c: F) -> F {
    if c == F::from_f64(2.0) {
        x * x
    } else if c == F::one() {
        x
    } else {
        x.powf(c)
    }
}

/// `x (op) rhs`, or `rhs (op) x` when `swapped` (only for constants).
pub(crate) fn binary<'g, F: Float>(
    kind: Binary,
    x: Var<'g, F>,
    rhs: Operand<'g, F>,
    swapped: bool,
) -> Result<Var<'g, F>> {
    F::binary(Inside, kind, x, rhs, swapped) // (compiled once for each element type: `Engine`)
}

/// [`binary`]'s body.
pub(crate) fn binary_here<'g, F: Float>(
    kind: Binary,
    x: Var<'g, F>,
    rhs: Operand<'g, F>,
    swapped: bool,
) -> Result<Var<'g, F>> {
    let g = x.graph;
    match rhs {
        Operand::Var(v) => g.apply1(kind, &[x, v]),
        Operand::Scalar(c) => g.apply1(kind.with_scalar(c, swapped), &[x]),
        Operand::Array(a) if a.ndim() == 0 => g.apply1(kind.with_scalar(a[[]], swapped), &[x]),
        Operand::Array(a) => {
            let op: Op<F> = Op::Binary(kind);
            let x_shape = x.try_shape()?;
            if super::broadcast_shape(&x_shape, a.shape()).is_none() {
                let (lhs, rhs) = (x_shape, a.shape().to_vec());
                let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
                return Err(Error::ShapeMismatch {
                    op: op.name(),
                    lhs,
                    rhs,
                });
            }
            let c = g.constant(a); // an array operand takes no gradient
            let operands = if swapped { [c, x] } else { [x, c] };
            g.apply1(op, &operands)
        }
    }
}

/// The two operands broadcast together (numpy's rules).
pub(crate) fn check_broadcast(op: &'static str, shapes: &[&[usize]], elem: usize) -> Result<()> {
    if let Some(shape) = super::broadcast_shape(shapes[0], shapes[1]) {
        super::check_alloc(op, &shape, elem)
    } else {
        Err(Error::ShapeMismatch {
            op,
            lhs: shapes[0].to_vec(),
            rhs: shapes[1].to_vec(),
        })
    }
}

impl<'g, F: Float> Var<'g, F> {
    /// `self + rhs`, with `rhs` a variable, a scalar or an array; the `+` operator panics where
    /// this returns an error.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// assert_eq!(x.try_add(3.0).unwrap().item(), 5.0);
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for shapes that do not broadcast, [`Error::GraphMismatch`] for a
    /// variable of another graph, [`Error::StaleVar`] for a handle from before a `clear`.
    pub fn try_add(self, rhs: impl Into<Operand<'g, F>>) -> Result<Var<'g, F>> {
        binary(Binary::Add, self, rhs.into(), false)
    }

    /// `self - rhs`; see [`Var::try_add`] for operands and errors.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// assert_eq!(x.try_sub(0.5).unwrap().item(), 1.5);
    /// ```
    pub fn try_sub(self, rhs: impl Into<Operand<'g, F>>) -> Result<Var<'g, F>> {
        binary(Binary::Sub, self, rhs.into(), false)
    }

    /// `self * rhs`; see [`Var::try_add`] for operands and errors.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// assert_eq!(x.try_mul(x).unwrap().item(), 4.0);
    /// ```
    pub fn try_mul(self, rhs: impl Into<Operand<'g, F>>) -> Result<Var<'g, F>> {
        binary(Binary::Mul, self, rhs.into(), false)
    }

    /// `self / rhs`; see [`Var::try_add`] for operands and errors.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// assert_eq!(x.try_div(4.0).unwrap().item(), 0.5);
    /// ```
    pub fn try_div(self, rhs: impl Into<Operand<'g, F>>) -> Result<Var<'g, F>> {
        binary(Binary::Div, self, rhs.into(), false)
    }
}

var_methods! {
    /// `self` to the constant power `c`, elementwise (DeZero's `x ** c`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = x.powf(3.0);
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (8.0, 12.0)); // 3 x^2 = 12
    /// ```
    fn powf / try_powf(self, c: F) [2.0] = (ScalarOp::Pow, c);
}

macro_rules! binary_operator {
    ($Trait:ident, $method:ident, $kind:expr) => {
        // Variables and numbers go straight to `apply1` (the hot path of scalar graphs); arrays
        // take `binary`, which makes them constants. Out of line, as every op's method is (see
        // `Graph::apply1`).
        impl<'g, F: Float> $Trait<Var<'g, F>> for Var<'g, F> {
            type Output = Var<'g, F>;
            #[inline(never)]
            #[track_caller]
            fn $method(self, rhs: Var<'g, F>) -> Var<'g, F> {
                self.graph.apply1_or_panic($kind, [self, rhs])
            }
        }
        impl<'g, F: Float> $Trait<F> for Var<'g, F> {
            type Output = Var<'g, F>;
            #[inline(never)]
            #[track_caller]
            fn $method(self, rhs: F) -> Var<'g, F> {
                self.graph
                    .apply1_or_panic($kind.with_scalar(rhs, false), [self])
            }
        }
        // (an array of any dimension, `array![1., 2.]` as well as an `ArrayD`)
        impl<'g, F: Float, D: Dimension> $Trait<Array<F, D>> for Var<'g, F> {
            type Output = Var<'g, F>;
            #[inline(never)]
            #[track_caller]
            fn $method(self, rhs: Array<F, D>) -> Var<'g, F> {
                or_panic(binary($kind, self, Operand::Array(rhs.into_dyn()), false))
            }
        }
        impl<'g, F: Float, D: Dimension> $Trait<Var<'g, F>> for Array<F, D> {
            type Output = Var<'g, F>;
            #[inline(never)]
            #[track_caller]
            fn $method(self, rhs: Var<'g, F>) -> Var<'g, F> {
                or_panic(binary($kind, rhs, Operand::Array(self.into_dyn()), true))
            }
        }
        impl<'g> $Trait<Var<'g, f64>> for f64 {
            type Output = Var<'g, f64>;
            #[inline(never)]
            #[track_caller]
            fn $method(self, rhs: Var<'g, f64>) -> Var<'g, f64> {
                rhs.graph
                    .apply1_or_panic($kind.with_scalar(self, true), [rhs])
            }
        }
        impl<'g> $Trait<Var<'g, f32>> for f32 {
            type Output = Var<'g, f32>;
            #[inline(never)]
            #[track_caller]
            fn $method(self, rhs: Var<'g, f32>) -> Var<'g, f32> {
                rhs.graph
                    .apply1_or_panic($kind.with_scalar(self, true), [rhs])
            }
        }
    };
}

binary_operator!(Add, add, Binary::Add);
binary_operator!(Sub, sub, Binary::Sub);
binary_operator!(Mul, mul, Binary::Mul);
binary_operator!(Div, div, Binary::Div);

impl<'g, F: Float> Neg for Var<'g, F> {
    type Output = Var<'g, F>;
    #[track_caller]
    fn neg(self) -> Var<'g, F> {
        Var::neg(self)
    }
}

// Backward rules' helper.

/// `gy` for each input that needs it (negated for the second when `negate`), already summed
/// down to the input's shape where the op broadcast it: a broadcast operand's gradient is reduced
/// from `gy` without copying it. When two full-shape inputs both need `gy`, the second one's is
/// computed from it into a new value (one pass over the data, not a copy and a second pass).
#[cfg_attr(not(debug_assertions), inline(always))]
fn pass_through<F: Float, T: Value<F>>(xs: &[T], gy: T, needs: &[bool], negate: bool) -> Grads<T> {
    let reduce = |x: &T, gy: &T| sum_to(gy, x.dims());
    let second = |g: T| if negate { neg(g) } else { g };
    let full = [
        needs[0] && gy.same_shape(&xs[0]),
        needs[1] && gy.same_shape(&xs[1]),
    ];
    let g0 = (needs[0] && !full[0]).then(|| reduce(&xs[0], &gy));
    let g1 = (needs[1] && !full[1]).then(|| second(reduce(&xs[1], &gy)));
    match full {
        [true, true] => {
            let g1 = if negate {
                call(super::math::Math::Neg, &gy)
            } else {
                gy.clone()
            };
            [Some(gy), Some(g1)]
        }
        [true, false] => [Some(gy), g1],
        [false, true] => [g0, Some(second(gy))],
        [false, false] => [g0, g1],
    }
}
