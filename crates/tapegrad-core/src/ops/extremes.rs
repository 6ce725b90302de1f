//! The extremes of a variable: `max` and `min` of all elements as [`Function`]s (the gradient
//! shared evenly by ties, as PyTorch), and `argmax`/`argmin` along an axis (indices, not
//! differentiable). `max_axis` and `min_axis` are in `index.rs`.
//!
//! | op | y | gradient |
//! |---|---|---|
//! | max, min | over all elements | gy shared evenly by the elements equal to y (PyTorch) |

use ndarray::{ArrayD, ArrayViewD, Axis, Zip};

use crate::error::{Error, Result, or_panic};
use crate::{Float, Function, Var};

/// The maximum (or minimum) of all elements.
struct Extremum {
    max: bool,
}

impl<F: Float> Function<F> for Extremum {
    fn name(&self) -> &'static str {
        if self.max { "max" } else { "min" }
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let better = |a: F, b: F| if self.max { b > a } else { b < a };
        let mut it = xs[0].iter().copied();
        let first = it.next().ok_or("an empty variable has no extremum")?;
        let y = it.fold(first, |a, b| {
            if a.is_nan() || b.is_nan() {
                F::nan()
            } else if better(a, b) {
                b
            } else {
                a
            }
        });
        Ok(vec![ndarray::arr0(y).into_dyn()])
    }

    // gy shared evenly by the elements equal to the extremum (by the NaNs when it is NaN, as
    // PyTorch's)
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        ys: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let (x, y) = (xs[0], ys[0].try_item()?);
        let hit = |v: F| v == y || (v.is_nan() && y.is_nan());
        let hits = x.try_with_data(|a| a.mapv(|v| if hit(v) { F::one() } else { F::zero() }))?;
        let count = hits.iter().copied().sum::<F>();
        let share = x.graph.constant(hits / count);
        Ok(vec![Some(share.try_mul(gys[0])?)])
    }
}

/// The index of the first maximum (or minimum) along `axis`, NaN counting as the maximum.
fn arg_extremum<F: Float>(x: Var<'_, F>, axis: usize, max: bool) -> Result<ArrayD<usize>> {
    let op = if max { "argmax" } else { "argmin" };
    let shape = x.try_shape()?;
    super::check_axis(op, &shape, axis)?;
    if shape[axis] == 0 {
        return Err(Error::InvalidArgument {
            op,
            reason: format!("axis {axis} of shape {shape:?} is empty"),
        });
    }
    x.try_with_data(|a| {
        Zip::from(a.lanes(Axis(axis))).map_collect(|lane| {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                let b = lane[best];
                if b.is_nan() {
                    break;
                }
                if v.is_nan() || (max && v > b) || (!max && v < b) {
                    best = i;
                }
            }
            best
        })
    })
}

var_methods! {
    /// The maximum of all elements, 0-d (`torch.max()`); tied maxima share the gradient evenly,
    /// as PyTorch's. NaN anywhere gives NaN.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 3.0, 3.0]);
    /// let y = x.max();
    /// y.backward();
    /// assert_eq!(y.item(), 3.0);
    /// assert_eq!(x.grad().unwrap(), array![0.0, 0.5, 0.5].into_dyn());
    /// ```
    fn max / try_max(self) [] {
        Ok(self.graph.try_apply(Extremum { max: true }, &[self])?[0])
    }

    /// The minimum of all elements, 0-d (`torch.min()`); ties share the gradient evenly.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, -3.0]).min().item(), -3.0);
    /// ```
    fn min / try_min(self) [] {
        Ok(self.graph.try_apply(Extremum { max: false }, &[self])?[0])
    }
}

impl<F: Float> Var<'_, F> {
    /// The index of the first maximum along `axis`, which is removed (`torch.argmax(dim)`; NaN
    /// counts as the maximum). Not differentiable: an index array.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 5.0, 5.0], [7.0, 0.0, 2.0]]);
    /// assert_eq!(x.argmax(1), array![1, 0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_argmax`]'s error.
    #[track_caller]
    pub fn argmax(self, axis: usize) -> ArrayD<usize> {
        or_panic(self.try_argmax(axis))
    }

    /// Fallible [`Var::argmax`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_argmax(1).unwrap(), array![1usize, 1].into_dyn());
    /// assert!(matches!(x.try_argmax(2), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::InvalidArgument`] for an empty
    /// axis; [`Error::StaleVar`].
    pub fn try_argmax(self, axis: usize) -> Result<ArrayD<usize>> {
        arg_extremum(self, axis, true)
    }

    /// The index of the first minimum along `axis`, which is removed (`torch.argmin(dim)`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![[1.0, -5.0], [0.0, 2.0]]).argmin(0), array![1, 0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_argmin`]'s error.
    #[track_caller]
    pub fn argmin(self, axis: usize) -> ArrayD<usize> {
        or_panic(self.try_argmin(axis))
    }

    /// Fallible [`Var::argmin`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_argmin(1).unwrap(), array![0usize, 0].into_dyn());
    /// assert!(matches!(x.try_argmin(2), Err(Error::InvalidAxes { .. })));
    /// ```
    ///
    /// # Errors
    /// As [`Var::try_argmax`].
    pub fn try_argmin(self, axis: usize) -> Result<ArrayD<usize>> {
        arg_extremum(self, axis, false)
    }
}
