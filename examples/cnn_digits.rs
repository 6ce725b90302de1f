//! DeZero step 58 on real data: a small CNN learns the 8x8 handwritten digits shipped with
//! tapegrad-nn (1,797 images), trained on four fifths and tested on the held-out fifth.
//!
//!     cargo run --release --example cnn_digits
//!
//! conv 3x3 (8) - relu - max pool 2x2 - conv 3x3 (16) - relu - max pool 2x2 - linear (10),
//! Adam, mini-batches of 32; prints each epoch's loss and the test accuracy.

use std::time::Instant;

use tapegrad::ndarray::{Array2, ArrayD, Axis};
use tapegrad::nn::datasets::{DataLoader, digits};
use tapegrad::nn::functional::{accuracy, softmax_cross_entropy};
use tapegrad::nn::layers::{Conv2d, Layer, Linear, MaxPool2d};
use tapegrad::nn::optim::{Adam, Optimizer};
use tapegrad::prelude::*;

struct Cnn<'g> {
    conv1: Conv2d<'g>,
    conv2: Conv2d<'g>,
    pool: MaxPool2d,
    head: Linear<'g>,
}

impl<'g> Layer<'g> for Cnn<'g> {
    fn try_forward(&self, x: Var<'g>) -> tapegrad::Result<Var<'g>> {
        let n = x.try_shape()?[0];
        let x = x.try_reshape(&[n, 1, 8, 8])?;
        let h = self
            .pool
            .try_forward(self.conv1.try_forward(x)?.try_relu()?)?; // [n, 8, 4, 4]
        let h = self
            .pool
            .try_forward(self.conv2.try_forward(h)?.try_relu()?)?; // [n, 16, 2, 2]
        self.head.try_forward(h.try_reshape(&[n, 64])?)
    }

    fn params(&self) -> Vec<Var<'g>> {
        [self.conv1.params(), self.conv2.params(), self.head.params()].concat()
    }
}

/// Rows `idx` of `x` and their labels.
fn take(x: &Array2<f64>, t: &[usize], idx: &[usize]) -> (Array2<f64>, Vec<usize>) {
    (x.select(Axis(0), idx), idx.iter().map(|&i| t[i]).collect())
}

fn main() {
    let start = Instant::now();
    let (x, t) = digits();
    // every fifth image is held out
    let (train_idx, test_idx): (Vec<usize>, Vec<usize>) = (0..t.len()).partition(|i| i % 5 != 0);
    let train = take(&x, &t, &train_idx);
    let (test_x, test_t) = take(&x, &t, &test_idx);
    println!(
        "digits: {} to train on, {} held out",
        train.1.len(),
        test_t.len()
    );

    let g: Graph = Graph::new();
    let model = Cnn {
        conv1: Conv2d::new(&g, 8, (3, 3), (1, 1), (1, 1), 0),
        conv2: Conv2d::new(&g, 16, (3, 3), (1, 1), (1, 1), 1),
        pool: MaxPool2d::new((2, 2), (2, 2), (0, 0)),
        head: Linear::new(&g, 10, 2),
    };
    model.forward(g.constant(train.0.slice(tapegrad::ndarray::s![..1, ..]).to_owned())); // make the lazy weights
    let params = model.params();
    let mut opt = Adam::new(0.01);
    let mut loader = DataLoader::new(&train, 32, true, 0);
    for epoch in 1..=15 {
        let (mut total, mut batches) = (0.0, 0);
        for (xb, tb) in loader.epoch() {
            let loss = g.step(|| {
                let loss = softmax_cross_entropy(model.forward(g.constant(xb)), &tb);
                loss.backward();
                opt.step(&params);
                loss.item()
            });
            total += loss;
            batches += 1;
        }
        println!("epoch {epoch:>2}: loss {:.4}", total / batches as f64);
    }
    let acc = g.step(|| {
        let _guard = g.no_grad();
        accuracy(
            model.forward(g.constant(ArrayD::from(test_x.clone().into_dyn()))),
            &test_t,
        )
    });
    println!(
        "held-out accuracy: {acc:.4} ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
}
