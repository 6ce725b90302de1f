//! Losses and normalisations beyond DeZero's (PyTorch's `nn.functional` names): `cross_entropy`
//! with class-probability targets and label smoothing, `nll_loss`,
//! `binary_cross_entropy_with_logits`, `huber_loss`, `l1_loss`, `layer_norm`, `normalize`.
//! Each is composed from core ops, so its gradient, at every order, comes from theirs; each
//! returns the mean over the batch (PyTorch's `reduction='mean'`), and has a `try_` twin.

use ndarray::{ArrayD, IxDyn};
use tapegrad_core::{Error, Float, Result, Var, or_panic};

use crate::functional::check_labels;

/// The target of [`cross_entropy`]: a class index per row, or a probability per row and class.
///
/// ```
/// use tapegrad_core::{Graph, ndarray::array};
/// use tapegrad_nn::functional::{Target, cross_entropy};
/// let g: Graph = Graph::new();
/// let logits = g.var(array![[2.0, 0.0]]);
/// let probs = array![[1.0, 0.0]].into_dyn(); // class 0 for certain
/// let by_label = cross_entropy(logits, Target::Labels(&[0]), 0.0).item();
/// let by_probs = cross_entropy(logits, Target::Probs(&probs), 0.0).item();
/// assert!((by_label - by_probs).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Target<'a, F> {
    /// One class index per row.
    Labels(&'a [usize]),
    /// Class probabilities, of the logits' shape `[n, classes]`.
    Probs(&'a ArrayD<F>),
}

impl<'a, F> From<&'a [usize]> for Target<'a, F> {
    fn from(labels: &'a [usize]) -> Self {
        Target::Labels(labels)
    }
}
impl<'a, F, const N: usize> From<&'a [usize; N]> for Target<'a, F> {
    fn from(labels: &'a [usize; N]) -> Self {
        Target::Labels(labels)
    }
}
impl<'a, F> From<&'a Vec<usize>> for Target<'a, F> {
    fn from(labels: &'a Vec<usize>) -> Self {
        Target::Labels(labels)
    }
}
impl<'a, F> From<&'a ArrayD<F>> for Target<'a, F> {
    fn from(probs: &'a ArrayD<F>) -> Self {
        Target::Probs(probs)
    }
}

fn mismatch(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Error {
    Error::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
    }
}

/// Cross entropy of `softmax(logits)` (shape `[n, classes]`) against `target`, averaged over the
/// rows (`F.cross_entropy`): `-mean_i sum_c q[i, c] log_softmax(logits)[i, c]`, where `q` is the
/// target (one-hot for labels) smoothed as `(1 - s) q + s / classes` with
/// `label_smoothing = s` in `[0, 1]`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::cross_entropy;
/// let g: Graph = Graph::new();
/// let logits = g.var(array![[0.0, 0.0], [1000.0, 0.0]]);
/// let loss = cross_entropy(logits, &[1, 0], 0.0); // ln 2 and 0, averaged
/// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-12);
/// let probs = array![[0.5, 0.5], [1.0, 0.0]].into_dyn();
/// assert!((cross_entropy(logits, &probs, 0.0).item() - 2f64.ln() / 2.0).abs() < 1e-12);
/// ```
///
/// # Panics
/// With the message of [`try_cross_entropy`]'s error.
#[track_caller]
pub fn cross_entropy<'a, 'g, F: Float>(
    logits: Var<'g, F>,
    target: impl Into<Target<'a, F>>,
    label_smoothing: F,
) -> Var<'g, F> {
    or_panic(try_cross_entropy(logits, target, label_smoothing))
}

