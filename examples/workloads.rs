//! Benchmark workloads, engine against a hand-written floor, in one binary.
//!
//! ```text
//! cargo run --release --example workloads -- [--floor] [--mem] WORKLOAD N [REPS]
//! ```
//! WORKLOAD is `chain`, `goldstein`, `wide` or `elem`. One warm-up, then REPS (default 5) timed
//! repetitions; prints `tapegrad WORKLOAD N MEDIAN_SECONDS CHECKSUM` (or `floor ...` with
//! `--floor`). `--mem` also reports peak heap bytes per recorded op (one extra, untimed run).

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
    let mut mem = false;
    let mut rest = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--floor" => floor = true,
            "--mem" => mem = true,
            _ => rest.push(a),
        }
    }
    let usage = "usage: workloads [--floor] [--mem] chain|goldstein|wide|elem N [REPS]";
    let workload = rest.first().expect(usage).clone();
    let n: usize = rest.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let reps: usize = rest.get(2).map_or(5, |s| s.parse().expect(usage));

    let Some(mut checksum) = workloads::run(&workload, floor, n) else {
        eprintln!("unknown workload {workload}: use chain, goldstein, wide or elem");
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
