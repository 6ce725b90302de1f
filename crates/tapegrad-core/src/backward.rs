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
use slotmap::{SecondaryMap, SlotMap};
use smallvec::SmallVec;

use crate::buffer;
use crate::error::or_panic;
use crate::error::{Error, Result};
use crate::graph::{Grad, Inner, Node, Record, VarId, CONST};
use crate::ops::{self, Grads, Val};
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
    /// # Errors
    /// [`Error::StaleVar`] after the graph was cleared.
    pub fn try_backward(self) -> Result<()> {
        self.try_backward_with(BackwardOptions::default())
    }

    /// Fallible [`Var::backward_with`].
    ///
    /// # Errors
    /// [`Error::StaleVar`] after the graph was cleared; [`Error::Anomaly`] with anomaly detection on
    /// (the gradients stored before the anomaly stay).
    pub fn try_backward_with(self, opts: BackwardOptions) -> Result<()> {
        self.backward_from(None, opts)
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
        self.backward_from(Some(seed), opts)
    }

    fn backward_from(self, seed: Option<ArrayD<F>>, opts: BackwardOptions) -> Result<()> {
        let id = self.graph.check(self, "backward")?;
        if opts.retain_grad {
            self.graph.inner.borrow_mut().retained = true;
        }
        let sink = Sink::Stored {
            retain: opts.retain_grad,
        };
        if !opts.create_graph && self.graph.inner.borrow().arrays.is_empty() {
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

/// Fallible [`grad`].
///
/// # Errors
/// [`Error::GraphMismatch`] if the variables are not all of one graph, [`Error::StaleVar`] for a
/// handle from before a `clear`. Empty `outputs` give zeros for every input.
pub fn try_grad<'g, F: Float>(
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

/// Hessian-vector product `H v` of the scalar function `sum(f(x))` at `x`, by double backprop:
/// `H v = d/dx (grad f(x) . v)`. `x` and `v` are lists of arrays of matching shapes.
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
    if x.len() != v.len() {
        return Err(Error::ShapeMismatch {
            op: "hvp",
            lhs: vec![x.len()],
            rhs: vec![v.len()],
        });
    }
    for (a, b) in x.iter().zip(v) {
        if a.shape() != b.shape() {
            return Err(Error::ShapeMismatch {
                op: "hvp",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
            });
        }
    }
    let g = Graph::new();
    let xs: Vec<_> = x.iter().map(|a| g.var(a.clone())).collect();
    let gs = try_grad(&[f(&xs)], &xs, true)?;
    let dots = gs
        .iter()
        .zip(v)
        .map(|(&gk, vk)| gk.try_mul(vk.clone()))
        .collect::<Result<Vec<_>>>()?;
    Ok(try_grad(&dots, &xs, false)?
        .iter()
        .map(|h| h.data())
        .collect())
}

/// Where the gradients of a pass go.
#[derive(Clone, Copy)]
enum Sink<'a> {
    /// Into the variables' `.grad` (leaves always; intermediates with `retain`).
    Stored { retain: bool },
    /// Into the returned list, one per wanted variable; no `.grad` is touched.
    Capture(&'a [VarId]),
}

/// How the sweep computes: the representation of a gradient and the few things done with it.
trait Mode<F: Float> {
    type G;
    /// Whether the rules' ops are recorded on the tape (`create_graph`).
    const RECORDS: bool;
    fn graph(&self) -> &Graph<F>;
    fn filled(&self, id: VarId, v: F) -> Self::G;
    fn lift(&self, a: ArrayD<F>) -> Self::G;
    fn duplicate(&self, g: &Self::G) -> Self::G;
    /// `acc + g`, where `acc` is owned by the sweep alone.
    fn accumulate(&self, acc: Self::G, g: Self::G) -> Self::G;
    /// Runs the record's backward rule on its output's gradient.
    fn rule(&self, rec: &Record<F>, gy: Self::G) -> Grads<Self::G>;
    /// `v.grad = v.grad + g`.
    fn store(&self, id: VarId, g: Self::G);
    /// Whether every element of `g` is finite (anomaly detection).
    fn is_finite(&self, g: &Self::G) -> bool;
}

/// Gradients as values (numbers for 0-d variables, arrays otherwise); nothing is recorded.
struct ArrayMode<'g, F: Float>(&'g Graph<F>);

