//! The matrix product (DeZero step 41), on [`gemm`](crate::linalg::gemm): the 2-D product as a built-in op,
//! the batched one as a [`Function`], and `matmul` with PyTorch's rules (vectors, stacks of
//! matrices, broadcast batch axes) composed from the two.
//!
//! | op | y | gradients |
//! |---|---|---|
//! | matmul | x0 x1 (2-D) | (gy x1^T, x0^T gy), transposes read in place |
//! | batched | x0[i] x1[i] (3-D) | the same, batch by batch |

use ndarray::{Array3, ArrayD, ArrayView2, ArrayViewD, Ix2, Ix3};

use super::{Grads, Op, Value, bad_shape, broadcast_shape, grads};
use crate::error::{Result, or_panic};
use crate::linalg::gemm;
use crate::{Float, Function, Var};

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
    let (a, b) = (matrix(a, ta), matrix(b, tb));
    crate::linalg::product_new(&a, &b)
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

/// `a b` for 3-D operands `(batch, n, k)` and `(batch, k, m)`, either read transposed in its
/// last two axes when its flag is set: the batched product, one GEMM per batch.
struct Batched {
    ta: bool,
    tb: bool,
}

impl<F: Float> Function<F> for Batched {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let (Ok(a), Ok(b)) = (
            xs[0].view().into_dimensionality::<Ix3>(),
            xs[1].view().into_dimensionality::<Ix3>(),
        ) else {
            return Err("batched operands must be 3-D".into());
        };
        let (sa, sb) = (a.shape(), b.shape());
        let n = if self.ta { sa[2] } else { sa[1] };
        let m = if self.tb { sb[1] } else { sb[2] };
        let mut y = Array3::zeros((sa[0], n, m));
        for ((ai, bi), mut yi) in a.outer_iter().zip(b.outer_iter()).zip(y.outer_iter_mut()) {
            gemm(
                F::one(),
                &flip(ai, self.ta),
                &flip(bi, self.tb),
                F::zero(),
                &mut yi.view_mut(),
            );
        }
        Ok(vec![y.into_dyn()])
    }

    // the 2-D rule, batch by batch (see `rule`)
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let (a, b, gy, ta, tb) = (xs[0], xs[1], gys[0], self.ta, self.tb);
        let mm = |ta, tb, x: Var<'g, F>, y: Var<'g, F>| -> Result<Var<'g, F>> {
            Ok(x.graph.try_apply(Batched { ta, tb }, &[x, y])?[0])
        };
        let ga = if ta {
            mm(tb, true, b, gy)?
        } else {
            mm(false, !tb, gy, b)?
        };
        let gb = if tb {
            mm(true, ta, gy, a)?
        } else {
            mm(!ta, false, a, gy)?
        };
        Ok(vec![Some(ga), Some(gb)])
    }
}

/// The batched product of `(batch, n, k)` and `(batch, k, m)` variables.
pub(crate) fn batched<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>) -> Result<Var<'g, F>> {
    let f = Batched {
        ta: false,
        tb: false,
    };
    Ok(a.graph.try_apply(f, &[a, b])?[0])
}

