//! The workloads on tapegrad: those of `examples/support/workloads.rs`, except `elem`, which
//! here differentiates the sum of its output as the other libraries do.

use tapegrad::ndarray::Array1;
use tapegrad::prelude::*;

#[allow(dead_code)] // (the floor and the user-function workloads are not compared here)
#[path = "../../../examples/support/workloads.rs"]
mod workloads;

pub fn run(name: &str, n: usize) -> f64 {
    match name {
        "chain" => workloads::chain(n),
        "goldstein" => workloads::goldstein_n(n),
        "wide" => workloads::wide(n),
        _ => {
            let g: Graph = Graph::new();
            let x = g.var(Array1::linspace(-1.0, 1.0, n));
            let y = x * x * 0.5 + x.exp() - x;
            y.sum().backward();
            x.grad().unwrap().sum()
        }
    }
}