impl<F: Float> Mode<F> for ArrayMode<'_, F> {
    type G = Val<'static, F>;
    const RECORDS: bool = false;

    fn graph(&self) -> &Graph<F> {
        self.0
    }

    fn filled(&self, id: VarId, v: F) -> Val<'static, F> {
        match self.0.inner.borrow().val(id) {
            Val::R(a) => Val::A(Box::new(buffer::filled(a.shape(), v))),
            _ => Val::S(v),
        }
    }

    fn lift(&self, a: ArrayD<F>) -> Val<'static, F> {
        Val::from_array(a)
    }

    fn duplicate(&self, g: &Val<'static, F>) -> Val<'static, F> {
        g.clone()
    }

    fn accumulate(&self, acc: Val<'static, F>, g: Val<'static, F>) -> Val<'static, F> {
        match (acc, g) {
            (Val::S(a), Val::S(b)) => Val::S(a + b),
            // In place: nobody else can see `acc`.
            (acc, g) => ops::add(acc, &g),
        }
    }

    fn rule(&self, rec: &Record<F>, gy: Val<'static, F>) -> Grads<Val<'static, F>> {
        let inner = self.0.inner.borrow();
        let xs: SmallVec<[_; 2]> = ops::small(rec.inputs().iter().map(|&id| inner.val(id)));
        let y = inner.val(rec.output);
        let needs = needs(&inner.nodes, rec);
        // the `'static` gradient coerces to the arena borrow's lifetime: one lifetime for the rule
        let gxs = rec.op.backward(&xs, &y, gy, &needs);
        let mut out = [None, None];
        for (((slot, gx), x), need) in out.iter_mut().zip(gxs).zip(&xs).zip(needs) {
            *slot = gx.filter(|_| need).map(|g| {
                let g = ops::unbroadcast(g, x).into_owned();
                // After un-broadcasting a gradient has its input's shape; anything else is a bug
                // here, and a loud one beats a wrong number.
                assert_eq!(g.shape(), x.shape(), "tapegrad bug: {:?} gradient", *rec.op);
                g
            });
        }
        out
    }

    fn store(&self, id: VarId, g: Val<'static, F>) {
        let mut inner = self.0.inner.borrow_mut();
        let old = inner.nodes[id].grad.take();
        let new = match (old, g) {
            (None, Val::S(s)) => Grad::Scalar(s),
            (None, g) => Grad::Array(Box::new(g.into_array())),
            (Some(Grad::Scalar(a)), Val::S(b)) => Grad::Scalar(a + b),
            // In place: `grad()` hands out copies, never this buffer.
            (Some(Grad::Array(mut a)), g) => {
                *a += &g.view();
                Grad::Array(a)
            }
            // A constant now, if a variable: this pass did not record how it was computed.
            (Some(old), g) => Grad::Array(Box::new(inner.grad_array(&old) + &g.view())),
        };
        inner.nodes[id].grad = Some(new);
    }

    fn is_finite(&self, g: &Val<'static, F>) -> bool {
        match g {
            Val::S(s) => s.is_finite(),
            other => other.view().iter().all(|v| v.is_finite()),
        }
    }
}

/// Gradients as variables; every step is recorded (`create_graph`).
struct VarMode<'g, F: Float>(&'g Graph<F>);

