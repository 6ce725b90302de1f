//! Indexing by an index array, PyTorch's way: `gather` and its adjoint `scatter_add`, as
//! [`Function`]s; `index_select` (PyTorch's name for `select`).
//!
//! | op | y | gradients |
//! |---|---|---|
//! | gather(a, idx) | y[i][j] = x[idx[i][j]][j] (for a = 0) | scatter of gy into zeros of x's shape |
//! | scatter_add(a, idx, src) | x, plus src[i][j] added at [idx[i][j]][j] | gy; gather(gy) |

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::check_axis;
use crate::error::{Error, Result, or_panic};
use crate::{Float, Function, Var};

/// The position in `x` that element `pos` of an index array reads or writes along `axis`.
fn target(pos: &IxDyn, axis: usize, i: usize) -> IxDyn {
    let mut t = pos.clone();
    t[axis] = i;
    t
}

/// `index` can index a variable of shape `x` along `axis` (PyTorch's rule: same number of axes,
/// no longer than `x` in the other axes, every entry below `x`'s length along `axis`).
fn check_index(op: &'static str, x: &[usize], axis: usize, index: &ArrayD<usize>) -> Result<()> {
    check_axis(op, x, axis)?;
    let fits =
        index.ndim() == x.len() && (0..x.len()).all(|d| d == axis || index.shape()[d] <= x[d]);
    if !fits {
        return Err(Error::ShapeMismatch {
            op,
            lhs: x.to_vec(),
            rhs: index.shape().to_vec(),
        });
    }
    match index.iter().find(|&&i| i >= x[axis]) {
        Some(&i) => Err(Error::IndexOutOfBounds {
            op,
            index: i,
            len: x[axis],
        }),
        None => Ok(()),
    }
}

/// `gather`: reads `x` at `index` along `axis`.
struct Gather {
    axis: usize,
    index: ArrayD<usize>,
}

impl<F: Float> Function<F> for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let x = &xs[0];
        let y = ArrayD::from_shape_fn(self.index.raw_dim(), |pos| {
            x[target(&pos, self.axis, self.index[&pos])]
        });
        Ok(vec![y])
    }

    // d gather = scatter the gradient back (adding where an index repeats)
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let scatter = Scatter {
            axis: self.axis,
            index: self.index.clone(),
            shape: xs[0].try_shape()?,
        };
        Ok(vec![Some(xs[0].graph.try_apply(scatter, &[gys[0]])?[0])])
    }
}

/// Adds `src` at `index` along `axis` into zeros of `shape`: `gather`'s adjoint.
struct Scatter {
    axis: usize,
    index: ArrayD<usize>,
    shape: Vec<usize>,
}

impl<F: Float> Function<F> for Scatter {
    fn name(&self) -> &'static str {
        "scatter_add"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let mut y = ArrayD::zeros(self.shape.clone());
        for (pos, &i) in self.index.indexed_iter() {
            y[target(&pos, self.axis, i)] += xs[0][&pos];
        }
        Ok(vec![y])
    }

    // d scatter = gather the gradient at the same places
    fn backward<'g>(
        &self,
        _: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        Ok(vec![Some(gys[0].try_gather(self.axis, &self.index)?)])
    }
}

impl<'g, F: Float> Var<'g, F> {
    /// Elements of `self` picked along `axis` by `index` (`torch.gather`): for a 2-D variable and
    /// `axis = 1`, `y[i][j] = self[i][index[i][j]]`. `index` has as many axes as `self`, is no
    /// longer in the other axes, and the result has its shape. Repeated indices add up their
    /// gradients.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// let y = x.gather(1, &array![[0, 0], [1, 0]].into_dyn());
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![[1.0, 1.0], [4.0, 3.0]].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![[2.0, 0.0], [1.0, 1.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_gather`]'s error.
    #[track_caller]
    pub fn gather(self, axis: usize, index: &ArrayD<usize>) -> Var<'g, F> {
        or_panic(self.try_gather(axis, index))
    }

    /// Fallible [`Var::gather`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// let index = array![[1usize], [0]].into_dyn();
    /// assert_eq!(x.try_gather(1, &index).unwrap().data(), array![[2.0], [3.0]].into_dyn());
    /// let beyond = array![[2usize], [0]].into_dyn();
    /// assert!(matches!(x.try_gather(1, &beyond), Err(Error::IndexOutOfBounds { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAxes`] for an axis out of range; [`Error::ShapeMismatch`] for an index
    /// array of another number of axes or longer than `self` in an axis other than `axis`;
    /// [`Error::IndexOutOfBounds`] for an index past the axis; [`Error::StaleVar`].
    pub fn try_gather(self, axis: usize, index: &ArrayD<usize>) -> Result<Var<'g, F>> {
        check_index("gather", &self.try_shape()?, axis, index)?;
        let f = Gather {
            axis,
            index: index.clone(),
        };
        Ok(self.graph.try_apply(f, &[self])?[0])
    }

