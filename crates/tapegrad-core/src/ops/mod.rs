//! The ops: one enum, and the two exhaustive matches over it (checks + forward, backward).
//!
//! Each op family lives in its own file, forward kernel and backward rule side by side:
//! - [`arith`]: `add sub mul div neg` and their scalar-constant forms, the `std::ops` operators;
//! - [`math`]: `powf square exp log sin cos tanh sqrt abs sign`.
//!
//! A backward rule is written **once**, generically over [`Value`]: the sweep runs it on plain
//! arrays (`T = CowArray`, nothing recorded) or, with `create_graph`, on graph variables
//! (`T = Var`, recorded, so the gradient can be differentiated again). A rule returns one optional
//! gradient per input and never touches gradient storage: accumulation, shape checks and freeing
//! are the sweep's job (`backward.rs`).
//!
//! # Adding an op
//! 1. Add a variant to [`Op`]; the compiler then points at every match that needs an arm.
//! 2. In its family file: the `Var` method and its `try_` twin (calling `Graph::apply1`), the
//!    forward kernel on array views, and the backward rule written with the helpers below.
//! 3. Fill the arms in [`Op::name`], [`Op::check`], [`Op::forward`] and [`Op::backward`].
//! 4. Add a gradient-check test in `tests/` for 0-d, 1-d and 2-d inputs.

pub(crate) mod arith;
pub(crate) mod math;

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};
use smallvec::{smallvec, SmallVec};

use crate::error::Result;
use crate::{Float, Var};

/// Outputs of one op (one for every op so far; the tape allows more).
pub(crate) type Outs<T> = SmallVec<[T; 1]>;
/// One optional gradient per input, as returned by a backward rule.
pub(crate) type Grads<T> = SmallVec<[Option<T>; 2]>;

/// Every operation the tape can record, with its constant parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op<F> {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// `x + c` (also `x - c` as `x + (-c)`, which IEEE defines to be the same number).
    AddScalar(F),
    /// `c - x`
    RSubScalar(F),
    /// `x * c`
    MulScalar(F),
    /// `x / c`
    DivScalar(F),
    /// `c / x`
    RDivScalar(F),
    PowF(F),
    Square,
    Exp,
    Log,
    Sin,
    Cos,
    Tanh,
    Sqrt,
    Abs,
    /// -1, 0 or 1: the derivative of `abs`, itself of derivative 0.
    Sign,
}

