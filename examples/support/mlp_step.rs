//! One SGD step of an MLP `in-hidden-classes` with sigmoid and softmax cross entropy, on tapegrad
//! and written by hand with ndarray (the floor), shared by `benches/mlp_step.rs` and
//! `tests/suite/mlp_step.rs` (which checks that both compute the same step).

#![allow(dead_code)]

use tapegrad::ndarray::{Array1, Array2, Axis};
use tapegrad::nn::functional::softmax_cross_entropy;
use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::prelude::*;

/// A batch: `n` inputs of width `d` in [0, 1) and labels below `classes`, deterministic.
pub fn batch(n: usize, d: usize, classes: usize) -> (Array2<f32>, Vec<usize>) {
    let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 17) % 97) as f32 / 97.0);
    (x, (0..n).map(|i| (i * 7) % classes).collect())
}

/// The engine's step: clear, forward, loss, backward, SGD. Returns the loss.
pub fn engine_step<'g>(
    g: &'g Graph<f32>,
    model: &Mlp<'g, f32>,
    opt: &mut Sgd,
    x: &Array2<f32>,
    t: &[usize],
) -> f32 {
    g.clear();
    let loss = softmax_cross_entropy(model.forward(g.constant(x.clone())), t);
    loss.backward();
    opt.step(&model.params());
    loss.item()
}

/// The same network by hand: `h = sigmoid(x W1 + b1)`, `z = h W2 + b2`, mean cross entropy of
/// `softmax(z)`.
pub struct HandMlp {
    pub w1: Array2<f32>,
    pub b1: Array1<f32>,
    pub w2: Array2<f32>,
    pub b2: Array1<f32>,
}

impl HandMlp {
    /// The parameters of a tapegrad `Mlp` of two layers (which must have run a forward pass).
    pub fn from_engine(model: &Mlp<'_, f32>) -> Self {
        let p = model.params();
        let two = |k: usize| p[k].data().into_dimensionality().expect("a matrix");
        let one = |k: usize| p[k].data().into_dimensionality().expect("a vector");
        HandMlp {
            w1: two(0),
            b1: one(1),
            w2: two(2),
            b2: one(3),
        }
    }

    /// One SGD step with learning rate `lr`; returns the loss before the step.
    pub fn step(&mut self, x: &Array2<f32>, t: &[usize], lr: f32) -> f32 {
        let n = x.nrows() as f32;
        // forward
        let mut h = x.dot(&self.w1) + &self.b1;
        h.mapv_inplace(|v| 1.0 / (1.0 + (-v).exp()));
        let mut p = h.dot(&self.w2) + &self.b2;
        for mut row in p.rows_mut() {
            let m = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - m).exp());
            let s = row.sum();
            row /= s;
        }
        let loss = -t
            .iter()
            .enumerate()
            .map(|(i, &c)| p[[i, c]].ln())
            .sum::<f32>()
            / n;
        // backward: dz = (softmax - one_hot) / n, then the two layers
        let mut dz = p;
        for (i, &c) in t.iter().enumerate() {
            dz[[i, c]] -= 1.0;
        }
        dz /= n;
        let dw2 = h.t().dot(&dz);
        let db2 = dz.sum_axis(Axis(0));
        let mut dh = dz.dot(&self.w2.t());
        dh.zip_mut_with(&h, |d, &h| *d *= h * (1.0 - h));
        let dw1 = x.t().dot(&dh);
        let db1 = dh.sum_axis(Axis(0));
        // SGD
        self.w1.scaled_add(-lr, &dw1);
        self.b1.scaled_add(-lr, &db1);
        self.w2.scaled_add(-lr, &dw2);
        self.b2.scaled_add(-lr, &db2);
        loss
    }
}