/// Fallible [`cross_entropy`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_cross_entropy;
/// let logits = g.var(array![[0.0, 0.0]]);
/// assert!((try_cross_entropy(logits, &[1], 0.0).unwrap().item() - 2f64.ln()).abs() < 1e-12);
/// // class 2 of 2 classes
/// assert!(try_cross_entropy(logits, &[2], 0.0).is_err());
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `cross_entropy`) for logits that are not 2-D, or a target that
/// does not fit them; [`Error::IndexOutOfBounds`] for a label past the classes;
/// [`Error::InvalidArgument`] for a smoothing outside `[0, 1]`; [`Error::StaleVar`].
pub fn try_cross_entropy<'a, 'g, F: Float>(
    logits: Var<'g, F>,
    target: impl Into<Target<'a, F>>,
    label_smoothing: F,
) -> Result<Var<'g, F>> {
    const OP: &str = "cross_entropy";
    if !(label_smoothing >= F::zero() && label_smoothing <= F::one()) {
        let reason = format!("label_smoothing = {label_smoothing} is not in [0, 1]");
        return Err(Error::InvalidArgument { op: OP, reason });
    }
    let shape = logits.try_shape()?;
    let q = match target.into() {
        Target::Labels(labels) => {
            let (n, classes) = check_labels(OP, logits, labels)?;
            let mut q = ArrayD::zeros(IxDyn(&[n, classes]));
            for (i, &t) in labels.iter().enumerate() {
                q[[i, t]] = F::one();
            }
            q
        }
        Target::Probs(p) if shape.len() == 2 && p.shape() == &shape[..] => p.clone(),
        Target::Probs(p) => return Err(mismatch(OP, &shape, p.shape())),
    };
    let (n, classes) = (F::from_f64(shape[0] as f64), F::from_f64(shape[1] as f64));
    let q = q.mapv(|v| (F::one() - label_smoothing) * v + label_smoothing / classes);
    let picked = logits.try_log_softmax(1)?.try_mul(q)?.try_sum()?;
    picked.try_div(-n)
}

/// The negative log likelihood of `labels` under `log_probs` (shape `[n, classes]`, already
/// log-probabilities), averaged over the rows (`F.nll_loss`): `-mean_i log_probs[i, labels[i]]`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::nll_loss;
/// let g: Graph = Graph::new();
/// let lp = g.var(array![[-1.0, -2.0], [-3.0, -0.5]]);
/// assert_eq!(nll_loss(lp, &[0, 1]).item(), 0.75);
/// ```
///
/// # Panics
/// With the message of [`try_nll_loss`]'s error.
#[track_caller]
pub fn nll_loss<'g, F: Float>(log_probs: Var<'g, F>, labels: &[usize]) -> Var<'g, F> {
    or_panic(try_nll_loss(log_probs, labels))
}

/// Fallible [`nll_loss`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_nll_loss;
/// let lp = g.var(array![[-1.0, -2.0], [-3.0, -0.5]]);
/// assert_eq!(try_nll_loss(lp, &[0, 1]).unwrap().item(), 0.75);
/// // one label for two rows
/// assert!(try_nll_loss(lp, &[0]).is_err());
/// ```
///
/// # Errors
/// As [`try_cross_entropy`] with labels.
pub fn try_nll_loss<'g, F: Float>(log_probs: Var<'g, F>, labels: &[usize]) -> Result<Var<'g, F>> {
    let (n, _) = check_labels("nll_loss", log_probs, labels)?;
    let index = ArrayD::from_shape_vec(vec![n, 1], labels.to_vec()).map_err(|e| {
        Error::InvalidArgument {
            op: "nll_loss",
            reason: e.to_string(),
        }
    })?;
    log_probs
        .try_gather(1, &index)?
        .try_sum()?
        .try_div(F::from_f64(-(n as f64)))
}

/// Binary cross entropy of `sigmoid(logits)` against `targets` in `[0, 1]` of the same shape,
/// averaged over all elements (`F.binary_cross_entropy_with_logits`), computed stably as
/// `softplus(x) - x t`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::binary_cross_entropy_with_logits;
/// let g: Graph = Graph::new();
/// let x = g.var(array![0.0, 1000.0]);
/// let loss = binary_cross_entropy_with_logits(x, &array![1.0, 1.0].into_dyn());
/// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-12); // ln 2 and 0
/// ```
///
/// # Panics
/// With the message of [`try_binary_cross_entropy_with_logits`]'s error.
#[track_caller]
pub fn binary_cross_entropy_with_logits<'g, F: Float>(
    logits: Var<'g, F>,
    targets: &ArrayD<F>,
) -> Var<'g, F> {
    or_panic(try_binary_cross_entropy_with_logits(logits, targets))
}

/// Fallible [`binary_cross_entropy_with_logits`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_binary_cross_entropy_with_logits;
/// let x = g.var(array![0.0, 0.0]);
/// let loss = try_binary_cross_entropy_with_logits(x, &array![1.0, 0.0].into_dyn()).unwrap();
/// assert!((loss.item() - 2f64.ln()).abs() < 1e-12);
/// // three targets for two logits
/// assert!(try_binary_cross_entropy_with_logits(x, &array![1.0, 0.0, 1.0].into_dyn()).is_err());
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] for targets of another shape; [`Error::StaleVar`].
pub fn try_binary_cross_entropy_with_logits<'g, F: Float>(
    logits: Var<'g, F>,
    targets: &ArrayD<F>,
) -> Result<Var<'g, F>> {
    let shape = logits.try_shape()?;
    if shape != targets.shape() {
        return Err(mismatch(
            "binary_cross_entropy_with_logits",
            &shape,
            targets.shape(),
        ));
    }
    logits
        .try_softplus()?
        .try_sub(logits.try_mul(targets.clone())?)?
        .try_mean()
}

