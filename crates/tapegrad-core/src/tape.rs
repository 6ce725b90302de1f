//! The Wengert tape's entries: one [`Record`] per recorded op, `outputs = op(inputs)`, with any
//! number of inputs and outputs.
//!
//! A built-in op has one output and one or two inputs, kept inline ([`Args::Inline`]); anything
//! else (a user [`Function`], `concat`, `split`) keeps its variables in one boxed slice. A record
//! is 64 bytes either way, which sets the memory of a deep graph.

use std::mem::ManuallyDrop;

use slotmap::Key;

use crate::arena::VarId;
use crate::ops::Op;
use crate::{Float, Function};

/// What a record computes: a built-in op, or a [`Function`] (user-defined or built on that
/// mechanism, such as `concat`).
pub(crate) enum RecordOp<F> {
    Builtin(Op<F>),
    Function(Box<dyn Function<F>>),
}

impl<F: Float> RecordOp<F> {
    /// The op's name as the user spells it; used in errors and graph exports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            RecordOp::Builtin(op) => op.name(),
            RecordOp::Function(f) => f.name(),
        }
    }

    /// The name with its parameters, for graph exports.
    pub(crate) fn label(&self) -> String {
        match self {
            RecordOp::Builtin(op) => op.label(),
            RecordOp::Function(f) => f.name().to_owned(),
        }
    }

    /// Whether a gradient flows through the op (see [`Op::passes_gradient`]; a function's
    /// record never reaches the scalar sweep, which asks).
    #[inline(always)]
    pub(crate) fn passes_gradient(&self) -> bool {
        match self {
            RecordOp::Builtin(op) => op.passes_gradient(),
            RecordOp::Function(_) => true,
        }
    }

    /// Stands in for an op taken out of its record while its rule runs.
    pub(crate) fn placeholder() -> Self {
        RecordOp::Builtin(Op::Binary(crate::ops::arith::Binary::Add))
    }
}

impl<F> std::fmt::Debug for RecordOp<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordOp::Builtin(_) => f.write_str("Builtin"),
            RecordOp::Function(_) => f.write_str("Function"),
        }
    }
}

/// The variables of a record: inputs, then outputs.
#[derive(Debug)]
pub(crate) enum Args {
    /// One or two inputs (the null key in an unused second slot) and one output.
    Inline([VarId; 2], VarId),
    /// Any number of each.
    Spilled(Box<Spilled>),
}

#[derive(Debug)]
pub(crate) struct Spilled {
    /// Inputs, then outputs.
    ids: Box<[VarId]>,
    inputs: usize,
}

impl Args {
    /// The arguments of a record with these inputs and outputs: inline when they fit.
    pub(crate) fn new(inputs: &[VarId], outputs: &[VarId]) -> Self {
        match (inputs, outputs) {
            (&[a], &[y]) => Args::Inline([a, VarId::null()], y),
            (&[a, b], &[y]) => Args::Inline([a, b], y),
            _ => Args::Spilled(Box::new(Spilled {
                ids: inputs.iter().chain(outputs).copied().collect(),
                inputs: inputs.len(),
            })),
        }
    }

    /// The arguments of a built-in op: its one or two inputs and its output.
    #[inline(always)]
    pub(crate) fn inline<F: Float>(inputs: &[crate::Var<'_, F>], output: VarId) -> Self {
        let second = inputs.get(1).map_or(VarId::null(), |v| v.id());
        Args::Inline([inputs[0].id(), second], output)
    }
}

/// One entry of the Wengert tape: `outputs = op(inputs)`.
#[derive(Debug)]
pub(crate) struct Record<F> {
    /// Not dropped with the record: most ops hold nothing on the heap, and emptying a tape of
    /// them is then one length reset instead of a test per record (`Inner::clear_tape`).
    pub(crate) op: ManuallyDrop<RecordOp<F>>,
    /// Not dropped with the record either, for the same reason.
    pub(crate) args: ManuallyDrop<Args>,
    /// For a built-in op of numbers, `dy/dx_k` of each input ([`Op::partials`], at the values it
    /// was recorded with): all the scalar sweep needs. NaN otherwise.
    pub(crate) partials: [F; 2],
}

impl<F> Record<F> {
    /// The op's operands, in order.
    #[inline(always)]
    pub(crate) fn inputs(&self) -> &[VarId] {
        match &*self.args {
            Args::Inline(xs, _) if xs[1].is_null() => &xs[..1],
            Args::Inline(xs, _) => xs,
            Args::Spilled(s) => &s.ids[..s.inputs],
        }
    }

    /// The op's results, in order.
    #[inline(always)]
    pub(crate) fn outputs(&self) -> &[VarId] {
        match &*self.args {
            Args::Inline(_, y) => std::slice::from_ref(y),
            Args::Spilled(s) => &s.ids[s.inputs..],
        }
    }

    /// Drops what the record holds on the heap (its op and its arguments).
    pub(crate) fn release(self) {
        drop(ManuallyDrop::into_inner(self.op));
        drop(ManuallyDrop::into_inner(self.args));
    }
}
