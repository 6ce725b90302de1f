//! Choosing elements by a condition: the comparisons `gt ge lt le eq_elem` (to `ArrayD<bool>`,
//! not differentiable), `where_` as a [`Function`], and `masked_fill` composed from it.
//!
//! | op | y | gradients |
//! |---|---|---|
//! | where_(c, a, b) | a where c, else b (c, a, b broadcast) | where_(c, gy, 0), where_(c, 0, gy), each summed to its input's shape |

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use super::arith::Operand;
use super::broadcast_shape;
use crate::error::{Error, Result, or_panic};
use crate::{Float, Function, Graph, Var};

/// The elementwise comparisons.
#[derive(Debug, Clone, Copy)]
enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

impl Cmp {
    fn name(self) -> &'static str {
        match self {
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Eq => "eq_elem",
        }
    }

    fn test<F: Float>(self, a: F, b: F) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
        }
    }
}

/// `f` over `a` and `b` broadcast together, or the shape mismatch naming `op`.
fn zip_broadcast<A: Copy, B: Copy, C>(
    op: &'static str,
    a: &ArrayViewD<'_, A>,
    b: &ArrayViewD<'_, B>,
    f: impl Fn(A, B) -> C,
) -> Result<ArrayD<C>> {
    let mismatch = || Error::ShapeMismatch {
        op,
        lhs: a.shape().to_vec(),
        rhs: b.shape().to_vec(),
    };
    let shape = broadcast_shape(a.shape(), b.shape()).ok_or_else(mismatch)?;
    let (a, b) = (a.broadcast(IxDyn(&shape)), b.broadcast(IxDyn(&shape)));
    let (a, b) = a.zip(b).ok_or_else(mismatch)?;
    Ok(Zip::from(&a).and(&b).map_collect(|&p, &q| f(p, q)))
}

/// `cmp(x, other)` elementwise, broadcasting.
fn compare<'g, F: Float>(cmp: Cmp, x: Var<'g, F>, other: Operand<'g, F>) -> Result<ArrayD<bool>> {
    let test = |p, q| cmp.test(p, q);
    match other {
        Operand::Var(v) => {
            x.graph.check(v, cmp.name())?;
            x.try_with_data(|a| v.try_with_data(|b| zip_broadcast(cmp.name(), &a, &b, test)))??
        }
        Operand::Scalar(c) => x.try_with_data(|a| a.mapv(|p| cmp.test(p, c))),
        Operand::Array(b) => x.try_with_data(|a| zip_broadcast(cmp.name(), &a, &b.view(), test))?,
    }
}

/// Writes a comparison method and its `try_` twin.
macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident / $try:ident => $cmp:ident;)*) => {
        impl<'g, F: Float> Var<'g, F> {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                #[doc = concat!("With the message of [`Var::", stringify!($try), "`]'s error.")]
                #[track_caller]
                pub fn $name(self, other: impl Into<Operand<'g, F>>) -> ArrayD<bool> {
                    or_panic(self.$try(other))
                }

                #[doc = concat!("Fallible [`Var::", stringify!($name), "`].")]
                ///
                /// ```
                /// use tapegrad_core::{Error, Graph, ndarray::array};
                /// let g: Graph = Graph::new();
                /// let x = g.var(array![1.0, 2.0, 3.0]);
                #[doc = concat!("assert!(x.", stringify!($try), "(2.0).is_ok());")]
                /// // shapes that do not broadcast
                #[doc = concat!(
                    "let e = x.", stringify!($try), "(array![1.0, 2.0]).unwrap_err();"
                )]
                /// assert!(matches!(e, Error::ShapeMismatch { .. }));
                /// ```
                ///
                /// # Errors
                /// [`Error::ShapeMismatch`] for shapes that do not broadcast;
                /// [`Error::GraphMismatch`], [`Error::StaleVar`] for bad handles.
                pub fn $try(self, other: impl Into<Operand<'g, F>>) -> Result<ArrayD<bool>> {
                    compare(Cmp::$cmp, self, other.into())
                }
            )*
        }
    };
}