/// The Huber loss of `a` against `b`, averaged over all elements (`F.huber_loss`): `d^2 / 2`
/// where `|d| <= delta`, `delta (|d| - delta / 2)` elsewhere, with `d = a - b`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::huber_loss;
/// let g: Graph = Graph::new();
/// let (a, b) = (g.var(array![0.5, 3.0]), g.var(array![0.0, 0.0]));
/// assert_eq!(huber_loss(a, b, 1.0).item(), (0.125 + 2.5) / 2.0);
/// ```
///
/// # Panics
/// With the message of [`try_huber_loss`]'s error.
#[track_caller]
pub fn huber_loss<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>, delta: F) -> Var<'g, F> {
    or_panic(try_huber_loss(a, b, delta))
}

/// Fallible [`huber_loss`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_huber_loss;
/// let (a, b) = (g.var(array![0.5, 3.0]), g.var(array![0.0, 0.0]));
/// assert_eq!(try_huber_loss(a, b, 1.0).unwrap().item(), (0.125 + 2.5) / 2.0);
/// g.clear();
/// assert!(matches!(try_huber_loss(a, b, 1.0), Err(Error::StaleVar)));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] for shapes that differ; [`Error::InvalidArgument`] for a `delta`
/// that is not `> 0`; [`Error::GraphMismatch`], [`Error::StaleVar`].
pub fn try_huber_loss<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>, delta: F) -> Result<Var<'g, F>> {
    if delta.is_nan() || delta <= F::zero() {
        let reason = format!("delta = {delta} is not > 0");
        return Err(Error::InvalidArgument {
            op: "huber_loss",
            reason,
        });
    }
    let d = same_shape_diff("huber_loss", a, b)?.try_abs()?;
    // with q = min(|d|, delta): q^2 / 2 + delta (|d| - q)
    let q = d.try_clip(F::zero(), delta)?;
    let quadratic = q.try_square()?.try_mul(F::from_f64(0.5))?;
    quadratic.try_add(d.try_sub(q)?.try_mul(delta)?)?.try_mean()
}

/// `a - b` for variables of one shape (losses do not broadcast, as PyTorch warns they should not).
fn same_shape_diff<'g, F: Float>(
    op: &'static str,
    a: Var<'g, F>,
    b: Var<'g, F>,
) -> Result<Var<'g, F>> {
    let (sa, sb) = (a.try_shape()?, b.try_shape()?);
    if sa != sb {
        return Err(mismatch(op, &sa, &sb));
    }
    a.try_sub(b)
}

/// The mean absolute difference of `a` and `b` (`F.l1_loss`).
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::l1_loss;
/// let g: Graph = Graph::new();
/// let (a, b) = (g.var(array![1.0, -2.0]), g.var(array![0.0, 0.0]));
/// assert_eq!(l1_loss(a, b).item(), 1.5);
/// ```
///
/// # Panics
/// With the message of [`try_l1_loss`]'s error.
#[track_caller]
pub fn l1_loss<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>) -> Var<'g, F> {
    or_panic(try_l1_loss(a, b))
}

/// Fallible [`l1_loss`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_l1_loss;
/// let (a, b) = (g.var(array![1.0, -2.0]), g.var(array![0.0, 0.0]));
/// assert_eq!(try_l1_loss(a, b).unwrap().item(), 1.5);
/// g.clear();
/// assert!(matches!(try_l1_loss(a, b), Err(Error::StaleVar)));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] for shapes that differ; [`Error::GraphMismatch`],
/// [`Error::StaleVar`].
pub fn try_l1_loss<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>) -> Result<Var<'g, F>> {
    same_shape_diff("l1_loss", a, b)?.try_abs()?.try_mean()
}

