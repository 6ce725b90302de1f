//! Ops of several inputs or outputs: `concat split` as primitives, `stack chunk` composed from
//! them. They are [`Function`]s, recorded and differentiated exactly as a user's function is.
//!
//! | op | y | gradients |
//! |---|---|---|
//! | concat(xs, a) | xs joined along axis a | split(gy, sizes of xs, a) |
//! | split(x, sizes, a) | x cut along axis a | concat(gys, a) (zeros for an unused part) |

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

use super::check_axis;
use crate::error::{Error, Result, or_panic};
use crate::{Float, Function, Var};

/// `xs` joined along `axis` (`torch.cat`): every other axis must have the same length. The
/// gradient of each input is its part of the output's gradient.
///
/// ```
/// use tapegrad_core::ndarray::array;
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let a = g.var(array![[1.0, 2.0]]);
/// let b = g.var(array![[3.0, 4.0], [5.0, 6.0]]);
/// let y = tapegrad_core::concat(&[a, b], 0);
/// assert_eq!(y.data(), array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into_dyn());
/// (y * y).sum().backward();
/// assert_eq!(a.grad().unwrap(), array![[2.0, 4.0]].into_dyn());
/// ```
///
/// # Panics
/// With the message of [`try_concat`]'s error.
#[track_caller]
pub fn concat<'g, F: Float>(xs: &[Var<'g, F>], axis: usize) -> Var<'g, F> {
    or_panic(try_concat(xs, axis))
}

/// Fallible [`concat()`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::array};
/// let g: Graph = Graph::new();
/// use tapegrad_core::try_concat;
/// let (a, b) = (g.var(array![1.0]), g.var(array![2.0, 3.0]));
/// assert_eq!(try_concat(&[a, b], 0).unwrap().data(), array![1.0, 2.0, 3.0].into_dyn());
/// assert!(try_concat::<f64>(&[], 0).is_err()); // nothing to join
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] for no variable; [`Error::InvalidAxes`] for an axis out of range
/// (or 0-d variables); [`Error::ShapeMismatch`] for variables that differ in another axis or in
/// their number of axes; [`Error::GraphMismatch`], [`Error::StaleVar`] for bad handles.
pub fn try_concat<'g, F: Float>(xs: &[Var<'g, F>], axis: usize) -> Result<Var<'g, F>> {
    let first = xs.first().ok_or_else(|| no_variable("concat"))?;
    let shapes = xs
        .iter()
        .map(|x| x.try_shape())
        .collect::<Result<Vec<_>>>()?;
    check_axis("concat", &shapes[0], axis)?;
    for s in &shapes[1..] {
        let fits =
            s.len() == shapes[0].len() && (0..s.len()).all(|k| k == axis || s[k] == shapes[0][k]);
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "concat",
                lhs: shapes[0].clone(),
                rhs: s.clone(),
            });
        }
    }
    let sizes = shapes.iter().map(|s| s[axis]).collect();
    let y = first
        .graph
        .apply_boxed(Box::new(Concat { axis, sizes }), xs)?;
    Ok(y[0])
}

/// `xs`, all of one shape, stacked along a new axis `axis` (`torch.stack`): `concat` of the
/// inputs, each with a length-1 axis inserted.
///
/// ```
/// use tapegrad_core::ndarray::array;
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let a = g.var(array![1.0, 2.0]);
/// let b = g.var(array![3.0, 4.0]);
/// let y = tapegrad_core::stack(&[a, b], 1);
/// assert_eq!(y.data(), array![[1.0, 3.0], [2.0, 4.0]].into_dyn());
/// ```
///
/// # Panics
/// With the message of [`try_stack`]'s error.
#[track_caller]
pub fn stack<'g, F: Float>(xs: &[Var<'g, F>], axis: usize) -> Var<'g, F> {
    or_panic(try_stack(xs, axis))
}

