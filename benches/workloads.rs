//! Criterion benches of the workloads (see examples/workloads.rs): tapegrad and its hand-written
//! floor side by side in one group per workload, at sizes that keep `cargo bench` short.
//! Run with `cargo bench --features bench --bench workloads`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tapegrad::Graph;

#[path = "../examples/support/workloads.rs"]
mod workloads;

fn bench(c: &mut Criterion) {
    for (workload, n) in [
        ("chain", 10_000),
        ("goldstein", 100),
        ("wide", 2_000),
        ("elem", 100_000),
    ] {
        let mut group = c.benchmark_group(workload);
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (who, floor) in [("tapegrad", false), ("floor", true)] {
            group.bench_with_input(BenchmarkId::new(who, n), &n, |b, &n| {
                b.iter(|| workloads::run(workload, floor, n))
            });
        }
        group.finish();
    }
}

/// A small graph built, differentiated and cleared, in a fresh graph and in one that held a
/// graph of 10^5 ops before: the same time when `clear` costs what the graph holds, not the
/// largest graph it ever held.
fn clear_after_large(c: &mut Criterion) {
    let mut group = c.benchmark_group("clear");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for large in [0, 100_000] {
        let g: Graph = Graph::new();
        let x = g.scalar(1.0);
        let mut y = x;
        for _ in 0..large {
            y = y * 0.5;
        }
        y.backward();
        group.bench_function(BenchmarkId::new("goldstein_after", large), |b| {
            b.iter(|| {
                g.clear();
                let (x, y) = (g.scalar(1.0), g.scalar(1.0));
                workloads::goldstein(x, y).backward();
                x.grad()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, clear_after_large);
criterion_main!(benches);
