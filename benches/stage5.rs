//! Stage 5's two speed bounds, forward + backward in f32 (PyTorch's side: `tools/torch_stage5.py`):
//! - `conv2d`: x `[32, 16, 28, 28]`, w `[32, 16, 3, 3]`, bias, stride 1, pad 1, loss `sum(y)`;
//! - `lstm_step`: one `Lstm` step (batch 32, input 64, hidden 128) from a carried state, loss
//!   `sum(h)`, as `nn.LSTMCell`.
//!
//! Run with `cargo bench --features bench --bench stage5`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tapegrad::ndarray::{ArrayD, IxDyn};
use tapegrad::nn::functional::conv2d;
use tapegrad::nn::layers::Lstm;
use tapegrad::prelude::*;

/// Deterministic values in [-1, 1) of the given shape.
fn fill(shape: &[usize], seed: usize) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    let v = (0..n).map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0);
    ArrayD::from_shape_vec(IxDyn(shape), v.collect()).expect("the size matches the shape")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("stage5");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    let g: Graph<f32> = Graph::new();
    let x = g.param(fill(&[32, 16, 28, 28], 1));
    let w = g.param(fill(&[32, 16, 3, 3], 2) * 0.1);
    let b = g.param(fill(&[32], 3));
    group.bench_function("conv2d", |bench| {
        bench.iter(|| {
            g.clear();
            x.cleargrad();
            w.cleargrad();
            b.cleargrad();
            conv2d(x, w, Some(b), (1, 1), (1, 1)).sum().backward();
            w.grad()
        })
    });

    let g: Graph<f32> = Graph::new();
    let lstm = Lstm::new(&g, 128, 0);
    let xs = g.param(fill(&[32, 64], 4));
    lstm.forward(xs); // makes the weights and a state to carry
    lstm.unchain().expect("the state is alive");
    group.bench_function("lstm_step", |bench| {
        bench.iter(|| {
            g.clear();
            let h = lstm.forward(xs);
            h.sum().backward();
            lstm.unchain().expect("the state is alive");
            xs.grad()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
