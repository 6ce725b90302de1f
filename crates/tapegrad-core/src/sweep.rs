//! The sweep itself: the reverse loop over the tape shared by every kind of pass ([`sweep`]),
//! what differs between them ([`Mode`]: gradients as arrays, or as recorded variables; [`Sink`]:
//! stored on the variables, or captured for `grad`), and the loop specialised to graphs of
//! numbers ([`sweep_scalars`]). See `backward.rs` for the algorithm.

use std::mem::ManuallyDrop;

use ndarray::ArrayD;
use slotmap::{SecondaryMap, SlotMap};
use smallvec::SmallVec;

use crate::arena::{Data, Grad, LEAF, Node, VarId};
use crate::buffer;
use crate::error::{Error, Result};
use crate::function::{Function, run_backward};
use crate::ops::{self, Grads, Op, Val};
use crate::tape::RecordOp;
use crate::{Float, Graph, Var};

/// Where the gradients of a pass go.
#[derive(Clone, Copy)]
pub(crate) enum Sink<'a> {
    /// Into the variables' `.grad` (leaves always; intermediates with `retain`).
    Stored { retain: bool },
    /// Into the returned list, one per wanted variable; no `.grad` is touched.
    Capture(&'a [VarId]),
}

/// How the sweep computes: the representation of a gradient and the few things done with it.
pub(crate) trait Mode<F: Float> {
    type G;
    /// Whether the rules' ops are recorded on the tape (`create_graph`).
    const RECORDS: bool;
    fn graph(&self) -> &Graph<F>;
    fn filled(&self, id: VarId, v: F) -> Self::G;
    fn lift(&self, a: ArrayD<F>) -> Self::G;
    fn duplicate(&self, g: &Self::G) -> Self::G;
    /// `acc + g`, where `acc` is owned by the sweep alone.
    fn accumulate(&self, acc: Self::G, g: Self::G) -> Self::G;
    /// Runs a built-in op's backward rule on its output's gradient.
    fn rule(
        &self,
        op: &Op<F>,
        inputs: &[VarId],
        output: VarId,
        gy: Self::G,
        needs: &[bool],
    ) -> Grads<Self::G>;
    /// Runs a function's backward on its outputs' gradients (`None` where none arrived).
    fn function(
        &self,
        f: &dyn Function<F>,
        inputs: &[VarId],
        outputs: &[VarId],
        gys: SmallVec<[Option<Self::G>; 2]>,
    ) -> Result<SmallVec<[Option<Self::G>; 2]>>;
    /// `v.grad = v.grad + g`.
    fn store(&self, id: VarId, g: Self::G);
    /// Whether every element of `g` is finite (anomaly detection).
    fn is_finite(&self, g: &Self::G) -> bool;
}

