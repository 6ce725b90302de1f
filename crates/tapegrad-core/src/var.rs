//! `Var`: the `Copy` handle to a variable of a [`Graph`], and its attributes (kind, shape, name).
//! Its value is read and written in `var/data.rs`, its gradient in `grad.rs`; ops on it live in
//! `ops/`, the backward pass in `backward.rs`.

mod data;

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::arena::{CONST, Inner, LEAF, Node, PARAM, VarId};
use crate::error::or_panic;
use crate::error::{Error, Result};
use crate::ops::Val;
use crate::{Float, Graph};
use slotmap::{Key, KeyData};

/// The error of a handle whose variable is gone, built only when needed: `ok_or(Error::StaleVar)`
/// builds and drops an `Error` on every successful call.
pub(crate) fn stale() -> Error {
    Error::StaleVar
}

/// A handle to one variable of a [`Graph`]: an arena key plus a reference to the graph.
///
/// `Var` is `Copy`: pass it around freely, use it in several places (`x * x` is fine). It borrows
/// its graph, so it cannot outlive it; after [`Graph::clear`] it is stale and says so.
///
/// # Examples
/// ```
/// use tapegrad_core::Graph;
/// use ndarray::array;
///
/// let g: Graph = Graph::new();
/// let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// x.set_name("x");
/// assert_eq!((x.shape(), x.ndim(), x.size(), x.len()), (vec![2, 3], 2, 6, 2));
/// assert_eq!(x.dtype(), "f64");
/// assert_eq!(x.name().as_deref(), Some("x"));
///
/// let y = (x * x).exp();
/// y.backward();
/// let gx = x.grad().unwrap(); // 2x e^(x^2)
/// assert!((gx[[0, 0]] - 2.0 * 1f64.exp()).abs() < 1e-12);
/// ```
#[derive(Clone, Copy)]
pub struct Var<'g, F: Float = f64> {
    pub(crate) graph: &'g Graph<F>,
    /// The [`VarId`] in one word (slotmap's `as_ffi` form). A handle is then a pair of words,
    /// which the compiler passes and returns in registers; as the key's two halves, an op's result
    /// went through memory and was read back with a wider load than it was written with (a
    /// store-forwarding stall on every op of a scalar graph).
    key: u64,
}

