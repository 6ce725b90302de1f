//! Shapes and reductions (DeZero steps 37-41): `sum_to broadcast_to reshape permute matmul` as
//! primitives; `sum sum_axes mean transpose` composed from them; numpy broadcasting for `+ - * /`.
//!
//! | op | y | gradient |
//! |---|---|---|
//! | sum_to(s) | sum over the axes broadcasting added | broadcast_to(gy, x.shape) |
//! | broadcast_to(s) | x repeated to shape s | sum_to(gy, x.shape) |
//! | reshape(s) | same elements, shape s | reshape(gy, x.shape) |
//! | permute(p) | axes reordered | permute(gy, p^-1) |
//! | matmul | x0 x1 (2-D) | (gy x1^T, x0^T gy), transposes read in place |
//!
//! Binary ops broadcast as numpy does; their rules return gradients of the broadcast shape, and the
//! sweep reduces each with `sum_to` to its input's shape (one place, for every op).

use ndarray::{ArrayD, ArrayView2, ArrayViewD, Axis, CowArray, Ix2, IxDyn, Slice};

use super::{arith::or_panic, grads, Grads, Op, Value};
use crate::error::{Error, Result};
use crate::{Float, Var};

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

fn bad_shape(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Error {
    Error::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
    }
}

/// `shape` can be broadcast to `x`'s shape, so that `sum_to(x, shape)` is defined.
pub(super) fn check_sum_to(x: &[usize], shape: &[usize]) -> Result<()> {
    match broadcast_shape(shape, x) {
        Some(s) if s == x => Ok(()),
        _ => Err(bad_shape("sum_to", x, shape)),
    }
}

pub(super) fn check_broadcast_to(x: &[usize], shape: &[usize]) -> Result<()> {
    match broadcast_shape(x, shape) {
        Some(s) if s == shape => Ok(()),
        _ => Err(bad_shape("broadcast_to", x, shape)),
    }
}

pub(super) fn check_reshape(x: &[usize], shape: &[usize]) -> Result<()> {
    if x.iter().product::<usize>() == shape.iter().product::<usize>() {
        Ok(())
    } else {
        Err(bad_shape("reshape", x, shape))
    }
}

pub(super) fn check_permute(x: &[usize], axes: &[usize]) -> Result<()> {
    let mut seen = vec![false; x.len()];
    let ok = axes.len() == x.len()
        && axes
            .iter()
            .all(|&a| a < x.len() && !std::mem::replace(&mut seen[a], true));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidAxes {
            op: "permute",
            axes: axes.to_vec(),
            ndim: x.len(),
        })
    }
}

