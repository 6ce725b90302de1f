//! The arena: every variable's node (value, stored gradient, creator) in one slotmap, and the
//! mutable state of a graph ([`Inner`]) that holds it with the tape and the array store.

use std::mem::ManuallyDrop;

use ndarray::{ArrayD, ArrayViewD};
use slotmap::{SecondaryMap, SlotMap, SparseSecondaryMap, new_key_type};

use crate::Float;
use crate::ops::Val;
use crate::tape::{Args, Record, RecordOp, Tape};

mod clear;

new_key_type! {
    /// The arena key of a variable. Generational: after [`Graph::clear`] an old key finds nothing
    /// instead of finding whatever reused its slot.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let a = g.scalar(1.0);
    /// g.clear();
    /// let b = g.scalar(1.0); // may reuse `a`'s slot, never its key
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub struct VarId;
}

/// A stored gradient: a plain array, or a variable of the graph when it was made with
/// `create_graph` (or asked for with [`Var::grad_var`]).
#[derive(Debug)]
pub(crate) enum Grad<F> {
    /// The gradient of a 0-d variable: no array to allocate.
    Scalar(F),
    /// Boxed, so that a stored gradient takes two words in its node.
    Array(Box<ArrayD<F>>),
    Var(VarId),
}

/// A variable's value: a 0-d value inline (no heap at all), anything else as an index into the
/// graph's array store. Keeps the arena slot small: scalar graphs are the common deep ones.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Data<F> {
    Scalar(F),
    Array(u32),
}

/// `Node::creator` of a leaf.
pub(crate) const LEAF: u32 = u32::MAX;
/// `Node::creator` of a parameter: a leaf that survives [`Graph::clear`].
pub(crate) const PARAM: u32 = u32::MAX - 1;
/// `Node::creator` of a constant: a leaf that takes no gradient ([`Graph::constant`]), or the
/// result of an op whose inputs are all constants (not recorded).
pub(crate) const CONST: u32 = u32::MAX - 2;
/// `Node::array` of a 0-d variable (its value is `Node::scalar`).
pub(crate) const NO_ARRAY: u32 = u32::MAX;

/// One variable in the arena: 16 bytes, 24 with the slotmap's version (the memory of a deep
/// graph, tested in `graph.rs`). [`Data`] unpacked by hand: an enum would add a tag word. Its
/// stored gradient is kept apart ([`Inner::grads`]): few variables have one.
#[derive(Debug)]
pub(crate) struct Node<F> {
    scalar: F,
    /// `Node::array` in the high half, `Node::creator` in the low half: one word, written with
    /// word-sized stores (docs/performance.md says why).
    tags: u64,
}

impl<F: Float> Node<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn new(data: Data<F>, creator: u32) -> Self {
        let (scalar, array) = match data {
            Data::Scalar(s) => (s, NO_ARRAY),
            Data::Array(k) => (F::zero(), k),
        };
        Node {
            scalar,
            tags: u64::from(array) << 32 | u64::from(creator),
        }
    }

    /// Gives the node a new value and creator (its stored gradient, kept apart, stays).
    pub(crate) fn replace(&mut self, data: Data<F>, creator: u32) {
        *self = Node::new(data, creator);
    }

    /// Index into the array store, or `NO_ARRAY` for a number.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn array(&self) -> u32 {
        (self.tags >> 32) as u32
    }

    /// Index of the tape record that made this variable; [`LEAF`], [`PARAM`] or [`CONST`] for a
    /// leaf.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn raw_creator(&self) -> u32 {
        self.tags as u32 // the low half
    }

    pub(crate) fn data(&self) -> Data<F> {
        if self.array() == NO_ARRAY {
            Data::Scalar(self.scalar)
        } else {
            Data::Array(self.array())
        }
    }

    pub(crate) fn creator(&self) -> Option<u32> {
        let creator = self.raw_creator();
        (creator < CONST).then_some(creator)
    }

    /// Whether gradients stop here ([`Graph::constant`]).
    pub(crate) fn is_const(&self) -> bool {
        self.raw_creator() == CONST
    }

    /// The value of a 0-d variable (meaningless for an array).
    pub(crate) fn scalar(&self) -> F {
        self.scalar
    }

    /// The value of a 0-d variable, to change in place.
    pub(crate) fn scalar_mut(&mut self) -> &mut F {
        &mut self.scalar
    }
}

/// The stored gradients, by variable (dense, as the arena), and the first few variables given
/// one since the last `clear`: a small graph's `clear` then costs what it stored, not a walk of
/// every slot.
#[derive(Debug)]
pub(crate) struct Grads<F> {
    map: SecondaryMap<VarId, Grad<F>>,
    /// `None` once more than [`Grads::TRACKED`] were stored: `clear` walks the map then.
    keys: Option<Vec<VarId>>,
}

