//! The storage a dropped graph hands to the next one made on its thread: a graph per training
//! step or per call does not grow its vectors anew.

use std::cell::RefCell;

use ndarray::ArrayD;

use crate::Float;
use crate::arena::Node;
use crate::tape::{Record, Tape};

/// The storage of a dropped graph, emptied: its tape and sweep buffers with their capacity. The
/// next [`Graph::new`] on the same thread takes it instead of growing fresh vectors (see
/// [`SPARE_MAX_BYTES`]). Not the arena: a slotmap keeps every slot it ever had and `clear` walks
/// them all, so a small graph after a big one would pay for the big one at every `clear`.
pub(crate) struct Storage<F> {
    pub(crate) tape: Tape<F>,
    pub(crate) arrays: Vec<ArrayD<F>>,
    pub(crate) pending: crate::scalar_sweep::Pending<F>,
    /// How many variables the dropped graph's arena held: the next arena is allocated that large
    /// at once instead of doubling its way up (each doubling copies every slot and frees the old
    /// block, which glibc may trim and fault in again on the next graph).
    pub(crate) arena_len: usize,
}

impl<F: Float> Storage<F> {
    /// The storage the last graph dropped on this thread left, or none.
    pub(crate) fn take() -> Self {
        let spare = SPARE
            .try_with(|spare| spare.borrow_mut().take())
            .ok()
            .flatten()
            .and_then(|b| b.downcast::<Storage<F>>().ok());
        spare.map_or_else(Storage::new, |b| *b)
    }

    /// Leaves this (emptied) storage to the next graph made on this thread, if it is small.
    pub(crate) fn give(self) {
        if self.bytes() <= SPARE_MAX_BYTES {
            // (fails only while the thread is being torn down: then the storage is just freed)
            let _ = SPARE.try_with(|spare| *spare.borrow_mut() = Some(Box::new(self)));
        }
    }

    fn new() -> Self {
        Storage {
            tape: Tape::default(),
            arrays: Vec::new(),
            pending: Default::default(),
            arena_len: 0,
        }
    }

    /// Heap bytes held by the (empty) buffers, and asked for by the next arena.
    fn bytes(&self) -> usize {
        use std::mem::size_of;
        self.tape.capacity() * size_of::<Record<F>>()
            + self.arrays.capacity() * size_of::<ArrayD<F>>()
            + self.pending.bytes()
            + self.arena_len * (size_of::<Node<F>>() + 8)
    }
}

/// The largest storage a dropped graph leaves for the next one on its thread (about 500,000
/// scalar ops): a graph per training step or per call is the common pattern, and growing fresh
/// vectors costs more than recording a small graph's ops (docs/performance.md). Bigger graphs
/// give their memory back.
pub(crate) const SPARE_MAX_BYTES: usize = 32 << 20;

thread_local! {
    /// At most one emptied [`Storage`] per thread, of either element type.
    static SPARE: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
}
