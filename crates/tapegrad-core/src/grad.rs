//! A variable's gradient: reading it (`grad`, `grad_var`, `grad_shape`), moving it out
//! (`take_grad`) and forgetting it (`cleargrad`). Computing it is `backward.rs`'s job.

use ndarray::ArrayD;

use crate::arena::Grad;
use crate::error::Result;
use crate::error::or_panic;
use crate::var::stale;
use crate::{Float, Var};

impl<'g, F: Float> Var<'g, F> {
    /// Moves the gradient out, leaving none (a [`Var::grad`] and a [`Var::cleargrad`] in one,
    /// without copying the array): what an optimizer step wants.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// x.square().backward();
    /// assert_eq!(x.take_grad().unwrap()[[]], 6.0);
    /// assert!(x.grad().is_none());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn take_grad(self) -> Option<ArrayD<F>> {
        or_panic(self.try_take_grad())
    }

    /// Fallible [`Var::take_grad`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(3.0);
    /// (x * x).backward();
    /// assert_eq!(x.try_take_grad().unwrap().unwrap()[[]], 6.0);
    /// assert!(x.try_take_grad().unwrap().is_none()); // taken
    /// g.clear();
    /// assert!(matches!(x.try_take_grad(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_take_grad(self) -> Result<Option<ArrayD<F>>> {
        let mut inner = self.graph.write()?;
        inner.nodes.get(self.id()).ok_or_else(stale)?;
        Ok(inner.grads.remove(self.id()).map(|g| match g {
            Grad::Array(a) => *a,
            g => inner.grad_array(&g),
        }))
    }

    /// The accumulated gradient, or `None` before a backward pass reached this variable (and for
    /// intermediate variables whose gradient the pass freed).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// assert!(x.grad().is_none());
    /// (x + x).backward();
    /// assert_eq!(x.grad().unwrap()[[]], 2.0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale (see [`Var::try_grad`]).
    #[track_caller]
    pub fn grad(self) -> Option<ArrayD<F>> {
        // A number's gradient is built here, in the value returned: built by `try_grad` and
        // moved out of its `Result`, the array (112 bytes) would be copied through memory.
        let number = match self.graph.inner.try_borrow() {
            Ok(inner) if inner.nodes.contains_key(self.id()) => match inner.grads.get(self.id()) {
                None => return None,
                Some(&Grad::Scalar(s)) => Some(s),
                Some(_) => None,
            },
            _ => None, // (`try_grad` names the error)
        };
        match number {
            Some(s) => Some(ndarray::arr0(s).into_dyn()),
            None => or_panic(self.try_grad()),
        }
    }

    /// Fallible [`Var::grad`]: this variable's stored gradient, as every `try_` method is the
    /// fallible form of its plain twin. Not to be confused with the free function
    /// [`try_grad`](crate::try_grad), the fallible form of [`grad`](crate::grad)
    /// (`torch.autograd.grad`), which computes gradients without storing them.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// assert_eq!(x.try_grad().unwrap(), None); // no backward pass yet
    /// g.clear();
    /// assert!(x.try_grad().is_err()); // stale
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_grad(self) -> Result<Option<ArrayD<F>>> {
        let inner = self.graph.read()?;
        inner.nodes.get(self.id()).ok_or_else(stale)?;
        Ok(inner.grads.get(self.id()).map(|g| inner.grad_array(g)))
    }

    /// The gradient as a variable of the graph, differentiable when it was computed with
    /// `create_graph` (otherwise a leaf holding the value). `None` when there is no gradient.
    ///
    /// ```
    /// use tapegrad_core::BackwardOptions;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// x.powf(3.0).backward_with(BackwardOptions { create_graph: true, ..Default::default() });
    /// let gx = x.grad_var().unwrap(); // 3x^2 = 27, itself a function of x
    /// x.cleargrad();
    /// gx.backward();
    /// assert_eq!((gx.item(), x.grad().unwrap()[[]]), (27.0, 18.0)); // 6x = 18
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn grad_var(self) -> Option<Var<'g, F>> {
        or_panic(self.try_grad_var())
    }

    /// Fallible [`Var::grad_var`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(3.0);
    /// (x * x).backward();
    /// assert_eq!(x.try_grad_var().unwrap().unwrap().item(), 6.0);
    /// g.clear();
    /// assert!(matches!(x.try_grad_var(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_grad_var(self) -> Result<Option<Var<'g, F>>> {
        let array = {
            let mut inner = self.graph.write()?;
            inner.nodes.get(self.id()).ok_or_else(stale)?;
            match inner.grads.remove(self.id()) {
                None => return Ok(None),
                Some(Grad::Var(id)) => {
                    inner.grads.insert(self.id(), Grad::Var(id));
                    return Ok(Some(Var::from_id(self.graph, id)));
                }
                Some(Grad::Array(a)) => *a,
                Some(Grad::Scalar(s)) => ndarray::arr0(s).into_dyn(),
            }
        };
        // Move the array into a leaf so that the handle stays the same on later calls.
        let leaf = self.graph.leaf(array);
        self.graph
            .write()?
            .grads
            .insert(self.id(), Grad::Var(leaf.id()));
        Ok(Some(leaf))
    }

    /// Forgets the gradient (DeZero's `cleargrad`), e.g. before a second backward pass.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// (x + x).backward();
    /// x.cleargrad();
    /// assert!(x.grad().is_none());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn cleargrad(self) {
        or_panic(self.with_inner_mut(|inner| drop(inner.grads.remove(self.id()))))
    }

    /// The shape of the accumulated gradient, without copying it; `None` when there is none.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0, 3.0]]);
    /// assert_eq!(x.grad_shape(), None);
    /// x.sum().backward();
    /// assert_eq!(x.grad_shape(), Some(vec![1, 3]));
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn grad_shape(self) -> Option<Vec<usize>> {
        or_panic(self.try_grad_shape())
    }

    /// Fallible [`Var::grad_shape`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// assert_eq!(x.try_grad_shape().unwrap(), None);
    /// x.sum().backward();
    /// assert_eq!(x.try_grad_shape().unwrap(), Some(vec![2]));
    /// g.clear();
    /// assert!(matches!(x.try_grad_shape(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_grad_shape(self) -> Result<Option<Vec<usize>>> {
        let inner = self.graph.read()?;
        inner.nodes.get(self.id()).ok_or_else(stale)?;
        Ok(inner.grads.get(self.id()).map(|g| match g {
            Grad::Scalar(_) => Vec::new(),
            Grad::Array(a) => a.shape().to_vec(),
            &Grad::Var(v) => inner.view_shape(v).to_vec(),
        }))
    }

    /// A constant with this variable's value (PyTorch's `detach`): no gradient flows back
    /// through it, at any order.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(3.0);
    /// let y = x * x.detach(); // d/dx = x (the detached factor is a constant)
    /// y.backward();
    /// assert_eq!(x.grad().unwrap()[[]], 3.0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn detach(self) -> Var<'g, F> {
        or_panic(self.try_detach())
    }

    /// Fallible [`Var::detach`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = (x * x).try_detach().unwrap();
    /// assert_eq!(y.item(), 4.0);
    /// g.clear();
    /// assert!(matches!(y.try_detach(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) after the graph was cleared.
    pub fn try_detach(self) -> Result<Var<'g, F>> {
        Ok(self.graph.constant(self.try_data()?))
    }
}