    /// `self` with each element of `src` added at the place `index` names along `axis`
    /// (`torch.scatter_add`): for a 2-D variable and `axis = 0`,
    /// `y[index[i][j]][j] += src[i][j]`. `index` and `src` have one shape, with as many axes as
    /// `self` and no longer in the other axes. The gradient of `self` is `gy`, that of `src`
    /// `gy.gather(axis, index)`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![0.0, 0.0, 0.0]);
    /// let src = g.var(array![1.0, 2.0, 3.0]);
    /// let y = x.scatter_add(0, &array![2, 0, 2].into_dyn(), src);
    /// assert_eq!(y.data(), array![2.0, 0.0, 4.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_scatter_add`]'s error.
    #[track_caller]
    pub fn scatter_add(self, axis: usize, index: &ArrayD<usize>, src: Var<'g, F>) -> Var<'g, F> {
        or_panic(self.try_scatter_add(axis, index, src))
    }

    /// Fallible [`Var::scatter_add`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(ndarray::Array2::<f64>::zeros((2, 2)));
    /// let src = g.var(array![[1.0], [2.0]]);
    /// let index = array![[1usize], [0]].into_dyn();
    /// let y = x.try_scatter_add(1, &index, src).unwrap();
    /// assert_eq!(y.data(), array![[0.0, 1.0], [2.0, 0.0]].into_dyn());
    /// g.clear();
    /// assert!(matches!(x.try_scatter_add(1, &index, src), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// As [`Var::try_gather`]; [`Error::ShapeMismatch`] when `src` and `index` differ in shape;
    /// [`Error::GraphMismatch`] for a `src` of another graph.
    pub fn try_scatter_add(
        self,
        axis: usize,
        index: &ArrayD<usize>,
        src: Var<'g, F>,
    ) -> Result<Var<'g, F>> {
        let shape = self.try_shape()?;
        self.graph.check(src, "scatter_add")?;
        let src_shape = src.try_shape()?;
        if src_shape != index.shape() {
            return Err(Error::ShapeMismatch {
                op: "scatter_add",
                lhs: src_shape,
                rhs: index.shape().to_vec(),
            });
        }
        check_index("scatter_add", &shape, axis, index)?;
        let f = Scatter {
            axis,
            index: index.clone(),
            shape,
        };
        let added = self.graph.try_apply(f, &[src])?[0];
        self.try_add(added)
    }

    /// PyTorch's name for [`Var::select`]: the slices at `indices` along `axis`, repeats allowed.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.index_select(0, &[1, 1]).data(), array![[3.0, 4.0], [3.0, 4.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_index_select`]'s error.
    #[track_caller]
    pub fn index_select(self, axis: usize, indices: &[usize]) -> Var<'g, F> {
        or_panic(self.try_index_select(axis, indices))
    }

    /// Fallible [`Var::index_select`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.try_index_select(0, &[1]).unwrap().data(), array![[3.0, 4.0]].into_dyn());
    /// assert!(matches!(x.try_index_select(0, &[2]), Err(Error::IndexOutOfBounds { .. })));
    /// ```
    ///
    /// # Errors
    /// As [`Var::try_select`].
    pub fn try_index_select(self, axis: usize, indices: &[usize]) -> Result<Var<'g, F>> {
        self.try_select(axis, indices)
            .map_err(|e| e.named("index_select"))
    }
}
