//! DeZero steps 48-50: an MLP (10, 3) with sigmoid learns the three-armed spiral, SGD lr 1.0,
//! batches of 30, 300 epochs; prints the average loss and the training accuracy per epoch.
//! Run with `cargo run --release --example spiral`.

use tapegrad::nn::datasets::{spiral, DataLoader};
use tapegrad::nn::functional::{accuracy, softmax_cross_entropy};
use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::prelude::*;

fn main() {
    let data = spiral(1);
    let mut loader = DataLoader::new(&data, 30, true, 0);
    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[10, 3], |h| h.sigmoid(), 0);
    let mut opt = Sgd::new(1.0);
    for epoch in 1..=300 {
        let (mut loss_sum, mut acc_sum) = (0.0, 0.0);
        for (x, t) in loader.epoch() {
            g.clear();
            let logits = model.forward(g.var(x));
            let loss = softmax_cross_entropy(logits, &t);
            loss.backward();
            opt.step(&model.params());
            loss_sum += loss.item() * t.len() as f64;
            acc_sum += accuracy(logits, &t) * t.len() as f64;
        }
        let n = data.1.len() as f64;
        if epoch == 1 || epoch % 25 == 0 {
            println!(
                "epoch {epoch:>3}: loss {:.4}, accuracy {:.3}",
                loss_sum / n,
                acc_sum / n
            );
        }
    }
}