impl<F> Grads<F> {
    const TRACKED: usize = 64;

    pub(crate) fn new() -> Self {
        Grads {
            map: SecondaryMap::new(),
            keys: Some(Vec::new()),
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn get(&self, id: VarId) -> Option<&Grad<F>> {
        self.map.get(id)
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn get_mut(&mut self, id: VarId) -> Option<&mut Grad<F>> {
        self.map.get_mut(id)
    }

    pub(crate) fn insert(&mut self, id: VarId, g: Grad<F>) {
        if self.map.insert(id, g).is_none()
            && let Some(keys) = &mut self.keys
        {
            if keys.len() < Self::TRACKED {
                keys.push(id);
            } else {
                self.keys = None;
            }
        }
    }

    pub(crate) fn remove(&mut self, id: VarId) -> Option<Grad<F>> {
        self.map.remove(id)
    }

    pub(crate) fn clear(&mut self) {
        match &mut self.keys {
            Some(keys) => keys.drain(..).for_each(|k| drop(self.map.remove(k))),
            None => {
                self.map.clear();
                self.keys = Some(Vec::new());
            }
        }
    }

    /// Keeps the gradients of the variables `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(VarId) -> bool) {
        let Grads { map, keys } = self;
        match keys {
            Some(keys) => keys.retain(|&k| {
                let kept = map.contains_key(k) && keep(k);
                if !kept {
                    map.remove(k);
                }
                kept
            }),
            None => map.retain(|id, _| keep(id)),
        }
    }
}

/// The mutable state of a graph, behind one `RefCell`.
#[derive(Debug)]
pub(crate) struct Inner<F> {
    pub(crate) nodes: SlotMap<VarId, Node<F>>,
    /// The gradients kept after a backward pass (`.grad`: leaves, or everything with
    /// `retain_grad`), by variable. A number is kept inline: storing a scalar's gradient
    /// allocates nothing.
    pub(crate) grads: Grads<F>,
    pub(crate) tape: Tape<F>,
    /// Values of the variables that are not 0-d, indexed by `Data::Array`.
    pub(crate) arrays: Vec<ArrayD<F>>,
    /// Labels; few variables have one.
    pub(crate) names: SparseSecondaryMap<VarId, Box<str>>,
    /// Whether a parameter was ever made ([`Graph::param`]): `clear` has nothing to keep if not.
    pub(crate) has_params: bool,
    /// Whether a record on the tape holds something on the heap (`RecordOp::on_heap`, spilled
    /// arguments): only then does `clear` drop records one by one.
    pub(crate) heap_ops: bool,
    /// Whether a [`Function`](crate::Function)'s record is on the tape: then the scalar sweep,
    /// which needs every record's local derivatives, cannot run.
    pub(crate) functions: bool,
    /// While a function's backward runs without `create_graph`: the variables it makes, all
    /// temporary, removed when it returns (`function::run_backward`).
    pub(crate) scratch: Option<Vec<VarId>>,
    /// Variables whose value was changed while records were on the tape, with the tape length
    /// at the change: a record before it saw the old value ([`Inner::changed_after`]).
    pub(crate) modified: SparseSecondaryMap<VarId, usize>,
    /// Whether a pass with `retain_grad` ran since the last `clear`: only then can an op's
    /// result hold a gradient that a later pass must free (the scalar sweep skips the check).
    pub(crate) retained: bool,
    /// The scalar sweep's pending gradients of op results, by record index (see
    /// `backward::sweep_scalars`); empty between passes, kept so that it is reused (a fresh
    /// vector per `backward` costs more than a small graph's whole pass).
    pub(crate) pending: crate::scalar_sweep::Pending<F>,
    /// The variables no record made (leaves, constants, unrecorded results) since the last
    /// `clear`, while there are few: with the records' outputs, every variable of the graph, so
    /// that `clear` removes them by key instead of walking every slot of the arena.
    pub(crate) loose: Option<Vec<VarId>>,
    /// Whether the last `clear` removed the variables by key (for tests).
    #[cfg(test)]
    pub(crate) last_clear_by_key: bool,
}

impl<F: Float> Inner<F> {
    /// Stores a value: 0-d inline, anything else in the array store.
    pub(crate) fn store(&mut self, a: ArrayD<F>) -> Data<F> {
        if a.ndim() == 0 {
            Data::Scalar(a.iter().copied().next().unwrap_or_else(F::nan))
        } else {
            self.arrays.push(a);
            Data::Array(u32::try_from(self.arrays.len() - 1).expect("more than u32::MAX arrays"))
        }
    }

    /// Empties the array store, its arrays' memory to the pool for the next ones.
    pub(crate) fn free_arrays(&mut self) {
        self.arrays.drain(..).for_each(crate::buffer::recycle);
    }

    pub(crate) fn insert(&mut self, data: Data<F>, creator: u32) -> VarId {
        // (`insert_with_key`, so that `insert_scalar` stays the only caller of `insert`)
        let id = self.nodes.insert_with_key(|_| Node::new(data, creator));
        if creator >= CONST {
            self.note_loose(id);
        }
        if let Some(scratch) = &mut self.scratch {
            scratch.push(id);
        }
        id
    }

    /// [`Inner::insert_scalar`] for a number no record made (a leaf, a constant, a result not
    /// recorded), noted for `clear` and, in a function's backward, as temporary.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn insert_unrecorded(&mut self, v: F, creator: u32) -> VarId {
        let id = self.insert_scalar(v, creator);
        self.note_loose(id);
        if let Some(scratch) = &mut self.scratch {
            scratch.push(id);
        }
        id
    }

    /// [`Inner::insert_unrecorded`] out of line, for the op methods' fast path, where recording
    /// is the common case: the methods stay smaller.
    #[cold]
    #[inline(never)]
    pub(crate) fn insert_unrecorded_cold(&mut self, v: F, creator: u32) -> VarId {
        self.insert_unrecorded(v, creator)
    }

    /// [`Inner::insert`] of a number, for the scalar hot path: inlined into it, so that the
    /// slotmap's insert is called with the node's parts in registers (docs/performance.md).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn insert_scalar(&mut self, v: F, creator: u32) -> VarId {
        self.nodes.insert(Node::new(Data::Scalar(v), creator))
    }

