//! The ops: one enum, and the two exhaustive matches over it (checks + forward, backward).
//!
//! Each op family lives in its own file, forward kernel and backward rule side by side:
//! - [`arith`]: `add sub mul div neg` and their scalar-constant forms, the `std::ops` operators;
//! - [`math`]: `powf square exp log sin cos tanh sqrt abs sign`;
//! - [`shape`]: `sum_to broadcast_to reshape permute matmul`, and `sum sum_axes mean transpose`
//!   composed from them.
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
pub(crate) mod shape;

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};
use smallvec::{smallvec, SmallVec};

use crate::buffer;
use crate::error::Result;
use crate::{Float, Var};

/// One optional gradient per input, as returned by a backward rule (every op has one or two
/// inputs; a one-input rule leaves the second `None`). A plain array: no length to keep.
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

/// Every operation the tape can record, with its constant parameters (24 bytes for `f64`).
#[derive(Debug, Clone, PartialEq)]
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
    /// Sum over the axes that broadcasting to the input's shape adds, down to this shape.
    SumTo(Box<[usize]>),
    BroadcastTo(Box<[usize]>),
    Reshape(Box<[usize]>),
    /// Axis `i` of the result is axis `axes[i]` of the input.
    Permute(Box<[usize]>),
    /// 2-D matrix product `a b`, with either operand read transposed when its flag is set
    /// (`MatMul(true, false)` is `a^T b`): backward rules multiply by transposes without copying
    /// them. Users only make `MatMul(false, false)`.
    MatMul(bool, bool),
    /// `1 / (1 + e^-x)`, computed without overflow.
    Sigmoid,
    /// `max(x, 0)`
    Relu,
    /// `min(max(x, lo), hi)`
    Clip(F, F),
    /// 1 where `x > 0`, else 0: the derivative of `relu`, itself of derivative 0.
    Positive,
    /// 1 where `lo <= x <= hi`, else 0: the derivative of `clip`, itself of derivative 0.
    InRange(F, F),
    /// 1 where `x0 == x1`, else 0 (the maxima of `max_axis`); derivative 0.
    Equal,
    /// Maximum over axis `[axis]`, kept as a length-1 axis.
    MaxAxis(Box<[usize]>),
    /// Minimum over axis `[axis]`, kept as a length-1 axis.
    MinAxis(Box<[usize]>),
    /// `[axis, indices...]`: the slices at `indices` along `axis` (repeats allowed).
    Select(Box<[usize]>),
    /// `[axis, len, indices...]`: the adjoint of `Select`, adding slices back into `len` slices.
    ScatterAdd(Box<[usize]>),
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
            Op::SumTo(_) => "sum_to",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::Reshape(_) => "reshape",
            Op::Permute(_) => "permute",
            Op::MatMul(..) => "matmul",
            Op::Sigmoid => "sigmoid",
            Op::Relu => "relu",
            Op::Clip(..) => "clip",
            Op::Positive => "positive",
            Op::InRange(..) => "in_range",
            Op::Equal => "equal",
            Op::MaxAxis(_) => "max_axis",
            Op::MinAxis(_) => "min_axis",
            Op::Select(_) => "select",
            Op::ScatterAdd(_) => "scatter_add",
        }
    }

    /// Whether the op maps 0-d inputs to a 0-d output (every elementwise op, and shape ops to
    /// `()`): then it runs on plain numbers.
    #[inline(always)]
    pub(crate) fn scalar_closed(&self) -> bool {
        match self {
            Op::SumTo(s) | Op::BroadcastTo(s) | Op::Reshape(s) | Op::Permute(s) => s.is_empty(),
            Op::MatMul(..)
            | Op::MaxAxis(_)
            | Op::MinAxis(_)
            | Op::Select(_)
            | Op::ScatterAdd(_) => false,
            _ => self.is_elementwise(),
        }
    }

    #[inline(always)]
    fn is_elementwise(&self) -> bool {
        self.elementwise(Probe).is_some()
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
            Op::SumTo(s) | Op::BroadcastTo(s) | Op::Reshape(s) | Op::Permute(s) => {
                format!("{}({s:?})", self.name())
            }
            &Op::MatMul(ta, tb) if ta || tb => {
                let t = |flag: bool| if flag { "^T" } else { "" };
                format!("matmul(a{} b{})", t(ta), t(tb))
            }
            _ => self.name().to_owned(),
        }
    }

    /// [`Op::check`] for a scalar-closed op on numbers: 0-d operands fit every such op, so only
    /// a parameter can be wrong (the scalar fast path's check, without building shapes).
    #[inline(always)]
    pub(crate) fn check_scalars(&self, n: usize) -> Result<()> {
        const NO_SHAPES: [&[usize]; 2] = [&[], &[]];
        debug_assert!(self.scalar_closed());
        match self {
            Op::Clip(..) => self.check(&NO_SHAPES[..n]),
            _ => {
                debug_assert!(self.check(&NO_SHAPES[..n]).is_ok(), "{self:?} on numbers");
                Ok(())
            }
        }
    }

    /// Validates the operands' shapes before anything is computed.
    pub(crate) fn check(&self, shapes: &[&[usize]]) -> Result<()> {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div => arith::check_broadcast(self.name(), shapes),
            Op::SumTo(s) => shape::check_sum_to(shapes[0], s),
            Op::BroadcastTo(s) => shape::check_broadcast_to(shapes[0], s),
            Op::Reshape(s) => shape::check_reshape(shapes[0], s),
            Op::Permute(a) => shape::check_permute(shapes[0], a),
            &Op::MatMul(ta, tb) => shape::check_matmul(shapes[0], shapes[1], ta, tb),
            Op::Equal => arith::check_broadcast(self.name(), shapes),
            Op::MaxAxis(a) | Op::MinAxis(a) => shape::check_axis(self.name(), shapes[0], a[0]),
            Op::Select(a) => shape::check_select(shapes[0], a),
            Op::ScatterAdd(_) => Ok(()), // made only by `select`'s rule, from checked operands
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
            | Op::Sign
            | Op::Sigmoid
            | Op::Relu
            | Op::Positive
            | Op::InRange(..) => Ok(()),
            Op::Clip(lo, hi) => math::check_clip(*lo, *hi),
        }
    }

    /// The op's elementwise formula, handed to `k`: each formula is written once here and
    /// compiled into a scalar path, an array kernel and an in-place kernel.
    #[inline(always)]
    fn elementwise<K: Kernel<F>>(&self, k: K) -> Option<K::Out> {
        Some(match *self {
            Op::Add => k.binary(|a, b| a + b),
            Op::Sub => k.binary(|a, b| a - b),
            Op::Mul => k.binary(|a, b| a * b),
            Op::Div => k.binary(|a, b| a / b),
            Op::Neg => k.unary(|x| -x),
            Op::AddScalar(c) => k.unary(move |x| x + c),
            Op::RSubScalar(c) => k.unary(move |x| c - x),
            Op::MulScalar(c) => k.unary(move |x| x * c),
            Op::DivScalar(c) => k.unary(move |x| x / c),
            Op::RDivScalar(c) => k.unary(move |x| c / x),
            Op::PowF(c) => k.unary(move |x| math::powf(x, c)),
            Op::Square => k.unary(|x| x * x),
            Op::Exp => k.unary(F::exp),
            Op::Log => k.unary(F::ln),
            Op::Sin => k.unary(F::sin),
            Op::Cos => k.unary(F::cos),
            Op::Tanh => k.unary(F::tanh),
            Op::Sqrt => k.unary(F::sqrt),
            Op::Abs => k.unary(F::abs),
            Op::Sign => k.unary(math::sign),
            Op::Sigmoid => k.unary(math::sigmoid),
            Op::Relu => k.unary(|x| if x > F::zero() { x } else { F::zero() }),
            Op::Clip(lo, hi) => k.unary(move |x| x.max(lo).min(hi)),
            Op::Positive => k.unary(|x| if x > F::zero() { F::one() } else { F::zero() }),
            Op::InRange(lo, hi) => k.unary(move |x| {
                if lo <= x && x <= hi {
                    F::one()
                } else {
                    F::zero()
                }
            }),
            Op::Equal => k.binary(|a, b| if a == b { F::one() } else { F::zero() }),
            Op::SumTo(_)
            | Op::BroadcastTo(_)
            | Op::Reshape(_)
            | Op::Permute(_)
            | Op::MatMul(..)
            | Op::MaxAxis(_)
            | Op::MinAxis(_)
            | Op::Select(_)
            | Op::ScatterAdd(_) => return None,
        })
    }

    /// The value of a [`scalar_closed`](Op::scalar_closed) op on 0-d inputs (a shape op to `()`
    /// is the identity on a number).
    #[inline(always)]
    pub(crate) fn eval_scalars(&self, xs: &[F]) -> F {
        self.elementwise(Scalars(xs)).unwrap_or(xs[0])
    }

    /// [`Op::eval_scalars`], consuming the op (see [`Op::discard`]).
    #[inline(always)]
    pub(crate) fn eval_owned(self, xs: &[F]) -> F {
        let y = self.eval_scalars(xs);
        self.discard();
        y
    }

    /// Whether the op keeps a parameter on the heap (a shape or an index list). The tape drops
    /// only such ops one by one, and lets go of the others wholesale.
    #[inline(always)]
    pub(crate) fn on_heap(&self) -> bool {
        match self {
            Op::SumTo(_)
            | Op::BroadcastTo(_)
            | Op::Reshape(_)
            | Op::Permute(_)
            | Op::MaxAxis(_)
            | Op::MinAxis(_)
            | Op::Select(_)
            | Op::ScatterAdd(_) => true,
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Neg
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
            | Op::Sign
            | Op::MatMul(..)
            | Op::Sigmoid
            | Op::Relu
            | Op::Clip(..)
            | Op::Positive
            | Op::InRange(..)
            | Op::Equal => false,
        }
    }

    /// Drops the op, with the test for a boxed parameter inlined. Rules build and drop ops all
    /// the time; the compiler's drop glue is an out-of-line call per op even for `Mul`, while
    /// this folds away for an op known at compile time.
    #[inline(always)]
    pub(crate) fn discard(self) {
        if self.on_heap() {
            drop(self);
        } else {
            std::mem::forget(self); // nothing on the heap
        }
    }

    /// The value of the op on (checked) array inputs: one allocation.
    pub(crate) fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> ArrayD<F> {
        match self {
            Op::SumTo(s) => shape::sum_to(&xs[0], s),
            Op::BroadcastTo(s) => shape::broadcast_to(&xs[0], s),
            Op::Reshape(s) => shape::reshape(&xs[0], s),
            Op::Permute(a) => shape::permute(&xs[0], a),
            &Op::MatMul(ta, tb) => shape::matmul(&xs[0], &xs[1], ta, tb),
            Op::MaxAxis(a) => shape::fold_axis(&xs[0], a[0], F::neg_infinity(), F::max),
            Op::MinAxis(a) => shape::fold_axis(&xs[0], a[0], F::infinity(), F::min),
            Op::Select(a) => shape::select(&xs[0], a[0], &a[1..]),
            Op::ScatterAdd(a) => shape::scatter_add(&xs[0], a[0], a[1], &a[2..]),
            _ => match self.elementwise(Arrays(xs)) {
                Some(y) => y,
                None => unreachable!("every other op is elementwise"),
            },
        }
    }

    /// The op's local derivatives `dy/dx_k` on numbers: its backward rule run with `gy = 1` (every
    /// rule is linear in `gy`: `gx_k = gy * dy/dx_k`). Recorded with each op of numbers, so that
    /// the scalar sweep multiplies instead of running the rule. 0 for an input the rule gives no
    /// gradient (see [`Op::passes_gradient`]) and for the unused second slot of a one-input op.
    #[inline(always)]
    pub(crate) fn partials(&self, xs: &[F], y: F) -> [F; 2] {
        const NEEDS: [bool; 2] = [true, true];
        let [d0, d1] = self.backward(xs, &y, F::one(), &NEEDS[..xs.len()]);
        [d0.unwrap_or_else(F::zero), d1.unwrap_or_else(F::zero)]
    }

    /// Whether any gradient flows back through the op: not through the derivatives of `abs`,
    /// `relu`, `clip` and `max`, whose own derivative is 0 and whose rules return none.
    #[inline(always)]
    pub(crate) fn passes_gradient(&self) -> bool {
        !matches!(self, Op::Sign | Op::Positive | Op::InRange(..) | Op::Equal)
    }

    /// The backward rule: gradients of the inputs `xs` from the output `y` (every op has one) and
    /// its gradient `gy`, written once for arrays and variables alike. `needs[i]` is false for a constant
    /// input: a rule may skip its gradient when that saves real work (matmul), and the sweep
    /// drops whatever is computed for it anyway.
    #[inline(always)]
    pub(crate) fn backward<T: Value<F>>(&self, xs: &[T], y: &T, gy: T, needs: &[bool]) -> Grads<T> {
        let x = &xs[0];
        match *self {
            Op::SumTo(_) => shape::sum_to_backward(x, gy),
            Op::BroadcastTo(_) => shape::broadcast_to_backward(x, gy),
            Op::Reshape(_) => shape::reshape_backward(x, gy),
            Op::Permute(ref a) => shape::permute_backward(a, gy),
            Op::MatMul(ta, tb) => shape::matmul_backward(xs, gy, ta, tb, needs),
            Op::Sigmoid => math::sigmoid_backward(y, gy),
            Op::Relu => grads![Some(mul(gy, &T::apply(Op::Positive, &[x])))],
            Op::Clip(lo, hi) => grads![Some(mul(gy, &T::apply(Op::InRange(lo, hi), &[x])))],
            Op::Positive | Op::InRange(..) => grads![None],
            Op::Equal => grads![None, None],
            Op::MaxAxis(_) | Op::MinAxis(_) => shape::extremum_backward(x, y, gy),
            Op::Select(ref a) => shape::select_backward(x, a, gy),
            Op::ScatterAdd(ref a) => shape::scatter_add_backward(a, gy),
            Op::Add => arith::add_backward(xs, gy, needs),
            Op::Sub => arith::sub_backward(xs, gy, needs),
            Op::Mul => arith::mul_backward(xs, gy),
            Op::Div => arith::div_backward(xs, gy),
            Op::Neg => grads![Some(neg(gy))],
            Op::AddScalar(_) => grads![Some(gy)],
            Op::RSubScalar(_) => grads![Some(neg(gy))],
            Op::MulScalar(c) => grads![Some(scale(gy, c))],
            Op::DivScalar(c) => grads![Some(un(Op::DivScalar(c), gy))],
            Op::RDivScalar(c) => arith::rdiv_scalar_backward(c, x, gy),
            Op::PowF(c) => math::powf_backward(c, x, gy),
            Op::Square => math::square_backward(x, gy),
            Op::Exp => math::exp_backward(y, gy),
            Op::Log => grads![Some(div(gy, x))],
            Op::Sin => math::sin_backward(x, gy),
            Op::Cos => math::cos_backward(x, gy),
            Op::Tanh => math::tanh_backward(y, gy),
            Op::Sqrt => math::sqrt_backward(y, gy),
            Op::Abs => math::abs_backward(x, gy),
            Op::Sign => grads![None],
        }
    }
}

