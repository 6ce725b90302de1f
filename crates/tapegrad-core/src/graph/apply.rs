//! Recording a built-in op: [`Graph::apply1`], the one entry point every op's method goes
//! through, its fast path for numbers and its general path (`apply_general`).

use ndarray::ArrayViewD;
use smallvec::SmallVec;

use crate::arena::{CONST, Data, Inner, LEAF, NO_ARRAY, VarId};
use crate::engine::Inside;
use crate::error::{Error, Result};
use crate::ops::{self, Op};
use crate::tape::{Args, RecordOp, Tape};
use crate::{Float, Graph, Var};

impl<F: Float> Graph<F> {
    /// Applies `op` to `inputs`: the one place where an op is checked, computed and recorded
    /// (every op has one output).
    ///
    /// Inlined into every op's method, so that for a known op the common case of deep scalar
    /// graphs (one or two live numbers of this graph in, a number out) compiles down to the
    /// formula, an arena insert and a tape push. Those methods are `#[inline(never)]`: a user
    /// function of many ops is then a row of calls, and compiles in time linear in its length
    /// (inlined, the optimiser's time grew with the square of it). Everything else (arrays,
    /// errors, anomaly detection, `clip`'s bounds) takes [`Graph::apply_general`], which gives
    /// the same results.
    ///
    /// `op` is anything that converts into an op (`Binary::Add`, `(ScalarOp::Pow, c)`,
    /// `Math::Exp`): built here, each call site's op stays a constant the compiler folds (an `Op`
    /// built by the caller can be shared between call sites and read back from memory).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn apply1(&self, op: impl Into<Op<F>>, inputs: &[Var<'_, F>]) -> Result<Var<'_, F>> {
        match self.apply_numbers(op.into(), inputs) {
            Ok(y) => Ok(y),
            Err(op) => self.apply_general(op, inputs),
        }
    }

    /// [`Graph::apply1`] for the methods that panic on an error (the operators, `x.exp()`):
    /// the fast path returns its variable straight from the method, in registers, and the
    /// general path, errors included, is a call out of line (`or_panic(apply1(..))` puts the
    /// fast path's result in a `Result` in memory, as large as an `Error`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[track_caller]
    pub(crate) fn apply1_or_panic<'g, const N: usize>(
        &'g self,
        op: impl Into<Op<F>>,
        inputs: [Var<'g, F>; N],
    ) -> Var<'g, F> {
        match self.apply_numbers(op.into(), &inputs) {
            Ok(y) => y,
            Err(op) => self.apply_general_or_panic(op, inputs),
        }
    }

    /// The fast path of [`Graph::apply1`]: one or two live numbers of this graph in, a number
    /// out, no anomaly detection. Gives the op back for [`Graph::apply_general`] otherwise.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn apply_numbers(&self, op: Op<F>, inputs: &[Var<'_, F>]) -> Result<Var<'_, F>, Op<F>> {
        if inputs.len() > 2 || !op.scalar_closed() || !op.scalars_fit() || self.detect_anomaly.get()
        {
            return Err(op);
        }
        let heap = op.on_heap();
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return Err(op); // (the general path reports the busy graph)
        };
        let Some((xs, creators)) = self.numbers(&inner, inputs) else {
            return Err(op);
        };
        let xs = &xs[..inputs.len()];
        let constant = creators[..inputs.len()].iter().all(|&c| c == CONST);
        let y = op.eval_scalars(xs);
        let out = if self.recording.get() && !constant {
            let partials = op.partials(xs, y);
            let creator = Self::next_creator(&inner.tape);
            let out = inner.insert_scalar(y, creator);
            let args = Args::inline(inputs, creators, out);
            let op = match op.rebuilt() {
                Some(copy) => {
                    op.discard();
                    copy
                }
                None => op,
            };
            inner.push_record(RecordOp::Builtin(op), heap, args, partials);
            out
        } else {
            op.discard();
            inner.insert_unrecorded_cold(y, if constant { CONST } else { LEAF })
        };
        Ok(Var::from_id(self, out))
    }

    /// [`Graph::apply_general`], panicking with its error's message.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn apply_general_or_panic<'g, const N: usize>(
        &'g self,
        op: Op<F>,
        inputs: [Var<'g, F>; N],
    ) -> Var<'g, F> {
        crate::error::or_panic(self.apply_general(op, &inputs))
    }

    /// The values of `inputs` if they are all live numbers of this graph, and the records that
    /// made them (`CONST` past the last input).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn numbers(
        &self,
        inner: &Inner<F>,
        inputs: &[Var<'_, F>],
    ) -> Option<([F; 2], [u32; 2])> {
        let mut xs = [F::zero(); 2];
        let mut creators = [CONST; 2];
        for ((x, c), v) in xs.iter_mut().zip(&mut creators).zip(inputs) {
            if !std::ptr::eq(v.graph, self) {
                return None;
            }
            let node = inner.nodes.get(v.id())?;
            if node.array() != NO_ARRAY {
                return None;
            }
            *x = node.scalar();
            *c = node.raw_creator();
        }
        Some((xs, creators))
    }

    /// The creator of an op's results: the next record's index when `recording`, else the
    /// sentinel of a constant or a leaf.
    pub(crate) fn creator(tape: &Tape<F>, recording: bool, constant: bool) -> u32 {
        if recording {
            Self::next_creator(tape)
        } else if constant {
            CONST
        } else {
            LEAF
        }
    }

    /// The creator index of the next record.
    ///
    /// # Panics
    /// When the tape is full (the last indices mark leaves).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn next_creator(tape: &Tape<F>) -> u32 {
        match u32::try_from(tape.len()) {
            Ok(i) if i < CONST => i,
            _ => panic!("the tape is full: more than u32::MAX - 3 records"),
        }
    }

    /// [`Graph::apply1`] for any operands: checks them, computes, records. Compiled once for
    /// each element type, in this crate ([`Engine`](crate::engine::Engine)).
    fn apply_general(&self, op: Op<F>, inputs: &[Var<'_, F>]) -> Result<Var<'_, F>> {
        F::apply_general(Inside, self, op, inputs)
    }

    /// [`Graph::apply_general`]'s body.
    #[inline(never)]
    pub(crate) fn apply_general_here(
        &self,
        op: Op<F>,
        inputs: &[Var<'_, F>],
    ) -> Result<Var<'_, F>> {
        let name = op.name();
        if inputs.iter().any(|v| !std::ptr::eq(v.graph, self)) {
            return Err(Error::GraphMismatch { op: name });
        }
        let mut inner = self.write()?;
        let mut constant = !inputs.is_empty();
        // One or two numbers in, a number out: the formula on the stack.
        let mut scalars = [F::zero(); 2];
        let mut n = 0;
        for v in inputs {
            let Some(node) = inner.nodes.get(v.id()) else {
                return Err(Error::StaleVar); // (not `ok_or`: that builds and drops an Error per input)
            };
            constant &= node.is_const();
            if let (Data::Scalar(s), Some(slot)) = (node.data(), scalars.get_mut(n)) {
                *slot = s;
                n += 1;
            }
        }
        let y = if n == inputs.len() && op.scalar_closed() {
            op.check_scalars()?;
            Data::Scalar(op.eval_scalars(&scalars[..n]))
        } else {
            let a = {
                let inner = &*inner;
                let shapes: SmallVec<[&[usize]; 2]> =
                    ops::small(inputs.iter().map(|v| inner.view_shape(v.id())));
                op.check(&shapes)?;
                let views: SmallVec<[ArrayViewD<'_, F>; 2]> =
                    ops::small(inputs.iter().map(|v| inner.view(v.id())));
                op.forward(&views)
            };
            if self.detect_anomaly.get() && !a.iter().all(|v| v.is_finite()) {
                return Err(self.forward_anomaly(&op, inner.tape.len()));
            }
            inner.store(a)
        };
        if let Data::Scalar(s) = y
            && self.detect_anomaly.get()
            && !s.is_finite()
        {
            return Err(self.forward_anomaly(&op, inner.tape.len()));
        }
        // Nothing to differentiate through constants: their results are constants, unrecorded.
        let recording = self.recording.get() && !constant;
        let creator = Self::creator(&inner.tape, recording, constant);
        let out = inner.insert(y, creator);
        if recording {
            // (the scalar sweep runs only on graphs with no array at all: on numbers' records)
            let partials = match y {
                Data::Scalar(s) if n == inputs.len() && op.scalar_closed() => {
                    op.partials(&scalars[..n], s)
                }
                _ => [F::nan(); 2],
            };
            let heap = op.on_heap();
            let ids: SmallVec<[VarId; 2]> = inputs.iter().map(|v| v.id()).collect();
            let args = Args::new(&inner.nodes, &ids, &[out]);
            inner.push_record(RecordOp::Builtin(op), heap, args, partials);
        }
        Ok(Var::from_id(self, out))
    }

    fn forward_anomaly(&self, op: &Op<F>, position: usize) -> Error {
        Error::Anomaly {
            op: op.name(),
            phase: "forward",
            position,
        }
    }
}
