//! The `Graph`: an arena of variables, the Wengert tape of recorded ops, and the recording mode.
//!
//! Every variable lives in one slotmap arena and is named by a generational key ([`VarId`]); a
//! [`Var`] is that key plus a reference to its graph. Every built-in op goes through
//! `Graph::apply1`, every [`Function`](crate::Function) through [`Graph::apply`] (the counterparts
//! of DeZero's `Function.__call__`): they check the operands, run the forward kernel, store the
//! outputs in the arena and, while recording, push one record on the tape. Tape
//! order is a topological order by construction, which is what lets the backward sweep be a plain
//! reverse loop.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;

use ndarray::{ArrayD, Dimension};
use slotmap::{SlotMap, SparseSecondaryMap};

use crate::arena::{CONST, Grads, Inner, LEAF, PARAM, VarId};
use crate::error::{Error, Result, or_panic};
use crate::storage::Storage;
use crate::{Float, Var};

mod apply;

/// A computation graph: the arena that owns every variable's value and gradient, and the tape of
/// the ops recorded between them. Variables are used through [`Var`] handles that borrow the graph.
///
/// `F` is the element type, `f64` by default (`Graph::<f32>::new()` for single precision).
///
/// # Examples
/// ```
/// use tapegrad_core::Graph;
///
/// let g: Graph = Graph::new();
/// let x = g.scalar(3.0);
/// let y = x * x + 2.0 * x; // recorded on g's tape
/// y.backward();
/// assert_eq!(y.item(), 15.0);
/// assert_eq!(x.grad().unwrap()[[]], 8.0); // d/dx (x^2 + 2x) = 2x + 2
///
/// g.clear(); // frees everything; x and y are stale from now on
/// assert!(x.try_data().is_err());
/// ```
pub struct Graph<F: Float = f64> {
    pub(crate) inner: RefCell<Inner<F>>,
    recording: Cell<bool>,
    detect_anomaly: Cell<bool>,
    id: u64,
}

