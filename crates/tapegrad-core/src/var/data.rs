//! A variable's value: read it (`data`, `with_data`), replace it (`set_data`) or change it in
//! place (`update_data`), as an optimizer does between steps.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};

use super::stale;
use crate::arena::Data;
use crate::error::{Result, or_panic};
use crate::{Float, Var};

impl<F: Float> Var<'_, F> {
    /// A copy of the value.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// assert_eq!((x + 1.0).data(), array![2.0, 3.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale (see [`Var::try_data`]).
    #[track_caller]
    pub fn data(self) -> ArrayD<F> {
        or_panic(self.try_data())
    }

    /// Fallible [`Var::data`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert_eq!(x.try_data().unwrap(), array![[0.5, 1.5]].into_dyn());
    /// g.clear();
    /// assert!(matches!(x.try_data(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_data(self) -> Result<ArrayD<F>> {
        self.with_val(|v| v.into_array())
    }

    /// Replaces the value (as DeZero's `x.data = ...`, e.g. for a gradient-descent update).
    /// Records nothing; ops recorded earlier keep the values they computed. A gradient of
    /// another shape than the new value is dropped.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// x.set_data(ndarray::arr0(2.0).into_dyn());
    /// assert_eq!(x.item(), 2.0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn set_data(self, data: ArrayD<F>) {
        let old_shape = or_panic(self.try_shape());
        if old_shape != data.shape() {
            self.cleargrad();
        }
        or_panic(self.graph.write()).set(self.id(), data);
    }

    /// Runs `f` on a view of the value, without copying it (for large arrays, where
    /// [`Var::data`]'s copy matters). `f` may read other variables, but must not record ops.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![3.0, 4.0]);
    /// assert_eq!(x.with_data(|v| v.iter().map(|a| a * a).sum::<f64>()), 25.0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale, or if `f` records an op on this graph (it is borrowed meanwhile).
    #[track_caller]
    pub fn with_data<R>(self, f: impl FnOnce(ArrayViewD<'_, F>) -> R) -> R {
        or_panic(self.try_with_data(f))
    }

    /// Fallible [`Var::with_data`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert_eq!(x.try_with_data(|v| v.sum()).unwrap(), 2.0);
    /// g.clear();
    /// assert!(matches!(x.try_with_data(|v| v.sum()), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_with_data<R>(self, f: impl FnOnce(ArrayViewD<'_, F>) -> R) -> Result<R> {
        self.with_val(|v| f(v.view()))
    }

    /// Changes the value in place through `f`: an optimizer's update without copying the array
    /// (`w -= lr * grad` as `w.update_data(|mut w| w.scaled_add(-lr, &grad))`). The shape stays;
    /// nothing is recorded, and ops recorded earlier keep the values they computed, as with
    /// [`Var::set_data`].
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let w = g.param(array![1.0, 2.0]);
    /// (w * w).sum().backward();
    /// let grad = w.take_grad().unwrap(); // 2w, moved out: w.grad() is None now
    /// w.update_data(|mut v| v.scaled_add(-0.25, &grad));
    /// assert_eq!(w.data(), array![0.5, 1.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale, or if `f` uses this graph (it is borrowed mutably meanwhile).
    #[track_caller]
    pub fn update_data(self, f: impl FnOnce(ArrayViewMutD<'_, F>)) {
        or_panic(self.try_update_data(f))
    }

    /// Fallible [`Var::update_data`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// x.try_update_data(|mut v| v.fill(1.0)).unwrap();
    /// assert_eq!(x.data(), array![[1.0, 1.0]].into_dyn());
    /// // reading the graph from inside the closure: it is busy
    /// let busy = x.try_update_data(|_| { let _ = x.try_data().unwrap_err(); });
    /// assert!(busy.is_ok());
    /// g.clear();
    /// assert!(matches!(x.try_update_data(|_| ()), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_update_data(self, f: impl FnOnce(ArrayViewMutD<'_, F>)) -> Result<()> {
        let mut inner = self.graph.write()?;
        let inner = &mut *inner;
        if !inner.nodes.contains_key(self.id()) {
            return Err(stale());
        }
        inner.note_change(self.id());
        let node = &mut inner.nodes[self.id()];
        match node.data() {
            Data::Array(k) => f(inner.arrays[k as usize].view_mut()),
            Data::Scalar(_) => f(ndarray::aview_mut1(std::slice::from_mut(node.scalar_mut()))
                .into_shape_with_order(())
                .unwrap_or_else(|_| unreachable!("one element"))
                .into_dyn()),
        }
        Ok(())
    }
}