/// `m`, or its transpose (a view) when `t`.
fn flip<F>(m: ArrayView2<'_, F>, t: bool) -> ArrayView2<'_, F> {
    if t { m.reversed_axes() } else { m }
}

/// `a b` with PyTorch's rules (see [`Var::matmul`]).
fn matmul<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>) -> Result<Var<'g, F>> {
    a.graph.check(b, "matmul")?;
    let (sa, sb) = (a.try_shape()?, b.try_shape()?);
    let mismatch = || bad_shape("matmul", &sa, &sb);
    match (sa.len(), sb.len()) {
        (0, _) | (_, 0) => Err(mismatch()),
        (1, 1) if sa == sb => a.try_mul(b)?.try_sum(),
        (1, 1) => Err(mismatch()),
        (2, 2) => a.graph.apply1(Op::MatMul(false, false), &[a, b]),
        // a vector on the left is a one-row matrix, on the right a one-column matrix, and the
        // added axis goes again
        (1, nb) => {
            let y = matmul(a.try_unsqueeze(0)?, b).map_err(|_| mismatch())?;
            y.try_squeeze(nb - 2)
        }
        (na, 1) => {
            let y = matmul(a, b.try_unsqueeze(1)?).map_err(|_| mismatch())?;
            y.try_squeeze(na - 1)
        }
        (na, nb) => {
            let (n, k, k2, m) = (sa[na - 2], sa[na - 1], sb[nb - 2], sb[nb - 1]);
            let batch = broadcast_shape(&sa[..na - 2], &sb[..nb - 2]).ok_or_else(mismatch)?;
            if k != k2 {
                return Err(mismatch());
            }
            let count: usize = batch.iter().product();
            let with = |tail: &[usize]| [&batch[..], tail].concat();
            if nb == 2 {
                // one matrix on the right: a single product of the stacked rows
                let rows = a.try_reshape(&[count * n, k])?;
                let y = a.graph.apply1(Op::MatMul(false, false), &[rows, b])?;
                return y.try_reshape(&with(&[n, m]));
            }
            let a3 = a
                .try_broadcast_to(&with(&[n, k]))?
                .try_reshape(&[count, n, k])?;
            let b3 = b
                .try_broadcast_to(&with(&[k, m]))?
                .try_reshape(&[count, k, m])?;
            batched(a3, b3)?.try_reshape(&with(&[n, m]))
        }
    }
}

impl<'g, F: Float> Var<'g, F> {
    /// Matrix product with PyTorch's rules (`torch.matmul`): two 2-D operands multiply as
    /// matrices; two vectors give their dot product (0-d); a vector on the left acts as a row
    /// and on the right as a column, and that axis is removed from the result; operands of more
    /// axes are stacks of matrices in their last two axes, whose leading (batch) axes broadcast.
    ///
    /// ```
    /// use ndarray::{array, Array3};
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0]]);
    /// let w = g.var(array![[3.0], [4.0]]);
    /// let y = x.matmul(w);
    /// y.backward();
    /// assert_eq!(y.data(), array![[11.0]].into_dyn());
    /// assert_eq!(w.grad().unwrap(), array![[1.0], [2.0]].into_dyn());
    /// let batch = g.var(Array3::<f64>::ones((5, 4, 2))); // (b, n, k) x (k, m)
    /// assert_eq!(batch.matmul(w).shape(), vec![5, 4, 1]);
    /// assert_eq!(g.var(array![1.0, 2.0]).matmul(w).shape(), vec![1]);
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_matmul(x).unwrap().data(), array![[7.0, 10.0], [15.0, 22.0]].into_dyn());
    /// // inner sizes 2 and 1 differ
    /// assert!(matches!(x.try_matmul(g.var(array![[1.0, 2.0]])), Err(Error::ShapeMismatch { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) (op `matmul`, its message naming
    /// the inner sizes) for a 0-d operand, inner sizes that differ or batch axes that do not
    /// broadcast; [`Error::GraphMismatch`](crate::Error::GraphMismatch),
    /// [`Error::StaleVar`](crate::Error::StaleVar).
    pub fn try_matmul(self, w: Var<'g, F>) -> Result<Var<'g, F>> {
        matmul(self, w)
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

    /// One transpose-flag combination: values against ndarray's product, gradients first and
    /// second order.
    fn check_matmul<const TA: bool, const TB: bool>() {
        let a = values(if TA { &[3, 2] } else { &[2, 3] }, 0.3);
        let b = values(if TB { &[4, 3] } else { &[3, 4] }, 1.1);
        let g: Graph = Graph::new();
        let y = mm::<TA, TB>(&[g.var(a.clone()), g.var(b.clone())]).data();
        let matrix = |x: &ArrayD<f64>, t: bool| {
            let x = x.clone().into_dimensionality::<Ix2>().unwrap();
            if t { x.reversed_axes() } else { x }
        };
        // the same sums as ndarray's product, perhaps in another order
        let want = matrix(&a, TA).dot(&matrix(&b, TB)).into_dyn();
        let err = (&y - &want).iter().fold(0f64, |m, e| m.max(e.abs()));
        assert!(err < 1e-14, "off by {err}");
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