/// Gradients as values (numbers for 0-d variables, arrays otherwise); nothing is recorded.
pub(crate) struct ArrayMode<'g, F: Float>(pub(crate) &'g Graph<F>);

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
            (acc, g) => {
                let sum = ops::add(acc, &g);
                g.recycle();
                sum
            }
        }
    }

    fn rule(
        &self,
        op: &Op<F>,
        inputs: &[VarId],
        output: VarId,
        gy: Val<'static, F>,
        needs: &[bool],
    ) -> Grads<Val<'static, F>> {
        let inner = self.0.inner.borrow();
        let xs: SmallVec<[_; 2]> = ops::small(inputs.iter().map(|&id| inner.val(id)));
        let y = inner.val(output);
        // the `'static` gradient coerces to the arena borrow's lifetime: one lifetime for the rule
        let gxs = op.backward(&xs, &y, gy, needs);
        let mut out = [None, None];
        for (((slot, gx), x), &need) in out.iter_mut().zip(gxs).zip(&xs).zip(needs) {
            *slot = gx.filter(|_| need).map(|g| {
                let g = ops::unbroadcast(g, x).into_owned();
                // After un-broadcasting a gradient has its input's shape; anything else is a bug
                // here, and a loud one beats a wrong number.
                assert_eq!(g.shape(), x.shape(), "tapegrad bug: {op:?} gradient");
                g
            });
        }
        out
    }

    fn function(
        &self,
        f: &dyn Function<F>,
        inputs: &[VarId],
        outputs: &[VarId],
        gys: SmallVec<[Option<Val<'static, F>>; 2]>,
    ) -> Result<SmallVec<[Option<Val<'static, F>>; 2]>> {
        // Everything made from here on is temporary, the gradients given to `f` first.
        self.0.inner.borrow_mut().scratch = Some(Vec::new());
        let lift = |g: Val<'static, F>| {
            let mut inner = self.0.inner.borrow_mut();
            let data = match g {
                Val::S(s) => Data::Scalar(s),
                other => inner.store(other.into_array()),
            };
            inner.insert(data, LEAF)
        };
        let gys = gys.into_iter().map(|g| g.map(lift)).collect();
        run_backward(
            self.0,
            f,
            inputs,
            outputs,
            gys,
            false,
            |inner, id, temporary| {
                match inner.nodes[id].data() {
                    Data::Scalar(s) => Val::S(s),
                    // a temporary's array is moved out: it is about to be removed
                    Data::Array(k) if temporary => {
                        Val::A(Box::new(std::mem::take(&mut inner.arrays[k as usize])))
                    }
                    Data::Array(k) => Val::A(Box::new(buffer::copy(&inner.arrays[k as usize]))),
                }
            },
        )
    }

    fn store(&self, id: VarId, g: Val<'static, F>) {
        let mut inner = self.0.inner.borrow_mut();
        let old = inner.grads.remove(id);
        let new = match (old, g) {
            (None, Val::S(s)) => Grad::Scalar(s),
            (None, g) => Grad::Array(Box::new(g.into_array())),
            (Some(Grad::Scalar(a)), Val::S(b)) => Grad::Scalar(a + b),
            // In place: `grad()` hands out copies, never this buffer.
            (Some(Grad::Array(mut a)), g) => {
                *a += &g.view();
                g.recycle();
                Grad::Array(a)
            }
            // A constant now, if a variable: this pass did not record how it was computed.
            (Some(old), g) => Grad::Array(Box::new(inner.grad_array(&old) + &g.view())),
        };
        inner.grads.insert(id, new);
    }

    fn is_finite(&self, g: &Val<'static, F>) -> bool {
        match g {
            Val::S(s) => s.is_finite(),
            other => other.view().iter().all(|v| v.is_finite()),
        }
    }
}