/// Fallible [`stack`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::array};
/// let g: Graph = Graph::new();
/// use tapegrad_core::try_stack;
/// let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![3.0, 4.0]));
/// assert_eq!(try_stack(&[a, b], 0).unwrap().shape(), vec![2, 2]);
/// // shapes that differ
/// assert!(try_stack(&[a, g.var(array![1.0])], 0).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] for no variable; [`Error::InvalidAxes`] for an axis past the
/// number of axes; [`Error::ShapeMismatch`] for variables of different shapes;
/// [`Error::GraphMismatch`], [`Error::StaleVar`] for bad handles.
pub fn try_stack<'g, F: Float>(xs: &[Var<'g, F>], axis: usize) -> Result<Var<'g, F>> {
    let first = xs.first().ok_or_else(|| no_variable("stack"))?;
    let shape = first.try_shape()?;
    if axis > shape.len() {
        return Err(Error::InvalidAxes {
            op: "stack",
            axes: vec![axis],
            ndim: shape.len(),
        });
    }
    let mut unsqueezed = shape.clone();
    unsqueezed.insert(axis, 1);
    let parts = xs
        .iter()
        .map(|x| {
            let s = x.try_shape()?;
            if s != shape {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    lhs: shape.clone(),
                    rhs: s,
                });
            }
            x.try_reshape(&unsqueezed)
        })
        .collect::<Result<Vec<_>>>()?;
    try_concat(&parts, axis)
}

impl<'g, F: Float> Var<'g, F> {
    /// Cuts `self` along `axis` into parts of the given lengths, which must add up to the axis'
    /// length (`torch.split` with a list). A part whose gradient never arrives counts as zeros.
    ///
    /// ```
    /// use tapegrad_core::ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0]);
    /// let parts = x.split(&[1, 2], 0);
    /// assert_eq!(parts[1].data(), array![2.0, 3.0].into_dyn());
    /// (parts[1] * 10.0).sum().backward(); // parts[0] unused: its gradient is 0
    /// assert_eq!(x.grad().unwrap(), array![0.0, 10.0, 10.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_split`]'s error.
    #[track_caller]
    pub fn split(self, sizes: &[usize], axis: usize) -> Vec<Var<'g, F>> {
        or_panic(self.try_split(sizes, axis))
    }

    /// Fallible [`Var::split`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0]);
    /// let parts = x.try_split(&[1, 2], 0).unwrap();
    /// assert_eq!(parts[1].data(), array![2.0, 3.0].into_dyn());
    /// assert!(x.try_split(&[1, 1], 0).is_err()); // sizes must add up to 3
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::InvalidArgument`] for no size,
    /// or sizes that do not add up to the axis' length; [`Error::StaleVar`].
    pub fn try_split(self, sizes: &[usize], axis: usize) -> Result<Vec<Var<'g, F>>> {
        let shape = self.try_shape()?;
        check_axis("split", &shape, axis)?;
        let total = sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s));
        if sizes.is_empty() || total != Some(shape[axis]) {
            return Err(Error::InvalidArgument {
                op: "split",
                reason: format!(
                    "sizes {sizes:?} do not add up to the length {} of axis {axis}",
                    shape[axis]
                ),
            });
        }
        let split = Split {
            axis,
            sizes: sizes.to_vec(),
        };
        self.graph.apply_boxed(Box::new(split), &[self])
    }

    /// Cuts `self` along `axis` into `n` parts of equal length, the last one shorter when the
    /// length does not divide (`torch.chunk`: parts of `ceil(len / n)`, so there may be fewer
    /// than `n`).
    ///
    /// ```
    /// use tapegrad_core::ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0, 4.0, 5.0]);
    /// let lens: Vec<usize> = x.chunk(2, 0).iter().map(|p| p.len()).collect();
    /// assert_eq!(lens, [3, 2]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_chunk`]'s error.
    #[track_caller]
    pub fn chunk(self, n: usize, axis: usize) -> Vec<Var<'g, F>> {
        or_panic(self.try_chunk(n, axis))
    }

    /// Fallible [`Var::chunk`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0]);
    /// assert_eq!(x.try_chunk(3, 0).unwrap().len(), 3);
    /// assert!(matches!(x.try_chunk(3, 1), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `n = 0`; [`Error::InvalidAxes`] for an axis out of range;
    /// [`Error::StaleVar`].
    pub fn try_chunk(self, n: usize, axis: usize) -> Result<Vec<Var<'g, F>>> {
        if n == 0 {
            return Err(Error::InvalidArgument {
                op: "chunk",
                reason: "the number of chunks must be at least 1".into(),
            });
        }
        let shape = self.try_shape()?;
        check_axis("chunk", &shape, axis)?;
        let len = shape[axis];
        // chunks of ceil(len / n), the last one shorter (so fewer than n when they run out);
        // an empty axis gives n empty chunks, as torch.chunk
        let sizes = match len.div_ceil(n) {
            0 => vec![0; n],
            size => (0..len)
                .step_by(size)
                .map(|at| size.min(len - at))
                .collect(),
        };
        self.try_split(&sizes, axis)
    }
}

