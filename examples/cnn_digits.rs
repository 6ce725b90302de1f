//! DeZero step 58 on real data: a small CNN learns the 8x8 handwritten digits shipped with
//! tapegrad-nn (1,797 images), trained on four fifths and tested on the held-out fifth.
//!
//! ```text
//! cargo run --release --features plots --example cnn_digits   # plot into target/cnn_digits/
//! ```
//!
//! conv 3x3 (8) - relu - max pool 2x2 - conv 3x3 (16) - relu - max pool 2x2 - linear (10),
//! Adam, mini-batches of 32; prints each epoch's loss and held-out accuracy under a progress
//! bar, and plots both against the epoch.

use std::error::Error;
use std::time::Instant;

use tapegrad::ndarray::{Array2, ArrayD, Axis};
use tapegrad::nn::datasets::{DataLoader, digits};
use tapegrad::nn::functional::{accuracy, softmax_cross_entropy};
use tapegrad::nn::layers::{Conv2d, Layer, Linear, MaxPool2d};
use tapegrad::nn::optim::{Adam, Optimizer};
use tapegrad::prelude::*;

#[path = "support/plots.rs"]
mod plots;

const EPOCHS: usize = 15;

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

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or("target/cnn_digits".into());
    let start = Instant::now();
    let (x, t) = digits();
    // every fifth image is held out
    let (train_idx, test_idx): (Vec<usize>, Vec<usize>) = (0..t.len()).partition(|i| i % 5 != 0);
    let train = take(&x, &t, &train_idx);
    let (test_x, test_t) = take(&x, &t, &test_idx);
    let test_x = ArrayD::from(test_x.into_dyn());
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
    let test_accuracy = || {
        g.step(|| {
            let _guard = g.no_grad();
            accuracy(model.forward(g.constant(test_x.clone())), &test_t)
        })
    };
    let bar = plots::progress(EPOCHS, "epochs")?;
    let (mut losses, mut accuracies) = (Vec::new(), Vec::new());
    for epoch in 1..=EPOCHS {
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
        let (loss, acc) = (total / batches as f64, test_accuracy());
        losses.push((epoch as f64, loss));
        accuracies.push((epoch as f64, acc));
        // on stdout even when the bar is hidden (output not a terminal)
        bar.suspend(|| println!("epoch {epoch:>2}: loss {loss:.4}, held-out accuracy {acc:.4}"));
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    }
    bar.finish();
    println!(
        "held-out accuracy: {:.4} ({:.1} s)",
        test_accuracy(),
        start.elapsed().as_secs_f64()
    );
    let png = plots::prepare(&out, "cnn_digits.png")?;
    plots::plot_lines(
        &png,
        "CNN on the 8x8 digits",
        ("epoch", ""),
        &[
            plots::Series {
                label: "training loss",
                points: losses,
            },
            plots::Series {
                label: "held-out accuracy",
                points: accuracies,
            },
        ],
    )?;
    println!("wrote {}", png.display());
    Ok(())
}
