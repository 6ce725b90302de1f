//! The Wengert tape's entries: one [`Record`] per recorded op, `outputs = op(inputs)`, with any
//! number of inputs and outputs.
//!
//! A built-in op has one output and one or two inputs, kept inline ([`Args::Inline`]); anything
//! else (a user [`Function`], `concat`, `split`) keeps its variables in one boxed slice. A record
//! is 64 bytes (a cache line) either way, which sets the memory of a deep graph; the [`Tape`]
//! keeps them in segments.

use std::mem::ManuallyDrop;

use slotmap::{Key, SlotMap};

use crate::arena::{CONST, Node, VarId};
use crate::ops::Op;
use crate::{Float, Function};

/// What a record computes: a built-in op, or a [`Function`] (user-defined or built on that
/// mechanism, such as `concat`).
pub(crate) enum RecordOp<F> {
    Builtin(Op<F>),
    /// The function's index in the tape's table ([`Tape::function`]): a box of its own, two
    /// words, would make every record a word longer than its cache line.
    Function(u32),
}

impl<F: Float> RecordOp<F> {
    /// Whether a gradient flows through the op (see [`Op::passes_gradient`]; a function's
    /// backward decides for itself).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn passes_gradient(&self) -> bool {
        match self {
            RecordOp::Builtin(op) => op.passes_gradient(),
            RecordOp::Function(_) => true,
        }
    }

    /// Stands in for an op taken out of its record while its rule runs.
    pub(crate) fn placeholder() -> Self {
        RecordOp::Builtin(placeholder_op())
    }
}

impl<F> std::fmt::Debug for RecordOp<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordOp::Builtin(_) => f.write_str("Builtin"),
            RecordOp::Function(k) => write!(f, "Function({k})"),
        }
    }
}

/// An op with nothing on the heap, to stand in for one taken out of the tape.
pub(crate) fn placeholder_op<F>() -> Op<F> {
    Op::Binary(crate::ops::arith::Binary::Add)
}

/// Stands in for a function taken out of the tape's table while its backward runs (a zero-sized
/// type: boxing it allocates nothing).
struct Placeholder;

impl<F: Float> Function<F> for Placeholder {
    fn name(&self) -> &'static str {
        "function"
    }
    fn forward(&self, _: &[ndarray::ArrayViewD<'_, F>]) -> Result<Vec<ndarray::ArrayD<F>>, String> {
        Err("taken out of the tape while its backward runs".to_owned())
    }
    fn backward<'g>(
        &self,
        _: &[crate::Var<'g, F>],
        _: &[crate::Var<'g, F>],
        _: &[crate::Var<'g, F>],
    ) -> crate::Result<Vec<Option<crate::Var<'g, F>>>> {
        Ok(Vec::new())
    }
}

/// The variables of a record: inputs, then outputs.
#[derive(Debug)]
pub(crate) enum Args {
    /// One or two inputs (the null key in an unused second slot) and one output, with the
    /// records that made the inputs, as the scalar sweep follows them ([`Node::raw_creator`];
    /// `CONST` where no gradient flows: an unused slot, a constant, every input of an op such as
    /// `sign`). The sweep reads them instead of looking each input up.
    Inline {
        inputs: [VarId; 2],
        creators: [u32; 2],
        output: VarId,
    },
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
    /// The arguments of a record with these (live) inputs and outputs: inline when they fit.
    pub(crate) fn new<F: Float>(
        nodes: &SlotMap<VarId, Node<F>>,
        inputs: &[VarId],
        outputs: &[VarId],
    ) -> Self {
        let creator = |x: VarId| nodes.get(x).map_or(CONST, Node::raw_creator);
        match (inputs, outputs) {
            (&[a], &[y]) => Args::Inline {
                inputs: [a, VarId::null()],
                creators: [creator(a), CONST],
                output: y,
            },
            (&[a, b], &[y]) => Args::Inline {
                inputs: [a, b],
                creators: [creator(a), creator(b)],
                output: y,
            },
            _ => Args::Spilled(Box::new(Spilled {
                ids: inputs.iter().chain(outputs).copied().collect(),
                inputs: inputs.len(),
            })),
        }
    }

    /// The arguments of a built-in op: its one or two inputs, the records that made them
    /// (`CONST` in an unused second slot) and its output.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn inline<F: Float>(
        inputs: &[crate::Var<'_, F>],
        creators: [u32; 2],
        output: VarId,
    ) -> Self {
        let second = inputs.get(1).map_or(VarId::null(), |v| v.id());
        Args::Inline {
            inputs: [inputs[0].id(), second],
            creators,
            output,
        }
    }

    /// Marks the inputs as taking no gradient through this record (for the scalar sweep).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn pass_no_gradient(&mut self) {
        if let Args::Inline { creators, .. } = self {
            *creators = [CONST; 2];
        }
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
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn inputs(&self) -> &[VarId] {
        match &*self.args {
            Args::Inline { inputs, .. } if inputs[1].is_null() => &inputs[..1],
            Args::Inline { inputs, .. } => inputs,
            Args::Spilled(s) => &s.ids[..s.inputs],
        }
    }

    /// The op's results, in order.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn outputs(&self) -> &[VarId] {
        match &*self.args {
            Args::Inline { output, .. } => std::slice::from_ref(output),
            Args::Spilled(s) => &s.ids[s.inputs..],
        }
    }

    /// Drops what the record holds on the heap (its op and its arguments).
    pub(crate) fn release(self) {
        drop(ManuallyDrop::into_inner(self.op));
        drop(ManuallyDrop::into_inner(self.args));
    }
}

