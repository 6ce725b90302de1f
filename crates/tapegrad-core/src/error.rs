//! The one error type of tapegrad. Every `try_*` method returns it; every panicking method panics
//! with its `Display` message, so the two forms always say the same thing.

/// What can go wrong when building or differentiating a graph.
///
/// ```
/// use tapegrad_core::{Error, Graph};
/// use ndarray::array;
///
/// let g: Graph = Graph::new();
/// let a = g.var(array![1.0, 2.0]);
/// let b = g.var(array![1.0, 2.0, 3.0]);
/// let err = a.try_add(b).unwrap_err();
/// assert!(matches!(err, Error::ShapeMismatch { .. }));
/// assert_eq!(err.to_string(), "add: shape mismatch between [2] and [3]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two operands of `op` have shapes that do not fit together.
    #[error("{}", mismatch_message(op, lhs, rhs))]
    ShapeMismatch {
        /// The operation, as spelled by its method (`add`, `mul`, ...).
        op: &'static str,
        /// Shape of the left operand.
        lhs: Vec<usize>,
        /// Shape of the right operand.
        rhs: Vec<usize>,
    },
    /// The operands of `op` are variables of two different graphs.
    #[error("{op}: the variables belong to two different graphs")]
    GraphMismatch {
        /// The operation that was asked for.
        op: &'static str,
    },
    /// The handle points into a graph that was cleared after the handle was made.
    #[error(
        "stale variable: its graph was cleared after the variable was made (make what must survive clear, such as a weight, with Graph::param)"
    )]
    StaleVar,
    /// `item()` of a variable that does not hold exactly one element.
    #[error("item: the variable must hold exactly one element, but its shape is {shape:?}")]
    NotAScalar {
        /// The shape of the variable.
        shape: Vec<usize>,
    },
    /// `len()` of a 0-d variable, which has no first axis (numpy raises `TypeError` here).
    #[error("len: a 0-d variable has no length")]
    ZeroDimLen,
    /// Axes that are out of range, repeated, or (for `permute`) not a permutation.
    #[error("{op}: invalid axes {axes:?} for a {ndim}-d variable")]
    InvalidAxes {
        /// The operation.
        op: &'static str,
        /// The axes given.
        axes: Vec<usize>,
        /// Number of axes of the variable.
        ndim: usize,
    },
    /// An index past the end of the axis it selects from.
    #[error("{op}: index {index} is out of bounds for an axis of length {len}")]
    IndexOutOfBounds {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The length of the axis.
        len: usize,
    },
    /// Arguments that cannot describe a result, such as `clip` with `lo > hi`.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The graph was used from inside a closure given to
    /// [`Var::update_data`](crate::Var::update_data) or [`Var::with_data`](crate::Var::with_data),
    /// which holds the graph's state while it runs.
    #[error(
        "graph busy: a closure given to update_data or with_data cannot use the graph; read what it needs before the call"
    )]
    GraphBusy,
    /// A backward pass reached an op whose input or output was changed
    /// ([`Var::set_data`](crate::Var::set_data), [`Var::update_data`](crate::Var::update_data))
    /// after the op was recorded: its gradient would mix old and new values (PyTorch refuses
    /// such a backward too). Rebuild the graph after changing data.
    #[error(
        "backward: an input or output of {op} (tape position {position}) was changed by set_data or update_data after {op} was recorded; record the graph again after changing data"
    )]
    ModifiedAfterRecording {
        /// The op whose recorded values changed.
        op: &'static str,
        /// Its position on the tape.
        position: usize,
    },
    /// With [`Graph::set_detect_anomaly`](crate::Graph::set_detect_anomaly) on: the first op whose
    /// forward or backward produced NaN or infinity.
    #[error(
        "anomaly: {op} produced NaN or infinity in its {phase} pass (tape position {position})"
    )]
    Anomaly {
        /// The op, as spelled by its method.
        op: &'static str,
        /// `"forward"` or `"backward"`.
        phase: &'static str,
        /// The op's index on the tape (for a forward anomaly: where it would have been recorded).
        position: usize,
    },
}

