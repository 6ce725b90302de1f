//! User-defined differentiable functions (DeZero's `Function`, PyTorch's `autograd.Function`):
//! a forward on arrays with any number of inputs and outputs, and a backward written once with
//! `Var` ops, recorded as one tape entry by [`Graph::apply`].
//!
//! The backward runs on graph variables in both kinds of pass. With `create_graph` its ops are
//! recorded, so its gradients are differentiable again; without it nothing is recorded, and the
//! variables it makes are temporary: they are removed from the arena as soon as it returns
//! ([`run_backward`]), so repeated passes do not grow the graph.

use ndarray::{ArrayD, ArrayViewD};
use smallvec::SmallVec;

use crate::arena::{CONST, Data, Inner, LEAF, VarId};
use crate::engine::Inside;
use crate::error::{Error, Result, or_panic};
use crate::tape::Args;
use crate::{Float, Graph, Var};

/// A differentiable function of any number of inputs and outputs, written by its user.
///
/// `forward` computes the outputs' values from the inputs' values; `backward` computes the
/// inputs' gradients from the outputs' gradients `gys`, with [`Var`] ops, so that it works at
/// every order (with `create_graph` its result is differentiable again). [`Graph::apply`] records
/// the whole function as one tape entry.
///
/// # Examples
/// A numerically stable softplus, `ln(1 + e^x)`, with derivative `sigmoid(x)`:
/// ```
/// use tapegrad_core::ndarray::{ArrayD, ArrayViewD};
/// use tapegrad_core::{Function, Graph, Result, Var};
///
/// struct Softplus;
///
/// impl Function for Softplus {
///     fn name(&self) -> &'static str {
///         "softplus"
///     }
///     // max(x, 0) + ln(1 + e^-|x|): no overflow for large x
///     fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
///         Ok(vec![xs[0].mapv(|x| x.max(0.0) + (-x.abs()).exp().ln_1p())])
///     }
///     // d/dx softplus(x) = sigmoid(x)
///     fn backward<'g>(
///         &self,
///         xs: &[Var<'g>],
///         _ys: &[Var<'g>],
///         gys: &[Var<'g>],
///     ) -> Result<Vec<Option<Var<'g>>>> {
///         Ok(vec![Some(gys[0] * xs[0].sigmoid())])
///     }
/// }
///
/// let g: Graph = Graph::new();
/// let x = g.scalar(1000.0);
/// let y = g.apply(Softplus, &[x])[0];
/// y.backward();
/// assert_eq!(y.item(), 1000.0);
/// assert_eq!(x.grad().unwrap()[[]], 1.0);
/// ```
pub trait Function<F: Float = f64>: Send + 'static {
    /// The function's name, used in errors and graph exports.
    fn name(&self) -> &'static str;

    /// The outputs' values (at least one) from the inputs' values. An input it cannot take (a
    /// shape, a value) is an `Err` with the reason: [`Graph::try_apply`] returns it as
    /// [`Error::InvalidArgument`] naming the function, and records nothing.
    ///
    /// # Errors
    /// The reason the inputs cannot be taken.
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String>;

    /// The inputs' gradients, one per input (`None` for an input that takes none, such as a
    /// label), from the inputs `xs`, the outputs `ys` and the outputs' gradients `gys` (zeros for
    /// an output no gradient reached). Each gradient must have its input's shape.
    ///
    /// # Errors
    /// Whatever an op it uses returns (write `?` after `try_*` ops); it ends the backward pass.
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        ys: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>>;

    /// An optional fast path for a function of one output and one or two inputs: its value and
    /// its local derivatives `dy/dx_k` (0 in an unused second slot) on 0-d inputs, without
    /// arrays. When it returns `Some`, a call on numbers is recorded as a built-in op of numbers
    /// is, and an all-number graph keeps its fast sweep; the gradient of the gradient
    /// (`create_graph`) still comes from [`Function::backward`], so the two must agree
    /// (`gradient_check` on 0-d inputs checks this path, `gradgrad_check` the other). `None`,
    /// the default, always takes `forward` and `backward`.
    ///
    /// ```
    /// # use tapegrad_core::ndarray::{ArrayD, ArrayViewD};
    /// # use tapegrad_core::{Function, Graph, Result, Var};
    /// struct Cube;
    /// impl Function for Cube {
    ///     fn name(&self) -> &'static str { "cube" }
    ///     fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
    ///         Ok(vec![xs[0].mapv(|x| x * x * x)])
    ///     }
    ///     fn backward<'g>(&self, xs: &[Var<'g>], _: &[Var<'g>], gys: &[Var<'g>])
    ///         -> Result<Vec<Option<Var<'g>>>> {
    ///         Ok(vec![Some(gys[0] * xs[0].square() * 3.0)])
    ///     }
    ///     // y = x^3, dy/dx = 3 x^2
    ///     fn on_numbers(&self, xs: &[f64]) -> Option<(f64, [f64; 2])> {
    ///         Some((xs[0].powi(3), [3.0 * xs[0] * xs[0], 0.0]))
    ///     }
    /// }
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(2.0);
    /// let y = g.apply(Cube, &[x])[0];
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (8.0, 12.0));
    /// let gx = tapegrad_core::grad(&[y], &[x], true)[0]; // through `backward`
    /// assert_eq!(tapegrad_core::grad(&[gx], &[x], false)[0].item(), 12.0); // 6x
    /// ```
    fn on_numbers(&self, xs: &[F]) -> Option<(F, [F; 2])> {
        let _ = xs;
        None
    }

    /// An optional forward-mode rule: the outputs' tangents (`None` for zero) from the inputs
    /// `xs`, the outputs `ys` and the inputs' tangents `txs` (`None` for zero), each tangent of
    /// its variable's shape. Forward mode ([`jvp`](crate::jvp), forward
    /// [`jacobian`](crate::jacobian)s) uses it when it returns `Some`. `None`, the default,
    /// derives the tangents from [`Function::backward`]: `J t` is the derivative in `u` of
    /// `<J^T u, t>`, two small reverse sweeps over the backward alone.
    ///
    /// ```
    /// # use tapegrad_core::ndarray::{array, ArrayD, ArrayViewD};
    /// # use tapegrad_core::{Function, Result, Var};
    /// struct Double;
    /// impl Function for Double {
    ///     fn name(&self) -> &'static str { "double" }
    ///     fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
    ///         Ok(vec![&xs[0] * 2.0])
    ///     }
    ///     fn backward<'g>(&self, _: &[Var<'g>], _: &[Var<'g>], gys: &[Var<'g>])
    ///         -> Result<Vec<Option<Var<'g>>>> {
    ///         Ok(vec![Some(gys[0] * 2.0)])
    ///     }
    ///     // linear: the tangent is doubled as the value is
    ///     fn jvp(&self, _: &[ArrayViewD<'_, f64>], _: &[ArrayViewD<'_, f64>],
    ///         txs: &[Option<ArrayViewD<'_, f64>>]) -> Option<Result<Vec<Option<ArrayD<f64>>>, String>> {
    ///         Some(Ok(vec![txs[0].as_ref().map(|t| t * 2.0)]))
    ///     }
    /// }
    /// let (ys, ts) = tapegrad_core::jvp(
    ///     |xs| xs[0].graph().apply(Double, xs),
    ///     &[array![1.0, 2.0].into_dyn()],
    ///     &[array![0.5, 1.0].into_dyn()],
    /// ).unwrap();
    /// assert_eq!((ys[0].clone(), ts[0].clone()), (array![2.0, 4.0].into_dyn(), array![1.0, 2.0].into_dyn()));
    /// ```
    #[allow(clippy::type_complexity)]
    fn jvp(
        &self,
        xs: &[ArrayViewD<'_, F>],
        ys: &[ArrayViewD<'_, F>],
        txs: &[Option<ArrayViewD<'_, F>>],
    ) -> Option<Result<Vec<Option<ArrayD<F>>>, String>> {
        let _ = (xs, ys, txs);
        None
    }
}

impl<F: Float> Graph<F> {
    /// Applies the function `f` to `inputs` and records it as one tape entry; returns its
    /// outputs. See [`Function`] for the trait.
    ///
    /// ```
    /// use tapegrad_core::ndarray::{ArrayD, ArrayViewD};
    /// use tapegrad_core::{Function, Graph, Result, Var};
    /// /// `y = 2 x`.
    /// struct Double;
    /// impl Function for Double {
    ///     fn name(&self) -> &'static str {
    ///         "double"
    ///     }
    ///     fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
    ///         Ok(vec![&xs[0] * 2.0])
    ///     }
    ///     // d(2 x) = 2 dx
    ///     fn backward<'g>(&self, _: &[Var<'g>], _: &[Var<'g>], gys: &[Var<'g>])
    ///         -> Result<Vec<Option<Var<'g>>>> {
    ///         Ok(vec![Some(gys[0] * 2.0)])
    ///     }
    /// }
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(3.0);
    /// let y = g.apply(Double, &[x])[0];
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap()[[]]), (6.0, 2.0));
    /// ```
    ///
    /// # Panics
    /// With the message of [`Graph::try_apply`]'s error.
    #[track_caller]
    pub fn apply<'g>(&'g self, f: impl Function<F>, inputs: &[Var<'g, F>]) -> Vec<Var<'g, F>> {
        or_panic(self.try_apply(f, inputs))
    }

    /// Fallible [`Graph::apply`]. Under [`Graph::no_grad`], or when every input is a constant,
    /// nothing is recorded (the outputs are leaves, or constants).
    ///
    /// ```
    /// # use tapegrad_core::ndarray::{ArrayD, ArrayViewD};
    /// # use tapegrad_core::{Error, Function, Graph, Result, Var};
    /// struct Halves;
    /// impl Function for Halves {
    ///     fn name(&self) -> &'static str { "halves" }
    ///     fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
    ///         if xs[0].len() % 2 != 0 {
    ///             return Err(format!("{} elements do not halve", xs[0].len()));
    ///         }
    ///         let n = xs[0].len() / 2;
    ///         let flat: Vec<f64> = xs[0].iter().copied().collect();
    ///         let half = |s: &[f64]| ArrayD::from_shape_vec(vec![n], s.to_vec()).unwrap();
    ///         Ok(vec![half(&flat[..n]), half(&flat[n..])])
    ///     }
    ///     fn backward<'g>(&self, _: &[Var<'g>], _: &[Var<'g>], gys: &[Var<'g>])
    ///         -> Result<Vec<Option<Var<'g>>>> {
    ///         Ok(vec![Some(tapegrad_core::try_concat(gys, 0)?)])
    ///     }
    /// }
    /// let g: Graph = Graph::new();
    /// let x = g.var(tapegrad_core::ndarray::array![1.0, 2.0, 3.0]);
    /// let e = g.try_apply(Halves, &[x]).unwrap_err();
    /// assert_eq!(e.to_string(), "halves: 3 elements do not halve");
    /// assert_eq!(g.tape_len(), 0); // nothing recorded
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the function when its forward fails or returns no
    /// output; [`Error::GraphMismatch`], [`Error::StaleVar`] for bad handles; [`Error::Anomaly`]
    /// with anomaly detection on, for a NaN or infinite output.
    pub fn try_apply<'g>(
        &'g self,
        f: impl Function<F>,
        inputs: &[Var<'g, F>],
    ) -> Result<Vec<Var<'g, F>>> {
        if inputs.len() <= 2
            && let Some(y) = self.apply_on_numbers(&f, inputs)?
        {
            let y = y.map(|(y, partials, creators)| {
                let mut inner = self.inner.borrow_mut();
                let creator = Self::next_creator(&inner.tape);
                let out = inner.insert_scalar(y, creator);
                let args = Args::inline(inputs, creators, out);
                let op = inner.tape.function_op(Box::new(f));
                inner.push_record(op, false, args, partials);
                out
            });
            return Ok(vec![Var::from_id(self, y.unwrap_or_else(|id| id))]);
        }
        self.apply_boxed(Box::new(f), inputs)
    }

    /// [`Function::on_numbers`] when every input is a live number of this graph: `Ok(None)` to
    /// take the general path; `Ok(Some(Ok((y, partials, creators))))` to record `y` (with the
    /// records that made the inputs); `Ok(Some(Err(id)))` when the result `id` is already stored
    /// and not to be recorded.
    #[allow(clippy::type_complexity)]
    fn apply_on_numbers(
        &self,
        f: &impl Function<F>,
        inputs: &[Var<'_, F>],
    ) -> Result<Option<std::result::Result<(F, [F; 2], [u32; 2]), VarId>>> {
        // (anything else takes the general path, which names the error)
        let Some((xs, creators)) = self.numbers(&*self.read()?, inputs) else {
            return Ok(None);
        };
        let constant = creators[..inputs.len()].iter().all(|&c| c == CONST);
        let Some((y, partials)) = f.on_numbers(&xs[..inputs.len()]) else {
            return Ok(None);
        };
        if self.detect_anomaly() && !y.is_finite() {
            return Err(Error::Anomaly {
                op: f.name(),
                phase: "forward",
                position: self.read()?.tape.len(),
            });
        }
        if self.is_recording() && !constant && !inputs.is_empty() {
            return Ok(Some(Ok((y, partials, creators))));
        }
        let creator = if constant && !inputs.is_empty() {
            CONST
        } else {
            LEAF
        };
        let id = self.write()?.insert_unrecorded(y, creator);
        Ok(Some(Err(id)))
    }

    /// [`Graph::try_apply`] of a boxed function, compiled once for each element type
    /// ([`Engine`](crate::engine::Engine)).
    pub(crate) fn apply_boxed<'g>(
        &'g self,
        f: Box<dyn Function<F>>,
        inputs: &[Var<'g, F>],
    ) -> Result<Vec<Var<'g, F>>> {
        F::apply_boxed(Inside, self, f, inputs)
    }

    /// [`Graph::apply_boxed`]'s body.
    pub(crate) fn apply_boxed_here<'g>(
        &'g self,
        f: Box<dyn Function<F>>,
        inputs: &[Var<'g, F>],
    ) -> Result<Vec<Var<'g, F>>> {
        let name = f.name();
        let mut ids: SmallVec<[VarId; 4]> = SmallVec::new();
        for &v in inputs {
            ids.push(self.check(v, name)?);
        }
        let mut inner = self.write()?;
        let values = {
            let views: SmallVec<[ArrayViewD<'_, F>; 4]> =
                ids.iter().map(|&id| inner.view(id)).collect();
            f.forward(&views)
                .map_err(|reason| Error::InvalidArgument { op: name, reason })?
        };
        if values.is_empty() {
            return Err(Error::InvalidArgument {
                op: name,
                reason: "forward returned no output".into(),
            });
        }
        if self.detect_anomaly() && values.iter().any(|a| a.iter().any(|v| !v.is_finite())) {
            return Err(Error::Anomaly {
                op: name,
                phase: "forward",
                position: inner.tape.len(),
            });
        }
        let constant = !ids.is_empty() && ids.iter().all(|&id| inner.nodes[id].is_const());
        let recording = self.is_recording() && !constant && !ids.is_empty();
        let creator = Self::creator(&inner.tape, recording, constant);
        let outputs: SmallVec<[VarId; 2]> = values
            .into_iter()
            .map(|a| {
                let data = inner.store(a);
                inner.insert(data, creator)
            })
            .collect();
        if recording {
            let args = Args::new(&inner.nodes, &ids, &outputs);
            inner.functions = true;
            let op = inner.tape.function_op(f);
            inner.push_record(op, false, args, [F::nan(); 2]);
        }
        Ok(outputs.iter().map(|&id| Var::from_id(self, id)).collect())
    }
}

