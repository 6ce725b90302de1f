//! What backward rules compute with: [`Value`], implemented by numbers (`F`), by arrays of the
//! non-recording pass ([`Val`]) and by graph variables (`Var`, for `create_graph`), so that each
//! derivative is written once; and the shorthands the rules are written with.

use ndarray::{ArrayD, ArrayViewD};
use smallvec::{SmallVec, smallvec};

use super::Op;
use super::arith::{Binary, ScalarOp};
use super::broadcast_shape;
use super::kernel::InPlace;
use super::math::Math;
use super::pairwise::Pairwise;
use super::shape::ShapeOp;
use crate::buffer;
use crate::{Float, Var};

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

    /// Whether both are the same variable's value (`x * x`), where that is cheap to tell; false
    /// for numbers, which are values, not places.
    fn is_same(&self, _other: &Self) -> bool {
        false
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

    /// Drops the value, an owned array's memory to the pool for the next arrays (`buffer.rs`).
    pub(crate) fn recycle(self) {
        if let Val::A(a) = self {
            buffer::recycle(*a);
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

    /// Two borrows of one array of the arena: a variable's value is its own array.
    fn is_same(&self, other: &Self) -> bool {
        matches!((self, other), (Val::R(a), Val::R(b)) if std::ptr::eq(*a, *b))
    }

    fn apply_owned(op: Op<F>, first: Self, rest: &[&Self]) -> Self {
        let first = match first {
            // Elementwise with a result of `a`'s shape: compute into `a`, no allocation.
            Val::A(mut a)
                if op.is_elementwise()
                    && rest.iter().all(|r| {
                        broadcast_shape(a.shape(), r.shape()).as_deref() == Some(a.shape())
                    }) =>
            {
                op.elementwise(InPlace(&mut *a, rest.first().map(|r| r.view())));
                return Val::A(a);
            }
            other => other,
        };
        let mut xs: SmallVec<[&Self; 2]> = smallvec![&first];
        xs.extend_from_slice(rest);
        let out = Self::apply(op, &xs);
        drop(xs);
        first.recycle();
        out
    }
}

/// Plain numbers: the rules of an all-scalar graph run on `F` directly (the fastest path).
impl<F: Float> Value<F> for F {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        match *xs {
            [a] => op.eval_owned(&[*a]),
            [a, b] => op.eval_owned(&[*a, *b]),
            _ => op.eval_owned(&small::<[F; 4]>(xs.iter().map(|&&x| x))),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn dims(&self) -> Vec<usize> {
        Vec::new()
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn same_shape(&self, _: &Self) -> bool {
        true // numbers are all 0-d
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
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

    fn is_same(&self, other: &Self) -> bool {
        self == other
    }
}

/// Reduces a gradient of a broadcast shape to its input's shape (`sum_to`): the un-broadcasting
/// of every binary op, done once here for all of them.
#[inline]
pub(crate) fn unbroadcast<F: Float, T: Value<F>>(gx: T, x: &T) -> T {
    if gx.same_shape(x) {
        gx
    } else {
        T::apply(Op::Shape(ShapeOp::SumTo, x.dims().into()), &[&gx])
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
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn add<F: Float, T: Value<F>>(a: T, b: &T) -> T {
    T::apply_owned(Op::Binary(Binary::Add), a, &[b])
}
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn mul<F: Float, T: Value<F>>(a: T, b: &T) -> T {
    T::apply_owned(Op::Binary(Binary::Mul), a, &[b])
}
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn div<F: Float, T: Value<F>>(a: T, b: &T) -> T {
    T::apply_owned(Op::Binary(Binary::Div), a, &[b])
}
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn neg<F: Float, T: Value<F>>(a: T) -> T {
    T::apply_owned(Op::Math(Math::Neg), a, &[])
}
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn scale<F: Float, T: Value<F>>(a: T, c: F) -> T {
    T::apply_owned(Op::Scalar(ScalarOp::Mul, c), a, &[])
}
/// `op(a)` for a one-input op, reusing `a`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn un<F: Float, T: Value<F>>(op: impl Into<Op<F>>, a: T) -> T {
    T::apply_owned(op.into(), a, &[])
}
/// `2 gy x`, the gradient of `x^2` (and of `x * x`), in one pass reusing `gy`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn square_backward<F: Float, T: Value<F>>(gy: T, x: &T) -> T {
    T::apply_owned(Op::Pairwise(Pairwise::SquareBackward), gy, &[x])
}
/// `op(a, b)` for a two-input op, reusing `a`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pair<F: Float, T: Value<F>>(op: impl Into<Op<F>>, a: T, b: &T) -> T {
    T::apply_owned(op.into(), a, &[b])
}
/// `op(x)` for a one-input op, into a new value.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn call<F: Float, T: Value<F>>(op: impl Into<Op<F>>, x: &T) -> T {
    T::apply(op.into(), &[x])
}
/// `a + c` for a constant `c`, reusing `a`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn offset<F: Float, T: Value<F>>(a: T, c: F) -> T {
    T::apply_owned(Op::Scalar(ScalarOp::Add, c), a, &[])
}
/// `c - a` for a constant `c`, reusing `a`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn rsub<F: Float, T: Value<F>>(c: F, a: T) -> T {
    T::apply_owned(Op::Scalar(ScalarOp::RSub, c), a, &[])
}
/// `x * x`, into a new value.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn square<F: Float, T: Value<F>>(x: &T) -> T {
    T::apply(Op::Math(Math::Square), &[x])
}
/// `sqrt(a)`, reusing `a`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn sqrt<F: Float, T: Value<F>>(a: T) -> T {
    T::apply_owned(Op::Math(Math::Sqrt), a, &[])
}
/// 1 where `a == b`, else 0 (broadcasting).
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn equal<F: Float, T: Value<F>>(a: &T, b: &T) -> T {
    T::apply(Op::Binary(Binary::Equal), &[a, b])
}
/// `sum_to(a, shape)`, into a new value.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn sum_to<F: Float, T: Value<F>>(a: &T, shape: Vec<usize>) -> T {
    T::apply(Op::Shape(ShapeOp::SumTo, shape.into()), &[a])
}