/// The next [`Graph::id`].
static NEXT_GRAPH_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<F: Float> Graph<F> {
    /// An empty graph, recording. It takes over the emptied tape and sweep buffers of the last
    /// graph dropped on this thread, and allocates its arena as large as that graph's was, when
    /// all that held at most 32 MiB: a fresh graph per training step or per call does not grow
    /// its vectors anew.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert!(g.is_recording());
    /// let g32 = tapegrad_core::Graph::<f32>::new();
    /// assert_eq!(g32.scalar(1.0).dtype(), "f32");
    /// ```
    pub fn new() -> Self {
        let Storage {
            tape,
            arrays,
            pending,
            arena_len,
        } = Storage::take();
        Graph {
            inner: RefCell::new(Inner {
                nodes: SlotMap::with_capacity_and_key(arena_len),
                grads: Grads::new(),
                tape,
                arrays,
                names: SparseSecondaryMap::new(),
                has_params: false,
                heap_ops: false,
                functions: false,
                scratch: None,
                modified: SparseSecondaryMap::new(),
                retained: false,
                pending,
                loose: Some(Vec::new()),
                #[cfg(test)]
                last_clear_by_key: false,
            }),
            recording: Cell::new(true),
            detect_anomaly: Cell::new(false),
            id: NEXT_GRAPH_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A number that no other graph of this process has, now or later: with [`Var::id`] it
    /// names a variable across graphs (an optimizer keys its state by the pair).
    ///
    /// ```
    /// let (a, b): (tapegrad_core::Graph, tapegrad_core::Graph) = (Default::default(), Default::default());
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// A leaf variable holding `a` (any dimension; stored as an `ArrayD`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.shape(), vec![2, 2]);
    /// assert!(x.is_leaf());
    /// ```
    pub fn var<D: Dimension>(&self, a: ndarray::Array<F, D>) -> Var<'_, F> {
        self.leaf(a.into_dyn())
    }

    /// A 0-d leaf variable holding `v`.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let s = g.scalar(0.5);
    /// assert_eq!(s.ndim(), 0);
    /// assert_eq!(s.item(), 0.5);
    /// ```
    pub fn scalar(&self, v: F) -> Var<'_, F> {
        let id = or_panic(self.write()).insert_unrecorded(v, LEAF);
        Var::from_id(self, id)
    }

    pub(crate) fn leaf(&self, a: ArrayD<F>) -> Var<'_, F> {
        self.insert(a, LEAF)
    }

    fn insert(&self, a: ArrayD<F>, creator: u32) -> Var<'_, F> {
        let mut inner = or_panic(self.write());
        let data = inner.store(a);
        Var::from_id(self, inner.insert(data, creator))
    }

    /// A constant: a leaf that takes no gradient (PyTorch's `requires_grad=False`), such as a
    /// batch of inputs. Backward passes stop at it, so no work is spent on its gradient (for
    /// `x.matmul(w)`, only `w`'s), and ops whose inputs are all constants are computed but not
    /// recorded: their results are constants too.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.constant(array![[1.0, 2.0]]);
    /// let w = g.var(array![[3.0], [4.0]]);
    /// let y = (x * 2.0).matmul(w); // `x * 2.0` is a constant, not recorded
    /// y.backward();
    /// assert_eq!(w.grad().unwrap(), array![[2.0], [4.0]].into_dyn());
    /// assert!(x.grad().is_none());
    /// assert!(x.is_constant() && !w.is_constant());
    /// assert_eq!(g.tape_len(), 1);
    /// ```
    pub fn constant<D: Dimension>(&self, a: ndarray::Array<F, D>) -> Var<'_, F> {
        self.insert(a.into_dyn(), CONST)
    }

    /// A parameter: a leaf variable that survives [`Graph::clear`], with its value, gradient and
    /// name, while everything else of the graph is freed. This is how a model's weights outlive
    /// the per-step graph of a training loop, which stays flat in memory however long it runs.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let w = g.param(array![1.0, 2.0]);
    /// for _ in 0..3 {
    ///     g.clear(); // frees the last step's graph; w stays
    ///     let loss = (w * w).sum();
    ///     loss.backward();
    ///     w.set_data(w.data() - w.grad().unwrap() * 0.25); // w -= 0.25 * 2w
    ///     w.cleargrad();
    /// }
    /// assert_eq!(w.data(), array![0.125, 0.25].into_dyn());
    /// assert_eq!(g.len(), 3); // w, and the last step's w * w and its sum
    /// ```
    pub fn param<D: Dimension>(&self, a: ndarray::Array<F, D>) -> Var<'_, F> {
        or_panic(self.write()).has_params = true;
        self.insert(a.into_dyn(), PARAM)
    }

    /// Enters no-grad mode until the returned guard is dropped: ops compute values but record
    /// nothing, and their results are leaves. Guards nest; each restores the mode it found.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(2.0);
    /// {
    ///     let _guard = g.no_grad();
    ///     assert!(!g.is_recording());
    ///     let y = x.square();
    ///     assert!(y.is_leaf());
    /// }
    /// assert!(g.is_recording());
    /// assert!(!x.square().is_leaf());
    /// ```
    pub fn no_grad(&self) -> NoGrad<'_, F> {
        NoGrad {
            graph: self,
            prev: self.recording.replace(false),
        }
    }

    /// Whether ops are recorded on the tape (false inside [`Graph::no_grad`]).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert!(g.is_recording());
    /// ```
    pub fn is_recording(&self) -> bool {
        self.recording.get()
    }

    /// Turns anomaly detection on or off (off by default), as PyTorch's `detect_anomaly`: while on,
    /// the first op whose forward or backward produces NaN or infinity fails with
    /// [`Error::Anomaly`] naming the op and its tape position, instead of spreading the NaN. When off
    /// it costs one flag test per op.
    ///
    /// ```
    /// use tapegrad_core::Error;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// g.set_detect_anomaly(true);
    /// let x = g.scalar(-1.0);
    /// let e = x.try_log().unwrap_err(); // ln(-1) is NaN
    /// assert_eq!(e, Error::Anomaly { op: "log", phase: "forward", position: 0 });
    /// ```
    pub fn set_detect_anomaly(&self, on: bool) {
        self.detect_anomaly.set(on);
    }

    /// Whether anomaly detection is on (see [`Graph::set_detect_anomaly`]).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert!(!g.detect_anomaly());
    /// ```
    pub fn detect_anomaly(&self) -> bool {
        self.detect_anomaly.get()
    }

    /// Sets anomaly detection and returns the previous setting (the sweep checks gradients itself).
    pub(crate) fn replace_detect_anomaly(&self, on: bool) -> bool {
        self.detect_anomaly.replace(on)
    }

    /// Sets the recording mode and returns the previous one (the backward sweep uses this to record
    /// exactly when `create_graph` asks for it).
    pub(crate) fn set_recording(&self, on: bool) -> bool {
        self.recording.replace(on)
    }

    /// Empties the arena and the tape, keeping their storage for reuse. Every earlier [`Var`] of
    /// this graph becomes stale: `try_*` calls on it return [`Error::StaleVar`], other uses panic.
    /// Parameters ([`Graph::param`]) are kept, with their values, gradients and names.
    ///
    /// ```
    /// use tapegrad_core::Error;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// g.clear();
    /// assert_eq!(x.try_exp().unwrap_err(), Error::StaleVar);
    /// assert_eq!(g.len(), 0);
    /// ```
    pub fn clear(&self) {
        or_panic(self.write()).clear();
    }

    /// One step of a training loop: clears the graph (as [`Graph::clear`]: every variable but the
    /// parameters goes), then runs `f`. A loop written with it cannot forget the `clear` that
    /// keeps its memory and its step time flat.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let w = g.param(array![1.0, -2.0]); // survives every step
    /// for _ in 0..100 {
    ///     let loss = g.step(|| {
    ///         let loss = (w * w).sum();
    ///         loss.backward();
    ///         let gw = w.take_grad().unwrap();
    ///         w.update_data(|mut v| v.scaled_add(-0.1, &gw));
    ///         loss.item()
    ///     });
    ///     assert!(loss.is_finite());
    /// }
    /// assert!(w.data().iter().all(|v| v.abs() < 1e-8));
    /// assert_eq!(g.len(), 3); // w, and the last step's w * w and sum: no more
    /// ```
    pub fn step<R>(&self, f: impl FnOnce() -> R) -> R {
        self.clear();
        f()
    }

    /// Number of live variables in the arena.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let _y = x.exp();
    /// assert_eq!(g.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        or_panic(self.read()).nodes.len()
    }

    /// Whether the arena holds no variable.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert!(g.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of records on the tape.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let _y = (x * x).exp();
    /// assert_eq!(g.tape_len(), 2);
    /// ```
    pub fn tape_len(&self) -> usize {
        or_panic(self.read()).tape.len()
    }

    /// The graph's state, to read. [`Error::GraphBusy`] while a closure given to
    /// [`Var::update_data`] holds it for writing.
    pub(crate) fn read(&self) -> Result<Ref<'_, Inner<F>>> {
        self.inner.try_borrow().map_err(|_| Error::GraphBusy)
    }

    /// The graph's state, to change. [`Error::GraphBusy`] while a closure given to
    /// [`Var::update_data`] or [`Var::with_data`] holds it.
    pub(crate) fn write(&self) -> Result<RefMut<'_, Inner<F>>> {
        self.inner.try_borrow_mut().map_err(|_| Error::GraphBusy)
    }

    /// Checks that `v` is a live variable of this graph.
    pub(crate) fn check(&self, v: Var<'_, F>, op: &'static str) -> Result<VarId> {
        if !std::ptr::eq(v.graph, self) {
            return Err(Error::GraphMismatch { op });
        }
        if !self.read()?.nodes.contains_key(v.id()) {
            return Err(Error::StaleVar);
        }
        Ok(v.id())
    }
}

