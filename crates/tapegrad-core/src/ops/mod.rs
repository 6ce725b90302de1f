//! The built-in ops: one enum of op families, and the exhaustive matches that dispatch to them.
//!
//! Each family lives in its own file and owns its enum and every match over it: the name, the
//! shape check, the formula (forward kernel) and the derivative (backward rule), next to the
//! `Var` methods that record it:
//! - [`arith`]: `+ - * /` of two variables and with a constant (`x * c`, `c / x`, `x^c`);
//! - [`math`]: `neg square exp log sqrt abs sign sigmoid relu log1p expm1`; [`clip`]: `clip`;
//! - [`trig`]: `sin cos tanh atan asin acos sinh cosh`;
//! - [`shape`]: `sum_to broadcast_to reshape permute`, and `sum sum_axes mean transpose`
//!   composed from them;
//! - [`index`]: `max_axis min_axis select slice`, and `softmax log_softmax` composed;
//! - [`matmul`]: the 2-D matrix product;
//! - [`join`]: `concat stack split chunk`, ops of several inputs or outputs, written on the same
//!   [`Function`](crate::Function) mechanism as user-defined functions.
//! - [`special`]: `erf softplus floor ceil round`, and activations composed (`gelu silu elu ..`);
//! - [`pairwise`]: `maximum minimum pow atan2`, broadcasting;
//! - [`select`], [`gather`]: comparisons, `where_ masked_fill`, `gather scatter_add index_select`;
//! - [`reduce`]: `mean_axes var_axes std_axes logsumexp prod_axes norm cumsum max min argmax`;
//! - [`layout`]: `unsqueeze squeeze flatten expand repeat flip pad tril triu`;
//! - [`einsum`]: `einsum dot outer`.
//!
//! docs/ops.md lists every op with its PyTorch and DeZero names.
//!
//! A backward rule is written **once**, generically over [`Value`]: the sweep runs it on numbers
//! (`T = F`), on arrays (`T = Val`, nothing recorded) or, with `create_graph`, on graph variables
//! (`T = Var`, recorded, so the gradient can be differentiated again). A rule returns one optional
//! gradient per input and never touches gradient storage: accumulation, shape checks and freeing
//! are the sweep's job (`backward.rs`).
//!
//! # Adding an elementwise op (one file)
//! In its family file (`math.rs` or `trig.rs`): a variant of the family enum, its arm in `name`,
//! in `kernel` (the formula) and in `rule` (the derivative, with the math in a comment), and the
//! `Var` method with its `try_` twin. The compiler rejects the op until every arm exists. Then one
//! `gradcheck!` line in `tests/`.

#[macro_use]
mod macros;

pub(crate) mod arith;
pub(crate) mod clip;
pub(crate) mod einsum;
pub(crate) mod extremes;
pub(crate) mod gather;
pub(crate) mod index;
pub(crate) mod join;
mod kernel;
pub(crate) mod layout;
pub(crate) mod math;
pub(crate) mod matmul;
pub(crate) mod pairwise;
pub(crate) mod reduce;
pub(crate) mod select;
pub(crate) mod shape;
pub(crate) mod special;
mod sums;
mod tangent;
pub(crate) mod trig;
mod value;

use ndarray::{ArrayD, ArrayViewD};

pub(crate) use tangent::{broadcast_like, sum_of};
pub(crate) use value::{Val, Value};
pub(crate) use value::{add, call, div, mul, neg, offset, scale, small, un, unbroadcast};
pub(crate) use value::{equal, pair, rsub, sqrt, square, square_backward, sum_to};

use crate::Float;
use crate::error::Result;
use arith::{Binary, ScalarOp};
use clip::Bounds;
use index::IndexOp;
use kernel::{Arrays, Kernel, Probe, Scalars};
use math::Math;
use pairwise::Pairwise;
use shape::ShapeOp;
use special::Special;
use trig::Trig;

/// One optional gradient per input, as returned by a backward rule (every built-in op has one or
/// two inputs; a one-input rule leaves the second `None`).
pub(crate) type Grads<T> = [Option<T>; 2];

/// A rule's gradients: `grads![gx]` for a one-input op, `grads![gx0, gx1]` for two.
macro_rules! grads {
    ($a:expr) => {
        [$a, None]
    };
    ($a:expr, $b:expr) => {
        [$a, $b]
    };
}
pub(crate) use grads;

