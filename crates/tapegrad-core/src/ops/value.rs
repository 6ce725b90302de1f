//! What backward rules compute with: [`Value`], implemented by numbers (`F`), by arrays of the
//! non-recording pass ([`Val`]) and by graph variables (`Var`, for `create_graph`), so that each
//! derivative is written once; and the shorthands the rules are written with.

use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
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

/// A value in the non-recording backward pass: a number, a borrowed array of the arena, an
/// owned array (a gradient), or one number filling a shape. Invariant: an array or a fill is
/// never 0-d (those are `S`). Two words: the sweep moves these around a lot, and a boxed header
/// costs little next to the array's data.
#[derive(Debug)]
pub(crate) enum Val<'a, F> {
    S(F),
    R(&'a ArrayD<F>),
    A(Box<ArrayD<F>>),
    /// The seed of ones, the gradient of a sum, and what elementwise ops make of them: computed
    /// once instead of at every element, and an array only where an op or a stored gradient
    /// needs one (`backward` from `y` then writes no array of ones).
    Fill(Box<Fill<F>>),
}

/// `value` at every element of `shape`.
#[derive(Debug, Clone)]
pub(crate) struct Fill<F> {
    value: F,
    shape: Vec<usize>,
}

impl<F: Float> Clone for Val<'_, F> {
    fn clone(&self) -> Self {
        match self {
            &Val::S(s) => Val::S(s),
            &Val::R(a) => Val::R(a),
            Val::A(a) => Val::A(Box::new(buffer::copy(a))),
            Val::Fill(f) => Val::Fill(f.clone()),
        }
    }
}

impl<'a, F: Float> Val<'a, F> {
    pub(crate) fn view(&self) -> ArrayViewD<'_, F> {
        match self {
            Val::S(s) => ndarray::aview0(s).into_dyn(),
            Val::R(a) => a.view(),
            Val::A(a) => a.view(),
            Val::Fill(f) => {
                // every index at the one number: all strides 0
                let shape = IxDyn(&f.shape).strides(IxDyn(&vec![0; f.shape.len()]));
                match ArrayViewD::from_shape(shape, std::slice::from_ref(&f.value)) {
                    Ok(v) => v,
                    Err(e) => unreachable!("a number viewed at every index: {e}"),
                }
            }
        }
    }

    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Val::S(_) => &[],
            Val::R(a) => a.shape(),
            Val::A(a) => a.shape(),
            Val::Fill(f) => &f.shape,
        }
    }

    /// `value` at every element of `shape`, keeping the invariant.
    pub(crate) fn filled(shape: &[usize], value: F) -> Val<'static, F> {
        match shape {
            [] => Val::S(value),
            _ => Val::Fill(Box::new(Fill {
                value,
                shape: shape.to_vec(),
            })),
        }
    }

    /// A fill as an array; anything else as it is (for code that wants contiguous data, such as
    /// a user's function).
    pub(crate) fn materialized(self) -> Self {
        match self {
            Val::Fill(f) => Val::A(Box::new(buffer::filled(&f.shape, f.value))),
            other => other,
        }
    }

    /// The number a number or a fill holds.
    fn number(&self) -> Option<F> {
        match self {
            &Val::S(s) => Some(s),
            Val::Fill(f) => Some(f.value),
            Val::R(_) | Val::A(_) => None,
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
            Val::Fill(f) => Val::Fill(f),
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
            Val::Fill(f) => buffer::filled(&f.shape, f.value),
        }
    }
}