pub(super) fn check_matmul(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Result<()> {
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

pub(super) fn check_axis(op: &'static str, x: &[usize], axis: usize) -> Result<()> {
    if axis < x.len() {
        Ok(())
    } else {
        Err(Error::InvalidAxes {
            op,
            axes: vec![axis],
            ndim: x.len(),
        })
    }
}

/// `params` = `[axis, indices...]`
pub(super) fn check_select(x: &[usize], params: &[usize]) -> Result<()> {
    check_axis("select", x, params[0])?;
    let len = x[params[0]];
    match params[1..].iter().find(|&&i| i >= len) {
        Some(&index) => Err(Error::IndexOutOfBounds {
            op: "select",
            index,
            len,
        }),
        None => Ok(()),
    }
}

/// The indices an ndarray [`Slice`] picks from an axis of length `len`, in order: negative bounds
/// count from the end, a negative step walks the range backwards (ndarray's rules). Bounds outside
/// the axis are an error, not clamped (ndarray panics there; numpy clamps).
pub(super) fn slice_indices(slice: Slice, len: usize) -> Result<Vec<usize>> {
    let bad = |reason: String| Error::InvalidArgument {
        op: "slice",
        reason,
    };
    if slice.step == 0 {
        return Err(bad("the step must not be 0".into()));
    }
    let resolve = |i: isize| if i < 0 { i + len as isize } else { i };
    let (start, end) = (
        resolve(slice.start),
        slice.end.map_or(len as isize, resolve),
    );
    if start < 0 || end < start || end > len as isize {
        let end = slice.end.map_or(String::new(), |e| e.to_string());
        let range = format!("{}..{end}", slice.start);
        return Err(bad(format!(
            "range {range} is out of bounds for an axis of length {len}"
        )));
    }
    let range = start as usize..end as usize;
    Ok(if slice.step > 0 {
        range.step_by(slice.step.unsigned_abs()).collect()
    } else {
        // ndarray: a negative step takes every |step|-th element from the end of the range
        range.rev().step_by(slice.step.unsigned_abs()).collect()
    })
}

// Forward kernels (operands checked).

/// Folds `axis` with `f` from `init`, keeping it as a length-1 axis (max, min).
pub(super) fn fold_axis<F: Float>(
    x: &ArrayViewD<'_, F>,
    axis: usize,
    init: F,
    f: fn(F, F) -> F,
) -> ArrayD<F> {
    x.fold_axis(Axis(axis), init, |&acc, &v| f(acc, v))
        .insert_axis(Axis(axis))
}

pub(super) fn select<F: Float>(x: &ArrayViewD<'_, F>, axis: usize, indices: &[usize]) -> ArrayD<F> {
    x.select(Axis(axis), indices)
}

/// Adds slice `j` of `gy` into slice `indices[j]` of a zero array with `len` slices along `axis`.
pub(super) fn scatter_add<F: Float>(
    gy: &ArrayViewD<'_, F>,
    axis: usize,
    len: usize,
    indices: &[usize],
) -> ArrayD<F> {
    let mut shape = gy.shape().to_vec();
    shape[axis] = len;
    let mut out = ArrayD::zeros(shape);
    for (j, &i) in indices.iter().enumerate() {
        let mut dst = out.index_axis_mut(Axis(axis), i);
        dst += &gy.index_axis(Axis(axis), j);
    }
    out
}

pub(super) fn sum_to<F: Float>(x: &ArrayViewD<'_, F>, shape: &[usize]) -> ArrayD<F> {
    let lead = x.ndim() - shape.len();
    let mut y = CowArray::from(x.view()); // copied only if nothing is summed
    for _ in 0..lead {
        y = y.sum_axis(Axis(0)).into();
    }
    for (i, &s) in shape.iter().enumerate() {
        if s == 1 && y.shape()[i] != 1 {
            y = y.sum_axis(Axis(i)).insert_axis(Axis(i)).into();
        }
    }
    y.into_owned()
}

pub(super) fn broadcast_to<F: Float>(x: &ArrayViewD<'_, F>, shape: &[usize]) -> ArrayD<F> {
    match x.broadcast(IxDyn(shape)) {
        Some(v) => v.to_owned(),
        None => unreachable!("checked by check_broadcast_to"),
    }
}

pub(super) fn reshape<F: Float>(x: &ArrayViewD<'_, F>, shape: &[usize]) -> ArrayD<F> {
    let data: Vec<F> = x.iter().copied().collect(); // logical (row-major) order
    match ArrayD::from_shape_vec(IxDyn(shape), data) {
        Ok(y) => y,
        Err(_) => unreachable!("checked by check_reshape"),
    }
}

pub(super) fn permute<F: Float>(x: &ArrayViewD<'_, F>, axes: &[usize]) -> ArrayD<F> {
    x.view()
        .permuted_axes(IxDyn(axes))
        .as_standard_layout()
        .into_owned()
}

pub(super) fn matmul<F: Float>(
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

// Backward rules.

/// d sum_to = broadcast back to x's shape
pub(super) fn sum_to_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(T::apply(Op::BroadcastTo(x.dims().into()), &[&gy]))]
}

/// d broadcast_to = sum back to x's shape
pub(super) fn broadcast_to_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(T::apply(Op::SumTo(x.dims().into()), &[&gy]))]
}

/// d reshape = reshape back
pub(super) fn reshape_backward<F: Float, T: Value<F>>(x: &T, gy: T) -> Grads<T> {
    grads![Some(T::apply(Op::Reshape(x.dims().into()), &[&gy]))]
}

/// d permute(p) = permute(gy, p^-1)
pub(super) fn permute_backward<F: Float, T: Value<F>>(axes: &[usize], gy: T) -> Grads<T> {
    let mut inverse = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inverse[a] = i;
    }
    grads![Some(T::apply(Op::Permute(inverse.into()), &[&gy]))]
}