/// How many records ahead of the one written [`Tape::push`] asks for the cache line of the
/// next ones: a deep graph's tape outgrows the cache, and each new line waits on memory.
const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to bring the cache line at `p` into its caches (`prefetcht0`; a write hint
/// compiles to the same instruction on a baseline x86_64 target). A hint: it never faults and
/// has no effect on the program's results, wherever `p` points.
#[cfg_attr(not(debug_assertions), inline(always))]
#[allow(unsafe_code)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` reads no memory the program can observe and does not fault on any
    // address; the `sse` feature it is gated on is part of every x86_64 target.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks the CPU for the record `AHEAD` below `run[k]` (a hint, wherever it points): a backward
/// sweep reads records downwards, and the hardware's prefetch falls behind going down.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn prefetch_below<F>(run: &[Record<F>], k: usize) {
    const AHEAD: usize = 32;
    prefetch(run.as_ptr().wrapping_add(k).wrapping_sub(AHEAD));
}

/// Records per segment of the tape: 1 MiB of 64-byte records.
const SEGMENT_BITS: u32 = 14;
const SEGMENT: usize = 1 << SEGMENT_BITS;

/// The Wengert tape: records in order, kept in segments of [`SEGMENT`] records. Growing it never
/// moves a record, so a deep graph never holds an old and a new copy of its tape at once, as a
/// doubling `Vec` does (docs/performance.md). The segment being written is a plain `Vec` (the
/// first one grows from small, so a small graph's tape is small); full ones wait in `full`.
#[derive(Default)]
pub(crate) struct Tape<F> {
    full: Vec<Vec<Record<F>>>,
    last: Vec<Record<F>>,
    /// Emptied segments, for the next records.
    spare: Vec<Vec<Record<F>>>,
    /// The functions of the records, by [`RecordOp::Function`]'s index.
    functions: Vec<Box<dyn Function<F>>>,
}

impl<F> std::fmt::Debug for Tape<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("len", &self.len())
            .field("functions", &self.functions.len())
            .finish()
    }
}

