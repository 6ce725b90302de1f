//! The backward pass: one iterative reverse sweep over the tape.
//!
//! Tape order is topological (an op is recorded after its inputs exist), so walking the tape from
//! the output's record down to the first record visits every op after all the ops that consume its
//! outputs: when an op is reached, its outputs' gradients are complete. The sweep keeps this pass's
//! gradients in a small table of *pending* gradients, separate from the gradients stored on the
//! variables, so a gradient kept from an earlier pass is never pushed again (PyTorch's semantics):
//!
//! ```text
//! pending = { y: ones_like(y) }
//! for record in tape[..=creator(y)].rev():        // no recursion, no priority queue
//!     gy = take pending[record.output]           // skip the record if it has none
//!     store or free gys (retain_grad)            // intermediate gradients die here
//!     gxs = record.op.backward(xs, y, gy)        // the rule: one optional gradient per input
//!     pending[input] += gx                       // the only place gradients are added
//! stored_grad[leaf] += pending[leaf]             // what is left are leaves
//! ```
//!
//! The rule runs on arrays (nothing recorded) or, with `create_graph`, on variables (recorded, so
//! the gradients can be differentiated again). Both go through the same loop and the same rule.

use ndarray::ArrayD;

use crate::engine::Inside;
use crate::error::{Error, Result, or_panic};
use crate::scalar_sweep::sweep_scalars;
use crate::sweep::{ArrayMode, Sink, VarMode, sweep};
use crate::{Float, Graph, Var};

/// Options of [`Var::backward_with`].
///
/// ```
/// use tapegrad_core::BackwardOptions;
/// let opts = BackwardOptions { retain_grad: true, ..Default::default() };
/// assert!(!opts.create_graph);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the gradients of intermediate (non-leaf) variables. Off by default: they are freed as
    /// soon as the sweep has used them, and their `grad()` is `None` afterwards.
    pub retain_grad: bool,
    /// Record the backward computation on the tape, so that gradients are variables that can be
    /// differentiated again (higher-order derivatives).
    pub create_graph: bool,
}

impl<'g, F: Float> Var<'g, F> {
    /// Backpropagates from this variable with seed `ones_like(self)`: adds `d sum(self) / dv` to
    /// the gradient of every variable `v` it depends on. Intermediate gradients are freed.
    ///
    /// The sweep is a loop, never recursive: a chain of millions of ops is fine. Calling it again
    /// adds the same gradients again (call [`Var::cleargrad`] in between to start over).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let (a, b, c) = (g.scalar(3.0), g.scalar(2.0), g.scalar(1.0));
    /// let y = a * b + c;
    /// y.backward();
    /// assert_eq!(y.item(), 7.0);
    /// assert_eq!(a.grad().unwrap()[[]], 2.0);
    /// assert_eq!(b.grad().unwrap()[[]], 3.0);
    /// assert!(y.grad().is_none()); // intermediate: freed (see `backward_with`)
    /// ```
    ///
    /// # Panics
    /// If the handle is stale (see [`Var::try_backward`]).
    #[track_caller]
    pub fn backward(self) {
        or_panic(self.try_backward_with(BackwardOptions::default()))
    }

