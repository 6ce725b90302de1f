//! Criterion benches of the workloads (see examples/workloads.rs): tapegrad and its hand-written
//! floor side by side in one group per workload, at sizes that keep `cargo bench` short.
//! Run with `cargo bench --features bench --bench workloads`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

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

criterion_group!(benches, bench);
criterion_main!(benches);