/// Arrays of at least this many elements are computed on all cores (rayon): below it, the
/// cost of splitting the work and waking the pool's threads is larger than the work. At 2^16 a
/// training step with 100,000-element activations spent a quarter of its time waking threads
/// between matrix products (`benches/mlp_step.rs`); 2^18 keeps `elem 10^6` parallel.
const PARALLEL_MIN: usize = 1 << 18;

/// Receives an op's elementwise formula (see [`Op::elementwise`]).
trait Kernel<F> {
    type Out;
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> Self::Out;
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> Self::Out;
}

/// Only asks whether the op is elementwise.
struct Probe;

impl<F: Float> Kernel<F> for Probe {
    type Out = ();
    fn unary(self, _: impl Fn(F) -> F + Sync + Send) {}
    fn binary(self, _: impl Fn(F, F) -> F + Sync + Send) {}
}

/// Evaluates on plain numbers.
struct Scalars<'a, F>(&'a [F]);

impl<F: Float> Kernel<F> for Scalars<'_, F> {
    type Out = F;
    #[inline(always)]
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> F {
        f(self.0[0])
    }
    #[inline(always)]
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> F {
        f(self.0[0], self.0[1])
    }
}

/// Evaluates into a new array.
struct Arrays<'a, 'b, F>(&'a [ArrayViewD<'b, F>]);