impl<F: Float> Tape<F> {
    /// Keeps `f` in the table of functions, for the record about to be pushed: that record's op.
    pub(crate) fn function_op(&mut self, f: Box<dyn Function<F>>) -> RecordOp<F> {
        // (fewer functions than records, whose count `Graph::next_creator` keeps within u32)
        let k = self.functions.len() as u32;
        self.functions.push(f);
        RecordOp::Function(k)
    }

    /// The function of a record.
    pub(crate) fn function(&self, k: u32) -> &dyn Function<F> {
        &*self.functions[k as usize]
    }

    /// Takes a record's function out of the table for the time its backward runs (which may
    /// record functions, and so move the table); [`Tape::put_function`] puts it back.
    pub(crate) fn take_function(&mut self, k: u32) -> Box<dyn Function<F>> {
        std::mem::replace(&mut self.functions[k as usize], Box::new(Placeholder))
    }

    pub(crate) fn put_function(&mut self, k: u32, f: Box<dyn Function<F>>) {
        if let Some(slot) = self.functions.get_mut(k as usize) {
            *slot = f;
        }
    }

    /// A record's op's name as the user spells it; used in errors.
    pub(crate) fn name(&self, op: &RecordOp<F>) -> &'static str {
        match op {
            RecordOp::Builtin(op) => op.name(),
            &RecordOp::Function(k) => self
                .functions
                .get(k as usize)
                .map_or("function", |f| f.name()),
        }
    }

    /// The name with its parameters, for graph exports.
    pub(crate) fn label(&self, op: &RecordOp<F>) -> String {
        match op {
            RecordOp::Builtin(op) => op.label(),
            RecordOp::Function(_) => self.name(op).to_owned(),
        }
    }
}

impl<F> Tape<F> {
    /// The index of `last`'s first record.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn base(&self) -> usize {
        self.full.len() << SEGMENT_BITS
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn len(&self) -> usize {
        self.base() + self.last.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.full.is_empty() && self.last.is_empty()
    }

    /// Records the tape has room for without allocating.
    pub(crate) fn capacity(&self) -> usize {
        let segments = self.full.iter().chain(&self.spare);
        self.last.capacity() + segments.map(Vec::capacity).sum::<usize>()
    }

    /// The records before index `end`, as runs of consecutive records, the last run first, each
    /// with the index of its first record: a loop over them indexes no segment per record.
    pub(crate) fn runs_before(&self, end: usize) -> impl Iterator<Item = (usize, &[Record<F>])> {
        let full = self.full.len();
        (0..=full).rev().filter_map(move |s| {
            let (base, segment) = (s << SEGMENT_BITS, self.full.get(s).unwrap_or(&self.last));
            let len = end.checked_sub(base)?.min(segment.len());
            Some((base, &segment[..len]))
        })
    }

    /// The records, in recording order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Record<F>> {
        self.full.iter().flatten().chain(&self.last)
    }

    /// Appends a record, written straight into the tape's memory (`Vec::push` builds it on the
    /// stack and copies it: docs/performance.md).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[allow(unsafe_code)]
    pub(crate) fn push(&mut self, record: Record<F>) {
        if self.last.len() == self.last.capacity() {
            self.grow();
        }
        let len = self.last.len();
        let Some(slot) = self.last.spare_capacity_mut().first_mut() else {
            unreachable!("room for one more record was made above")
        };
        slot.write(record);
        // SAFETY: the element at index `len` exists (it is the first spare slot) and was just
        // initialised by `write`, so the first `len + 1` elements are initialised and within
        // the capacity.
        unsafe { self.last.set_len(len + 1) };
        prefetch(self.last.as_ptr().wrapping_add(len + PREFETCH_AHEAD));
    }

    /// Room for one more record, out of the hot path: the first segment doubles up to
    /// [`SEGMENT`] records; a full one is put aside for a spare or a new one.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        if self.last.capacity() < SEGMENT {
            self.last.reserve(1);
        } else {
            let next = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(SEGMENT));
            self.full.push(std::mem::replace(&mut self.last, next));
        }
    }

    /// Empties the tape, keeping its segments for the next records; `release` runs on each
    /// record when `release_each` is set.
    pub(crate) fn clear(&mut self, release_each: bool) {
        for segment in self.full.iter_mut().chain([&mut self.last]) {
            if release_each {
                segment.drain(..).for_each(Record::release);
            } else {
                segment.clear();
            }
        }
        self.functions.clear();
        if let Some(first) = self.full.first_mut() {
            // (the first segment, the largest, is the one written next)
            std::mem::swap(first, &mut self.last);
        }
        self.spare.append(&mut self.full);
    }
}