    /// Pushes `outputs = op(inputs)` on the tape.
    ///
    /// `heap` is whether the op or the arguments hold heap memory, asked by the caller while the
    /// op is still a known value (so that the test folds away for a known op).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn push_record(
        &mut self,
        op: RecordOp<F>,
        heap: bool,
        args: Args,
        partials: [F; 2],
    ) {
        self.heap_ops |= heap || matches!(args, Args::Spilled(_));
        let mut args = args;
        if !op.passes_gradient() {
            args.pass_no_gradient();
        }
        self.tape.push(Record {
            op: ManuallyDrop::new(op),
            args: ManuallyDrop::new(args),
            partials,
        });
    }

    /// Empties the tape, dropping the ops that hold heap parameters (the others need nothing).
    pub(crate) fn clear_tape(&mut self) {
        self.functions = false;
        self.modified.clear();
        let release_each = std::mem::take(&mut self.heap_ops);
        self.tape.clear(release_each);
    }

    /// The value of a variable, borrowed (the caller has checked that `id` is live).
    pub(crate) fn val(&self, id: VarId) -> Val<'_, F> {
        match self.nodes[id].data() {
            Data::Scalar(s) => Val::S(s),
            Data::Array(k) => Val::R(&self.arrays[k as usize]),
        }
    }

    /// The shape of a variable (`[]` for a number), borrowed.
    pub(crate) fn view_shape(&self, id: VarId) -> &[usize] {
        match self.nodes[id].data() {
            Data::Scalar(_) => &[],
            Data::Array(k) => self.arrays[k as usize].shape(),
        }
    }

    /// The value of a variable as an array view (0-d for a scalar).
    pub(crate) fn view(&self, id: VarId) -> ArrayViewD<'_, F> {
        let node = &self.nodes[id];
        match node.data() {
            Data::Scalar(_) => ndarray::aview0(&node.scalar).into_dyn(),
            Data::Array(k) => self.arrays[k as usize].view(),
        }
    }

    /// A stored gradient's value, as an array of its own.
    pub(crate) fn grad_array(&self, g: &Grad<F>) -> ArrayD<F> {
        match g {
            &Grad::Scalar(s) => ndarray::arr0(s).into_dyn(),
            Grad::Array(a) => crate::buffer::copy(a),
            // A gradient variable lives as long as the variable whose gradient it is.
            &Grad::Var(id) => self.val(id).into_array(),
        }
    }

    /// Notes that `id`'s value is about to change, if a record may have read it.
    pub(crate) fn note_change(&mut self, id: VarId) {
        if !self.tape.is_empty() {
            self.modified.insert(id, self.tape.len());
        }
    }

    /// Whether one of `ids` changed after the record at `position` read it.
    pub(crate) fn changed_after(&self, position: usize, ids: &[VarId]) -> bool {
        !self.modified.is_empty()
            && ids
                .iter()
                .any(|&id| self.modified.get(id).is_some_and(|&t| t > position))
    }

    /// Replaces a variable's value.
    pub(crate) fn set(&mut self, id: VarId, a: ArrayD<F>) {
        self.note_change(id);
        match self.nodes[id].data() {
            Data::Array(k) if a.ndim() > 0 => {
                crate::buffer::recycle(std::mem::replace(&mut self.arrays[k as usize], a));
            }
            _ => {
                let data = self.store(a);
                let node = &mut self.nodes[id];
                node.replace(data, node.raw_creator());
            }
        }
    }
}