    /// [`Var::backward`] with options: keep intermediate gradients, or record the backward pass
    /// for higher-order derivatives.
    ///
    /// ```
    /// use tapegrad_core::BackwardOptions;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// let t = x.square();
    /// let y = t.exp();
    /// y.backward_with(BackwardOptions { retain_grad: true, ..Default::default() });
    /// assert_eq!(y.grad().unwrap()[[]], 1.0);
    /// assert_eq!(t.grad().unwrap()[[]], 4f64.exp());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn backward_with(self, opts: BackwardOptions) {
        or_panic(self.try_backward_with(opts))
    }

    /// Fallible [`Var::backward`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(3.0);
    /// let y = x * x;
    /// y.try_backward().unwrap();
    /// assert_eq!(x.grad().unwrap()[[]], 6.0); // 2 x
    /// g.clear(); // `y` is now a handle from before the clear
    /// assert!(matches!(y.try_backward(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`] after the graph was cleared.
    pub fn try_backward(self) -> Result<()> {
        self.try_backward_with(BackwardOptions::default())
    }

    /// Fallible [`Var::backward_with`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// use tapegrad_core::BackwardOptions;
    /// let x = g.scalar(3.0);
    /// let y = x * x;
    /// y.try_backward_with(BackwardOptions::default()).unwrap();
    /// assert_eq!(x.grad().unwrap()[[]], 6.0);
    /// g.clear();
    /// assert!(matches!(y.try_backward_with(BackwardOptions::default()), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`] after the graph was cleared; [`Error::Anomaly`] with anomaly detection on
    /// (the gradients stored before the anomaly stay).
    pub fn try_backward_with(self, opts: BackwardOptions) -> Result<()> {
        F::backward_from(Inside, self, None, opts)
    }

    /// Backpropagates `seed` (PyTorch's `y.backward(gradient)`) instead of ones: the gradient of
    /// `sum(seed * self)`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// let y = x * 3.0;
    /// y.try_backward_with_grad(array![10.0, 100.0].into_dyn(), Default::default()).unwrap();
    /// assert_eq!(x.grad().unwrap(), array![30.0, 300.0].into_dyn());
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (op `backward`) for a seed of another shape than `self`;
    /// otherwise as [`Var::try_backward_with`].
    pub fn try_backward_with_grad(self, seed: ArrayD<F>, opts: BackwardOptions) -> Result<()> {
        let shape = self.try_shape()?;
        if shape != seed.shape() {
            return Err(Error::ShapeMismatch {
                op: "backward",
                lhs: shape,
                rhs: seed.shape().to_vec(),
            });
        }
        F::backward_from(Inside, self, Some(seed), opts)
    }

    /// The backward pass from `self`, compiled once for each element type, in this crate
    /// ([`Engine`](crate::engine::Engine)).
    pub(crate) fn backward_here(
        self,
        seed: Option<ArrayD<F>>,
        opts: BackwardOptions,
    ) -> Result<()> {
        let id = self.graph.check(self, "backward")?;
        if opts.retain_grad {
            self.graph.inner.borrow_mut().retained = true;
        }
        let sink = Sink::Stored {
            retain: opts.retain_grad,
        };
        let all_numbers = {
            let inner = self.graph.inner.borrow();
            inner.arrays.is_empty() && !inner.functions && inner.modified.is_empty()
        };
        if !opts.create_graph && all_numbers {
            // Every value of the graph is a number: the same sweep, on plain numbers.
            let seed = seed.map_or(F::one(), |s| {
                s.iter().copied().next().unwrap_or_else(F::one)
            });
            return sweep_scalars(self.graph, id, seed, opts.retain_grad);
        }
        if opts.create_graph {
            sweep(&VarMode(self.graph), &[id], seed, sink).map(drop)
        } else {
            sweep(&ArrayMode(self.graph), &[id], seed, sink).map(drop)
        }
    }
}

/// Gradients of the sum of all elements of `outputs` with respect to `inputs`, as
/// `torch.autograd.grad`: touches no variable's `.grad`. An input that no output depends on gets
/// zeros. With `create_graph` the results can be differentiated again.
///
/// ```
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let x = g.scalar(2.0);
/// let y = x.powf(3.0);
/// let gx = tapegrad_core::grad(&[y], &[x], true)[0]; // 3x^2 = 12
/// let ggx = tapegrad_core::grad(&[gx], &[x], false)[0]; // 6x = 12
/// assert_eq!((gx.item(), ggx.item()), (12.0, 12.0));
/// assert!(x.grad().is_none());
/// ```
///
/// # Panics
/// With the message of [`try_grad`]'s error.
#[track_caller]
pub fn grad<'g, F: Float>(
    outputs: &[Var<'g, F>],
    inputs: &[Var<'g, F>],
    create_graph: bool,
) -> Vec<Var<'g, F>> {
    or_panic(try_grad(outputs, inputs, create_graph))
}

/// Fallible [`grad`] (not [`Var::try_grad`], which reads a variable's stored gradient).
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::array};
/// let g: Graph = Graph::new();
/// use tapegrad_core::try_grad;
/// let x = g.scalar(3.0);
/// let y = x * x;
/// let gx = try_grad(&[y], &[x], false).unwrap();
/// assert_eq!(gx[0].item(), 6.0);
/// g.clear();
/// assert!(matches!(try_grad(&[y], &[x], false), Err(Error::StaleVar)));
/// ```
///
/// # Errors
/// [`Error::GraphMismatch`] if the variables are not all of one graph, [`Error::StaleVar`] for a
/// handle from before a `clear`, [`Error::InvalidArgument`] for an input that is a constant
/// ([`Graph::constant`](crate::Graph::constant), or made from constants only). Empty `outputs`
/// give zeros for every input.
pub fn try_grad<'g, F: Float>(
    outputs: &[Var<'g, F>],
    inputs: &[Var<'g, F>],
    create_graph: bool,
) -> Result<Vec<Var<'g, F>>> {
    F::grad(Inside, outputs, inputs, create_graph) // (compiled once for each element type: `Engine`)
}

