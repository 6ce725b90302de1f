//! Stateless neural-network functions (DeZero steps 42-47, 54): `linear`, `mean_squared_error`,
//! `softmax_cross_entropy`, `accuracy`, `dropout`; and PyTorch's `cross_entropy`, `nll_loss`,
//! `binary_cross_entropy_with_logits`, `huber_loss`, `l1_loss`, `layer_norm`, `normalize`. Each is composed from core ops, so its gradient, at every
//! order, comes from theirs; each has a `try_` twin.

pub use crate::conv::{
    Pair, avg_pool2d, col2im, conv_transpose2d, conv2d, im2col, max_pool2d, try_avg_pool2d,
    try_col2im, try_conv_transpose2d, try_conv2d, try_im2col, try_max_pool2d,
};
pub use crate::losses::{
    Target, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, layer_norm,
    nll_loss, normalize, try_binary_cross_entropy_with_logits, try_cross_entropy, try_huber_loss,
    try_l1_loss, try_layer_norm, try_nll_loss, try_normalize,
};

use ndarray::{ArrayD, Axis, IxDyn};
use tapegrad_core::{Error, Float, Result, Var, or_panic};

/// `x W + b`: an affine layer's math, with `x` of shape `[n, in]`, `w` of `[in, out]` and `b`
/// (broadcast over the rows) of `[out]`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::linear;
/// let g: Graph = Graph::new();
/// let x = g.var(array![[1.0, 2.0]]);
/// let w = g.var(array![[1.0], [10.0]]);
/// let b = g.var(array![0.5]);
/// assert_eq!(linear(x, w, Some(b)).data(), array![[21.5]].into_dyn());
/// ```
///
/// # Panics
/// With the message of [`try_linear`]'s error.
#[track_caller]
pub fn linear<'g, F: Float>(x: Var<'g, F>, w: Var<'g, F>, b: Option<Var<'g, F>>) -> Var<'g, F> {
    or_panic(try_linear(x, w, b))
}

/// Fallible [`linear`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_linear;
/// let x = g.var(array![[1.0, 2.0]]);
/// let w = g.var(array![[1.0], [10.0]]);
/// assert_eq!(try_linear(x, w, None).unwrap().data(), array![[21.0]].into_dyn());
/// // inner sizes 2 and 1 differ
/// assert!(matches!(try_linear(x, g.var(array![[1.0]]), None), Err(Error::ShapeMismatch { .. })));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `linear`) for shapes `x @ w` does not take, or a bias that is
/// not 1-d with one element per output (as PyTorch, not broadcast).
pub fn try_linear<'g, F: Float>(
    x: Var<'g, F>,
    w: Var<'g, F>,
    b: Option<Var<'g, F>>,
) -> Result<Var<'g, F>> {
    let y = x.try_matmul(w).map_err(|e| e.named("linear"))?;
    let Some(b) = b else {
        return Ok(y);
    };
    let outputs = w.try_shape()?.last().copied().unwrap_or(1);
    let bias = b.try_shape()?;
    if bias != [outputs] {
        return Err(Error::ShapeMismatch {
            op: "linear",
            lhs: bias,
            rhs: vec![outputs],
        });
    }
    y.try_add(b)
}

/// Mean over all elements of `(a - b)^2` (PyTorch's default reduction).
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::mean_squared_error;
/// let g: Graph = Graph::new();
/// let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![1.0, 4.0]));
/// assert_eq!(mean_squared_error(a, b).item(), 2.0);
/// ```
///
/// # Panics
/// With the message of [`try_mean_squared_error`]'s error.
#[track_caller]
pub fn mean_squared_error<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>) -> Var<'g, F> {
    or_panic(try_mean_squared_error(a, b))
}

/// Fallible [`mean_squared_error`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_mean_squared_error;
/// let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![1.0, 4.0]));
/// assert_eq!(try_mean_squared_error(a, b).unwrap().item(), 2.0);
/// g.clear();
/// assert!(matches!(try_mean_squared_error(a, b), Err(Error::StaleVar)));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `mean_squared_error`) for shapes that do not broadcast.
pub fn try_mean_squared_error<'g, F: Float>(a: Var<'g, F>, b: Var<'g, F>) -> Result<Var<'g, F>> {
    let mse = || a.try_sub(b)?.try_square()?.try_mean();
    mse().map_err(|e| e.named("mean_squared_error"))
}

/// Checks `labels` against 2-D `logits` of shape `[n, classes]`; returns `(n, classes)`.
pub(crate) fn check_labels<F: Float>(
    op: &'static str,
    logits: Var<'_, F>,
    labels: &[usize],
) -> Result<(usize, usize)> {
    let shape = logits.try_shape()?;
    let [n, classes] = shape[..] else {
        return Err(Error::ShapeMismatch {
            op,
            lhs: shape,
            rhs: vec![labels.len()],
        });
    };
    if n != labels.len() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: shape,
            rhs: vec![labels.len()],
        });
    }
    if let Some(&index) = labels.iter().find(|&&t| t >= classes) {
        return Err(Error::IndexOutOfBounds {
            op,
            index,
            len: classes,
        });
    }
    Ok((n, classes))
}

