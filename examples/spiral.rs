//! DeZero steps 48-50: an MLP (10, 3) with sigmoid learns the three-armed spiral, SGD lr 1.0,
//! batches of 30, 300 epochs. Prints the average loss and the training accuracy of every epoch
//! under a progress bar, then writes two plots: the loss curve and the decision boundary.
//!
//! ```text
//! cargo run --release --features plots --example spiral          # plots into target/spiral/
//! cargo run --release --features plots --example spiral -- docs  # the plots shown in the README
//! ```
//!
//! The plots' text uses DejaVu Sans, compiled in (the `dejavu` crate), so no system font or
//! fontconfig is needed.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;
use tapegrad::ndarray::{Array2, Axis};
use tapegrad::nn::datasets::{DataLoader, spiral};
use tapegrad::nn::functional::{accuracy, softmax_cross_entropy};
use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::prelude::*;

#[path = "support/plots.rs"]
mod plots;
/// Class colours: the grid cells take a pale version, the training points the full one.
use plots::COLORS;

const EPOCHS: usize = 300;

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args().nth(1).unwrap_or("target/spiral".into());
    let data = spiral(1);
    let mut loader = DataLoader::new(&data, 30, true, 0);
    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[10, 3], |h| h.sigmoid(), 0);
    let mut opt = Sgd::new(1.0);

    let bar = plots::progress(EPOCHS, "epochs")?;
    let mut history = Vec::with_capacity(EPOCHS);
    for epoch in 1..=EPOCHS {
        let (mut loss_sum, mut acc_sum) = (0.0, 0.0);
        for (x, t) in loader.epoch() {
            g.clear(); // the parameters survive; the last batch's graph goes
            let logits = model.forward(g.constant(x));
            let loss = softmax_cross_entropy(logits, &t);
            loss.backward();
            opt.step(&model.params());
            loss_sum += loss.item() * t.len() as f64;
            acc_sum += accuracy(logits, &t) * t.len() as f64;
        }
        let n = data.1.len() as f64;
        let (loss, acc) = (loss_sum / n, acc_sum / n);
        history.push(loss);
        // on stdout even when the bar is hidden (output not a terminal)
        bar.suspend(|| println!("epoch {epoch:>3}: loss {loss:.4}, accuracy {acc:.3}"));
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    }
    bar.finish();

    let loss_png = plots::prepare(&out, "spiral_loss.png")?;
    let boundary_png = Path::new(&out).join("spiral_boundary.png");
    let points = history.iter().enumerate();
    plots::plot_lines(
        &loss_png,
        "spiral: average training loss",
        ("epoch", "loss"),
        &[plots::Series {
            label: "loss",
            points: points.map(|(i, &l)| (i as f64 + 1.0, l)).collect(),
        }],
    )?;
    let predict = |x: Array2<f64>| {
        g.clear();
        let _no_grad = g.no_grad();
        let scores = model.forward(g.constant(x)).data();
        scores
            .axis_iter(Axis(0))
            .map(|row| first_argmax(row.iter().copied()))
            .collect()
    };
    plot_boundary(&data.0, &data.1, predict, &boundary_png)?;
    println!(
        "wrote {} and {}",
        loss_png.display(),
        boundary_png.display()
    );
    Ok(())
}

/// Index of the first largest value.
fn first_argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// The class the model predicts over a grid (pale cells), with the training points on top.
fn plot_boundary(
    x: &Array2<f64>,
    labels: &[usize],
    predict: impl FnOnce(Array2<f64>) -> Vec<usize>,
    path: &Path,
) -> Result<(), Box<dyn Error>> {
    let (cells, lo, hi) = (160, -1.1, 1.1);
    let step = (hi - lo) / cells as f64;
    let centre = |i: usize| lo + (i as f64 + 0.5) * step;
    let grid = Array2::from_shape_fn((cells * cells, 2), |(k, c)| {
        centre(if c == 0 { k % cells } else { k / cells })
    });
    let classes = predict(grid);

    let root = BitMapBackend::new(path, (560, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("spiral: decision boundary", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    chart.configure_mesh().disable_mesh().draw()?;
    chart.draw_series(classes.iter().enumerate().map(|(k, &c)| {
        let (x0, y0) = (
            lo + (k % cells) as f64 * step,
            lo + (k / cells) as f64 * step,
        );
        Rectangle::new(
            [(x0, y0), (x0 + step, y0 + step)],
            COLORS[c].mix(0.25).filled(),
        )
    }))?;
    chart.draw_series(
        x.axis_iter(Axis(0))
            .zip(labels)
            .map(|(p, &c)| Circle::new((p[0], p[1]), 3, COLORS[c].filled())),
    )?;
    root.present()?;
    Ok(())
}
