//! tapegrad::nn::functional: gradient checks, values against their formulas, errors, and DeZero's
//! linear regression (step 42) converging.

use crate::common;

use tapegrad::check::{gradgrad_check, gradient_check, jvp_check};
use tapegrad::ndarray::{Array2, ArrayD, array};
use tapegrad::nn::functional::{
    accuracy, linear, mean_squared_error, softmax_cross_entropy, try_accuracy,
    try_softmax_cross_entropy,
};
use tapegrad::prelude::*;

fn inputs(shapes: &[&[usize]]) -> Vec<ArrayD<f64>> {
    shapes
        .iter()
        .enumerate()
        .map(|(k, s)| common::values(s, 5 + k as u64, -1.0, 1.0))
        .collect()
}

#[test]
fn linear_gradients_first_and_second_order() {
    let xs = inputs(&[&[4, 3], &[3, 2], &[2]]);
    gradient_check(|v| linear(v[0], v[1], Some(v[2])).tanh(), &xs).unwrap();
    jvp_check(|v| linear(v[0], v[1], Some(v[2])).tanh(), &xs).unwrap();
    gradgrad_check(|v| linear(v[0], v[1], Some(v[2])).tanh(), &xs).unwrap();
    gradient_check(|v| linear(v[0], v[1], None).square(), &xs[..2]).unwrap();
}

#[test]
fn mean_squared_error_value_and_gradients() {
    let g: Graph = Graph::new();
    let (a, b) = (
        g.var(array![[1.0, 2.0], [3.0, 4.0]]),
        g.var(array![[1.0, 0.0], [0.0, 4.0]]),
    );
    let loss = mean_squared_error(a, b);
    loss.backward();
    assert_eq!(loss.item(), (4.0 + 9.0) / 4.0);
    assert_eq!(a.grad().unwrap(), array![[0.0, 1.0], [1.5, 0.0]].into_dyn()); // 2 (a - b) / 4
    let xs = inputs(&[&[3, 2], &[3, 2]]);
    gradient_check(|v| mean_squared_error(v[0], v[1]), &xs).unwrap();
    jvp_check(|v| mean_squared_error(v[0], v[1]), &xs).unwrap();
    gradgrad_check(|v| mean_squared_error(v[0].sin(), v[1]), &xs).unwrap();
}

#[test]
fn softmax_cross_entropy_matches_its_formula() {
    let logits = array![
        [0.2, -0.4, 1.0],
        [0.3, 0.5, -2.0],
        [1.3, -3.2, 0.0],
        [2.1, 0.3, 0.7]
    ];
    let labels = [2, 0, 1, 0];
    let mut want = 0.0;
    for (i, &t) in labels.iter().enumerate() {
        let row = logits.row(i);
        let lse = row.iter().map(|v: &f64| v.exp()).sum::<f64>().ln();
        want -= row[t] - lse;
    }
    want /= 4.0;
    let g: Graph = Graph::new();
    let loss = softmax_cross_entropy(g.var(logits.clone()), &labels);
    assert!((loss.item() - want).abs() < 1e-12);
    let x = [logits.into_dyn()];
    gradient_check(|v| softmax_cross_entropy(v[0], &labels), &x).unwrap();
    jvp_check(|v| softmax_cross_entropy(v[0], &labels), &x).unwrap();
    gradgrad_check(|v| softmax_cross_entropy(v[0], &labels), &x).unwrap();
}

#[test]
fn accuracy_breaks_ties_by_the_first_maximum() {
    let g: Graph = Graph::new();
    let logits = g.var(array![[0.5, 0.5, 0.1], [0.0, 1.0, 1.0], [3.0, 2.0, 1.0]]);
    assert_eq!(accuracy(logits, &[0, 1, 0]), 1.0);
    assert_eq!(accuracy(logits, &[1, 2, 0]), 1.0 / 3.0);
}