fn no_variable(op: &'static str) -> Error {
    Error::InvalidArgument {
        op,
        reason: "no variable given".into(),
    }
}

/// `concat`, with the length of each input along the axis (its backward's split).
struct Concat {
    axis: usize,
    sizes: Vec<usize>,
}

impl<F: Float> Function<F> for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let y = ndarray::concatenate(Axis(self.axis), xs).map_err(|e| e.to_string())?;
        Ok(vec![y])
    }

    // d concat = split(gy): each input gets its part
    fn backward<'g>(
        &self,
        _: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let parts = gys[0].try_split(&self.sizes, self.axis)?;
        Ok(parts.into_iter().map(Some).collect())
    }

    // linear: the tangents are joined as the values are (zeros where an input has none)
    #[allow(clippy::type_complexity)]
    fn jvp(
        &self,
        xs: &[ArrayViewD<'_, F>],
        _: &[ArrayViewD<'_, F>],
        txs: &[Option<ArrayViewD<'_, F>>],
    ) -> Option<Result<Vec<Option<ArrayD<F>>>, String>> {
        let zeros: Vec<ArrayD<F>> = (xs.iter().zip(txs))
            .map(|(x, t)| match t {
                Some(_) => ArrayD::zeros(IxDyn(&[])),
                None => ArrayD::zeros(x.raw_dim()),
            })
            .collect();
        let parts: Vec<ArrayViewD<'_, F>> = (txs.iter().zip(&zeros))
            .map(|(t, z)| t.as_ref().map_or_else(|| z.view(), |t| t.view()))
            .collect();
        Some(
            self.forward(&parts)
                .map(|y| y.into_iter().map(Some).collect()),
        )
    }
}

/// `split` into parts of these lengths along the axis.
struct Split {
    axis: usize,
    sizes: Vec<usize>,
}

impl<F: Float> Function<F> for Split {
    fn name(&self) -> &'static str {
        "split"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let mut start = 0;
        let parts = self.sizes.iter().map(|&n| {
            let part = xs[0].slice_axis(Axis(self.axis), Slice::from(start..start + n));
            start += n;
            part.to_owned()
        });
        Ok(parts.collect())
    }

    // d split = concat(gys): the parts' gradients joined back
    fn backward<'g>(
        &self,
        _: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        Ok(vec![Some(try_concat(gys, self.axis)?)])
    }

    // linear: the tangent is split as the value is
    #[allow(clippy::type_complexity)]
    fn jvp(
        &self,
        _: &[ArrayViewD<'_, F>],
        _: &[ArrayViewD<'_, F>],
        txs: &[Option<ArrayViewD<'_, F>>],
    ) -> Option<Result<Vec<Option<ArrayD<F>>>, String>> {
        let t = txs[0].as_ref()?;
        Some(
            self.forward(std::slice::from_ref(t))
                .map(|ys| ys.into_iter().map(Some).collect()),
        )
    }
}