impl<F: Float> Kernel<F> for Arrays<'_, '_, F> {
    type Out = ArrayD<F>;
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) -> ArrayD<F> {
        let x = &self.0[0];
        if x.len() >= PARALLEL_MIN {
            match x.as_slice() {
                Some(s) => buffer::par_map(x.shape(), s, f),
                None => Zip::from(x).par_map_collect(|&x| f(x)),
            }
        } else {
            x.mapv(f)
        }
    }
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) -> ArrayD<F> {
        let (a, b) = (&self.0[0], &self.0[1]);
        if a.len() >= PARALLEL_MIN && a.shape() == b.shape() {
            if let (Some(p), Some(q)) = (a.as_slice(), b.as_slice()) {
                return buffer::par_zip_map(a.shape(), p, q, f);
            }
        }
        // numpy broadcasting (shapes checked before).
        let broadcast = shape::broadcast_shape(a.shape(), b.shape())
            .and_then(|s| Some((a.broadcast(IxDyn(&s))?, b.broadcast(IxDyn(&s))?)));
        let Some((a, b)) = broadcast else {
            unreachable!("checked shapes broadcast")
        };
        let zip = Zip::from(&a).and(&b);
        if a.len() >= PARALLEL_MIN {
            zip.par_map_collect(|&p, &q| f(p, q))
        } else {
            zip.map_collect(|&p, &q| f(p, q))
        }
    }
}