impl<F: Float> Mode<F> for VarMode<'_, F> {
    type G = VarId;
    const RECORDS: bool = true;

    fn graph(&self) -> &Graph<F> {
        self.0
    }

    fn filled(&self, id: VarId, v: F) -> VarId {
        let shape = self.0.inner.borrow().val(id).shape().to_vec();
        self.0.leaf(ArrayD::from_elem(shape, v)).id()
    }

    fn lift(&self, a: ArrayD<F>) -> VarId {
        self.0.leaf(a).id()
    }

    fn duplicate(&self, g: &VarId) -> VarId {
        *g // variables are immutable: sharing is free
    }

    fn accumulate(&self, acc: VarId, g: VarId) -> VarId {
        let (a, b) = (Var::from_id(self.0, acc), Var::from_id(self.0, g));
        ops::add(a, &b).id()
    }

    fn rule(&self, rec: &Record<F>, gy: VarId) -> Grads<VarId> {
        let var = |id: &VarId| Var::from_id(self.0, *id);
        let xs: SmallVec<[_; 2]> = rec.inputs().iter().map(var).collect();
        let needs = needs(&self.0.inner.borrow().nodes, rec);
        let [g0, g1] = rec.op.backward(&xs, &var(&rec.output), var(&gy), &needs);
        let finish = |g: Option<Var<'_, F>>, k: usize| {
            g.filter(|_| needs[k])
                .map(|g| ops::unbroadcast(g, &xs[k]).id())
        };
        [finish(g0, 0), finish(g1, 1)]
    }

    fn store(&self, id: VarId, g: VarId) {
        let old = self.0.inner.borrow_mut().nodes[id].grad.take();
        let sum = match old {
            None => g,
            Some(Grad::Var(v)) => self.accumulate(v, g),
            Some(Grad::Array(a)) => {
                let a = self.0.leaf(*a).id();
                self.accumulate(a, g)
            }
            Some(Grad::Scalar(s)) => {
                let a = self.0.scalar(s).id();
                self.accumulate(a, g)
            }
        };
        self.0.inner.borrow_mut().nodes[id].grad = Some(Grad::Var(sum));
    }

    fn is_finite(&self, g: &VarId) -> bool {
        self.0.inner.borrow().view(*g).iter().all(|v| v.is_finite())
    }
}

/// Turns recording on for a `create_graph` pass, and back to what it was on drop.
struct Recording<'g, F: Float>(&'g Graph<F>, bool);

impl<F: Float> Drop for Recording<'_, F> {
    fn drop(&mut self) {
        self.0.set_recording(self.1);
    }
}