/// Every built-in operation, by family, with its constant parameters (16 bytes).
/// Built-in ops have one output; ops of any arity and user functions are recorded as a
/// [`Function`](crate::Function) instead (see `graph::RecordOp`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op<F> {
    /// `x0 (op) x1`, broadcasting ([`arith`]).
    Binary(Binary),
    /// `x (op) c` for a constant `c` ([`arith`]).
    Scalar(ScalarOp, F),
    /// Elementwise functions without a parameter ([`math`]).
    Math(Math),
    /// Trigonometric and hyperbolic functions ([`trig`]).
    Trig(Trig),
    /// Special functions and roundings ([`special`]).
    Special(Special),
    /// `maximum minimum pow atan2`, broadcasting ([`pairwise`]).
    Pairwise(Pairwise),
    /// `clip` and its derivative, with their bounds `[lo, hi]` ([`math`]).
    Bounds(Bounds, Box<[F; 2]>),
    /// Shape ops, with the target shape or permutation ([`shape`]).
    Shape(ShapeOp, Params),
    /// Ops that pick elements along an axis, with their axis and indices ([`index`]).
    Index(IndexOp, Params),
    /// 2-D matrix product `a b`, with either operand read transposed when its flag is set
    /// ([`matmul`]); backward rules multiply by transposes without copying them.
    MatMul(bool, bool),
}

/// The integer parameters of a shape or index op, in one word (`Box<[usize]>` takes two, and
/// would make every op, and every tape record, a word longer).
pub(crate) type Params = thin_vec::ThinVec<usize>;

/// `x == c` for a constant `c`, as an op of one input: `c <= x <= c`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn equal_to<F: Copy>(c: F) -> Op<F> {
    Op::Bounds(Bounds::InRange, Box::new([c, c]))
}

impl<F> From<Binary> for Op<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn from(b: Binary) -> Self {
        Op::Binary(b)
    }
}

impl<F> From<(ScalarOp, F)> for Op<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn from((s, c): (ScalarOp, F)) -> Self {
        Op::Scalar(s, c)
    }
}

impl<F> From<Math> for Op<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn from(m: Math) -> Self {
        Op::Math(m)
    }
}

impl<F> From<Special> for Op<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn from(s: Special) -> Self {
        Op::Special(s)
    }
}

impl<F> From<Trig> for Op<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn from(t: Trig) -> Self {
        Op::Trig(t)
    }
}

