//! The forward-mode rules' dispatch: [`Op::jvp`] turns the inputs' tangents into the output's,
//! family by family, beside the backward rules of `mod.rs` (the rules themselves are in the
//! family files: `Binary::jvp`, `IndexOp::jvp`; the other families reuse their backward rule).

use super::shape::ShapeOp;
use super::{Op, Value, add};
use crate::Float;

impl<F: Float> Op<F> {
    /// The forward-mode rule: the output's tangent `ty = sum_k dy/dx_k tx_k` from the inputs'
    /// tangents (`None` for zero), or `None` when it is zero. Written once for arrays and
    /// variables, as the backward rule is. `ty` may come out in a shape that broadcasts to
    /// `y`'s (`tx0 + tx1` for a broadcast `x0`); the forward sweep broadcasts it.
    ///
    /// A one-input elementwise op's Jacobian is diagonal, so equal to its transpose: its tangent
    /// is its backward rule run on the input's tangent, and its derivative stays written once.
    /// Linear ops (shape ops, `select`) map the tangent as they map the value.
    pub(crate) fn jvp<T: Value<F>>(&self, xs: &[T], y: &T, txs: &[Option<T>]) -> Option<T> {
        let (x, tx) = (&xs[0], txs[0].clone());
        match *self {
            Op::Binary(b) => b.jvp(xs, y, txs),
            Op::Scalar(s, c) => tx.map(|t| s.rule(c, x, t)),
            Op::Math(m) => m.rule(x, y, tx?),
            Op::Trig(t) => t.rule(x, y, tx?),
            Op::Special(s) => s.rule(x, y, tx?),
            Op::Bounds(b, ref lohi) => b.rule(lohi[0], lohi[1], x, tx?),
            Op::Pairwise(_) => self.diagonal_jvp(xs, y, txs),
            Op::Shape(..) => Some(T::apply(self.clone(), &[&tx?])),
            Op::Index(i, _) => i.jvp(self, x, y, tx?),
            // d(a b) = da b + a db
            Op::MatMul(..) => {
                let da = txs[0]
                    .as_ref()
                    .map(|t| T::apply(self.clone(), &[t, &xs[1]]));
                let db = txs[1].as_ref().map(|t| T::apply(self.clone(), &[x, t]));
                sum_of(da, db)
            }
        }
    }

    /// The tangent of an elementwise op of two inputs from its backward rule: in each input its
    /// Jacobian is diagonal, so the rule run on that input's tangent (broadcast to `y`'s shape)
    /// gives that input's part of the tangent.
    fn diagonal_jvp<T: Value<F>>(&self, xs: &[T], y: &T, txs: &[Option<T>]) -> Option<T> {
        let mut ty = None;
        for (k, tx) in txs.iter().enumerate() {
            let Some(tx) = tx else { continue };
            let tx = broadcast_like(tx, y);
            let mut needs = [false; 2];
            needs[k] = true;
            let part = self.backward(xs, y, tx, &needs[..xs.len()])[k].take();
            ty = sum_of(ty, part);
        }
        ty
    }
}

/// `a + b`, either of them possibly zero (`None`).
pub(crate) fn sum_of<F: Float, T: Value<F>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(add(a, &b)),
        (a, b) => a.or(b),
    }
}

/// `t` broadcast to `y`'s shape (itself when the shapes agree).
pub(crate) fn broadcast_like<F: Float, T: Value<F>>(t: &T, y: &T) -> T {
    if t.same_shape(y) {
        t.clone()
    } else {
        T::apply(Op::Shape(ShapeOp::BroadcastTo, y.dims().into()), &[t])
    }
}