/// Layer normalisation over the last `normalized_shape.len()` axes, which must have that shape
/// (`F.layer_norm`): `(x - mean) / sqrt(var + eps) * weight + bias`, with the biased variance;
/// `weight` and `bias`, when given, have shape `normalized_shape`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::layer_norm;
/// let g: Graph = Graph::new();
/// let x = g.var(array![[1.0, 3.0], [2.0, 2.0]]);
/// let y = layer_norm(x, &[2], None, None, 1e-5).data();
/// assert!((y[[0, 0]] + 1.0).abs() < 1e-5 && (y[[0, 1]] - 1.0).abs() < 1e-5);
/// assert_eq!((y[[1, 0]], y[[1, 1]]), (0.0, 0.0)); // a constant row
/// ```
///
/// # Panics
/// With the message of [`try_layer_norm`]'s error.
#[track_caller]
pub fn layer_norm<'g, F: Float>(
    x: Var<'g, F>,
    normalized_shape: &[usize],
    weight: Option<Var<'g, F>>,
    bias: Option<Var<'g, F>>,
    eps: F,
) -> Var<'g, F> {
    or_panic(try_layer_norm(x, normalized_shape, weight, bias, eps))
}

/// Fallible [`layer_norm`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_layer_norm;
/// let x = g.var(array![[1.0, 3.0]]);
/// let y = try_layer_norm(x, &[2], None, None, 1e-5).unwrap();
/// assert!((y.data()[[0, 1]] - 1.0).abs() < 1e-5);
/// // the last axis has 2 values, not 3
/// assert!(try_layer_norm(x, &[3], None, None, 1e-5).is_err());
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `layer_norm`) when the trailing axes of `x`, or `weight` or
/// `bias`, do not have `normalized_shape`; [`Error::GraphMismatch`], [`Error::StaleVar`].
pub fn try_layer_norm<'g, F: Float>(
    x: Var<'g, F>,
    normalized_shape: &[usize],
    weight: Option<Var<'g, F>>,
    bias: Option<Var<'g, F>>,
    eps: F,
) -> Result<Var<'g, F>> {
    const OP: &str = "layer_norm";
    let shape = x.try_shape()?;
    let k = normalized_shape.len();
    if k == 0 || k > shape.len() || shape[shape.len() - k..] != *normalized_shape {
        return Err(mismatch(OP, &shape, normalized_shape));
    }
    for p in weight.iter().chain(&bias) {
        let s = p.try_shape()?;
        if s != normalized_shape {
            return Err(mismatch(OP, normalized_shape, &s));
        }
    }
    let axes: Vec<usize> = (shape.len() - k..shape.len()).collect();
    let centred = x.try_sub(x.try_mean_axes(&axes, true)?)?;
    let var = centred.try_square()?.try_mean_axes(&axes, true)?;
    let mut y = centred.try_div(var.try_add(eps)?.try_sqrt()?)?;
    if let Some(w) = weight {
        y = y.try_mul(w)?;
    }
    if let Some(b) = bias {
        y = y.try_add(b)?;
    }
    Ok(y)
}

/// `x` divided by its `p`-norm along `axis`, at least `eps` (`F.normalize`; PyTorch's defaults
/// are `p = 2`, `eps = 1e-12`).
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::normalize;
/// let g: Graph = Graph::new();
/// let x = g.var(array![[3.0, 4.0], [0.0, 0.0]]);
/// assert_eq!(normalize(x, 2.0, 1, 1e-12).data(), array![[0.6, 0.8], [0.0, 0.0]].into_dyn());
/// ```
///
/// # Panics
/// With the message of [`try_normalize`]'s error.
#[track_caller]
pub fn normalize<'g, F: Float>(x: Var<'g, F>, p: F, axis: usize, eps: F) -> Var<'g, F> {
    or_panic(try_normalize(x, p, axis, eps))
}

/// Fallible [`normalize`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_normalize;
/// let x = g.var(array![[3.0, 4.0]]);
/// assert_eq!(try_normalize(x, 2.0, 1, 1e-12).unwrap().data(), array![[0.6, 0.8]].into_dyn());
/// assert!(matches!(try_normalize(x, 2.0, 2, 1e-12), Err(Error::InvalidAxes { .. })));
/// ```
///
/// # Errors
/// [`Error::InvalidAxes`] for an axis out of range; [`Error::InvalidArgument`] for a `p` that
/// is not a finite number `> 0`; [`Error::StaleVar`].
pub fn try_normalize<'g, F: Float>(x: Var<'g, F>, p: F, axis: usize, eps: F) -> Result<Var<'g, F>> {
    let normalize = || {
        let norm = x
            .try_norm_axes(p, &[axis], true)?
            .try_clip(eps, F::infinity())?;
        x.try_div(norm)
    };
    normalize().map_err(|e| e.named("normalize"))
}
