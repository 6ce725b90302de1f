//! Forward mode against reverse mode (issue: forward mode, Jacobians and Hessians):
//! - the Jacobian of `f: R^n -> R^m`, `f(x) = h sin(h)` with `h = tanh(W x)`, for (n, m) =
//!   (10, 1000) and (1000, 10), by columns (`Forward`: n forward sweeps) and by rows
//!   (`Reverse`: m reverse sweeps): each mode should win where it has fewer sweeps;
//! - `jvp` of a chain of 10^6 ops of numbers (`y = y * 0.999 + x`, 5 * 10^5 times) against
//!   running the chain alone (recording its tape): the forward sweep should cost about what
//!   the forward pass did.
//!
//! Run with `cargo bench --features bench --bench transforms`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tapegrad::ndarray::{Array2, ArrayD, arr0};
use tapegrad::prelude::*;
use tapegrad::{JacobianMode, jacobian, jvp};

/// `W`: `m x n`, deterministic values in `[-1, 1) / sqrt(n)`.
fn weight(m: usize, n: usize) -> Array2<f64> {
    let scale = 1.0 / (n as f64).sqrt();
    Array2::from_shape_fn((m, n), |(i, j)| {
        (((i * 7919 + j * 104_729) % 2001) as f64 / 1000.0 - 1.0) * scale
    })
}

/// The chain: `y = y * 0.999 + x`, 5 * 10^5 times (10^6 recorded ops).
fn chain<'g>(xs: &[Var<'g>]) -> Vec<Var<'g>> {
    let mut y = xs[0];
    for _ in 0..500_000 {
        y = y * 0.999 + xs[0];
    }
    vec![y]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("transforms");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    for (n, m) in [(10, 1000), (1000, 10)] {
        let w = weight(m, n);
        let x = [ArrayD::from_elem(vec![n], 0.3)];
        for mode in [JacobianMode::Forward, JacobianMode::Reverse] {
            let id = BenchmarkId::new(format!("jacobian_{n}x{m}"), format!("{mode:?}"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    jacobian(
                        |xs| {
                            let h = xs[0].graph().constant(w.clone()).matmul(xs[0]).tanh();
                            vec![h * h.sin()]
                        },
                        &x,
                        mode,
                    )
                    .expect("the function is defined at x")
                })
            });
        }
    }

    let x = [arr0(1.0).into_dyn()];
    group.bench_function("chain_1e6/forward", |b| {
        b.iter(|| {
            let g: Graph = Graph::new();
            let x = g.var(x[0].clone());
            chain(&[x])[0].item()
        })
    });
    group.bench_function("chain_1e6/jvp", |b| {
        b.iter(|| jvp(chain, &x, &x).expect("numbers"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