/// Evaluates into the first operand's buffer (same shape as the result).
struct InPlace<'a, 'b, F>(&'a mut ArrayD<F>, Option<ArrayViewD<'b, F>>);

impl<F: Float> Kernel<F> for InPlace<'_, '_, F> {
    type Out = ();
    fn unary(self, f: impl Fn(F) -> F + Sync + Send) {
        if self.0.len() >= PARALLEL_MIN {
            Zip::from(self.0).par_for_each(|a| *a = f(*a));
        } else {
            self.0.mapv_inplace(f);
        }
    }
    fn binary(self, f: impl Fn(F, F) -> F + Sync + Send) {
        if let Some(b) = self.1 {
            let parallel = self.0.len() >= PARALLEL_MIN;
            let zip = Zip::from(self.0).and_broadcast(&b);
            if parallel {
                zip.par_for_each(|a, &b| *a = f(*a, b));
            } else {
                zip.for_each(|a, &b| *a = f(*a, b));
            }
        }
    }
}

/// What a backward rule computes with: [`Val`] (the fast, non-recording path) or [`Var`]
/// (`create_graph`). Both evaluate an op the same way, so each derivative is written once.
pub(crate) trait Value<F: Float>: Sized + Clone {
    /// Evaluates the single-output op `op` on `xs`.
    fn apply(op: Op<F>, xs: &[&Self]) -> Self;

