//! Quickstart: the gradient of the Goldstein-Price function at (1, 1), then gradient descent on
//! the Rosenbrock function. Run with `cargo run --release --example quickstart`.

use tapegrad::prelude::*;

/// Goldstein-Price (DeZero step 24); its minimum is 3 at (0, -1).
fn goldstein<'g>(x: Var<'g>, y: Var<'g>) -> Var<'g> {
    (1.0 + (x + y + 1.0).powf(2.0)
        * (19.0 - 14.0 * x + 3.0 * x.powf(2.0) - 14.0 * y + 6.0 * x * y + 3.0 * y.powf(2.0)))
        * (30.0
            + (2.0 * x - 3.0 * y).powf(2.0)
                * (18.0 - 32.0 * x + 12.0 * x.powf(2.0) + 48.0 * y - 36.0 * x * y
                    + 27.0 * y.powf(2.0)))
}

/// Rosenbrock (DeZero step 28); its minimum is 0 at (1, 1).
fn rosenbrock<'g>(x0: Var<'g>, x1: Var<'g>) -> Var<'g> {
    100.0 * (x1 - x0.square()).square() + (x0 - 1.0).square()
}

fn main() {
    let g: Graph = Graph::new();

    println!("== Goldstein-Price at (1, 1)");
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = goldstein(x, y);
    z.backward();
    println!("z       = {}", z.item());
    println!("dz/dx   = {}", x.grad().unwrap()[[]]);
    println!("dz/dy   = {}", y.grad().unwrap()[[]]);
    println!("tape    = {} ops recorded", g.tape_len());

    println!("\n== Gradient descent on Rosenbrock from (0, 2), lr = 0.001");
    let (mut p0, mut p1) = (0.0, 2.0);
    let lr = 0.001;
    let iters = 50_000;
    for i in 0..=iters {
        g.clear(); // a fresh tape each step; the arena's storage is reused
        let (x0, x1) = (g.scalar(p0), g.scalar(p1));
        let loss = rosenbrock(x0, x1);
        if i % 10_000 == 0 {
            println!(
                "iter {i:>6}: x0 = {p0:.6}, x1 = {p1:.6}, f = {:.3e}",
                loss.item()
            );
        }
        if i == iters {
            break;
        }
        loss.backward();
        p0 -= lr * x0.grad().unwrap()[[]];
        p1 -= lr * x1.grad().unwrap()[[]];
    }
    println!("minimum is at (1, 1): reached ({p0:.4}, {p1:.4})");
}
