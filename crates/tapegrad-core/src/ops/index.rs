//! Ops that pick elements along an axis (DeZero steps 46-47): `max_axis min_axis select slice` as
//! primitives (`slice` is a `select` of the indices it picks), and `softmax log_softmax` composed.
//!
//! | op | y | gradient |
//! |---|---|---|
//! | max_axis(a), min_axis(a) | extremum over axis a | gy shared evenly by the elements equal to it |
//! | select(a, idx) | slices idx along a | scatter_add(gy): repeats add up |
//! | scatter_add(a, n, idx) | select's adjoint | select(gy) |

use ndarray::{ArrayD, ArrayViewD, Axis, Slice};

use super::{Op, Value, check_axis, div, equal, mul, sum_to};
use crate::error::{Error, Result, or_panic};
use crate::{Float, Var};

/// Picking ops; the parameter is `[axis]` for the extrema, `[axis, indices...]` for `Select`
/// and `[axis, len, indices...]` for `ScatterAdd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexOp {
    /// Maximum over an axis, kept as a length-1 axis.
    MaxAxis,
    /// Minimum over an axis, kept as a length-1 axis.
    MinAxis,
    /// The slices at the indices along the axis (repeats allowed).
    Select,
    /// The adjoint of `Select`: adds slices back into `len` slices along the axis.
    ScatterAdd,
}

impl IndexOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            IndexOp::MaxAxis => "max_axis",
            IndexOp::MinAxis => "min_axis",
            IndexOp::Select => "select",
            IndexOp::ScatterAdd => "scatter_add",
        }
    }

    pub(crate) fn check(self, x: &[usize], p: &[usize]) -> Result<()> {
        match self {
            IndexOp::MaxAxis | IndexOp::MinAxis => {
                check_axis(self.name(), x, p[0])?;
                if x[p[0]] == 0 {
                    // (numpy: "zero-size array to reduction operation maximum which has no identity")
                    return Err(Error::InvalidArgument {
                        op: self.name(),
                        reason: format!(
                            "axis {} of shape {x:?} is empty: it has no extremum",
                            p[0]
                        ),
                    });
                }
                Ok(())
            }
            IndexOp::Select => check_select(x, p),
            IndexOp::ScatterAdd => check_scatter_add(x, p),
        }
    }

    pub(crate) fn forward<F: Float>(self, x: &ArrayViewD<'_, F>, p: &[usize]) -> ArrayD<F> {
        match self {
            IndexOp::MaxAxis => fold_axis(x, p[0], F::neg_infinity(), |a, b| pick(a, b, b > a)),
            IndexOp::MinAxis => fold_axis(x, p[0], F::infinity(), |a, b| pick(a, b, b < a)),
            IndexOp::Select => select(x, p[0], &p[1..]),
            IndexOp::ScatterAdd => scatter_add(x, p[0], p[1], &p[2..]),
        }
    }

    pub(crate) fn rule<F: Float, T: Value<F>>(self, p: &[usize], x: &T, y: &T, gy: T) -> Option<T> {
        Some(match self {
            // d max_axis = gy shared evenly by the maxima (PyTorch's `amax`)
            IndexOp::MaxAxis | IndexOp::MinAxis => mul(share(x, y), &gy),
            // d select = scatter the slices' gradients back, adding repeats
            IndexOp::Select => {
                let mut q = vec![p[0], x.dims()[p[0]]];
                q.extend_from_slice(&p[1..]);
                T::apply(Op::Index(IndexOp::ScatterAdd, q.into()), &[&gy])
            }
            // d scatter_add = select the same slices
            IndexOp::ScatterAdd => {
                let mut q = vec![p[0]];
                q.extend_from_slice(&p[2..]);
                T::apply(Op::Index(IndexOp::Select, q.into()), &[&gy])
            }
        })
    }
}

impl IndexOp {
    /// The forward-mode rule of `op` (this family's op with its parameters) from the input's
    /// tangent `tx`.
    pub(crate) fn jvp<F: Float, T: Value<F>>(self, op: &Op<F>, x: &T, y: &T, tx: T) -> Option<T> {
        Some(match self {
            // d max_axis = the mean of the tangents at the maxima (the transpose of the
            // backward rule)
            IndexOp::MaxAxis | IndexOp::MinAxis => sum_to(&mul(share(x, y), &tx), y.dims()),
            // linear: the tangent is selected (or scattered) as the value is
            IndexOp::Select | IndexOp::ScatterAdd => T::apply(op.clone(), &[&tx]),
        })
    }
}

/// Where `x` equals its extremum `y` (kept as a length-1 axis), 1 over the number of elements
/// that do along the axis; 0 elsewhere (NaN along an axis whose extremum is NaN, as PyTorch's).
fn share<F: Float, T: Value<F>>(x: &T, y: &T) -> T {
    let hits = equal(x, y);
    let count = sum_to(&hits, y.dims());
    div(hits, &count)
}