/// Runs a function's backward for one record: `gys` are the outputs' gradients (`None` where no
/// gradient reached an output), `needs[k]` whether input `k` takes one. Returns one gradient
/// variable per input, each checked to have its input's shape.
///
/// Without `create_graph` (`records = false`) the caller has started a scratch list
/// (`Inner::scratch`) before making the `gys`: everything made from then on is temporary. Each
/// gradient is handed to `keep` (with whether it is temporary, so that its array can be moved
/// out rather than copied), then every temporary variable is removed.
pub(crate) fn run_backward<F: Float, G>(
    graph: &Graph<F>,
    f: &dyn Function<F>,
    inputs: &[VarId],
    outputs: &[VarId],
    gys: SmallVec<[Option<VarId>; 2]>,
    records: bool,
    mut keep: impl FnMut(&mut Inner<F>, VarId, bool) -> G,
) -> Result<SmallVec<[Option<G>; 2]>> {
    let name = f.name();
    debug_assert_eq!(records, graph.inner.borrow().scratch.is_none());
    let result: Result<SmallVec<[Option<VarId>; 2]>> = (|| {
        let var = |id: &VarId| Var::from_id(graph, *id);
        let xs: SmallVec<[Var<'_, F>; 2]> = inputs.iter().map(var).collect();
        let ys: SmallVec<[Var<'_, F>; 2]> = outputs.iter().map(var).collect();
        let gys: SmallVec<[Var<'_, F>; 2]> = gys
            .iter()
            .zip(&ys)
            .map(|(g, y)| match g {
                Some(g) => Ok(var(g)),
                None => Ok(graph.leaf(ArrayD::zeros(y.try_shape()?))),
            })
            .collect::<Result<_>>()?;
        let gxs = {
            let _off = (!records).then(|| graph.no_grad());
            f.backward(&xs, &ys, &gys)?
        };
        if gxs.len() != xs.len() {
            return Err(Error::InvalidArgument {
                op: name,
                reason: format!(
                    "backward returned {} gradients for {} inputs",
                    gxs.len(),
                    xs.len()
                ),
            });
        }
        let mut out = SmallVec::new();
        for (gx, x) in gxs.into_iter().zip(&xs) {
            out.push(match gx {
                Some(gx) => {
                    let id = graph.check(gx, name)?;
                    let (shape, want) = (gx.try_shape()?, x.try_shape()?);
                    if shape != want {
                        return Err(Error::ShapeMismatch {
                            op: name,
                            lhs: want,
                            rhs: shape,
                        });
                    }
                    Some(id)
                }
                None => None,
            });
        }
        Ok(out)
    })();
    let mut inner = graph.inner.borrow_mut();
    let kept = result.map(|ids| {
        ids.iter()
            .map(|g| {
                g.map(|id| {
                    // (an array moved out once cannot be moved again: a gradient returned for two
                    // inputs is copied)
                    let once = ids.iter().filter(|&&o| o == Some(id)).count() == 1;
                    let scratch = inner.scratch.as_ref().is_some_and(|s| s.contains(&id));
                    keep(&mut inner, id, once && scratch)
                })
            })
            .collect()
    });
    if let Some(scratch) = inner.scratch.take() {
        remove_scratch(&mut inner, scratch);
    }
    kept
}

/// Removes the temporary variables of a function's backward, and their arrays (all at the end of
/// the array store) when nothing else was stored meanwhile.
fn remove_scratch<F: Float>(inner: &mut Inner<F>, scratch: Vec<VarId>) {
    let mut first = inner.arrays.len();
    let mut arrays = 0;
    for id in scratch {
        inner.grads.remove(id);
        if let Some(node) = inner.nodes.remove(id)
            && let Data::Array(k) = node.data()
        {
            first = first.min(k as usize);
            arrays += 1;
        }
    }
    if first + arrays == inner.arrays.len() {
        inner.arrays.truncate(first);
    }
}
