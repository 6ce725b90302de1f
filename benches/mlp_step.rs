//! One SGD step of an MLP 784-1000-10 (sigmoid, softmax cross entropy) on a batch of 100, f32:
//! tapegrad against the same step written by hand with ndarray, in one group.
//! Run with `cargo bench --features bench --bench mlp_step`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::Sgd;
use tapegrad::prelude::*;

#[path = "../examples/support/mlp_step.rs"]
mod mlp_step;

fn bench(c: &mut Criterion) {
    let (x, t) = mlp_step::batch(100, 784, 10);
    let g: Graph<f32> = Graph::new();
    let model = Mlp::new(&g, &[1000, 10], |h| h.sigmoid(), 0);
    model.forward(g.constant(x.clone())); // make the lazy weights
    let mut hand = mlp_step::HandMlp::from_engine(&model);
    let mut opt = Sgd::new(0.01);

    let mut group = c.benchmark_group("mlp_step");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("tapegrad", |b| {
        b.iter(|| mlp_step::engine_step(&g, &model, &mut opt, &x, &t))
    });
    group.bench_function("ndarray", |b| b.iter(|| hand.step(&x, &t, 0.01)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