/// Cross entropy of `softmax(logits)` against integer `labels`, averaged over the batch:
/// `-mean_i log_softmax(logits)[i, labels[i]]`, computed stably.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::softmax_cross_entropy;
/// let g: Graph = Graph::new();
/// let logits = g.var(array![[0.0, 0.0], [1000.0, 0.0]]);
/// let loss = softmax_cross_entropy(logits, &[1, 0]); // ln 2 and 0, averaged
/// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-12);
/// ```
///
/// # Panics
/// With the message of [`try_softmax_cross_entropy`]'s error.
#[track_caller]
pub fn softmax_cross_entropy<'g, F: Float>(logits: Var<'g, F>, labels: &[usize]) -> Var<'g, F> {
    or_panic(try_softmax_cross_entropy(logits, labels))
}

/// Fallible [`softmax_cross_entropy`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_softmax_cross_entropy;
/// let logits = g.var(array![[0.0, 0.0]]);
/// assert!((try_softmax_cross_entropy(logits, &[1]).unwrap().item() - 2f64.ln()).abs() < 1e-12);
/// // class 2 of 2 classes
/// assert!(try_softmax_cross_entropy(logits, &[2]).is_err());
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `logits` is 2-D with one row per label;
/// [`Error::IndexOutOfBounds`] for a label not below the number of classes.
pub fn try_softmax_cross_entropy<'g, F: Float>(
    logits: Var<'g, F>,
    labels: &[usize],
) -> Result<Var<'g, F>> {
    let (n, classes) = check_labels("softmax_cross_entropy", logits, labels)?;
    // One-hot of the labels, as a constant: picks log p[i, t_i] out of each row.
    let mut one_hot = ArrayD::zeros(IxDyn(&[n, classes]));
    for (i, &t) in labels.iter().enumerate() {
        one_hot[[i, t]] = F::one();
    }
    let picked = logits.try_log_softmax(1)?.try_mul(one_hot)?.try_sum()?;
    picked.try_mul(F::from_f64(-1.0 / n as f64))
}

/// Fraction of rows whose largest logit (the first, on ties) is at the label.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::functional::accuracy;
/// let g: Graph = Graph::new();
/// let logits = g.var(array![[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]);
/// assert_eq!(accuracy(logits, &[1, 1, 0]), 2.0 / 3.0);
/// ```
///
/// # Panics
/// With the message of [`try_accuracy`]'s error.
#[track_caller]
pub fn accuracy<F: Float>(logits: Var<'_, F>, labels: &[usize]) -> F {
    or_panic(try_accuracy(logits, labels))
}

/// Fallible [`accuracy`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_accuracy;
/// let logits = g.var(array![[0.1, 0.9], [0.8, 0.2]]);
/// assert_eq!(try_accuracy(logits, &[1, 1]).unwrap(), 0.5);
/// // one label for two rows
/// assert!(try_accuracy(logits, &[1]).is_err());
/// ```
///
/// # Errors
/// As [`try_softmax_cross_entropy`].
pub fn try_accuracy<F: Float>(logits: Var<'_, F>, labels: &[usize]) -> Result<F> {
    let (n, _) = check_labels("accuracy", logits, labels)?;
    let data = logits.try_data()?;
    let correct = data
        .axis_iter(Axis(0))
        .zip(labels)
        .filter(|&(ref row, &t)| {
            // First maximum: a later element wins only if strictly larger.
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best == t
        })
        .count();
    Ok(F::from_f64(correct as f64 / n as f64))
}

/// Inverted dropout: in training (`train = true`) each element is zeroed with probability
/// `ratio` and the rest scaled by `1 / (1 - ratio)`, so the expectation is unchanged; at test time
/// (`train = false`) the input passes through. The mask is a constant: its gradient is the mask.
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad_core::{ndarray::Array1, Graph};
/// use tapegrad_nn::functional::dropout;
/// let g: Graph = Graph::new();
/// let x = g.var(Array1::<f64>::ones(1000));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let y = dropout(x, 0.5, true, &mut rng).data();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// assert_eq!(dropout(x, 0.5, false, &mut rng).data(), x.data());
/// ```
///
/// # Panics
/// With the message of [`try_dropout`]'s error.
#[track_caller]
pub fn dropout<'g, F: Float>(
    x: Var<'g, F>,
    ratio: f64,
    train: bool,
    rng: &mut impl rand::Rng,
) -> Var<'g, F> {
    or_panic(try_dropout(x, ratio, train, rng))
}

/// Fallible [`dropout`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use rand::SeedableRng;
/// use tapegrad_nn::functional::try_dropout;
/// let x = g.var(array![1.0, 2.0]);
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// assert_eq!(try_dropout(x, 0.5, false, &mut rng).unwrap().data(), x.data());
/// // a ratio must be in [0, 1)
/// assert!(try_dropout(x, 1.5, true, &mut rng).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] unless `0 <= ratio < 1`; [`Error::StaleVar`].
pub fn try_dropout<'g, F: Float>(
    x: Var<'g, F>,
    ratio: f64,
    train: bool,
    rng: &mut impl rand::Rng,
) -> Result<Var<'g, F>> {
    if !(0.0..1.0).contains(&ratio) {
        return Err(Error::InvalidArgument {
            op: "dropout",
            reason: format!("ratio must be in [0, 1), got {ratio}"),
        });
    }
    if !train {
        return Ok(x);
    }
    let keep = F::from_f64(1.0 / (1.0 - ratio));
    let mask = ArrayD::from_shape_simple_fn(IxDyn(&x.try_shape()?), || {
        if rng.random::<f64>() >= ratio {
            keep
        } else {
            F::zero()
        }
    });
    x.try_mul(mask)
}