    /// The shape of the value.
    fn dims(&self) -> Vec<usize>;

    /// Whether two values have the same shape (without building shapes where it can be avoided).
    fn same_shape(&self, other: &Self) -> bool {
        self.dims() == other.dims()
    }

    /// [`Value::apply`] with the first operand given up, so that its buffer can be reused.
    fn apply_owned(op: Op<F>, first: Self, rest: &[&Self]) -> Self {
        let mut xs: SmallVec<[&Self; 2]> = smallvec![&first];
        xs.extend_from_slice(rest);
        Self::apply(op, &xs)
    }
}

/// A value in the non-recording backward pass: a number, a borrowed array of the arena, or an
/// owned array (a gradient). Invariant: an array is never 0-d (those are `S`). Two words: the
/// sweep moves these around a lot, and a boxed header costs little next to the array's data.
#[derive(Debug)]
pub(crate) enum Val<'a, F> {
    S(F),
    R(&'a ArrayD<F>),
    A(Box<ArrayD<F>>),
}

impl<F: Float> Clone for Val<'_, F> {
    fn clone(&self) -> Self {
        match self {
            &Val::S(s) => Val::S(s),
            &Val::R(a) => Val::R(a),
            Val::A(a) => Val::A(Box::new(buffer::copy(a))),
        }
    }
}