/// `params` = `[axis, indices...]`
pub(crate) fn check_select(x: &[usize], params: &[usize]) -> Result<()> {
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

/// `params` = `[axis, len, indices...]`: made by select's rule from a checked select.
fn check_scatter_add(x: &[usize], params: &[usize]) -> Result<()> {
    check_axis("scatter_add", x, params[0])?;
    let len = params[1];
    match params[2..].iter().find(|&&i| i >= len) {
        Some(&index) => Err(Error::IndexOutOfBounds {
            op: "scatter_add",
            index,
            len,
        }),
        None if params.len() - 2 == x[params[0]] => Ok(()),
        None => Err(Error::InvalidArgument {
            op: "scatter_add",
            reason: format!("{} indices for {} slices", params.len() - 2, x[params[0]]),
        }),
    }
}

/// The indices an ndarray [`Slice`] picks from an axis of length `len`, in order: negative bounds
/// count from the end, a negative step walks the range backwards (ndarray's rules). Bounds outside
/// the axis are an error, not clamped (ndarray panics there; numpy clamps).
fn slice_indices(slice: Slice, len: usize) -> Result<Vec<usize>> {
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

/// `b` when `better`, else `a`; NaN when either is NaN (as numpy's `max`: a NaN is the result).
#[inline]
fn pick<F: Float>(a: F, b: F, better: bool) -> F {
    if a.is_nan() || b.is_nan() {
        F::nan()
    } else if better {
        b
    } else {
        a
    }
}

/// Folds `axis` with `f` from `init`, keeping it as a length-1 axis (max, min).
fn fold_axis<F: Float>(x: &ArrayViewD<'_, F>, axis: usize, init: F, f: fn(F, F) -> F) -> ArrayD<F> {
    x.fold_axis(Axis(axis), init, |&acc, &v| f(acc, v))
        .insert_axis(Axis(axis))
}

fn select<F: Float>(x: &ArrayViewD<'_, F>, axis: usize, indices: &[usize]) -> ArrayD<F> {
    x.select(Axis(axis), indices)
}

/// Adds slice `j` of `gy` into slice `indices[j]` of a zero array with `len` slices along `axis`.
fn scatter_add<F: Float>(
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

impl<'g, F: Float> Var<'g, F> {
    /// Maximum over `axis`, kept as a length-1 axis when `keepdims` (PyTorch's `amax`). The
    /// gradient is shared evenly by the elements equal to the maximum, as `amax`'s and
    /// [`Var::max`]'s (DeZero's `max` gives each of them the whole of it).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 5.0, 5.0], [7.0, 0.0, 3.0]]);
    /// let y = x.max_axis(1, false);
    /// y.backward();
    /// assert_eq!(y.data(), array![5.0, 7.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]].into_dyn());
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_max_axis(1, false).unwrap().data(), array![2.0, 4.0].into_dyn());
    /// assert!(matches!(x.try_max_axis(2, false), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_max_axis(self, axis: usize, keepdims: bool) -> Result<Var<'g, F>> {
        let y = self
            .graph
            .apply1(Op::Index(IndexOp::MaxAxis, vec![axis].into()), &[self])?;
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_min_axis(1, false).unwrap().data(), array![1.0, 3.0].into_dyn());
    /// assert!(matches!(x.try_min_axis(2, false), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_min_axis(self, axis: usize, keepdims: bool) -> Result<Var<'g, F>> {
        let y = self
            .graph
            .apply1(Op::Index(IndexOp::MinAxis, vec![axis].into()), &[self])?;
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_select(0, &[1]).unwrap().data(), array![[3.0, 4.0]].into_dyn());
    /// assert!(matches!(x.try_select(0, &[2]), Err(Error::IndexOutOfBounds { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range, [`Error::IndexOutOfBounds`] for an index
    /// past the end of the axis; [`Error::StaleVar`].
    pub fn try_select(self, axis: usize, indices: &[usize]) -> Result<Var<'g, F>> {
        let mut params = vec![axis];
        params.extend_from_slice(indices);
        self.graph
            .apply1(Op::Index(IndexOp::Select, params.into()), &[self])
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_slice(1, 1..).unwrap().data(), array![[2.0], [4.0]].into_dyn());
    /// assert!(matches!(x.try_slice(2, 1..), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range, [`Error::InvalidArgument`] for a step of 0
    /// or bounds outside the axis; [`Error::StaleVar`].
    pub fn try_slice(self, axis: usize, range: impl Into<Slice>) -> Result<Var<'g, F>> {
        let shape = self.try_shape()?;
        check_axis("slice", &shape, axis)?;
        let mut params = vec![axis];
        params.extend(slice_indices(range.into(), shape[axis])?);
        self.graph
            .apply1(Op::Index(IndexOp::Select, params.into()), &[self])
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// let p = x.try_softmax(1).unwrap();
    /// assert!((p.data()[[0, 0]] + p.data()[[0, 1]] - 1.0).abs() < 1e-15);
    /// assert!(matches!(x.try_softmax(2), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_softmax(self, axis: usize) -> Result<Var<'g, F>> {
        crate::error::named("softmax", || {
            let e = self.shifted(axis)?.try_exp()?;
            e.try_div(e.try_sum_axes(&[axis], true)?)
        })
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
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// let lp = x.try_log_softmax(1).unwrap();
    /// assert!((lp.exp().sum_axes(&[1], false).data()[[0]] - 1.0).abs() < 1e-15);
    /// assert!(matches!(x.try_log_softmax(2), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::StaleVar`].
    pub fn try_log_softmax(self, axis: usize) -> Result<Var<'g, F>> {
        crate::error::named("log_softmax", || {
            let z = self.shifted(axis)?;
            z.try_sub(z.try_exp()?.try_sum_axes(&[axis], true)?.try_log()?)
        })
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