/// Gradients as variables; every step is recorded (`create_graph`).
pub(crate) struct VarMode<'g, F: Float>(pub(crate) &'g Graph<F>);

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

    fn rule(
        &self,
        op: &Op<F>,
        inputs: &[VarId],
        output: VarId,
        gy: VarId,
        needs: &[bool],
    ) -> Grads<VarId> {
        let var = |id: &VarId| Var::from_id(self.0, *id);
        let xs: SmallVec<[_; 2]> = inputs.iter().map(var).collect();
        let [g0, g1] = op.backward(&xs, &var(&output), var(&gy), needs);
        let finish = |g: Option<Var<'_, F>>, k: usize| {
            g.filter(|_| needs[k])
                .map(|g| ops::unbroadcast(g, &xs[k]).id())
        };
        [finish(g0, 0), finish(g1, 1)]
    }

    fn function(
        &self,
        f: &dyn Function<F>,
        inputs: &[VarId],
        outputs: &[VarId],
        gys: SmallVec<[Option<VarId>; 2]>,
    ) -> Result<SmallVec<[Option<VarId>; 2]>> {
        run_backward(self.0, f, inputs, outputs, gys, true, |_, id, _| id)
    }

    fn store(&self, id: VarId, g: VarId) {
        let old = self.0.inner.borrow_mut().grads.remove(id);
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
        self.0.inner.borrow_mut().grads.insert(id, Grad::Var(sum));
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
pub(crate) fn sweep<F: Float, M: Mode<F>>(
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
        let i = i as usize;
        // The op is taken out of its record while its rule runs (a recorded rule pushes on the
        // tape, which may move it), and put back by `Taken`'s drop.
        let (op, inputs, outputs) = {
            let mut inner = graph.inner.borrow_mut();
            let rec = &mut inner.tape[i];
            if !rec.outputs().iter().any(|&o| pending.contains(o)) {
                continue; // not an ancestor of the seeds
            }
            let op = std::mem::replace(&mut rec.op, ManuallyDrop::new(RecordOp::placeholder()));
            let inputs: SmallVec<[VarId; 2]> = SmallVec::from_slice(rec.inputs());
            let outputs: SmallVec<[VarId; 1]> = SmallVec::from_slice(rec.outputs());
            (
                Taken {
                    graph,
                    index: i,
                    op,
                },
                inputs,
                outputs,
            )
        };
        // (one borrow for both: which inputs take a gradient, and whether data changed)
        let (needs, changed) = {
            let inner = graph.inner.borrow();
            let changed = inner.changed_after(i, &inputs) || inner.changed_after(i, &outputs);
            (needs(&inner.nodes, &inputs), changed)
        };
        if changed {
            return Err(Error::ModifiedAfterRecording {
                op: op.op.name(),
                position: i,
            });
        }
        let mut gys: SmallVec<[Option<M::G>; 2]> =
            outputs.iter().map(|&o| pending.take(o)).collect();
        for (&o, gy) in outputs.iter().zip(&gys) {
            match (sink, gy) {
                (Sink::Stored { retain: true }, Some(gy)) => mode.store(o, mode.duplicate(gy)),
                (Sink::Stored { retain: true }, None) => {}
                (Sink::Stored { retain: false }, _) => {
                    graph.inner.borrow_mut().grads.remove(o);
                }
                (Sink::Capture(_), Some(gy)) => {
                    if let Some(&k) = wanted.get(o) {
                        captured[k] = Some(mode.duplicate(gy));
                    }
                }
                (Sink::Capture(_), None) => {}
            }
        }
        // Anomalies are checked on the rule's results, so a recorded rule must not fail inside
        // (the guard restores the setting, also if the rule panics).
        let anomaly = AnomalyOff(graph, graph.replace_detect_anomaly(false));
        let detect = anomaly.1;
        let gxs = match &*op.op {
            RecordOp::Builtin(b) => {
                let gy = gys[0].take();
                let gy = gy.unwrap_or_else(|| mode.filled(outputs[0], F::zero()));
                Ok(SmallVec::from(
                    mode.rule(b, &inputs, outputs[0], gy, &needs),
                ))
            }
            RecordOp::Function(f) => mode.function(&**f, &inputs, &outputs, gys),
        };
        drop(anomaly);
        let name = op.op.name();
        drop(op);
        let gxs = gxs?;
        if detect && gxs.iter().flatten().any(|g| !mode.is_finite(g)) {
            return Err(Error::Anomaly {
                op: name,
                phase: "backward",
                position: i,
            });
        }
        for ((&x, gx), need) in inputs.iter().zip(gxs).zip(needs) {
            if let Some(gx) = gx.filter(|_| need) {
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

/// Which of `inputs` take a gradient: all but the constants.
pub(crate) fn needs<F: Float>(
    nodes: &SlotMap<VarId, Node<F>>,
    inputs: &[VarId],
) -> SmallVec<[bool; 2]> {
    ops::small(inputs.iter().map(|&x| !nodes[x].is_const()))
}

/// Anomaly detection off while a rule runs; restored on drop (also on unwinding).
struct AnomalyOff<'a, F: Float>(&'a Graph<F>, bool);

impl<F: Float> Drop for AnomalyOff<'_, F> {
    fn drop(&mut self) {
        self.0.set_detect_anomaly(self.1);
    }
}

/// An op taken out of its record for the time its rule runs; put back on drop (also when the
/// rule fails or panics).
struct Taken<'a, F: Float> {
    graph: &'a Graph<F>,
    index: usize,
    op: ManuallyDrop<RecordOp<F>>,
}

impl<F: Float> Drop for Taken<'_, F> {
    fn drop(&mut self) {
        let op = std::mem::replace(&mut self.op, ManuallyDrop::new(RecordOp::placeholder()));
        match self.graph.inner.try_borrow_mut() {
            Ok(mut inner) if self.index < inner.tape.len() => inner.tape[self.index].op = op,
            // (the tape was cleared meanwhile: nothing to put it back into)
            _ => drop(ManuallyDrop::into_inner(op)),
        }
    }
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