impl<'a, F: Float> Val<'a, F> {
    pub(crate) fn view(&self) -> ArrayViewD<'_, F> {
        match self {
            Val::S(s) => ndarray::aview0(s).into_dyn(),
            Val::R(a) => a.view(),
            Val::A(a) => a.view(),
        }
    }

    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Val::S(_) => &[],
            Val::R(a) => a.shape(),
            Val::A(a) => a.shape(),
        }
    }

    /// An array result as a `Val`, keeping the invariant.
    pub(crate) fn from_array(a: ArrayD<F>) -> Val<'static, F> {
        if a.ndim() == 0 {
            Val::S(a.iter().copied().next().unwrap_or_else(F::nan))
        } else {
            Val::A(Box::new(a))
        }
    }

    /// Detaches from the arena (copies a borrowed array).
    pub(crate) fn into_owned(self) -> Val<'static, F> {
        match self {
            Val::S(s) => Val::S(s),
            Val::R(a) => Val::A(Box::new(buffer::copy(a))),
            Val::A(a) => Val::A(a),
        }
    }

    pub(crate) fn into_array(self) -> ArrayD<F> {
        match self {
            Val::S(s) => ndarray::arr0(s).into_dyn(),
            Val::R(a) => buffer::copy(a),
            Val::A(a) => *a,
        }
    }
}

impl<F: Float> Value<F> for Val<'_, F> {
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        let mut scalars: SmallVec<[F; 2]> = SmallVec::new();
        for x in xs {
            match x {
                Val::S(s) => scalars.push(*s),
                _ => break,
            }
        }
        if scalars.len() == xs.len() && op.scalar_closed() {
            return Val::S(op.eval_owned(&scalars));
        }
        let views: SmallVec<[ArrayViewD<'_, F>; 2]> = small(xs.iter().map(|x| x.view()));
        Val::from_array(op.forward(&views))
    }

    fn dims(&self) -> Vec<usize> {
        self.shape().to_vec()
    }

    fn same_shape(&self, other: &Self) -> bool {
        self.shape() == other.shape()
    }

    fn apply_owned(op: Op<F>, first: Self, rest: &[&Self]) -> Self {
        let first = match first {
            // Elementwise with a result of `a`'s shape: compute into `a`, no allocation.
            Val::A(mut a)
                if op.is_elementwise()
                    && rest.iter().all(|r| {
                        shape::broadcast_shape(a.shape(), r.shape()).as_deref() == Some(a.shape())
                    }) =>
            {
                op.elementwise(InPlace(&mut *a, rest.first().map(|r| r.view())));
                return Val::A(a);
            }
            other => other,
        };
        let mut xs: SmallVec<[&Self; 2]> = smallvec![&first];
        xs.extend_from_slice(rest);
        Self::apply(op, &xs)
    }
}