impl<F: Float> Op<F> {
    /// The op's name as the user spells the method; used in errors and graph exports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Add | Op::AddScalar(_) => "add",
            Op::Sub | Op::RSubScalar(_) => "sub",
            Op::Mul | Op::MulScalar(_) => "mul",
            Op::Div | Op::DivScalar(_) | Op::RDivScalar(_) => "div",
            Op::Neg => "neg",
            Op::PowF(_) => "powf",
            Op::Square => "square",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Sin => "sin",
            Op::Cos => "cos",
            Op::Tanh => "tanh",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Sign => "sign",
        }
    }

    /// The name with its constant, for graph exports: `mul(0.5)`, `powf(2)`, `exp`; `rsub(c)`
    /// is `c - x` and `rdiv(c)` is `c / x`.
    pub(crate) fn label(&self) -> String {
        match self {
            Op::RSubScalar(c) => format!("rsub({c})"),
            Op::RDivScalar(c) => format!("rdiv({c})"),
            Op::AddScalar(c) | Op::MulScalar(c) | Op::DivScalar(c) | Op::PowF(c) => {
                format!("{}({c})", self.name())
            }
            _ => self.name().to_owned(),
        }
    }

    /// Validates the operands before anything is computed.
    pub(crate) fn check(&self, xs: &[ArrayViewD<'_, F>]) -> Result<()> {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div => arith::check_same_shape(self.name(), xs),
            Op::Neg
            | Op::AddScalar(_)
            | Op::RSubScalar(_)
            | Op::MulScalar(_)
            | Op::DivScalar(_)
            | Op::RDivScalar(_)
            | Op::PowF(_)
            | Op::Square
            | Op::Exp
            | Op::Log
            | Op::Sin
            | Op::Cos
            | Op::Tanh
            | Op::Sqrt
            | Op::Abs
            | Op::Sign => Ok(()),
        }
    }

    /// Computes the outputs from the (checked) inputs: one allocation per output.
    pub(crate) fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Outs<ArrayD<F>> {
        let y = match *self {
            Op::Add => &xs[0] + &xs[1],
            Op::Sub => &xs[0] - &xs[1],
            Op::Mul => &xs[0] * &xs[1],
            Op::Div => &xs[0] / &xs[1],
            Op::Neg => xs[0].mapv(|x| -x),
            Op::AddScalar(c) => xs[0].mapv(|x| x + c),
            Op::RSubScalar(c) => xs[0].mapv(|x| c - x),
            Op::MulScalar(c) => xs[0].mapv(|x| x * c),
            Op::DivScalar(c) => xs[0].mapv(|x| x / c),
            Op::RDivScalar(c) => xs[0].mapv(|x| c / x),
            Op::PowF(c) => xs[0].mapv(|x| x.powf(c)),
            Op::Square => xs[0].mapv(|x| x * x),
            Op::Exp => xs[0].mapv(F::exp),
            Op::Log => xs[0].mapv(F::ln),
            Op::Sin => xs[0].mapv(F::sin),
            Op::Cos => xs[0].mapv(F::cos),
            Op::Tanh => xs[0].mapv(F::tanh),
            Op::Sqrt => xs[0].mapv(F::sqrt),
            Op::Abs => xs[0].mapv(F::abs),
            Op::Sign => xs[0].mapv(math::sign),
        };
        smallvec![y]
    }

    /// The backward rule: gradients of the inputs `xs` from the outputs `ys` and their gradients
    /// `gys`, written once for arrays and variables alike.
    pub(crate) fn backward<T: Value<F>>(&self, xs: &[T], ys: &[T], gys: Outs<T>) -> Grads<T> {
        let (x, y) = (&xs[0], &ys[0]);
        let gy = gys.into_iter().next().expect("every op has an output");
        match *self {
            Op::Add => arith::add_backward(gy),
            Op::Sub => arith::sub_backward(gy),
            Op::Mul => arith::mul_backward(xs, gy),
            Op::Div => arith::div_backward(xs, gy),
            Op::Neg => smallvec![Some(neg(&gy))],
            Op::AddScalar(_) => smallvec![Some(gy)],
            Op::RSubScalar(_) => smallvec![Some(neg(&gy))],
            Op::MulScalar(c) => smallvec![Some(scale(&gy, c))],
            Op::DivScalar(c) => smallvec![Some(T::apply(Op::DivScalar(c), &[&gy]))],
            Op::RDivScalar(c) => arith::rdiv_scalar_backward(c, x, gy),
            Op::PowF(c) => math::powf_backward(c, x, gy),
            Op::Square => math::square_backward(x, gy),
            Op::Exp => math::exp_backward(y, gy),
            Op::Log => smallvec![Some(div(&gy, x))],
            Op::Sin => math::sin_backward(x, gy),
            Op::Cos => math::cos_backward(x, gy),
            Op::Tanh => math::tanh_backward(y, gy),
            Op::Sqrt => math::sqrt_backward(y, gy),
            Op::Abs => math::abs_backward(x, gy),
            Op::Sign => smallvec![None],
        }
    }
}

/// What a backward rule computes with: arrays (the fast, non-recording path) or variables
/// (`create_graph`). Both evaluate an op the same way, so each derivative is written once.
pub(crate) trait Value<F: Float>: Sized + Clone {
    /// Evaluates the single-output op `op` on `xs`.
    fn apply(op: Op<F>, xs: &[&Self]) -> Self;
}

impl<F: Float> Value<F> for CowArray<'_, F, IxDyn> {
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        let views: SmallVec<[ArrayViewD<'_, F>; 2]> = xs.iter().map(|x| x.view()).collect();
        let y = op.forward(&views).into_iter().next();
        CowArray::from(y.expect("every op has an output"))
    }
}

impl<F: Float> Value<F> for Var<'_, F> {
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        let vars: SmallVec<[Var<'_, F>; 2]> = xs.iter().map(|&&x| x).collect();
        match vars[0].graph.apply1(op, &vars) {
            Ok(y) => y,
            Err(e) => panic!("{e} (inside a backward rule: a tapegrad bug)"),
        }
    }
}

// Shorthands that keep the rules readable.
pub(crate) fn add<F: Float, T: Value<F>>(a: &T, b: &T) -> T {
    T::apply(Op::Add, &[a, b])
}
pub(crate) fn mul<F: Float, T: Value<F>>(a: &T, b: &T) -> T {
    T::apply(Op::Mul, &[a, b])
}
pub(crate) fn div<F: Float, T: Value<F>>(a: &T, b: &T) -> T {
    T::apply(Op::Div, &[a, b])
}
pub(crate) fn neg<F: Float, T: Value<F>>(a: &T) -> T {
    T::apply(Op::Neg, &[a])
}
pub(crate) fn scale<F: Float, T: Value<F>>(a: &T, c: F) -> T {
    T::apply(Op::MulScalar(c), &[a])
}