impl<F: Float> Value<F> for Val<'_, F> {
    fn apply(op: Op<F>, xs: &[&Self]) -> Self {
        let numbers: SmallVec<[F; 2]> = small(xs.iter().map_while(|x| x.number()));
        if numbers.len() == xs.len() {
            let fill = xs.iter().any(|x| matches!(x, Val::Fill(_)));
            if !fill && op.scalar_closed() {
                return Val::S(op.eval_owned(&numbers));
            }
            // Numbers and fills: an elementwise op (or a broadcast) on one number each, once.
            let shapes = xs.iter().map(|x| Some(x.shape().to_vec()));
            let shape = shapes.reduce(|a, b| broadcast_shape(&a?, &b?)).flatten();
            match (&op, shape) {
                (_, Some(shape)) if op.scalar_closed() && op.is_elementwise() => {
                    return Val::filled(&shape, op.eval_owned(&numbers));
                }
                (Op::Shape(ShapeOp::BroadcastTo, to), Some(_)) => {
                    return Val::filled(to, numbers[0]);
                }
                _ => {}
            }
        }
        // A fill is an operand of an elementwise kernel as it is (a broadcast view); any other
        // op gets it as an array.
        let elementwise = op.is_elementwise();
        let arrays: SmallVec<[Option<ArrayD<F>>; 2]> = small(xs.iter().map(|x| match x {
            Val::Fill(f) if !elementwise => Some(buffer::filled(&f.shape, f.value)),
            _ => None,
        }));
        let views: SmallVec<[ArrayViewD<'_, F>; 2]> = small(
            xs.iter()
                .zip(&arrays)
                .map(|(x, a)| a.as_ref().map_or_else(|| x.view(), |a| a.view())),
        );
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

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, array};

    use super::{Op, Val, Value};
    use crate::ops::arith::Binary;
    use crate::ops::math::Math;
    use crate::ops::shape::ShapeOp;

    fn fill(shape: &[usize], v: f64) -> ArrayD<f64> {
        ArrayD::from_elem(shape.to_vec(), v)
    }

    /// A fill reads as the array it stands for, in every way the sweep reads it; elementwise ops
    /// and broadcasts of numbers and fills stay fills, and every other op, or a mix with arrays,
    /// gives what the materialised array gives.
    #[test]
    fn a_fill_acts_as_the_array_it_stands_for() {
        let f = Val::filled(&[5, 3], 1.5);
        assert!(matches!(Val::filled(&[], 2.0), Val::S(2.0)));
        assert_eq!(f.shape(), &[5, 3]);
        assert_eq!(f.view(), fill(&[5, 3], 1.5));
        let owned = f.view().to_owned();
        assert!(owned.is_standard_layout() && owned == fill(&[5, 3], 1.5));
        assert_eq!(f.clone().into_array(), fill(&[5, 3], 1.5));
        assert!(matches!(f.clone().materialized(), Val::A(a) if *a == fill(&[5, 3], 1.5)));

        let neg = Val::apply(Op::Math(Math::Neg), &[&f]);
        assert!(matches!(&neg, Val::Fill(n) if n.value == -1.5 && n.shape == [5, 3]));
        let sum = Val::apply(Op::Binary(Binary::Add), &[&f, &Val::S(2.0)]);
        assert!(matches!(&sum, Val::Fill(s) if s.value == 3.5));
        let wide = Val::apply(Op::Shape(ShapeOp::BroadcastTo, [4, 5, 3].into()), &[&f]);
        assert!(matches!(&wide, Val::Fill(w) if w.shape == [4, 5, 3] && w.value == 1.5));

        let a = ArrayD::from_shape_fn(vec![5, 3], |i| (i[0] * 3 + i[1]) as f64 - 4.0);
        let arr = Val::A(Box::new(a.clone()));
        let prod = Val::apply(Op::Binary(Binary::Div), &[&f, &arr]);
        assert_eq!(prod.view(), 1.5 / &a);
        let in_place = Val::apply_owned(Op::Binary(Binary::Sub), arr.clone(), &[&f]);
        assert_eq!(in_place.view(), &a - 1.5);
        let summed = Val::apply(Op::Shape(ShapeOp::SumTo, [3].into()), &[&f]);
        assert_eq!(summed.view(), array![7.5, 7.5, 7.5].into_dyn());
        let at = Val::A(Box::new(a.t().to_owned()));
        let product = Val::apply(Op::MatMul(false, false), &[&f, &at]);
        let a2 = a.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
        let want = ndarray::Array2::from_elem((5, 3), 1.5).dot(&a2.t());
        assert_eq!(product.view(), want.into_dyn());
    }
}
