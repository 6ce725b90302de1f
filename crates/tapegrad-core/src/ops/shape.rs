//! Shapes (DeZero steps 37-40): `sum_to broadcast_to reshape permute` as primitives; `sum
//! sum_axes mean transpose` composed from them; numpy broadcasting for `+ - * /`.
//!
//! | op | y | gradient |
//! |---|---|---|
//! | sum_to(s) | sum over the axes broadcasting added | broadcast_to(gy, x.shape) |
//! | broadcast_to(s) | x repeated to shape s | sum_to(gy, x.shape) |
//! | reshape(s) | same elements, shape s | reshape(gy, x.shape) |
//! | permute(p) | axes reordered | permute(gy, p^-1) |
//!
//! Binary ops broadcast as numpy does; their rules return gradients of the broadcast shape, and the
//! sweep reduces each with `sum_to` to its input's shape (one place, for every op).

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::{Op, Value, bad_shape, broadcast_shape, check_alloc};
use crate::error::{Error, Result, or_panic};
use crate::{Float, Var, buffer};

/// Ops that change a value's shape; the parameter is the target shape (the permutation for
/// `Permute`: axis `i` of the result is axis `p[i]` of the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShapeOp {
    /// Sum over the axes that broadcasting to the input's shape adds, down to this shape.
    SumTo,
    BroadcastTo,
    Reshape,
    Permute,
}

impl ShapeOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ShapeOp::SumTo => "sum_to",
            ShapeOp::BroadcastTo => "broadcast_to",
            ShapeOp::Reshape => "reshape",
            ShapeOp::Permute => "permute",
        }
    }

    /// `elem` is the size of an element in bytes (a result must fit in memory).
    pub(crate) fn check(self, x: &[usize], p: &[usize], elem: usize) -> Result<()> {
        match self {
            ShapeOp::SumTo => check_sum_to(x, p),
            ShapeOp::BroadcastTo => {
                check_broadcast_to(x, p)?;
                check_alloc("broadcast_to", p, elem)
            }
            ShapeOp::Reshape => check_reshape(x, p),
            ShapeOp::Permute => check_permute(x, p),
        }
    }

    pub(crate) fn forward<F: Float>(self, x: &ArrayViewD<'_, F>, p: &[usize]) -> ArrayD<F> {
        match self {
            ShapeOp::SumTo => super::sums::sum_to(x, p),
            ShapeOp::BroadcastTo => broadcast_to(x, p),
            ShapeOp::Reshape => reshape(x, p),
            ShapeOp::Permute => permute(x, p),
        }
    }

    pub(crate) fn rule<F: Float, T: Value<F>>(self, p: &[usize], x: &T, gy: T) -> T {
        let op = |s, p: super::Params| T::apply(Op::Shape(s, p), &[&gy]);
        match self {
            // d sum_to = broadcast back to x's shape
            ShapeOp::SumTo => op(ShapeOp::BroadcastTo, x.dims().into()),
            // d broadcast_to = sum back to x's shape
            ShapeOp::BroadcastTo => op(ShapeOp::SumTo, x.dims().into()),
            // d reshape = reshape back
            ShapeOp::Reshape => op(ShapeOp::Reshape, x.dims().into()),
            // d permute(p) = permute(gy, p^-1)
            ShapeOp::Permute => {
                let mut inverse = vec![0; p.len()];
                for (i, &a) in p.iter().enumerate() {
                    inverse[a] = i;
                }
                op(ShapeOp::Permute, inverse.into())
            }
        }
    }
}

/// `shape` can be broadcast to `x`'s shape, so that `sum_to(x, shape)` is defined.
fn check_sum_to(x: &[usize], shape: &[usize]) -> Result<()> {
    match broadcast_shape(shape, x) {
        Some(s) if s == x => Ok(()),
        _ => Err(bad_shape("sum_to", x, shape)),
    }
}

fn check_broadcast_to(x: &[usize], shape: &[usize]) -> Result<()> {
    match broadcast_shape(x, shape) {
        Some(s) if s == shape => Ok(()),
        _ => Err(bad_shape("broadcast_to", x, shape)),
    }
}

