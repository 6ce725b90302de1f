//! One SGD step of an MLP 784-1000-10 (sigmoid, softmax cross entropy) on a batch of 100, f32:
//! tapegrad against the same step written by hand with ndarray, in one group; and the matrix
//! product the step is made of, `tapegrad::linalg::gemm` against ndarray's (matrixmultiply), in
//! GFLOP/s (PyTorch's and numpy's: `tools/torch_gemm.py`).
//! Run with `cargo bench --features bench --bench mlp_step`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tapegrad::ndarray::{Array2, linalg::general_mat_mul};
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

    let mut group = c.benchmark_group("gemm");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (m, k, n) in [(100, 784, 1000), (1000, 1000, 1000)] {
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64)); // flops
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 13) as f32 / 13.0);
        let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j * 11) % 17) as f32 / 17.0);
        let mut y = Array2::<f32>::zeros((m, n));
        let size = format!("{m}x{k}x{n}");
        group.bench_function(BenchmarkId::new("sgemm_tapegrad", &size), |bench| {
            bench.iter(|| tapegrad::linalg::gemm(1.0, &a.view(), &b.view(), 0.0, &mut y.view_mut()))
        });
        group.bench_function(BenchmarkId::new("sgemm_matrixmultiply", &size), |bench| {
            bench.iter(|| general_mat_mul(1.0, &a, &b, 0.0, &mut y))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