/// d (a b) = (gy b^T, a^T gy), with transposes read in place, each only when needed (each is a
/// product as large as the forward). With `a` or `b` read transposed (`ta`, `tb`), the same
/// identities transposed; the result is again one `MatMul`, so it differentiates again.
pub(super) fn matmul_backward<F: Float, T: Value<F>>(
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

/// d max_axis = gy where x is a maximum (every tied maximum gets it, as DeZero), 0 elsewhere
pub(super) fn extremum_backward<F: Float, T: Value<F>>(x: &T, y: &T, gy: T) -> Grads<T> {
    let mask = T::apply(Op::Equal, &[x, y]);
    grads![Some(super::mul(mask, &gy))]
}

/// d select = scatter the slices' gradients back, adding repeats
pub(super) fn select_backward<F: Float, T: Value<F>>(x: &T, params: &[usize], gy: T) -> Grads<T> {
    let axis = params[0];
    let mut p = vec![axis, x.dims()[axis]];
    p.extend_from_slice(&params[1..]);
    grads![Some(T::apply(Op::ScatterAdd(p.into()), &[&gy]))]
}

/// d scatter_add = select the same slices
pub(super) fn scatter_add_backward<F: Float, T: Value<F>>(params: &[usize], gy: T) -> Grads<T> {
    let mut p = vec![params[0]];
    p.extend_from_slice(&params[2..]);
    grads![Some(T::apply(Op::Select(p.into()), &[&gy]))]
}

impl<'g, F: Float> Var<'g, F> {
    /// Maximum over `axis`, kept as a length-1 axis when `keepdims`. The gradient goes to every
    /// element equal to the maximum (ties share it, as DeZero's `max`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]);
    /// let y = x.max_axis(1, false);
    /// y.backward();
    /// assert_eq!(y.data(), array![5.0, 7.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_max_axis`]'s error.
    #[track_caller]
    pub fn max_axis(self, axis: usize, keepdims: bool) -> Var<'g, F> {
        or_panic(self.try_max_axis(axis, keepdims))
    }

    /// Fallible [`Var::max_axis`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_max_axis(self, axis: usize, keepdims: bool) -> Result<Var<'g, F>> {
        let y = self.graph.apply1(Op::MaxAxis(vec![axis].into()), &[self])?;
        drop_axis(y, axis, keepdims)
    }

    /// Minimum over `axis`; see [`Var::max_axis`].
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 5.0], [7.0, 0.0]]);
    /// assert_eq!(x.min_axis(0, true).data(), array![[1.0, 0.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_min_axis`]'s error.
    #[track_caller]
    pub fn min_axis(self, axis: usize, keepdims: bool) -> Var<'g, F> {
        or_panic(self.try_min_axis(axis, keepdims))
    }

    /// Fallible [`Var::min_axis`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_min_axis(self, axis: usize, keepdims: bool) -> Result<Var<'g, F>> {
        let y = self.graph.apply1(Op::MinAxis(vec![axis].into()), &[self])?;
        drop_axis(y, axis, keepdims)
    }

    /// The slices at `indices` along `axis`, in that order, repeats allowed; the axis is kept
    /// (ndarray's `select`, DeZero's `get_item` with an index array). Gradients of repeated
    /// slices add up.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    /// let y = x.select(0, &[2, 0, 2]);
    /// y.backward();
    /// assert_eq!(y.data(), array![[5.0, 6.0], [1.0, 2.0], [5.0, 6.0]].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_select`]'s error.
    #[track_caller]
    pub fn select(self, axis: usize, indices: &[usize]) -> Var<'g, F> {
        or_panic(self.try_select(axis, indices))
    }

    /// Fallible [`Var::select`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range, [`Error::IndexOutOfBounds`] for an index
    /// past the end of the axis; [`Error::StaleVar`].
    pub fn try_select(self, axis: usize, indices: &[usize]) -> Result<Var<'g, F>> {
        let mut params = vec![axis];
        params.extend_from_slice(indices);
        self.graph.apply1(Op::Select(params.into()), &[self])
    }

    /// The elements of `range` along `axis`, in ndarray's spelling: any [`Slice`] or Rust range
    /// (`1..3`, `..2`, `Slice::new(-2, None, 1)`, `Slice::new(0, None, -1)` to reverse). The axis is
    /// kept; the gradient lands on the sliced elements, zeros elsewhere (DeZero's `get_item` with a
    /// slice). Recorded as a [`Var::select`] of the computed indices, so it shares select's rule.
    ///
    /// ```
    /// use ndarray::{array, Slice};
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// let y = x.slice(1, 1..);
    /// y.backward();
    /// assert_eq!(y.data(), array![[2.0, 3.0], [5.0, 6.0]].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]].into_dyn());
    /// let reversed = x.slice(0, Slice::new(0, None, -1));
    /// assert_eq!(reversed.data(), array![[4.0, 5.0, 6.0], [1.0, 2.0, 3.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_slice`]'s error.
    #[track_caller]
    pub fn slice(self, axis: usize, range: impl Into<Slice>) -> Var<'g, F> {
        or_panic(self.try_slice(axis, range))
    }

    /// Fallible [`Var::slice`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range, [`Error::InvalidArgument`] for a step of 0
    /// or bounds outside the axis; [`Error::StaleVar`].
    pub fn try_slice(self, axis: usize, range: impl Into<Slice>) -> Result<Var<'g, F>> {
        let shape = self.try_shape()?;
        check_axis("slice", &shape, axis)?;
        let mut params = vec![axis];
        params.extend(slice_indices(range.into(), shape[axis])?);
        self.graph.apply1(Op::Select(params.into()), &[self])
    }

    /// Softmax along `axis`, computed stably (the maximum is subtracted first, as a constant).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1000.0, 1000.0], [0.0, 2f64.ln()]]);
    /// let y = x.softmax(1).data();
    /// assert_eq!(y[[0, 0]], 0.5);
    /// assert!((y[[1, 1]] - 2.0 / 3.0).abs() < 1e-15);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_softmax`]'s error.
    #[track_caller]
    pub fn softmax(self, axis: usize) -> Var<'g, F> {
        or_panic(self.try_softmax(axis))
    }

    /// Fallible [`Var::softmax`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_softmax(self, axis: usize) -> Result<Var<'g, F>> {
        let e = self.shifted(axis)?.try_exp()?;
        e.try_div(e.try_sum_axes(&[axis], true)?)
    }

    /// `log(softmax(x))` along `axis`, computed stably as `z - log(sum(exp(z)))` with
    /// `z = x - max(x)`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[-1000.0, 0.0]]);
    /// let y = x.log_softmax(1).data();
    /// assert_eq!(y[[0, 0]], -1000.0);
    /// assert_eq!(y[[0, 1]], 0.0);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_log_softmax`]'s error.
    #[track_caller]
    pub fn log_softmax(self, axis: usize) -> Var<'g, F> {
        or_panic(self.try_log_softmax(axis))
    }

    /// Fallible [`Var::log_softmax`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_log_softmax(self, axis: usize) -> Result<Var<'g, F>> {
        let z = self.shifted(axis)?;
        z.try_sub(z.try_exp()?.try_sum_axes(&[axis], true)?.try_log()?)
    }

    /// `x - max(x, axis)`, the maximum taken as a constant: softmax does not change under a
    /// shift, so no gradient needs to flow through it.
    fn shifted(self, axis: usize) -> Result<Var<'g, F>> {
        let m = {
            let _constant = self.graph.no_grad();
            self.try_max_axis(axis, true)?
        };
        self.try_sub(m)
    }

    /// Sum of all elements, 0-d.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// let y = x.sum();
    /// y.backward();
    /// assert_eq!(y.item(), 10.0);
    /// assert_eq!(x.grad().unwrap(), ndarray::ArrayD::ones(vec![2, 2]));
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn sum(self) -> Var<'g, F> {
        or_panic(self.try_sum())
    }

    /// Fallible [`Var::sum`].
    ///
    /// # Errors
    /// [`Error::StaleVar`].
    pub fn try_sum(self) -> Result<Var<'g, F>> {
        self.try_sum_to(&[])
    }

    /// Sum over `axes`, keeping them as length-1 axes when `keepdims` (numpy's `sum(axis=...)`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(x.sum_axes(&[0], false).data(), array![5.0, 7.0, 9.0].into_dyn());
    /// assert_eq!(x.sum_axes(&[1], true).data(), array![[6.0], [15.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_sum_axes`]'s error.
    #[track_caller]
    pub fn sum_axes(self, axes: &[usize], keepdims: bool) -> Var<'g, F> {
        or_panic(self.try_sum_axes(axes, keepdims))
    }

    /// Fallible [`Var::sum_axes`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range or repeated; [`Error::StaleVar`].
    pub fn try_sum_axes(self, axes: &[usize], keepdims: bool) -> Result<Var<'g, F>> {
        let shape = self.try_shape()?;
        let mut seen = vec![false; shape.len()];
        for &a in axes {
            if a >= shape.len() || std::mem::replace(&mut seen[a], true) {
                return Err(Error::InvalidAxes {
                    op: "sum_axes",
                    axes: axes.to_vec(),
                    ndim: shape.len(),
                });
            }
        }
        let kept: Vec<usize> = (0..shape.len())
            .map(|i| if seen[i] { 1 } else { shape[i] })
            .collect();
        let y = self.try_sum_to(&kept)?;
        if keepdims {
            return Ok(y);
        }
        let dropped: Vec<usize> = (0..shape.len())
            .filter(|&i| !seen[i])
            .map(|i| shape[i])
            .collect();
        y.try_reshape(&dropped)
    }

    /// Mean of all elements, 0-d.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, 2.0, 6.0]).mean().item(), 3.0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn mean(self) -> Var<'g, F> {
        or_panic(self.try_mean())
    }

    /// Fallible [`Var::mean`].
    ///
    /// # Errors
    /// [`Error::StaleVar`].
    pub fn try_mean(self) -> Result<Var<'g, F>> {
        let n = self.try_shape()?.iter().product::<usize>();
        self.try_sum()?.try_div(F::from_f64(n as f64))
    }

    /// Sums the axes that broadcasting to this variable's shape would add: the adjoint of
    /// [`Var::broadcast_to`].
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(x.sum_to(&[1, 3]).data(), array![[5.0, 7.0, 9.0]].into_dyn());
    /// assert_eq!(x.sum_to(&[2, 1]).data(), array![[6.0], [15.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_sum_to`]'s error.
    #[track_caller]
    pub fn sum_to(self, shape: &[usize]) -> Var<'g, F> {
        or_panic(self.try_sum_to(shape))
    }

    /// Fallible [`Var::sum_to`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `shape` broadcasts to this variable's shape.
    pub fn try_sum_to(self, shape: &[usize]) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::SumTo(shape.into()), &[self])
    }

    /// Repeats the variable to `shape` by numpy broadcasting.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// let y = x.broadcast_to(&[3, 2]);
    /// y.backward();
    /// assert_eq!(x.grad().unwrap(), array![3.0, 3.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_broadcast_to`]'s error.
    #[track_caller]
    pub fn broadcast_to(self, shape: &[usize]) -> Var<'g, F> {
        or_panic(self.try_broadcast_to(shape))
    }

    /// Fallible [`Var::broadcast_to`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless the variable broadcasts to `shape`.
    pub fn try_broadcast_to(self, shape: &[usize]) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::BroadcastTo(shape.into()), &[self])
    }

    /// The same elements in row-major order, in a new shape of the same size.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(x.reshape(&[3, 2]).data(), array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_reshape`]'s error.
    #[track_caller]
    pub fn reshape(self, shape: &[usize]) -> Var<'g, F> {
        or_panic(self.try_reshape(shape))
    }

    /// Fallible [`Var::reshape`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (op `reshape`) when the sizes differ.
    pub fn try_reshape(self, shape: &[usize]) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Reshape(shape.into()), &[self])
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`.
    ///
    /// ```
    /// use ndarray::Array3;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(Array3::<f64>::zeros((2, 3, 4)));
    /// assert_eq!(x.permute(&[2, 0, 1]).shape(), vec![4, 2, 3]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_permute`]'s error.
    #[track_caller]
    pub fn permute(self, axes: &[usize]) -> Var<'g, F> {
        or_panic(self.try_permute(axes))
    }

    /// Fallible [`Var::permute`].
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] unless `axes` is a permutation of `0..ndim`.
    pub fn try_permute(self, axes: &[usize]) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::Permute(axes.into()), &[self])
    }

    /// All axes reversed (a matrix transpose for 2-D).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0, 3.0]]);
    /// assert_eq!(x.transpose().data(), array![[1.0], [2.0], [3.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn transpose(self) -> Var<'g, F> {
        or_panic(self.try_transpose())
    }

    /// Fallible [`Var::transpose`].
    ///
    /// # Errors
    /// [`Error::StaleVar`].
    pub fn try_transpose(self) -> Result<Var<'g, F>> {
        let axes: Vec<usize> = (0..self.try_shape()?.len()).rev().collect();
        self.try_permute(&axes)
    }

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
    /// [`Error::ShapeMismatch`] (op `matmul`) unless both are 2-D with matching inner sizes;
    /// [`Error::GraphMismatch`], [`Error::StaleVar`].
    pub fn try_matmul(self, w: Var<'g, F>) -> Result<Var<'g, F>> {
        self.graph.apply1(Op::MatMul(false, false), &[self, w])
    }
}

/// Drops the length-1 `axis` of a keepdims result unless `keepdims`.
fn drop_axis<F: Float>(y: Var<'_, F>, axis: usize, keepdims: bool) -> Result<Var<'_, F>> {
    if keepdims {
        return Ok(y);
    }
    let mut shape = y.try_shape()?;
    shape.remove(axis);
    y.try_reshape(&shape)
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
            if t {
                x.reversed_axes()
            } else {
                x
            }
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
