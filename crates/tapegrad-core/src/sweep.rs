//! The sweep itself: the reverse loop over the tape shared by every kind of pass ([`sweep`]),
//! and what differs between them ([`Mode`]: gradients as arrays or as recorded variables, in
//! `sweep/modes.rs`; [`Sink`]: stored on the variables, or captured for `grad`). The loop
//! specialised to graphs of numbers is `scalar_sweep.rs`; `backward.rs` has the algorithm.

use std::mem::ManuallyDrop;

use ndarray::ArrayD;
use slotmap::{SecondaryMap, SlotMap};
use smallvec::SmallVec;

use crate::arena::{Node, VarId};
use crate::error::{Error, Result};
use crate::function::Function;
use crate::ops::{self, Grads, Op};
use crate::tape::{RecordOp, placeholder_op};
use crate::{Float, Graph};

mod modes;
pub(crate) use modes::{ArrayMode, VarMode};

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
        // The op (or the function) is taken out of the tape while its rule runs (a recorded
        // rule pushes on the tape, which may move it), and put back by `Taken`'s drop.
        let (op, inputs, outputs) = {
            let mut inner = graph.inner.borrow_mut();
            let rec = &mut inner.tape[i];
            if !rec.outputs().iter().any(|&o| pending.contains(o)) {
                continue; // not an ancestor of the seeds
            }
            let inputs: SmallVec<[VarId; 2]> = SmallVec::from_slice(rec.inputs());
            let outputs: SmallVec<[VarId; 1]> = SmallVec::from_slice(rec.outputs());
            let rule = match &*rec.op {
                &RecordOp::Function(k) => Rule::Function(k, inner.tape.take_function(k)),
                RecordOp::Builtin(_) => {
                    let placeholder = ManuallyDrop::new(RecordOp::placeholder());
                    let op = ManuallyDrop::into_inner(std::mem::replace(&mut rec.op, placeholder));
                    let RecordOp::Builtin(op) = op else { continue }; // (matched above)
                    Rule::Builtin(op)
                }
            };
            let op = Taken {
                graph,
                index: i,
                rule,
            };
            (op, inputs, outputs)
        };
        // (one borrow for both: which inputs take a gradient, and whether data changed)
        let (needs, changed) = {
            let inner = graph.inner.borrow();
            let changed = inner.changed_after(i, &inputs) || inner.changed_after(i, &outputs);
            (needs(&inner.nodes, &inputs), changed)
        };
        if changed {
            return Err(Error::ModifiedAfterRecording {
                op: op.name(),
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
        let gxs = match &op.rule {
            Rule::Builtin(b) => {
                let gy = gys[0].take();
                let gy = gy.unwrap_or_else(|| mode.filled(outputs[0], F::zero()));
                Ok(SmallVec::from(
                    mode.rule(b, &inputs, outputs[0], gy, &needs),
                ))
            }
            Rule::Function(_, f) => mode.function(&**f, &inputs, &outputs, gys),
        };
        drop(anomaly);
        let name = op.name();
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

/// A record's rule: its built-in op, or its function with the function's index.
enum Rule<F: Float> {
    Builtin(Op<F>),
    Function(u32, Box<dyn crate::Function<F>>),
}

/// A rule taken out of the tape for the time it runs; put back on drop (also when the rule
/// fails or panics).
struct Taken<'a, F: Float> {
    graph: &'a Graph<F>,
    index: usize,
    rule: Rule<F>,
}

impl<F: Float> Taken<'_, F> {
    fn name(&self) -> &'static str {
        match &self.rule {
            Rule::Builtin(op) => op.name(),
            Rule::Function(_, f) => f.name(),
        }
    }
}

impl<F: Float> Drop for Taken<'_, F> {
    fn drop(&mut self) {
        let rule = std::mem::replace(&mut self.rule, Rule::Builtin(placeholder_op()));
        match self.graph.inner.try_borrow_mut() {
            Ok(mut inner) if self.index < inner.tape.len() => match rule {
                Rule::Builtin(op) => {
                    inner.tape[self.index].op = ManuallyDrop::new(RecordOp::Builtin(op));
                }
                Rule::Function(k, f) => inner.tape.put_function(k, f),
            },
            // (the tape was cleared meanwhile: nothing to put it back into)
            _ => drop(rule),
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
