//! A 10,000-step training loop (DeZero steps 43-45: a 1-10-1 MLP with sigmoid on
//! sin(2 pi x) + noise, lr 0.2) keeps the arena and the heap flat, and learns. Its own test
//! binary: it counts the process's heap with a global allocator.

#[path = "suite/common/mod.rs"]
mod common;

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tapegrad::ndarray::ArrayD;
use tapegrad::nn::functional::{linear, mean_squared_error};
use tapegrad::prelude::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn heap(region: &Region<'_, System>) -> isize {
    let s = region.change();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

#[test]
fn ten_thousand_training_steps_stay_flat_and_learn() {
    let x = common::values::<f64>(&[100, 1], 0, 0.0, 1.0);
    let y = x.mapv(|v| (2.0 * std::f64::consts::PI * v).sin())
        + common::values::<f64>(&[100, 1], 1, 0.0, 1.0);
    let g: Graph = Graph::new();
    let (w1, b1) = (
        g.param(common::values::<f64>(&[1, 10], 2, -1.0, 1.0)),
        g.param(ArrayD::zeros(vec![10])),
    );
    let (w2, b2) = (
        g.param(common::values::<f64>(&[10, 1], 3, -1.0, 1.0)),
        g.param(ArrayD::zeros(vec![1])),
    );
    let params = [w1, b1, w2, b2];
    let region = Region::new(GLOBAL);
    let mut first_loss = f64::NAN;
    let mut at_100 = None;
    let mut loss_value = f64::NAN;
    for i in 1..=10_000 {
        g.clear();
        let (xv, yv) = (g.var(x.clone()), g.var(y.clone()));
        let h = linear(xv, w1, Some(b1)).sigmoid();
        let loss = mean_squared_error(linear(h, w2, Some(b2)), yv);
        loss.backward();
        loss_value = loss.item();
        if i == 1 {
            first_loss = loss_value;
        }
        for p in params {
            p.set_data(p.data() - p.grad().unwrap() * 0.2);
            p.cleargrad();
        }
        if i == 100 {
            at_100 = Some((g.len(), heap(&region)));
        }
    }
    let (live_100, heap_100) = at_100.unwrap();
    let (live, heap_end) = (g.len(), heap(&region));
    println!(
        "loss {first_loss:.4} -> {loss_value:.4}; step 100: {live_100} vars, {heap_100} B; step 10,000: {live} vars, {heap_end} B"
    );
    assert_eq!(live, live_100);
    assert!(
        heap_end <= heap_100,
        "heap grew from {heap_100} B to {heap_end} B"
    );
    assert!(loss_value < 0.1, "loss {loss_value}");
}