/// Plain numbers: the rules of an all-scalar graph run on `F` directly (the fastest path).
impl<F: Float> Value<F> for F {
    #[inline(always)]
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        match *xs {
            [a] => op.eval_owned(&[*a]),
            [a, b] => op.eval_owned(&[*a, *b]),
            _ => op.eval_owned(&small::<[F; 4]>(xs.iter().map(|&&x| x))),
        }
    }

    #[inline(always)]
    fn dims(&self) -> Vec<usize> {
        Vec::new()
    }

    #[inline(always)]
    fn same_shape(&self, _: &Self) -> bool {
        true // numbers are all 0-d
    }

    #[inline(always)]
    fn apply_owned(op: Op<F>, first: Self, rest: &[&Self]) -> Self {
        match *rest {
            [] => op.eval_owned(&[first]),
            [b] => op.eval_owned(&[first, *b]),
            _ => {
                let mut xs: SmallVec<[F; 4]> = smallvec![first];
                xs.extend(rest.iter().map(|&&x| x));
                op.eval_owned(&xs)
            }
        }
    }
}

impl<F: Float> Value<F> for Var<'_, F> {
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        let vars: SmallVec<[Var<'_, F>; 2]> = small(xs.iter().map(|&&x| x));
        match vars[0].graph.apply1(op, &vars) {
            Ok(y) => y,
            Err(e) => panic!("{e} (inside a backward rule: a tapegrad bug)"),
        }
    }

    fn dims(&self) -> Vec<usize> {
        self.shape()
    }
}

/// Reduces a gradient of a broadcast shape to its input's shape (`sum_to`): the un-broadcasting
/// of every binary op, done once here for all of them.
#[inline]
pub(crate) fn unbroadcast<F: Float, T: Value<F>>(gx: T, x: &T) -> T {
    if gx.same_shape(x) {
        gx
    } else {
        T::apply(Op::SumTo(x.dims().into()), &[&gx])
    }
}

/// Collects into a `SmallVec` by pushing: for the two or three items of an op, cheaper than
/// `SmallVec`'s general `extend`.
pub(crate) fn small<A: smallvec::Array>(items: impl IntoIterator<Item = A::Item>) -> SmallVec<A> {
    let mut v = SmallVec::new();
    for x in items {
        v.push(x);
    }
    v
}

// Shorthands that keep the rules readable. The first operand is given up: on the fast path its
// buffer (usually the incoming gradient) is reused.
#[inline]
pub(crate) fn add<F: Float, T: Value<F>>(a: T, b: &T) -> T {
    T::apply_owned(Op::Add, a, &[b])
}
#[inline]
pub(crate) fn mul<F: Float, T: Value<F>>(a: T, b: &T) -> T {
    T::apply_owned(Op::Mul, a, &[b])
}
#[inline]
pub(crate) fn div<F: Float, T: Value<F>>(a: T, b: &T) -> T {
    T::apply_owned(Op::Div, a, &[b])
}
#[inline]
pub(crate) fn neg<F: Float, T: Value<F>>(a: T) -> T {
    T::apply_owned(Op::Neg, a, &[])
}
#[inline]
pub(crate) fn scale<F: Float, T: Value<F>>(a: T, c: F) -> T {
    T::apply_owned(Op::MulScalar(c), a, &[])
}
/// `op(a)` for a one-input op, reusing `a`.
#[inline]
pub(crate) fn un<F: Float, T: Value<F>>(op: Op<F>, a: T) -> T {
    T::apply_owned(op, a, &[])
}