#[test]
fn bad_labels_are_errors() {
    let g: Graph = Graph::new();
    let logits = g.var(Array2::<f64>::zeros((2, 3)));
    assert_eq!(
        try_softmax_cross_entropy(logits, &[0, 3])
            .unwrap_err()
            .to_string(),
        "softmax_cross_entropy: index 3 is out of bounds for an axis of length 3"
    );
    assert_eq!(
        try_accuracy(logits, &[0]).unwrap_err().to_string(),
        "accuracy: shape mismatch between [2, 3] and [1]"
    );
    let v = g.var(array![1.0, 2.0]);
    assert!(matches!(
        try_accuracy(v, &[0, 1]),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// DeZero step 42: y = 5 + 2x + noise, 100 points, lr 0.1, 100 iterations. The data differ from
/// numpy's (seeded LCG instead), so this asserts convergence, not DeZero's digits.
#[test]
fn step42_linear_regression_converges() {
    let x = common::values::<f64>(&[100, 1], 0, 0.0, 1.0);
    let noise = common::values::<f64>(&[100, 1], 1, 0.0, 1.0);
    let y = x.mapv(|v| 5.0 + 2.0 * v) + &noise;
    let (mut w, mut b) = (
        ArrayD::<f64>::zeros(vec![1, 1]),
        ArrayD::<f64>::zeros(vec![1]),
    );
    let g: Graph = Graph::new();
    let mut loss_value = f64::NAN;
    for _ in 0..100 {
        g.clear(); // parameters live outside the graph; each step binds them as leaves
        let (xv, yv) = (g.var(x.clone()), g.var(y.clone()));
        let (wv, bv) = (g.var(w.clone()), g.var(b.clone()));
        let loss = mean_squared_error(linear(xv, wv, Some(bv)), yv);
        loss.backward();
        loss_value = loss.item();
        w = w - wv.grad().unwrap() * 0.1;
        b = b - bv.grad().unwrap() * 0.1;
    }
    let (w, b) = (w[[0, 0]], b[0]);
    assert!((1.7..2.4).contains(&w), "W = {w}");
    assert!((5.2..5.8).contains(&b), "b = {b}");
    assert!(loss_value < 0.1, "loss = {loss_value}");
}

/// Updates of large parameters run on several threads: every optimizer gives the same bits on
/// one thread and on two, and SGD's update is `w - lr g` element by element.
#[test]
fn large_updates_do_not_depend_on_the_thread_count() {
    use tapegrad::nn::optim::{AdaGrad, Adam, MomentumSgd, Optimizer, Sgd};
    let w0 = common::values::<f32>(&[600, 500], 1, -1.0, 1.0); // 300,000 elements: threaded
    let t = common::values::<f32>(&[600, 500], 2, -1.0, 1.0);
    let run = |threads: usize, which: usize| {
        common::on_threads(threads, || {
            let g: Graph<f32> = Graph::new();
            let w = g.param(w0.clone());
            let mut opt: Box<dyn Optimizer<f32>> = match which {
                0 => Box::new(Sgd::new(0.1)),
                1 => Box::new(MomentumSgd::new(0.1, 0.9)),
                2 => Box::new(AdaGrad::new(0.1)),
                _ => Box::new(Adam::new(0.1)),
            };
            for _ in 0..2 {
                g.clear();
                ((w - g.constant(t.clone())).square().sum() * 0.5).backward(); // grad w - t
                opt.step(&[w]);
            }
            w.data()
        })
    };
    for which in 0..4 {
        assert!(run(1, which) == run(2, which), "optimizer {which}");
    }
    // two SGD steps on 0.5 |w - t|^2: w1 = w0 - 0.1 (w0 - t), w2 = w1 - 0.1 (w1 - t)
    let sgd = run(2, 0);
    for ((&got, &w), &t) in sgd.iter().zip(&w0).zip(&t) {
        let w1 = w + -0.1f32 * (w - t);
        assert_eq!(got, w1 + -0.1f32 * (w1 - t));
    }
}