fn check_reshape(x: &[usize], shape: &[usize]) -> Result<()> {
    let size = |s: &[usize]| s.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if size(shape).is_some() && size(x) == size(shape) {
        Ok(())
    } else {
        Err(bad_shape("reshape", x, shape))
    }
}

fn check_permute(x: &[usize], axes: &[usize]) -> Result<()> {
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

// Forward kernels (operands checked); `sum_to`'s is in `sums.rs`.

fn broadcast_to<F: Float>(x: &ArrayViewD<'_, F>, shape: &[usize]) -> ArrayD<F> {
    match x.broadcast(IxDyn(shape)) {
        Some(v) => buffer::owned(&v),
        None => unreachable!("checked by check_broadcast_to"),
    }
}

fn reshape<F: Float>(x: &ArrayViewD<'_, F>, shape: &[usize]) -> ArrayD<F> {
    match buffer::owned(x).into_shape_with_order(IxDyn(shape)) {
        Ok(y) => y, // (logical, row-major, order)
        Err(_) => unreachable!("checked by check_reshape"),
    }
}

fn permute<F: Float>(x: &ArrayViewD<'_, F>, axes: &[usize]) -> ArrayD<F> {
    buffer::owned(&x.view().permuted_axes(IxDyn(axes)))
}

impl<'g, F: Float> Var<'g, F> {
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_sum().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_sum(), Err(Error::StaleVar)));
    /// ```
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_sum_axes(&[1], false).unwrap().data(), array![3.0, 7.0].into_dyn());
    /// assert!(matches!(x.try_sum_axes(&[2], false), Err(Error::InvalidAxes { .. })));
    /// ```
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_mean().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_mean(), Err(Error::StaleVar)));
    /// ```
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_sum_to(&[1, 2]).unwrap().data(), array![[4.0, 6.0]].into_dyn());
    /// assert!(x.try_sum_to(&[3]).is_err()); // 2 x 2 does not sum to 3
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `shape` broadcasts to this variable's shape.
    pub fn try_sum_to(self, shape: &[usize]) -> Result<Var<'g, F>> {
        self.graph
            .apply1(Op::Shape(ShapeOp::SumTo, shape.into()), &[self])
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert_eq!(x.try_broadcast_to(&[3, 2]).unwrap().shape(), vec![3, 2]);
    /// assert!(x.try_broadcast_to(&[3]).is_err()); // 1 x 2 does not broadcast to 3
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless the variable broadcasts to `shape`.
    pub fn try_broadcast_to(self, shape: &[usize]) -> Result<Var<'g, F>> {
        self.graph
            .apply1(Op::Shape(ShapeOp::BroadcastTo, shape.into()), &[self])
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_reshape(&[4]).unwrap().data(), array![1.0, 2.0, 3.0, 4.0].into_dyn());
    /// assert!(x.try_reshape(&[3]).is_err()); // 4 elements do not fill 3
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (op `reshape`) when the sizes differ.
    pub fn try_reshape(self, shape: &[usize]) -> Result<Var<'g, F>> {
        self.graph
            .apply1(Op::Shape(ShapeOp::Reshape, shape.into()), &[self])
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_permute(&[1, 0]).unwrap().data(), array![[1.0, 3.0], [2.0, 4.0]].into_dyn());
    /// assert!(matches!(x.try_permute(&[0, 0]), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] unless `axes` is a permutation of `0..ndim`.
    pub fn try_permute(self, axes: &[usize]) -> Result<Var<'g, F>> {
        self.graph
            .apply1(Op::Shape(ShapeOp::Permute, axes.into()), &[self])
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert!(x.try_transpose().is_ok());
    /// g.clear(); // `x` is now a handle from before the clear
    /// assert!(matches!(x.try_transpose(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`].
    pub fn try_transpose(self) -> Result<Var<'g, F>> {
        let axes: Vec<usize> = (0..self.try_shape()?.len()).rev().collect();
        self.try_permute(&axes)
    }
}
