//! Benchmark workloads, engine against a hand-written floor, in one binary.
//!
//! ```text
//! cargo run --release --example workloads -- [--floor | --pair] [--mem] WORKLOAD N [REPS]
//! ```
//! WORKLOAD is `chain`, `goldstein`, `wide`, `elem`, or `function` / `function_general` (a chain
//! of a user-defined `tanh`, with and without `Function::on_numbers`, whose "floor" is the same
//! chain of the built-in `tanh`). One warm-up, then REPS (default 5) timed
//! repetitions; prints `tapegrad WORKLOAD N MEDIAN_SECONDS CHECKSUM` (or `floor ...` with
//! `--floor`). `--mem` also reports peak heap bytes per recorded op (one extra, untimed run).
//!
//! `--pair` times both in this one process, each engine repetition followed at once by a floor
//! repetition, and prints both lines and `ratio WORKLOAD N R`, R the median of the REPS
//! back-to-back ratios. On a shared machine whose speed drifts by a third from minute to minute,
//! two separate runs can land in different phases; a pair cannot.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

#[path = "support/workloads.rs"]
mod workloads;

// ---------------------------------------------------------------------------------------------
// Peak-heap counter for `--mem`. Off for timed runs: when off it costs one relaxed load per
// allocation (a crate such as peak_alloc always counts, which would slow the timed runs).

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees are ours; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            CURRENT.fetch_sub(layout.size(), Relaxed);
        }
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            let now = CURRENT.fetch_add(new_size, Relaxed) + new_size;
            PEAK.fetch_max(now, Relaxed);
            CURRENT.fetch_sub(layout.size(), Relaxed);
        }
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let mut floor = false;
    let mut pair = false;
    let mut mem = false;
    let mut rest = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--floor" => floor = true,
            "--pair" => pair = true,
            "--mem" => mem = true,
            _ => rest.push(a),
        }
    }
    let usage =
        "usage: workloads [--floor | --pair] [--mem] chain|goldstein|wide|elem|function N [REPS]";
    let args = (rest.first(), rest.get(1).map(|s| s.parse::<usize>()));
    let reps = rest.get(2).map_or(Ok(5), |s| s.parse::<usize>());
    let (Some(workload), Some(Ok(n)), Ok(reps)) = (args.0.cloned(), args.1, reps) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    if pair {
        run_pair(&workload, n, reps);
        return;
    }

    let Some(mut checksum) = workloads::run(&workload, floor, n) else {
        eprintln!("unknown workload {workload}: use chain, goldstein, wide, elem or function");
        std::process::exit(2);
    }; // the warm-up
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        checksum = std::hint::black_box(workloads::run(&workload, floor, n)).unwrap_or(f64::NAN);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(reps / 2).copied().unwrap_or(f64::NAN);
    let who = if floor { "floor" } else { "tapegrad" };
    println!("{who} {workload} {n} {median:.6e} {checksum:.10}");

    if mem {
        let base = CURRENT.load(Relaxed);
        PEAK.store(base, Relaxed);
        COUNTING.store(true, Relaxed);
        let _ = std::hint::black_box(workloads::run(&workload, floor, n));
        COUNTING.store(false, Relaxed);
        let peak = PEAK.load(Relaxed).saturating_sub(base);
        let ops = workloads::recorded_ops(&workload, n);
        println!(
            "{who} {workload} {n} peak_heap_bytes {peak} recorded_ops {ops} bytes_per_op {:.1}",
            peak as f64 / ops as f64
        );
    }
}

/// `--pair`: engine and floor repetitions back to back in this process.
fn run_pair(workload: &str, n: usize, reps: usize) {
    let time = |floor: bool| {
        let t = Instant::now();
        let checksum = std::hint::black_box(workloads::run(workload, floor, n));
        (t.elapsed().as_secs_f64(), checksum.unwrap_or(f64::NAN))
    };
    if workloads::run(workload, false, n).is_none() {
        eprintln!("unknown workload {workload}: use chain, goldstein, wide, elem or function");
        std::process::exit(2);
    }
    workloads::run(workload, true, n); // the warm-ups
    let (mut engine, mut floor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut checksums = (f64::NAN, f64::NAN);
    for _ in 0..reps.max(1) {
        let (e, ce) = time(false);
        let (f, cf) = time(true);
        engine.push(e);
        floor.push(f);
        ratios.push(e / f);
        checksums = (ce, cf);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (e, f, r) = (median(engine), median(floor), median(ratios));
    println!("tapegrad {workload} {n} {e:.6e} {:.10}", checksums.0);
    println!("floor {workload} {n} {f:.6e} {:.10}", checksums.1);
    println!("ratio {workload} {n} {r:.2}");
}