impl<F: Float> Op<F> {
    /// The op's name as the user spells the method; used in errors and graph exports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Binary(b) => b.name(),
            Op::Scalar(s, _) => s.name(),
            Op::Math(m) => m.name(),
            Op::Trig(t) => t.name(),
            Op::Special(s) => s.name(),
            Op::Pairwise(p) => p.name(),
            Op::Bounds(b, ..) => b.name(),
            Op::Shape(s, _) => s.name(),
            Op::Index(i, _) => i.name(),
            Op::MatMul(..) => "matmul",
        }
    }

    /// The name with its parameters, for graph exports: `mul(0.5)`, `reshape([2, 3])`, `exp`.
    pub(crate) fn label(&self) -> String {
        match self {
            Op::Scalar(s, c) => format!("{}({c})", s.label()),
            Op::Bounds(b, lohi) => format!("{}({}, {})", b.name(), lohi[0], lohi[1]),
            Op::Shape(s, p) => format!("{}({p:?})", s.name()),
            &Op::MatMul(ta, tb) if ta || tb => {
                let t = |flag: bool| if flag { "^T" } else { "" };
                format!("matmul(a{} b{})", t(ta), t(tb))
            }
            Op::Binary(_)
            | Op::Math(_)
            | Op::Trig(_)
            | Op::Special(_)
            | Op::Pairwise(_)
            | Op::Index(..)
            | Op::MatMul(..) => self.name().to_owned(),
        }
    }

    /// Whether the op maps 0-d inputs to a 0-d output (every elementwise op, and shape ops to
    /// `()`): then it runs on plain numbers.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn scalar_closed(&self) -> bool {
        match self {
            Op::Shape(_, s) => s.is_empty(),
            Op::Index(..) | Op::MatMul(..) => false,
            Op::Binary(_)
            | Op::Scalar(..)
            | Op::Math(_)
            | Op::Trig(_)
            | Op::Special(_)
            | Op::Pairwise(_)
            | Op::Bounds(..) => true,
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn is_elementwise(&self) -> bool {
        self.elementwise(Probe).is_some()
    }

    /// Whether [`Op::check_scalars`] passes, for the scalar fast path: no `Result` to drop (a
    /// build without LTO kept that drop as a call in every op).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn scalars_fit(&self) -> bool {
        match self {
            Op::Bounds(..) => self.check_scalars().is_ok(),
            _ => true,
        }
    }

    /// [`Op::check`] for a scalar-closed op on numbers: 0-d operands fit every such op, so only
    /// a parameter can be wrong (the scalar fast path's check, without building shapes).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn check_scalars(&self) -> Result<()> {
        debug_assert!(self.scalar_closed());
        match self {
            &Op::Bounds(b, ref lohi) => b.check(lohi[0], lohi[1]),
            Op::Binary(_)
            | Op::Scalar(..)
            | Op::Math(_)
            | Op::Trig(_)
            | Op::Special(_)
            | Op::Pairwise(_)
            | Op::Shape(..)
            | Op::Index(..)
            | Op::MatMul(..) => Ok(()),
        }
    }

    /// Validates the operands' shapes (and the op's parameters) before anything is computed.
    pub(crate) fn check(&self, shapes: &[&[usize]]) -> Result<()> {
        match self {
            Op::Binary(b) => arith::check_broadcast(b.name(), shapes, size_of::<F>()),
            Op::Scalar(..) | Op::Math(_) | Op::Trig(_) | Op::Special(_) => Ok(()),
            Op::Pairwise(p) => arith::check_broadcast(p.name(), shapes, size_of::<F>()),
            &Op::Bounds(b, ref lohi) => b.check(lohi[0], lohi[1]),
            Op::Shape(s, p) => s.check(shapes[0], p, size_of::<F>()),
            Op::Index(i, p) => i.check(shapes[0], p),
            &Op::MatMul(ta, tb) => matmul::check(shapes[0], shapes[1], ta, tb),
        }
    }

    /// The op's elementwise formula, handed to the kernel `k` (see [`kernel`]).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn elementwise<K: Kernel<F>>(&self, k: K) -> Option<K::Out> {
        match *self {
            Op::Binary(b) => Some(b.kernel(k)),
            Op::Scalar(s, c) => Some(s.kernel(c, k)),
            Op::Math(m) => Some(m.kernel(k)),
            Op::Trig(t) => Some(t.kernel(k)),
            Op::Special(s) => Some(s.kernel(k)),
            Op::Pairwise(p) => Some(p.kernel(k)),
            Op::Bounds(b, ref lohi) => Some(b.kernel(lohi[0], lohi[1], k)),
            Op::Shape(..) | Op::Index(..) | Op::MatMul(..) => None,
        }
    }

    /// The value of a [`scalar_closed`](Op::scalar_closed) op on 0-d inputs (a shape op to `()`
    /// is the identity on a number).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn eval_scalars(&self, xs: &[F]) -> F {
        self.elementwise(Scalars(xs)).unwrap_or(xs[0])
    }

    /// [`Op::eval_scalars`], consuming the op (see [`Op::discard`]).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn eval_owned(self, xs: &[F]) -> F {
        let y = self.eval_scalars(xs);
        self.discard();
        y
    }

    /// Whether the op keeps a parameter on the heap (a shape, an index list, bounds). The tape
    /// drops only such ops one by one, and lets go of the others wholesale.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn on_heap(&self) -> bool {
        match self {
            Op::Shape(..) | Op::Index(..) | Op::Bounds(..) => true,
            Op::Binary(_)
            | Op::Scalar(..)
            | Op::Math(_)
            | Op::Trig(_)
            | Op::Special(_)
            | Op::Pairwise(_)
            | Op::MatMul(..) => false,
        }
    }

    /// A copy of an op with nothing on the heap, built from its parts (`None` for one with heap
    /// parameters). The fast path records the copy: for an op known at compile time it is
    /// written into the record from registers, where the op itself, kept on the stack for the
    /// general path, would be copied from memory it was just written to (a stalled load).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn rebuilt(&self) -> Option<Op<F>> {
        Some(match *self {
            Op::Binary(b) => Op::Binary(b),
            Op::Scalar(s, c) => Op::Scalar(s, c),
            Op::Math(m) => Op::Math(m),
            Op::Trig(t) => Op::Trig(t),
            Op::Special(s) => Op::Special(s),
            Op::Pairwise(p) => Op::Pairwise(p),
            Op::MatMul(a, b) => Op::MatMul(a, b),
            Op::Bounds(..) | Op::Shape(..) | Op::Index(..) => return None,
        })
    }

    /// Drops the op, with the test for a boxed parameter inlined (the compiler's drop glue is an
    /// out-of-line call per op; this folds away for an op known at compile time).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn discard(self) {
        if self.on_heap() {
            drop(self);
        } else {
            std::mem::forget(self); // nothing on the heap
        }
    }

    /// The value of the op on (checked) array inputs: one allocation.
    pub(crate) fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> ArrayD<F> {
        match *self {
            Op::Binary(b) => b.kernel(Arrays(xs)),
            Op::Scalar(s, c) => s.kernel(c, Arrays(xs)),
            Op::Math(m) => m.kernel(Arrays(xs)),
            Op::Trig(t) => t.kernel(Arrays(xs)),
            Op::Special(s) => s.kernel(Arrays(xs)),
            Op::Pairwise(p) => p.kernel(Arrays(xs)),
            Op::Bounds(b, ref lohi) => b.kernel(lohi[0], lohi[1], Arrays(xs)),
            Op::Shape(s, ref p) => s.forward(&xs[0], p),
            Op::Index(i, ref p) => i.forward(&xs[0], p),
            Op::MatMul(ta, tb) => matmul::forward(&xs[0], &xs[1], ta, tb),
        }
    }

    /// The op's local derivatives `dy/dx_k` on numbers: its backward rule run with `gy = 1` (every
    /// rule is linear in `gy`: `gx_k = gy * dy/dx_k`). Recorded with each op of numbers, so that
    /// the scalar sweep multiplies instead of running the rule. 0 for an input the rule gives no
    /// gradient (see [`Op::passes_gradient`]) and for the unused second slot of a one-input op.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn partials(&self, xs: &[F], y: F) -> [F; 2] {
        const NEEDS: [bool; 2] = [true, true];
        let [d0, d1] = self.backward(xs, &y, F::one(), &NEEDS[..xs.len()]);
        [d0.unwrap_or_else(F::zero), d1.unwrap_or_else(F::zero)]
    }

    /// Whether any gradient flows back through the op: not through the derivatives of `abs`,
    /// `relu`, `clip` and `max`, whose own derivative is 0 and whose rules return none.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn passes_gradient(&self) -> bool {
        match self {
            Op::Binary(b) => b.passes_gradient(),
            Op::Math(m) => m.passes_gradient(),
            Op::Pairwise(p) => p.passes_gradient(),
            Op::Bounds(b, ..) => b.passes_gradient(),
            Op::Scalar(..)
            | Op::Trig(_)
            | Op::Special(_)
            | Op::Shape(..)
            | Op::Index(..)
            | Op::MatMul(..) => true,
        }
    }

    /// The backward rule: gradients of the inputs `xs` from the output `y` and its gradient
    /// `gy`, written once for numbers, arrays and variables. `needs[i]` is false for a constant
    /// input: a rule may skip its gradient when that saves real work (matmul), and the sweep
    /// drops whatever is computed for it anyway.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn backward<T: Value<F>>(&self, xs: &[T], y: &T, gy: T, needs: &[bool]) -> Grads<T> {
        let x = &xs[0];
        match *self {
            Op::Binary(b) => b.rule(xs, gy, needs),
            Op::Scalar(s, c) => grads![Some(s.rule(c, x, gy))],
            Op::Math(m) => grads![m.rule(x, y, gy)],
            Op::Trig(t) => grads![t.rule(x, y, gy)],
            Op::Special(s) => grads![s.rule(x, y, gy)],
            Op::Pairwise(p) => p.rule(xs, y, gy),
            Op::Bounds(b, ref lohi) => grads![b.rule(lohi[0], lohi[1], x, gy)],
            Op::Shape(s, ref p) => grads![Some(s.rule(p, x, gy))],
            Op::Index(i, ref p) => grads![i.rule(p, x, y, gy)],
            Op::MatMul(ta, tb) => matmul::rule(xs, gy, ta, tb, needs),
        }
    }
}

