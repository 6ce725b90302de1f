//! The workloads on tapegrad, as `examples/support/workloads.rs` writes them.

use tapegrad::ndarray::Array1;
use tapegrad::prelude::*;

pub fn run(name: &str, n: usize) -> f64 {
    let g: Graph = Graph::new();
    match name {
        "chain" => {
            let x = g.scalar(1.0);
            let mut y = x;
            for _ in 0..n {
                y = y * 0.999 + x;
            }
            y.backward();
            x.grad().unwrap()[[]]
        }
        "goldstein" => {
            let mut checksum = 0.0;
            for _ in 0..n {
                g.clear();
                let (x, y) = (g.scalar(1.0), g.scalar(1.0));
                goldstein(x, y).backward();
                checksum = x.grad().unwrap()[[]] + y.grad().unwrap()[[]];
            }
            checksum
        }
        "wide" => {
            let x = g.scalar(1.0);
            let mut terms: Vec<Var<'_>> = (0..n).map(|i| x * i as f64).collect();
            while terms.len() > 1 {
                terms = terms
                    .chunks(2)
                    .map(|p| if p.len() == 2 { p[0] + p[1] } else { p[0] })
                    .collect();
            }
            terms[0].backward();
            x.grad().unwrap()[[]]
        }
        _ => {
            let x = g.var(Array1::linspace(-1.0, 1.0, n));
            let y = x * x * 0.5 + x.exp() - x;
            y.sum().backward();
            x.grad().unwrap().sum()
        }
    }
}

fn goldstein<'g>(x: Var<'g>, y: Var<'g>) -> Var<'g> {
    (1.0 + (x + y + 1.0).powf(2.0)
        * (19.0 - 14.0 * x + 3.0 * x.powf(2.0) - 14.0 * y + 6.0 * x * y + 3.0 * y.powf(2.0)))
        * (30.0
            + (2.0 * x - 3.0 * y).powf(2.0)
                * (18.0 - 32.0 * x + 12.0 * x.powf(2.0) + 48.0 * y - 36.0 * x * y
                    + 27.0 * y.powf(2.0)))
}