comparisons! {
    /// `self > other` elementwise, broadcasting (`torch.gt`); `other` is a variable, a scalar or
    /// an array. The result is a mask, for [`where_`] or [`Var::masked_fill`]; it records nothing.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0]);
    /// assert_eq!(x.gt(2.0), array![false, false, true].into_dyn());
    /// ```
    gt / try_gt => Gt;
    /// `self >= other` elementwise, broadcasting (`torch.ge`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, 2.0]).ge(2.0), array![false, true].into_dyn());
    /// ```
    ge / try_ge => Ge;
    /// `self < other` elementwise, broadcasting (`torch.lt`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![[2.0], [1.0]]));
    /// assert_eq!(a.lt(b), array![[true, false], [false, false]].into_dyn());
    /// ```
    lt / try_lt => Lt;
    /// `self <= other` elementwise, broadcasting (`torch.le`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, 2.0]).le(1.0), array![true, false].into_dyn());
    /// ```
    le / try_le => Le;
    /// `self == other` elementwise, broadcasting (`torch.eq`; NaN equals nothing).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, f64::NAN]);
    /// assert_eq!(x.eq_elem(array![1.0, f64::NAN]), array![true, false].into_dyn());
    /// ```
    eq_elem / try_eq_elem => Eq;
}

/// `where_`'s function: `a` where `cond`, else `b`.
struct Where {
    cond: ArrayD<bool>,
}

impl<F: Float> Function<F> for Where {
    fn name(&self) -> &'static str {
        "where_"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let shape = (broadcast_shape(self.cond.shape(), xs[0].shape()))
            .and_then(|s| broadcast_shape(&s, xs[1].shape()))
            .ok_or("the condition and operands do not broadcast")?;
        let fail = "the condition and operands do not broadcast";
        let (c, a, b) = (
            self.cond.broadcast(IxDyn(&shape)).ok_or(fail)?,
            xs[0].broadcast(IxDyn(&shape)).ok_or(fail)?,
            xs[1].broadcast(IxDyn(&shape)).ok_or(fail)?,
        );
        let y = Zip::from(&c)
            .and(&a)
            .and(&b)
            .map_collect(|&c, &a, &b| if c { a } else { b });
        Ok(vec![y])
    }

    // d where_(c, a, b) = (where_(c, gy, 0), where_(c, 0, gy)), un-broadcast
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let gy = gys[0];
        let ga = try_where_(&self.cond, gy, F::zero())?.try_sum_to(&xs[0].try_shape()?)?;
        let gb = try_where_(&self.cond, F::zero(), gy)?.try_sum_to(&xs[1].try_shape()?)?;
        Ok(vec![Some(ga), Some(gb)])
    }
}

/// `a` where `cond` is true, else `b` (`torch.where`): `cond`, `a` and `b` broadcast together.
/// `a` and `b` are variables, scalars or arrays, at least one a variable. Each gets the gradient
/// where it was chosen (a gradient of 0 elsewhere, never `0 * inf`).
///
/// ```
/// use ndarray::array;
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let x = g.var(array![-1.0, 2.0, -3.0]);
/// let y = tapegrad_core::where_(&x.gt(0.0), x, x * 0.1); // a leaky relu
/// y.sum().backward();
/// assert_eq!(y.data(), array![-0.1, 2.0, -0.30000000000000004].into_dyn());
/// assert_eq!(x.grad().unwrap(), array![0.1, 1.0, 0.1].into_dyn());
/// ```
///
/// # Panics
/// With the message of [`try_where_`]'s error.
#[track_caller]
pub fn where_<'g, F: Float>(
    cond: &ArrayD<bool>,
    a: impl Into<Operand<'g, F>>,
    b: impl Into<Operand<'g, F>>,
) -> Var<'g, F> {
    or_panic(try_where_(cond, a, b))
}