// Shape helpers shared by the families.

/// The numpy broadcast of two shapes, if they broadcast.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i < n - s.len() {
            1
        } else {
            s[i - (n - s.len())]
        }
    };
    (0..n)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (p, q) if p == q || q == 1 => Some(p),
            (1, q) => Some(q),
            _ => None,
        })
        .collect()
}

/// Results of at least this many bytes are reserved once before they are computed.
const LARGE: usize = 1 << 30;

/// A result of `shape`, `elem` bytes per element, can exist: its size does not overflow, fits
/// ndarray's limit of `isize::MAX` bytes, and, when large, the memory can be had (a refused
/// reservation is this error, where the allocation itself would abort the process).
pub(crate) fn check_alloc(op: &'static str, shape: &[usize], elem: usize) -> Result<()> {
    let bytes = (shape.iter())
        .try_fold(elem, |n, &d| n.checked_mul(d))
        .filter(|&b| isize::try_from(b).is_ok());
    let fits = match bytes {
        Some(b) if b >= LARGE => Vec::<u8>::new().try_reserve_exact(b).is_ok(),
        Some(_) => true,
        None => false,
    };
    if fits {
        Ok(())
    } else {
        Err(crate::Error::InvalidArgument {
            op,
            reason: format!("a result of shape {shape:?} does not fit in memory"),
        })
    }
}

/// A shape-mismatch error naming the op and both shapes.
pub(crate) fn bad_shape(op: &'static str, lhs: &[usize], rhs: &[usize]) -> crate::Error {
    crate::Error::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
    }
}

/// `axis` is an axis of a variable of shape `x`.
pub(crate) fn check_axis(op: &'static str, x: &[usize], axis: usize) -> Result<()> {
    if axis < x.len() {
        Ok(())
    } else {
        Err(crate::Error::InvalidAxes {
            op,
            axes: vec![axis],
            ndim: x.len(),
        })
    }
}
