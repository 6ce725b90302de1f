//! Long-running behaviour: memory stays flat over many build/backward/clear cycles, and a 10^7-op
//! chain differentiates without overflowing the stack. This file is its own test binary because
//! it counts the process's heap with a global allocator (`stats_alloc`).

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tapegrad::prelude::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The heap counter is the process's: tests that measure it take turns (the test harness runs
/// tests on several threads).
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Net heap bytes in use since `region` was made. (stats_alloc already counts a realloc's growth
/// in `bytes_allocated`; `bytes_reallocated` is that same growth again, not to be added.)
fn heap(region: &Region<'_, System>) -> isize {
    let s = region.change();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

fn cycle(g: &Graph) -> f64 {
    g.clear();
    let x = g.var(tapegrad::ndarray::array![0.5, -1.0, 2.0]);
    let w = g.var(tapegrad::ndarray::array![1.5, 0.5, -0.25]);
    let mut y = x;
    for _ in 0..20 {
        y = (y * w).tanh() + x.square() * 0.1;
    }
    y.backward();
    x.grad().expect("used").sum() + w.grad().expect("used").sum()
}

#[test]
fn ten_thousand_cycles_keep_arena_and_heap_flat() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let g: Graph = Graph::new();
    let region = Region::new(GLOBAL);
    let mut checksum = cycle(&g);
    let mut at_100 = None;
    for i in 1..=10_000 {
        let c = cycle(&g);
        assert_eq!(c, checksum, "every cycle computes the same thing");
        checksum = c;
        if i == 100 {
            at_100 = Some((g.len(), g.tape_len(), heap(&region)));
        }
    }
    let (live_100, tape_100, heap_100) = at_100.unwrap();
    let (live, tape, heap_end) = (g.len(), g.tape_len(), heap(&region));
    println!(
        "iteration 100: {live_100} vars, {tape_100} records, {heap_100} B; 10,000: {live} vars, {tape} records, {heap_end} B"
    );
    assert_eq!((live, tape), (live_100, tape_100));
    assert!(
        heap_end <= heap_100,
        "heap grew from {heap_100} B at iteration 100 to {heap_end} B at 10,000"
    );
}

/// A cycle of ops that hold heap parameters (reshape, sum_axes, permute, select in
/// softmax_cross_entropy) and of records with any number of variables (concat, split), with
/// two backward passes per graph: the sweep once copied each record and leaked its op's heap
/// parameters on every pass (16 bytes for `sum_axes`, 48 for reshape + permute).
fn heap_op_cycle(g: &Graph) -> f64 {
    use tapegrad::nn::functional::softmax_cross_entropy;
    g.clear();
    let x = g.var(tapegrad::ndarray::array![
        [0.5, -1.0, 2.0],
        [1.5, 0.5, -0.25]
    ]);
    let r = x.reshape(&[3, 2]).permute(&[1, 0]);
    let s = r.sum_axes(&[1], true).sum();
    let ce = softmax_cross_entropy(x, &[2, 0]);
    let parts = x.split(&[1, 2], 1);
    let joined = tapegrad::concat(&[parts[1], parts[0]], 1);
    // (clip keeps its bounds on the heap, on arrays and on numbers, recorded or not)
    let clipped = x.clip(-0.5, 1.0).sum() + g.scalar(2.0).clip(0.0, 1.0);
    let unrecorded = {
        let _off = g.no_grad();
        g.scalar(3.0).clip(0.0, 1.0)
    };
    assert_eq!(unrecorded.item(), 1.0);
    let y = s + ce + (joined * x).sum() + clipped;
    y.backward();
    y.backward();
    x.grad().expect("used").sum()
}

#[test]
fn heap_parameters_and_any_arity_records_leak_nothing() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let g: Graph = Graph::new();
    let checksum = heap_op_cycle(&g);
    let region = Region::new(GLOBAL);
    let mut at_100 = None;
    for i in 1..=5_000 {
        assert_eq!(
            heap_op_cycle(&g),
            checksum,
            "every cycle computes the same thing"
        );
        if i == 100 {
            at_100 = Some(heap(&region));
        }
    }
    let (heap_100, heap_end) = (at_100.unwrap(), heap(&region));
    println!("heap-op cycles: {heap_100} B at 100, {heap_end} B at 5,000");
    assert!(
        heap_end <= heap_100,
        "heap grew from {heap_100} B at cycle 100 to {heap_end} B at 5,000"
    );
}

#[test]
#[ignore = "10^7 ops: about 4 s and 2 GB in release; run with --release -- --ignored"]
fn chain_of_ten_million_ops() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let mut y = x;
    for _ in 0..5_000_000 {
        y = y * 0.999 + x;
    }
    assert_eq!(g.tape_len(), 10_000_000);
    y.backward();
    let expected = (1.0 - 0.999f64.powi(5_000_000)) / 0.001;
    assert!((x.grad().unwrap()[[]] - expected).abs() < 1e-6);
}

/// DeZero's step 59 at length: an LSTM trained window by window over 10^4 windows of a sine,
/// the state carried across by `unchain` and each window's graph freed by `g.step`. The arena,
/// the tape and the heap stay flat, and the loss falls.
#[test]
fn truncated_bptt_over_ten_thousand_windows_stays_flat() {
    use tapegrad::ndarray::Array2;
    use tapegrad::nn::layers::{Layer, Linear, Lstm};
    use tapegrad::nn::optim::{Adam, Optimizer};
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let g: Graph = Graph::new();
    let lstm = Lstm::new(&g, 4, 0);
    let head = Linear::new(&g, 1, 1);
    let params = [lstm.params(), head.params()].concat();
    let mut opt = Adam::new(0.01);
    let series: Vec<f64> = (0..1_000).map(|t| (t as f64 * 0.1).sin()).collect();
    let mut window = |w: usize| {
        g.step(|| {
            let start = (w * 3) % 990;
            let mut loss = g.scalar(0.0);
            for t in start..start + 3 {
                let x = g.constant(Array2::from_elem((1, 1), series[t]));
                let y = head.forward(lstm.forward(x));
                loss = loss + (y - series[t + 1]).square().sum();
            }
            loss.backward();
            opt.step(&params);
            lstm.unchain().expect("the window's graph is alive");
            loss.item() / 3.0
        })
    };
    let early: f64 = (0..100).map(&mut window).sum::<f64>() / 100.0;
    let region = Region::new(GLOBAL);
    let mut at_1000 = None;
    let mut late = 0.0;
    for w in 100..10_000 {
        let loss = window(w);
        if w == 1_000 {
            at_1000 = Some((g.len(), g.tape_len(), heap(&region)));
        }
        if w >= 9_900 {
            late += loss / 100.0;
        }
    }
    let (live_1000, tape_1000, heap_1000) = at_1000.unwrap();
    let (live, tape, heap_end) = (g.len(), g.tape_len(), heap(&region));
    println!(
        "loss {early:.4} -> {late:.4}; window 1,000: {live_1000} vars, {tape_1000} records, {heap_1000} B; 10,000: {live} vars, {tape} records, {heap_end} B"
    );
    assert_eq!((live, tape), (live_1000, tape_1000));
    assert!(
        heap_end <= heap_1000,
        "heap grew from {heap_1000} B at window 1,000 to {heap_end} B at 10,000"
    );
    assert!(
        late < early / 2.0,
        "the loss did not fall: {early} -> {late}"
    );
}