impl<'g, F: Float> Var<'g, F> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn from_id(graph: &'g Graph<F>, id: VarId) -> Self {
        Var {
            graph,
            key: id.data().as_ffi(),
        }
    }

    /// The arena key of this variable: stable for a parameter across `clear`, so optimizers key
    /// their per-parameter state by it.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let w = g.param(ndarray::arr0(1.0));
    /// let id = w.id();
    /// g.clear();
    /// assert_eq!(w.id(), id);
    /// ```
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn id(self) -> VarId {
        KeyData::from_ffi(self.key).into()
    }

    /// The graph this variable lives in.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// assert!(std::ptr::eq(x.graph(), &g));
    /// ```
    pub fn graph(self) -> &'g Graph<F> {
        self.graph
    }

    /// Runs `f` on this variable's node, or fails if the handle is stale.
    pub(crate) fn with_node<R>(self, f: impl FnOnce(&Node<F>) -> R) -> Result<R> {
        let inner = self.graph.read()?;
        inner.nodes.get(self.id()).map(f).ok_or_else(stale)
    }

    /// Runs `f` on this variable's value, or fails if the handle is stale.
    pub(crate) fn with_val<R>(self, f: impl FnOnce(Val<'_, F>) -> R) -> Result<R> {
        let inner = self.graph.read()?;
        if !inner.nodes.contains_key(self.id()) {
            return Err(Error::StaleVar);
        }
        Ok(f(inner.val(self.id())))
    }

    /// Runs `f` on the graph's state, this variable checked live.
    pub(crate) fn with_inner_mut<R>(self, f: impl FnOnce(&mut Inner<F>) -> R) -> Result<R> {
        let mut inner = self.graph.write()?;
        if !inner.nodes.contains_key(self.id()) {
            return Err(Error::StaleVar);
        }
        Ok(f(&mut inner))
    }

    /// Whether this variable was made by `var`/`scalar`/`param` or under `no_grad` (it has no
    /// creator).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// assert!(x.is_leaf());
    /// assert!(!x.exp().is_leaf());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn is_leaf(self) -> bool {
        or_panic(self.with_node(|n| matches!(n.raw_creator(), LEAF | PARAM | CONST)))
    }

    /// Whether this variable is a constant ([`Graph::constant`], or computed from constants only):
    /// backward passes give it no gradient.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let c = g.constant(array![1.0, 2.0]);
    /// assert!(c.is_constant() && c.exp().is_constant());
    /// assert!(!(c * g.scalar(2.0)).is_constant());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn is_constant(self) -> bool {
        or_panic(self.with_node(|n| n.raw_creator() == CONST))
    }

    /// Whether this variable is a parameter ([`Graph::param`]): kept by [`Graph::clear`].
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert!(g.param(ndarray::arr0(1.0)).is_param());
    /// assert!(!g.scalar(1.0).is_param());
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn is_param(self) -> bool {
        or_panic(self.with_node(|n| n.raw_creator() == PARAM))
    }

    /// The shape (numpy's `shape`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(ndarray::Array2::<f64>::zeros((2, 3))).shape(), vec![2, 3]);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale (see [`Var::try_shape`]).
    #[track_caller]
    pub fn shape(self) -> Vec<usize> {
        or_panic(self.try_shape())
    }

    /// Fallible [`Var::shape`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert_eq!(x.try_shape().unwrap(), vec![1, 2]);
    /// g.clear();
    /// assert!(matches!(x.try_shape(), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`] after the graph was cleared.
    pub fn try_shape(self) -> Result<Vec<usize>> {
        self.with_val(|v| v.shape().to_vec())
    }

    /// Number of axes (numpy's `ndim`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.scalar(1.0).ndim(), 0);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn ndim(self) -> usize {
        or_panic(self.with_val(|v| v.shape().len()))
    }

    /// Number of elements (numpy's `size`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(ndarray::Array2::<f64>::zeros((2, 3))).size(), 6);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn size(self) -> usize {
        or_panic(self.with_val(|v| v.shape().iter().product()))
    }

    /// Length of the first axis (Python's `len`).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(ndarray::Array2::<f64>::zeros((2, 3))).len(), 2);
    /// ```
    ///
    /// # Panics
    /// For a 0-d variable (it has no first axis, as numpy raises) or a stale handle.
    #[track_caller]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        or_panic(self.try_len())
    }

    /// Fallible [`Var::len`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![[0.5, 1.5]]);
    /// assert_eq!(x.try_len().unwrap(), 1);
    /// assert!(matches!(g.scalar(1.0).try_len(), Err(Error::ZeroDimLen)));
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroDimLen`] for a 0-d variable, [`Error::StaleVar`] after a clear.
    pub fn try_len(self) -> Result<usize> {
        self.with_val(|v| v.shape().first().copied())?
            .ok_or(Error::ZeroDimLen)
    }

    /// The element type's numpy name: `"f64"` or `"f32"`.
    ///
    /// ```
    /// let g = tapegrad_core::Graph::<f32>::new();
    /// assert_eq!(g.scalar(1.0).dtype(), "f32");
    /// ```
    pub fn dtype(self) -> &'static str {
        F::DTYPE
    }

    /// The label set with [`Var::set_name`], if any.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// assert_eq!(x.name(), None);
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn name(self) -> Option<String> {
        or_panic(self.graph.check(self, "name"));
        let inner = or_panic(self.graph.read());
        inner.names.get(self.id()).map(|n| n.to_string())
    }

    /// Labels the variable (shown in graph exports).
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// x.set_name("x");
    /// assert_eq!(x.name().as_deref(), Some("x"));
    /// ```
    ///
    /// # Panics
    /// If the handle is stale.
    #[track_caller]
    pub fn set_name(self, name: impl Into<String>) {
        let name = name.into().into_boxed_str();
        or_panic(self.graph.check(self, "set_name"));
        or_panic(self.graph.write()).names.insert(self.id(), name);
    }

    /// The value of a one-element variable.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.scalar(2.5).item(), 2.5);
    /// ```
    ///
    /// # Panics
    /// If the variable has more or fewer than one element (see [`Var::try_item`]) or is stale.
    #[track_caller]
    pub fn item(self) -> F {
        or_panic(self.try_item())
    }

    /// Fallible [`Var::item`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// assert_eq!(g.scalar(2.0).try_item().unwrap(), 2.0);
    /// let x = g.var(array![1.0, 2.0]);
    /// assert!(matches!(x.try_item(), Err(Error::NotAScalar { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::NotAScalar`] unless the variable holds exactly one element; [`Error::StaleVar`].
    pub fn try_item(self) -> Result<F> {
        self.with_val(|v| match v {
            Val::S(s) => Ok(s),
            v if v.view().len() == 1 => Ok(v.view().iter().copied().next().unwrap_or_else(F::nan)),
            v => Err(Error::NotAScalar {
                shape: v.shape().to_vec(),
            }),
        })?
    }
}

impl<F: Float> PartialEq for Var<'_, F> {
    /// Two handles are equal when they name the same variable of the same graph.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.graph, other.graph) && self.key == other.key
    }
}
impl<F: Float> Eq for Var<'_, F> {}
impl<F: Float> Hash for Var<'_, F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.graph as *const Graph<F>).hash(state);
        self.key.hash(state);
    }
}

/// `variable(...)` around ndarray's display of the value, continuation lines indented by 9
/// spaces (DeZero's `__repr__`).
impl<F: Float> fmt::Display for Var<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.with_val(|v| v.view().to_string()) {
            Ok(s) => write!(f, "variable({})", s.replace('\n', "\n         ")),
            Err(_) => write!(f, "variable(<stale>)"),
        }
    }
}

impl<F: Float> fmt::Debug for Var<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Var");
        d.field("id", &self.id());
        match self.with_val(|v| v.view().to_string()) {
            Ok(value) => d
                .field("shape", &self.shape())
                .field("value", &format_args!("{value}")),
            Err(Error::StaleVar) => d.field("stale", &true),
            Err(_) => d.field("value", &"<graph busy>"),
        };
        d.finish()
    }
}
