//! The 2-D matrix product (DeZero step 41): `matmul`, with ndarray's product (its GEMM).
//!
//! | op | y | gradients |
//! |---|---|---|
//! | matmul | x0 x1 (2-D) | (gy x1^T, x0^T gy), transposes read in place |

use ndarray::{ArrayD, ArrayView2, ArrayViewD, Ix2};

use super::{Grads, Op, Value, bad_shape, grads};
use crate::error::{Result, or_panic};
use crate::{Float, Var};

pub(crate) fn check(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Result<()> {
    // the length of the summed axis: a's columns and b's rows, swapped by a transpose flag
    let inner = |s: &[usize], t: bool, is_b: bool| match *s {
        [r, c] => Some(if t != is_b { r } else { c }),
        _ => None,
    };
    match (inner(a, ta, false), inner(b, tb, true)) {
        (Some(k), Some(k2)) if k == k2 => Ok(()),
        _ => Err(bad_shape("matmul", a, b)),
    }
}

pub(crate) fn forward<F: Float>(
    a: &ArrayViewD<'_, F>,
    b: &ArrayViewD<'_, F>,
    ta: bool,
    tb: bool,
) -> ArrayD<F> {
    fn matrix<'a, F: Float>(x: &'a ArrayViewD<'_, F>, t: bool) -> ArrayView2<'a, F> {
        let x = x.view().into_dimensionality::<Ix2>();
        let x = x.unwrap_or_else(|_| unreachable!("checked by check_matmul"));
        if t {
            x.reversed_axes() // a transposed view: the product reads it by strides
        } else {
            x
        }
    }
    matrix(a, ta).dot(&matrix(b, tb)).into_dyn()
}

/// d (a b) = (gy b^T, a^T gy), with transposes read in place, each only when needed (each is a
/// product as large as the forward). With `a` or `b` read transposed (`ta`, `tb`), the same
/// identities transposed; the result is again one `MatMul`, so it differentiates again.
pub(crate) fn rule<F: Float, T: Value<F>>(
    xs: &[T],
    gy: T,
    ta: bool,
    tb: bool,
    needs: &[bool],
) -> Grads<T> {
    let (a, b) = (&xs[0], &xs[1]);
    let mm = |ta, tb, x: &T, y: &T| T::apply(Op::MatMul(ta, tb), &[x, y]);
    let ga = needs[0].then(|| match ta {
        false => mm(false, !tb, &gy, b), // gy op(b)^T
        true => mm(tb, true, b, &gy),    // (gy op(b)^T)^T = op(b) gy^T
    });
    let gb = needs[1].then(|| match tb {
        false => mm(!ta, false, a, &gy), // op(a)^T gy
        true => mm(true, ta, &gy, a),    // (op(a)^T gy)^T = gy^T op(a)
    });
    grads![ga, gb]
}

impl<'g, F: Float> Var<'g, F> {
    /// Matrix product of two 2-D variables.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0]]);
    /// let w = g.var(array![[3.0], [4.0]]);
    /// let y = x.matmul(w);
    /// y.backward();
    /// assert_eq!(y.data(), array![[11.0]].into_dyn());
    /// assert_eq!(w.grad().unwrap(), array![[1.0], [2.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_matmul`]'s error.
    #[track_caller]
    pub fn matmul(self, w: Var<'g, F>) -> Var<'g, F> {
        or_panic(self.try_matmul(w))
    }

    /// Fallible [`Var::matmul`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) (op `matmul`) unless both are 2-D with matching inner sizes;
    /// [`Error::GraphMismatch`](crate::Error::GraphMismatch), [`Error::StaleVar`](crate::Error::StaleVar).
    pub fn try_matmul(self, w: Var<'g, F>) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::MatMul(false, false), &[self, w])
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array, ArrayD, Ix2, IxDyn};

    use super::Op;
    use crate::check::{gradgrad_check, gradient_check};
    use crate::{Graph, Var};

    fn values(shape: &[usize], k: f64) -> ArrayD<f64> {
        Array::from_shape_fn(IxDyn(shape), |i| {
            (i[0] as f64 * 1.3 + i[1] as f64 + k).sin()
        })
    }

    fn mm<'g, const TA: bool, const TB: bool>(xs: &[Var<'g>]) -> Var<'g> {
        xs[0]
            .graph
            .apply1(Op::MatMul(TA, TB), &[xs[0], xs[1]])
            .unwrap()
    }

    /// One transpose-flag combination: values against ndarray, gradients first and second order.
    fn check_matmul<const TA: bool, const TB: bool>() {
        let a = values(if TA { &[3, 2] } else { &[2, 3] }, 0.3);
        let b = values(if TB { &[4, 3] } else { &[3, 4] }, 1.1);
        let g: Graph = Graph::new();
        let y = mm::<TA, TB>(&[g.var(a.clone()), g.var(b.clone())]).data();
        let matrix = |x: &ArrayD<f64>, t: bool| {
            let x = x.clone().into_dimensionality::<Ix2>().unwrap();
            if t { x.reversed_axes() } else { x }
        };
        assert_eq!(y, matrix(&a, TA).dot(&matrix(&b, TB)).into_dyn());
        gradient_check(mm::<TA, TB>, &[a.clone(), b.clone()]).unwrap();
        gradgrad_check(mm::<TA, TB>, &[a, b]).unwrap();
    }

    /// Every transpose flag of the internal matmul (users make only `(false, false)`; the rules
    /// make the others).
    #[test]
    fn matmul_with_transposed_operands() {
        check_matmul::<false, false>();
        check_matmul::<false, true>();
        check_matmul::<true, false>();
        check_matmul::<true, true>();
    }
}