/// The reverse sweep from `seeds`, each seeded with ones (or the first with `seed`, of its shape).
/// With a `Capture` sink, returns the gradients of the wanted variables; otherwise an empty list.
fn sweep<F: Float, M: Mode<F>>(
    mode: &M,
    seeds: &[VarId],
    seed: Option<ArrayD<F>>,
    sink: Sink<'_>,
) -> Result<Vec<Option<M::G>>> {
    let graph = mode.graph();
    let mut start = None;
    {
        let inner = graph.inner.borrow();
        for &id in seeds {
            let creator = inner.nodes.get(id).ok_or(Error::StaleVar)?.creator();
            start = start.max(creator);
        }
    }
    let _recording = M::RECORDS.then(|| Recording(graph, graph.set_recording(true)));

    let mut pending = Pending::default();
    let mut seed = seed;
    for &id in seeds {
        let g = match seed.take() {
            Some(a) => mode.lift(a),
            None => mode.filled(id, F::one()),
        };
        pending.add(mode, id, g);
    }
    let (mut captured, wanted) = match sink {
        Sink::Capture(wanted) => {
            let mut index = SecondaryMap::new();
            for (k, &id) in wanted.iter().enumerate().rev() {
                index.insert(id, k);
            }
            (wanted.iter().map(|_| None).collect::<Vec<_>>(), index)
        }
        Sink::Stored { .. } => (Vec::new(), SecondaryMap::new()),
    };

    for i in (0..=start.map_or(-1, i64::from)).rev() {
        let rec = {
            let inner = graph.inner.borrow();
            let rec = &inner.tape[i as usize];
            if !pending.contains(rec.output) {
                continue; // not an ancestor of the seeds
            }
            // A copy (inline, no heap but shape parameters): the rule may push on the tape.
            rec.clone()
        };
        let o = rec.output;
        let gy = pending.take(o).unwrap_or_else(|| mode.filled(o, F::zero()));
        match sink {
            Sink::Stored { retain: true } => mode.store(o, mode.duplicate(&gy)),
            Sink::Stored { retain: false } => graph.inner.borrow_mut().nodes[o].grad = None,
            Sink::Capture(_) => {
                if let Some(&k) = wanted.get(o) {
                    captured[k] = Some(mode.duplicate(&gy));
                }
            }
        }
        // Anomalies are checked on the rule's results, so a recorded rule must not fail inside.
        let detect = graph.replace_detect_anomaly(false);
        let gxs = mode.rule(&rec, gy);
        graph.set_detect_anomaly(detect);
        if detect && gxs.iter().flatten().any(|g| !mode.is_finite(g)) {
            return Err(Error::Anomaly {
                op: rec.op.name(),
                phase: "backward",
                position: i as usize,
            });
        }
        for (&x, gx) in rec.inputs().iter().zip(gxs) {
            if let Some(gx) = gx {
                pending.add(mode, x, gx);
            }
        }
    }

    // What is left are the leaves (and seeds that are leaves).
    for (id, g) in pending.drain() {
        match sink {
            // a constant seed (backward from a constant) keeps no gradient
            Sink::Stored { .. } if graph.inner.borrow().nodes[id].is_const() => {}
            Sink::Stored { .. } => mode.store(id, g),
            Sink::Capture(_) => {
                if let Some(&k) = wanted.get(id) {
                    captured[k] = Some(g);
                }
            }
        }
    }
    if let Sink::Capture(list) = sink {
        // A variable wanted twice gets its gradient twice.
        for (k, id) in list.iter().enumerate() {
            let first = wanted[*id];
            if first != k {
                captured[k] = captured[first].as_ref().map(|g| mode.duplicate(g));
            }
        }
    }
    Ok(captured)
}

/// [`sweep`] for a graph whose every value is a number (no arrays): the same loop, but the rules
/// already ran, when each op was recorded (with `gy = 1`: the op's local derivatives,
/// [`Record::partials`]), so a record costs a multiply-add per input. One borrow of the arena for
/// the whole pass, the pending gradients of op results in a dense table by record, those of
/// leaves added to their `.grad` as they come (as DeZero's `x.grad = x.grad + gx`). Deep scalar
/// chains and scalar losses, the common deep graphs, take this path.
fn sweep_scalars<F: Float>(graph: &Graph<F>, y: VarId, seed: F, retain: bool) -> Result<()> {
    let detect = graph.detect_anomaly();
    let mut inner = graph.inner.borrow_mut();
    let Inner {
        nodes,
        tape,
        pending,
        retained,
        ..
    } = &mut *inner;
    // Gradients of op results kept by an earlier `retain_grad` pass are freed as the sweep
    // passes them (without such a pass there are none to look for).
    let free_results = !retain && *retained;
    // With anomaly detection on, leaves' gradients wait for the pass to succeed: a pass stopped
    // by an anomaly leaves every stored gradient as it found it.
    let mut deferred: Vec<(VarId, F)> = Vec::new();
    let start = nodes[y].creator();
    pending.clear();
    pending.resize(start.map_or(0, |s| s as usize + 1), None);
    match start {
        Some(s) => pending[s as usize] = Some(seed),
        None if nodes[y].is_const() => {} // (a constant seed keeps nothing)
        None => add_to_stored(nodes, y, seed),
    }
    for i in (0..pending.len()).rev() {
        let Some(gy) = pending[i].take() else {
            continue; // not an ancestor of y
        };
        let rec = &tape[i];
        if retain {
            add_to_stored(nodes, rec.output, gy);
        } else if free_results {
            nodes[rec.output].grad = None;
        }
        if !rec.op.passes_gradient() {
            continue; // (sign and the like: their rules give no gradient)
        }
        // The rule was run when the op was recorded: `gx = gy * dy/dx`, for each input.
        for (&x, &d) in rec.inputs().iter().zip(&rec.partials) {
            let creator = nodes[x].raw_creator();
            if creator == CONST {
                continue;
            }
            let gx = gy * d;
            if detect && !gx.is_finite() {
                pending.clear(); // empty between passes
                return Err(Error::Anomaly {
                    op: rec.op.name(),
                    phase: "backward",
                    position: i,
                });
            }
            if creator < CONST {
                let acc = &mut pending[creator as usize];
                *acc = Some(acc.map_or(gx, |a| a + gx));
            } else if detect {
                deferred.push((x, gx));
            } else {
                add_to_stored(nodes, x, gx); // a leaf or a parameter
            }
        }
    }
    for (x, gx) in deferred {
        add_to_stored(nodes, x, gx);
    }
    Ok(())
}

