//! DeZero steps 59-60: an LSTM learns to predict the next value of a noisy sine, by truncated
//! backpropagation through time (windows of 30 steps, batches of 30 parallel runs), then
//! predicts the noiseless cosine step by step.
//!
//! ```text
//! cargo run --release --features plots --example rnn_sin   # plot into target/rnn_sin/
//! ```
//!
//! Each window's graph is freed before the next (`g.step` clears it); `Lstm::unchain` carries
//! the hidden state across, without its history. Prints the loss under a progress bar and plots
//! the prediction against the cosine.

use std::error::Error;

use tapegrad::ndarray::{Array2, Axis};
use tapegrad::nn::datasets::{SeqDataLoader, sin_curve};
use tapegrad::nn::layers::{Layer, Linear, Lstm};
use tapegrad::nn::optim::{Adam, Optimizer};
use tapegrad::prelude::*;

#[path = "support/plots.rs"]
mod plots;

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args().nth(1).unwrap_or("target/rnn_sin".into());
    let (bptt, batch, hidden, epochs) = (30, 30, 32, 40);
    let train = sin_curve(true, 0);
    let g: Graph = Graph::new();
    let lstm = Lstm::new(&g, hidden, 0);
    let head = Linear::new(&g, 1, 1);
    let params = [lstm.params(), head.params()].concat();
    let mut opt = Adam::new(0.01);
    let loader = SeqDataLoader::new(&train, batch);
    let bar = plots::progress(epochs, "epochs")?;
    let mut last = f64::INFINITY;
    for epoch in 1..=epochs {
        lstm.reset_state();
        let (mut total, mut count) = (0.0, 0);
        let batches: Vec<_> = loader.epoch::<f64, f64>().collect();
        for window in batches.chunks(bptt) {
            total += g.step(|| {
                let mut loss = g.scalar(0.0);
                for (x, t) in window {
                    let y = head.forward(lstm.forward(g.constant(x.clone())));
                    let t = Array2::from_shape_vec((t.len(), 1), t.clone()).unwrap_or_default();
                    loss = loss + (y - t).square().mean();
                }
                let loss = loss / window.len() as f64;
                loss.backward();
                opt.step(&params);
                lstm.unchain().expect("the window's graph is alive");
                loss.item()
            });
            count += 1;
        }
        last = total / count as f64;
        if epoch % 5 == 0 || epoch == 1 {
            bar.suspend(|| println!("epoch {epoch:>3}: loss {last:.5}"));
        }
        bar.set_message(format!("loss {last:.5}"));
        bar.inc(1);
    }
    bar.finish();

    // predict the cosine one step at a time, the state carried along
    let (test_x, test_t) = sin_curve(false, 0);
    lstm.reset_state();
    let (mut squared, mut predicted) = (0.0, Vec::with_capacity(test_t.len()));
    for (i, &target) in test_t.iter().enumerate() {
        let y = g.step(|| {
            let _guard = g.no_grad();
            let x = test_x.row(i).to_owned().insert_axis(Axis(0));
            let y = head.forward(lstm.forward(g.constant(x)));
            lstm.unchain().expect("alive");
            y.item()
        });
        squared += (y - target) * (y - target);
        predicted.push((i as f64, y));
        if i % 200 == 0 {
            println!("t = {i:>3}: predicted {y:+.4}, cos {target:+.4}");
        }
    }
    println!(
        "training loss {last:.5}; mean squared error on the cosine {:.5}",
        squared / test_t.len() as f64
    );
    let png = plots::prepare(&out, "rnn_sin.png")?;
    let truth = test_t.iter().enumerate().map(|(i, &t)| (i as f64, t));
    plots::plot_lines(
        &png,
        "LSTM: the next value of cos, one step at a time",
        ("t", ""),
        &[
            plots::Series {
                label: "predicted",
                points: predicted,
            },
            plots::Series {
                label: "cos",
                points: truth.collect(),
            },
        ],
    )?;
    println!("wrote {}", png.display());
    Ok(())
}