impl<F> std::ops::Index<usize> for Tape<F> {
    type Output = Record<F>;
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn index(&self, i: usize) -> &Record<F> {
        match i.checked_sub(self.base()) {
            Some(k) => &self.last[k],
            None => &self.full[i >> SEGMENT_BITS][i & (SEGMENT - 1)],
        }
    }
}

impl<F> std::ops::IndexMut<usize> for Tape<F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn index_mut(&mut self, i: usize) -> &mut Record<F> {
        match i.checked_sub(self.base()) {
            Some(k) => &mut self.last[k],
            None => &mut self.full[i >> SEGMENT_BITS][i & (SEGMENT - 1)],
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::ManuallyDrop;

    use slotmap::Key;

    use super::{Args, Record, RecordOp, SEGMENT, Tape};
    use crate::arena::{CONST, VarId};

    fn record(i: usize) -> Record<f64> {
        Record {
            op: ManuallyDrop::new(RecordOp::placeholder()),
            args: ManuallyDrop::new(Args::Inline {
                inputs: [VarId::null(); 2],
                creators: [CONST; 2],
                output: VarId::null(),
            }),
            partials: [i as f64, 0.0],
        }
    }

    /// Once its first segment is full, a growing tape never moves a record (a doubling `Vec`
    /// would hold two copies at once), and it reads back every record at its index, across
    /// segments and after a `clear`.
    #[test]
    fn the_tape_grows_without_moving_its_records() {
        let mut tape = Tape::default();
        for round in 0..2 {
            for i in 0..SEGMENT {
                tape.push(record(i));
            }
            let first: *const Record<f64> = &tape[0];
            for i in SEGMENT..3 * SEGMENT + 5 {
                tape.push(record(i));
            }
            assert!(std::ptr::eq(first, &tape[0]), "round {round}");
            assert_eq!(tape.len(), 3 * SEGMENT + 5);
            for i in [0, 1, SEGMENT - 1, SEGMENT, 2 * SEGMENT + 7, 3 * SEGMENT + 4] {
                assert_eq!(tape[i].partials[0], i as f64);
            }
            let forward: Vec<f64> = tape.iter().map(|r| r.partials[0]).collect();
            assert!(forward.iter().enumerate().all(|(i, &p)| p == i as f64));
            let capacity = tape.capacity();
            tape.clear(false);
            assert!(tape.is_empty());
            assert_eq!(
                tape.capacity(),
                capacity,
                "a cleared tape keeps its segments"
            );
        }
    }

    /// `runs_before(end)` covers records `0..end` exactly, last run first, each run at its
    /// index, on a tape of several segments.
    #[test]
    fn runs_cover_the_records_before_an_index() {
        let mut tape = Tape::default();
        for i in 0..2 * SEGMENT + 5 {
            tape.push(record(i));
        }
        for end in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT + 5] {
            let mut seen: Vec<f64> = Vec::new();
            for (base, run) in tape.runs_before(end) {
                for (k, r) in run.iter().enumerate().rev() {
                    assert_eq!(r.partials[0], (base + k) as f64);
                    seen.push(r.partials[0]);
                }
            }
            let expected: Vec<f64> = (0..end).rev().map(|i| i as f64).collect();
            assert_eq!(seen, expected, "end = {end}");
        }
    }
}
