//! The figures issue 20 compares with PyTorch and numpy, measured the way `tools/torch_gemm.py`
//! and `tools/torch_mlp_step.py` measure theirs, so that the two print comparable numbers.
//!
//! ```text
//! cargo run --release --example peer_rates -- gemm THREADS   # GFLOP/s, f32 and f64
//! cargo run --release --example peer_rates -- mlp THREADS    # ms per training step
//! cargo run --release --example peer_rates -- mlp THREADS small   # (or large) one of the two
//! ```
//! `gemm`: the best of 7 rounds of 5 products, after 3 warm-ups, for the shapes of the python
//! script. `mlp`: the median step over 4 seconds, after 50 warm-up steps, of two MLPs: 784-1000-10
//! (sigmoid, SGD, batch 100, `benches/mlp_step.rs`'s) and 784-2048-2048-10 (relu, Adam, batch
//! 256). THREADS sizes rayon's global pool, as `torch.set_num_threads` does PyTorch's.

use std::time::{Duration, Instant};

use tapegrad::ndarray::Array2;
use tapegrad::nn::functional::softmax_cross_entropy;
use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::{Adam, Optimizer, Sgd};
use tapegrad::prelude::*;

#[path = "support/mlp_step.rs"]
mod mlp_step;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args.get(1).and_then(|s| s.parse::<usize>().ok());
    let (Some(mode), Some(threads)) = (args.first(), threads) else {
        eprintln!("usage: peer_rates gemm|mlp THREADS");
        std::process::exit(2);
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the global pool is built once");
    match mode.as_str() {
        "gemm" => {
            for (m, k, n) in [
                (1000, 1000, 1000),
                (100, 784, 1000),
                (256, 784, 2048),
                (256, 2048, 2048),
                (32, 144, 784),
            ] {
                let (s, d) = (rate::<f32>(m, k, n), rate::<f64>(m, k, n));
                println!("threads {threads} {m}x{k}x{n}: tapegrad s {s:.1} d {d:.1}");
            }
        }
        "mlp" => {
            let only = args.get(2).map(String::as_str);
            if !matches!(only, None | Some("small" | "large")) {
                eprintln!("usage: peer_rates mlp THREADS [small|large]");
                std::process::exit(2);
            }
            if only != Some("large") {
                let small = median_step(100, &[1000, 10], false);
                println!("threads {threads}: mlp_step 784-1000-10 {small:.3} ms");
            }
            if only != Some("small") {
                let large = median_step(256, &[2048, 2048, 10], true);
                println!("threads {threads}: mlp_step 784-2048-2048-10 {large:.3} ms");
            }
        }
        _ => {
            eprintln!("usage: peer_rates gemm|mlp THREADS");
            std::process::exit(2);
        }
    }
}

/// GFLOP/s of `tapegrad::linalg::gemm` on `m x k` times `k x n`.
fn rate<F: Float>(m: usize, k: usize, n: usize) -> f64 {
    let a = Array2::from_shape_fn((m, k), |(i, j)| {
        F::from_f64(((i * 7 + j * 3) % 13) as f64 / 13.0)
    });
    let b = Array2::from_shape_fn((k, n), |(i, j)| {
        F::from_f64(((i * 5 + j * 11) % 17) as f64 / 17.0)
    });
    let mut c = Array2::<F>::zeros((m, n));
    let mut product =
        || tapegrad::linalg::gemm(F::one(), &a.view(), &b.view(), F::zero(), &mut c.view_mut());
    (0..3).for_each(|_| product());
    let best = (0..7)
        .map(|_| {
            let t = Instant::now();
            (0..5).for_each(|_| product());
            t.elapsed().as_secs_f64() / 5.0
        })
        .fold(f64::INFINITY, f64::min);
    2.0 * (m * k * n) as f64 / best / 1e9
}

/// The median time in ms of one training step (clear, forward, softmax cross entropy, backward,
/// optimizer) of an MLP 784-`layers` on a batch of `batch`: sigmoid and SGD, or relu and Adam.
fn median_step(batch: usize, layers: &[usize], large: bool) -> f64 {
    let (x, t) = mlp_step::batch(batch, 784, 10);
    let g: Graph<f32> = Graph::new();
    let activation = if large { Var::relu } else { Var::sigmoid };
    let model = Mlp::new(&g, layers, activation, 0);
    let mut opt: Box<dyn Optimizer<f32>> = if large {
        Box::new(Adam::new(0.001))
    } else {
        Box::new(Sgd::new(0.01))
    };
    let mut step = || {
        g.clear();
        let loss = softmax_cross_entropy(model.forward(g.constant(x.clone())), &t);
        loss.backward();
        opt.step(&model.params());
    };
    (0..50).for_each(|_| step());
    let mut times = Vec::new();
    let end = Instant::now() + Duration::from_secs(4);
    while Instant::now() < end {
        let t0 = Instant::now();
        step();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