impl<F: Float> Default for Graph<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// Frees the graph's values and hands its emptied storage to the next [`Graph::new`] on this
/// thread, when it holds at most 32 MiB (`storage.rs`).
impl<F: Float> Drop for Graph<F> {
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        inner.clear_tape();
        inner.free_arrays();
        inner.pending.clear();
        Storage {
            tape: std::mem::take(&mut inner.tape),
            arrays: std::mem::take(&mut inner.arrays),
            pending: std::mem::take(&mut inner.pending),
            arena_len: inner.nodes.len(),
        }
        .give();
    }
}

impl<F: Float> fmt::Debug for Graph<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("dtype", &F::DTYPE)
            .field("vars", &self.len())
            .field("tape", &self.tape_len())
            .field("recording", &self.is_recording())
            .finish()
    }
}

/// Guard returned by [`Graph::no_grad`]: recording stays off while it lives.
///
/// ```
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let x = g.scalar(2.0);
/// {
///     let _guard = g.no_grad();
///     let _ = x * x; // computed, not recorded
///     assert_eq!(g.tape_len(), 0);
/// }
/// let _ = x * x;
/// assert_eq!(g.tape_len(), 1);
/// ```
#[must_use = "no-grad mode ends when this guard is dropped"]
#[derive(Debug)]
pub struct NoGrad<'g, F: Float = f64> {
    graph: &'g Graph<F>,
    prev: bool,
}

impl<F: Float> Drop for NoGrad<'_, F> {
    fn drop(&mut self) {
        self.graph.recording.set(self.prev);
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    /// A graph made after another one was dropped on the same thread starts with room for as many
    /// variables as that one held (and with its tape's capacity), instead of growing them anew.
    #[test]
    fn a_new_graph_starts_with_the_last_graphs_room() {
        {
            let g: super::Graph = super::Graph::new();
            let x = g.scalar(1.0);
            let mut y = x;
            for _ in 0..1000 {
                y = y * 0.5 + x;
            }
            assert_eq!(g.len(), 2001);
        }
        let g: super::Graph = super::Graph::new();
        let inner = g.inner.borrow();
        assert!(inner.nodes.capacity() >= 2001, "{}", inner.nodes.capacity());
        assert!(inner.tape.capacity() >= 2000, "{}", inner.tape.capacity());
        assert!(inner.nodes.is_empty() && inner.tape.is_empty());
    }

    /// The arena slot and the tape record set the memory of a deep scalar graph (a
    /// 128-bytes-per-op budget: docs/performance.md); growing them is a regression.
    #[test]
    fn node_and_record_stay_compact() {
        assert_eq!(size_of::<crate::arena::Node<f64>>(), 16);
        assert_eq!(size_of::<crate::tape::Args>(), 32);
        assert_eq!(size_of::<crate::ops::Op<f64>>(), 16);
        assert_eq!(size_of::<crate::tape::RecordOp<f64>>(), 16);
        assert_eq!(size_of::<crate::tape::Record<f64>>(), 64);
    }
}