/// [`try_grad`]'s body.
pub(crate) fn grad_here<'g, F: Float>(
    outputs: &[Var<'g, F>],
    inputs: &[Var<'g, F>],
    create_graph: bool,
) -> Result<Vec<Var<'g, F>>> {
    let Some(graph) = outputs.iter().chain(inputs).next().map(|v| v.graph) else {
        return Ok(Vec::new());
    };
    let seeds = outputs
        .iter()
        .map(|&v| graph.check(v, "grad"))
        .collect::<Result<Vec<_>>>()?;
    let wanted = inputs
        .iter()
        .map(|&v| graph.check(v, "grad"))
        .collect::<Result<Vec<_>>>()?;
    // (as PyTorch, which refuses an input that does not require grad)
    if let Some(i) = inputs.iter().position(|v| v.is_constant()) {
        return Err(Error::InvalidArgument {
            op: "grad",
            reason: format!("input {i} is a constant: no gradient flows to it"),
        });
    }
    let sink = Sink::Capture(&wanted);
    let found: Vec<Option<Var<'g, F>>> = if create_graph {
        let vars = sweep(&VarMode(graph), &seeds, None, sink)?;
        vars.into_iter()
            .map(|g| g.map(|id| Var::from_id(graph, id)))
            .collect()
    } else {
        let arrays = sweep(&ArrayMode(graph), &seeds, None, sink)?;
        arrays
            .into_iter()
            .map(|g| g.map(|v| graph.leaf(v.into_array())))
            .collect()
    };
    Ok(found
        .into_iter()
        .zip(inputs)
        .map(|(g, x)| g.unwrap_or_else(|| graph.leaf(ArrayD::zeros(x.shape()))))
        .collect())
}

/// Hessian-vector product `H v` of the scalar function `sum(f(x))` at `x`, forward over
/// reverse: the directional derivative of the recorded gradient along `v`, one forward sweep.
/// `x` and `v` are lists of arrays of matching shapes.
///
/// ```
/// use ndarray::{arr0, ArrayD};
/// // f(x) = x^3: f'' = 6x, so H v at x = 2, v = 0.5 is 6
/// let hv = tapegrad_core::hvp(|xs| xs[0].powf(3.0), &[arr0(2.0).into_dyn()], &[arr0(0.5).into_dyn()]).unwrap();
/// assert_eq!(hv[0][[]], 6.0);
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `hvp`) if `x` and `v` differ in length or in a shape.
pub fn hvp<F: Float, Fun>(f: Fun, x: &[ArrayD<F>], v: &[ArrayD<F>]) -> Result<Vec<ArrayD<F>>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    check_directions("hvp", x, v)?;
    let g = Graph::new();
    let xs: Vec<_> = x.iter().map(|a| g.var(a.clone())).collect();
    let gs = try_grad(&[f(&xs)], &xs, true)?;
    let seeds: Vec<_> = xs.iter().map(|x| x.id()).zip(v.iter().cloned()).collect();
    let ids: Vec<_> = gs.iter().map(|g| g.id()).collect();
    crate::forward::tangents(&g, &seeds, &ids)
}

/// Vector-Hessian product `v^T H` of the scalar function `sum(f(x))` at `x`
/// (`torch.autograd.functional.vhp`), by double backprop: the gradient of `grad f(x) . v`. The
/// same numbers as [`hvp`] wherever `f` is twice continuously differentiable (`H` symmetric).
///
/// ```
/// use ndarray::array;
/// // f(x) = x0^2 x1: H = [[2 x1, 2 x0], [2 x0, 0]]; at (3, 5), v = (1, 0): v^T H = (10, 6)
/// let x = [array![3.0].into_dyn(), array![5.0].into_dyn()];
/// let v = [array![1.0].into_dyn(), array![0.0].into_dyn()];
/// let vh = tapegrad_core::vhp(|xs| xs[0].square() * xs[1], &x, &v).unwrap();
/// assert_eq!((vh[0][0], vh[1][0]), (10.0, 6.0));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `vhp`) if `x` and `v` differ in length or in a shape.
pub fn vhp<F: Float, Fun>(f: Fun, x: &[ArrayD<F>], v: &[ArrayD<F>]) -> Result<Vec<ArrayD<F>>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    check_directions("vhp", x, v)?;
    let g = Graph::new();
    let xs: Vec<_> = x.iter().map(|a| g.var(a.clone())).collect();
    let gs = try_grad(&[f(&xs)], &xs, true)?;
    let dots = gs
        .iter()
        .zip(v)
        .map(|(&gk, vk)| gk.try_mul(vk.clone()))
        .collect::<Result<Vec<_>>>()?;
    try_grad(&dots, &xs, false)?
        .iter()
        .map(|h| h.try_data())
        .collect()
}

/// `x` and `v` agree in length and in every shape, or `op`'s shape mismatch.
fn check_directions<F: Float>(op: &'static str, x: &[ArrayD<F>], v: &[ArrayD<F>]) -> Result<()> {
    if x.len() != v.len() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: vec![x.len()],
            rhs: vec![v.len()],
        });
    }
    for (a, b) in x.iter().zip(v) {
        if a.shape() != b.shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
            });
        }
    }
    Ok(())
}