/// Which inputs of `rec` take a gradient: all but the constants.
fn needs<F: Float>(nodes: &SlotMap<VarId, Node<F>>, rec: &Record<F>) -> SmallVec<[bool; 2]> {
    ops::small(rec.inputs().iter().map(|&x| !nodes[x].is_const()))
}

/// `v.grad = v.grad + g` for a 0-d variable of an all-scalar graph.
#[inline(always)]
fn add_to_stored<F: Float>(nodes: &mut SlotMap<VarId, Node<F>>, id: VarId, g: F) {
    match &mut nodes[id].grad {
        Some(Grad::Scalar(s)) => *s += g,
        grad @ None => *grad = Some(Grad::Scalar(g)),
        Some(_) => add_to_other(nodes, id, g),
    }
}

/// [`add_to_stored`] for a gradient kept as an array or as a variable.
#[cold]
fn add_to_other<F: Float>(nodes: &mut SlotMap<VarId, Node<F>>, id: VarId, g: F) {
    let sum = match nodes[id].grad.as_mut() {
        Some(Grad::Array(a)) => {
            **a += g; // in place: `grad()` hands out copies, never this buffer
            return;
        }
        // From an earlier create_graph pass; a constant from now on, as in `ArrayMode::store`.
        Some(&mut Grad::Var(v)) => nodes[v].scalar() + g,
        Some(&mut Grad::Scalar(s)) => s + g,
        None => g,
    };
    nodes[id].grad = Some(Grad::Scalar(sum));
}

/// The pending gradients of one pass: a dense index from variable to a slot, and a small pool of
/// slots reused as gradients are consumed (a long chain needs only a couple of slots).
struct Pending<G> {
    index: SecondaryMap<VarId, u32>,
    slots: Vec<Option<G>>,
    free: Vec<u32>,
}

impl<G> Default for Pending<G> {
    fn default() -> Self {
        Pending {
            index: SecondaryMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<G> Pending<G> {
    fn contains(&self, id: VarId) -> bool {
        self.index.contains_key(id)
    }

    /// `pending[id] += g`: the one place where a pass adds gradients.
    fn add<F: Float, M: Mode<F, G = G>>(&mut self, mode: &M, id: VarId, g: G) {
        if let Some(&k) = self.index.get(id) {
            let slot = &mut self.slots[k as usize];
            *slot = Some(match slot.take() {
                Some(acc) => mode.accumulate(acc, g),
                None => g,
            });
            return;
        }
        let k = match self.free.pop() {
            Some(k) => {
                self.slots[k as usize] = Some(g);
                k
            }
            None => {
                self.slots.push(Some(g));
                u32::try_from(self.slots.len() - 1).expect("more than u32::MAX pending gradients")
            }
        };
        self.index.insert(id, k);
    }

    fn take(&mut self, id: VarId) -> Option<G> {
        let k = self.index.remove(id)?;
        self.free.push(k);
        self.slots[k as usize].take()
    }

    fn drain(&mut self) -> impl Iterator<Item = (VarId, G)> + '_ {
        let slots = &mut self.slots;
        self.index
            .drain()
            .filter_map(move |(id, k)| slots[k as usize].take().map(|g| (id, g)))
    }
}