/// Fallible [`where_`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::array};
/// let g: Graph = Graph::new();
/// use tapegrad_core::try_where_;
/// let x = g.var(array![1.0, 2.0]);
/// let cond = array![true, false].into_dyn();
/// assert_eq!(try_where_(&cond, x, 0.0).unwrap().data(), array![1.0, 0.0].into_dyn());
/// let long = array![true, false, true].into_dyn(); // does not broadcast with 2
/// assert!(matches!(try_where_(&long, x, 0.0), Err(Error::ShapeMismatch { .. })));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `where_`) when `cond`, `a` and `b` do not broadcast together;
/// [`Error::InvalidArgument`] when neither `a` nor `b` is a variable; [`Error::GraphMismatch`],
/// [`Error::StaleVar`] for bad handles.
pub fn try_where_<'g, F: Float>(
    cond: &ArrayD<bool>,
    a: impl Into<Operand<'g, F>>,
    b: impl Into<Operand<'g, F>>,
) -> Result<Var<'g, F>> {
    let (a, b) = (a.into(), b.into());
    let graph = match (&a, &b) {
        (Operand::Var(v), _) | (_, Operand::Var(v)) => v.graph,
        _ => {
            return Err(Error::InvalidArgument {
                op: "where_",
                reason: "a or b must be a variable".into(),
            });
        }
    };
    let (a, b) = (as_var(graph, a), as_var(graph, b));
    let (sa, sb) = (a.try_shape()?, b.try_shape()?);
    let mismatch = |lhs: &[usize], rhs: &[usize]| Error::ShapeMismatch {
        op: "where_",
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
    };
    let s = broadcast_shape(cond.shape(), &sa).ok_or_else(|| mismatch(cond.shape(), &sa))?;
    broadcast_shape(&s, &sb).ok_or_else(|| mismatch(&s, &sb))?;
    let cond = cond.clone();
    Ok(graph.try_apply(Where { cond }, &[a, b])?[0])
}

/// An operand as a variable of `graph`: a scalar or an array becomes a constant.
fn as_var<'g, F: Float>(graph: &'g Graph<F>, x: Operand<'g, F>) -> Var<'g, F> {
    match x {
        Operand::Var(v) => v,
        Operand::Scalar(c) => graph.constant(ndarray::arr0(c)),
        Operand::Array(a) => graph.constant(a),
    }
}

impl<'g, F: Float> Var<'g, F> {
    /// `value` where `mask` is true, `self` elsewhere (`torch.masked_fill`); the mask broadcasts
    /// to `self`'s shape, and the filled elements take no gradient.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0]);
    /// let y = x.masked_fill(&array![false, true, false].into_dyn(), f64::NEG_INFINITY);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![1.0, f64::NEG_INFINITY, 3.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![1.0, 0.0, 1.0].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_masked_fill`]'s error.
    #[track_caller]
    pub fn masked_fill(self, mask: &ArrayD<bool>, value: F) -> Var<'g, F> {
        or_panic(self.try_masked_fill(mask, value))
    }

    /// Fallible [`Var::masked_fill`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// let mask = array![true, false].into_dyn();
    /// assert_eq!(x.try_masked_fill(&mask, 0.0).unwrap().data(), array![0.0, 2.0].into_dyn());
    /// let long = array![true, false, true].into_dyn();
    /// assert!(matches!(x.try_masked_fill(&long, 0.0), Err(Error::ShapeMismatch { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the mask does not broadcast to `self`'s shape;
    /// [`Error::StaleVar`].
    pub fn try_masked_fill(self, mask: &ArrayD<bool>, value: F) -> Result<Var<'g, F>> {
        let shape = self.try_shape()?;
        if broadcast_shape(mask.shape(), &shape).as_deref() != Some(&shape[..]) {
            return Err(Error::ShapeMismatch {
                op: "masked_fill",
                lhs: shape,
                rhs: mask.shape().to_vec(),
            });
        }
        try_where_(mask, value, self)
    }
}
