//! The losses and normalisations of tapegrad-nn's functional (PyTorch's names): gradient checks
//! at first and second order, values, errors.

use crate::common;

use tapegrad::ndarray::{ArrayD, array};
use tapegrad::nn::functional::*;
use tapegrad::prelude::*;

fn probs<F: Float>(shape: &[usize]) -> ArrayD<F> {
    let raw: ArrayD<F> = common::values(shape, 4, 0.1, 1.0);
    let sums = raw
        .sum_axis(tapegrad::ndarray::Axis(1))
        .insert_axis(tapegrad::ndarray::Axis(1));
    &raw / &sums
}

fn targets<F: Float>(shape: &[usize]) -> ArrayD<F> {
    common::values(shape, 5, 0.0, 1.0)
}

shapecheck!(
    cross_entropy_labels,
    (-2.0, 2.0),
    |xs| cross_entropy(xs[0], &[2, 0], 0.0),
    shapes & [&[2, 3]]
);
shapecheck!(
    cross_entropy_smoothed,
    (-2.0, 2.0),
    |xs| cross_entropy(xs[0], &[2, 0], 0.1 as T),
    shapes & [&[2, 3]]
);
shapecheck!(
    cross_entropy_probs,
    (-2.0, 2.0),
    |xs| cross_entropy(xs[0], &probs::<T>(&[2, 3]), 0.2 as T),
    shapes & [&[2, 3]]
);
shapecheck!(
    nll,
    (-2.0, 2.0),
    |xs| nll_loss(xs[0].log_softmax(1), &[1, 1]),
    shapes & [&[2, 3]]
);
shapecheck!(
    bce_logits,
    (-3.0, 3.0),
    |xs| binary_cross_entropy_with_logits(xs[0], &targets::<T>(&[2, 3])),
    shapes & [&[2, 3]]
);
shapecheck!(
    huber,
    (-2.0, 2.0),
    |xs| huber_loss(xs[0], xs[1], 0.7 as T),
    shapes & [&[2, 3], &[2, 3]]
);
shapecheck!(
    l1,
    (-2.0, 2.0),
    |xs| l1_loss(xs[0], xs[1]) * xs[0].sum(),
    shapes & [&[2, 3], &[2, 3]]
);
shapecheck!(
    layer_norm_affine,
    (-2.0, 2.0),
    |xs| layer_norm(xs[0], &[3], Some(xs[1]), Some(xs[2]), 1e-5 as T).square(),
    shapes & [&[2, 3], &[3], &[3]]
);
shapecheck!(
    layer_norm_plain,
    (-2.0, 2.0),
    |xs| layer_norm(xs[0], &[2, 3], None, None, 1e-5 as T)
        .cumsum(2)
        .square(),
    shapes & [&[2, 2, 3]]
);
shapecheck!(
    normalize_rows,
    (-2.0, 2.0),
    |xs| normalize(xs[0], 2.0 as T, 1, 1e-12 as T).cumsum(1),
    shapes & [&[2, 3]]
);

#[test]
fn values_match_pytorch() {
    let g: Graph = Graph::new();
    let logits = g.var(array![[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]]);
    // the smoothed loss is (1 - s) ce + s * mean over classes of -log_softmax
    let lsm = logits.log_softmax(1).data();
    let ce = -(lsm[[0, 1]] + lsm[[1, 2]]) / 2.0;
    let uniform = -lsm.sum() / 6.0;
    let got = cross_entropy(logits, &[1, 2], 0.3).item();
    assert!((got - (0.7 * ce + 0.3 * uniform)).abs() < 1e-12);
    assert!((softmax_cross_entropy(logits, &[1, 2]).item() - ce).abs() < 1e-15);
    assert!((nll_loss(logits.log_softmax(1), &[1, 2]).item() - ce).abs() < 1e-15);
    // BCE with logits is stable far out
    let x = g.var(array![-1000.0, 1000.0]);
    let bce = binary_cross_entropy_with_logits(x, &array![0.0, 1.0].into_dyn());
    assert_eq!(bce.item(), 0.0);
    // huber: both sides of delta; l1
    let (a, b) = (g.var(array![0.5, -3.0]), g.scalar(0.0).broadcast_to(&[2]));
    let h = huber_loss(a, b, 1.0);
    h.backward();
    assert_eq!(h.item(), (0.125 + 2.5) / 2.0);
    assert_eq!(a.grad().unwrap(), array![0.25, -0.5].into_dyn()); // d, delta sign(d), / n
    // normalize: a zero row stays zero, with gradient 0
    let z = g.var(array![[0.0, 0.0], [3.0, 4.0]]);
    let n = normalize(z, 2.0, 1, 1e-12);
    n.sum().backward();
    assert_eq!(n.data(), array![[0.0, 0.0], [0.6, 0.8]].into_dyn());
    assert!(z.grad().unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn bad_input_is_an_error() {
    let g: Graph = Graph::new();
    let logits = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    assert!(matches!(
        try_cross_entropy(logits, &[0, 2], 0.0),
        Err(Error::IndexOutOfBounds { .. })
    ));
    assert!(try_cross_entropy(logits, &[0, 1], 1.5).is_err());
    let bad = array![[1.0, 0.0, 0.0]].into_dyn();
    assert!(matches!(
        try_cross_entropy(logits, &bad, 0.0),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(try_nll_loss(logits, &[0]).is_err());
    assert!(try_binary_cross_entropy_with_logits(logits, &bad).is_err());
    let v = g.var(array![1.0, 2.0]);
    assert!(try_huber_loss(logits, v, 1.0).is_err());
    assert!(try_huber_loss(v, v, 0.0).is_err());
    assert!(try_l1_loss(logits, v).is_err());
    let e = try_layer_norm(logits, &[3], None, None, 1e-5).unwrap_err();
    assert_eq!(
        e.to_string(),
        "layer_norm: shape mismatch between [2, 2] and [3]"
    );
    assert!(try_layer_norm(logits, &[2], Some(g.var(array![1.0])), None, 1e-5).is_err());
    assert!(try_normalize(logits, 2.0, 2, 1e-12).is_err());
}
