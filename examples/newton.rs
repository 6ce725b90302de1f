//! Newton's method on f(x) = x^4 - 2x^2 from x = 2 (DeZero step 33), with the second derivative
//! taken by differentiating the first one (`create_graph`). Converges to the minimum at x = 1.
//! Run with `cargo run --example newton`.

use tapegrad::prelude::*;

fn main() {
    let g: Graph = Graph::new();
    let mut xv = 2.0;
    for i in 0..10 {
        println!("{i} {xv}");
        g.clear(); // a fresh graph each iteration: memory stays flat
        let x = g.scalar(xv);
        let y = x.powf(4.0) - 2.0 * x.powf(2.0);
        y.backward_with(BackwardOptions {
            create_graph: true,
            ..Default::default()
        });
        let gx = x.grad_var().expect("y depends on x"); // f'(x) = 4x^3 - 4x, a variable
        x.cleargrad();
        gx.backward(); // f''(x) = 12x^2 - 4
        let gx2 = x.grad().expect("gx depends on x")[[]];
        xv -= gx.item() / gx2;
    }
}