/// `op: shape mismatch between [..] and [..]`; for `matmul`, with the inner sizes that differ.
fn mismatch_message(op: &str, lhs: &[usize], rhs: &[usize]) -> String {
    let base = format!("{op}: shape mismatch between {lhs:?} and {rhs:?}");
    // a vector is a row on the left and a column on the right
    let inner = match (lhs.len(), rhs.len()) {
        (0, _) | (_, 0) => None,
        (1, 1) => Some((lhs[0], rhs[0])),
        (m, 1) => Some((lhs[m - 1], rhs[0])),
        (1, n) => Some((lhs[0], rhs[n - 2])),
        (m, n) => Some((lhs[m - 1], rhs[n - 2])),
    };
    match inner {
        Some((k, k2)) if op == "matmul" && k != k2 => {
            format!("{base}: the inner sizes {k} and {k2} differ")
        }
        _ => base,
    }
}

impl Error {
    /// The error with `op` as the op it names (errors about a handle or the graph, which name
    /// none, are returned as they are): an op composed of others (`softmax`, written with
    /// `max_axis`), an alias (`expand` for `broadcast_to`) or a function of your own reports
    /// under the name that was called, not the name of an op inside it.
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, Result, Var, ndarray::array};
    /// fn scaled_sum<'g>(x: Var<'g>, axis: usize) -> Result<Var<'g>> {
    ///     let s = || x.try_mul(2.0)?.try_sum_axes(&[axis], false);
    ///     s().map_err(|e| e.named("scaled_sum"))
    /// }
    /// let g: Graph = Graph::new();
    /// let e = scaled_sum(g.var(array![1.0, 2.0]), 3).unwrap_err();
    /// assert_eq!(e.to_string(), "scaled_sum: invalid axes [3] for a 1-d variable");
    /// ```
    #[must_use]
    pub fn named(self, op: &'static str) -> Error {
        match self {
            Error::ShapeMismatch { lhs, rhs, .. } => Error::ShapeMismatch { op, lhs, rhs },
            Error::GraphMismatch { .. } => Error::GraphMismatch { op },
            Error::InvalidAxes { axes, ndim, .. } => Error::InvalidAxes { op, axes, ndim },
            Error::IndexOutOfBounds { index, len, .. } => {
                Error::IndexOutOfBounds { op, index, len }
            }
            Error::InvalidArgument { reason, .. } => Error::InvalidArgument { op, reason },
            // about the graph or a handle, or the op that was recorded: no op of the call's
            other @ (Error::StaleVar
            | Error::NotAScalar { .. }
            | Error::ZeroDimLen
            | Error::GraphBusy
            | Error::ModifiedAfterRecording { .. }
            | Error::Anomaly { .. }) => other,
        }
    }
}

/// Runs `body`, the code of an op composed of others, its errors naming `op` ([`Error::named`]).
pub(crate) fn named<T>(op: &'static str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    body().map_err(|e| e.named(op))
}

/// Shorthand for `std::result::Result<T, tapegrad_core::Error>`.
///
/// ```
/// use tapegrad_core::{Graph, Result};
/// fn area(g: &Graph, w: f64, h: f64) -> Result<f64> {
///     (g.scalar(w) * h).try_item()
/// }
/// assert_eq!(area(&Graph::new(), 2.0, 3.0).unwrap(), 6.0);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Unwraps `r`, panicking with the error's message: the panicking form of every `try_*` method,
/// so that the two always say the same thing. Useful in a [`Function`](crate::Function)'s code too.
///
/// ```
/// use tapegrad_core::{or_panic, Graph};
/// let g: Graph = Graph::new();
/// let y = or_panic(g.scalar(2.0).try_exp());
/// assert_eq!(y.item(), 2f64.exp());
/// ```
///
/// # Panics
/// When `r` is an error, with its message.
#[track_caller]
pub fn or_panic<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
