//! DeZero step 42: linear regression by gradient descent on `y = 5 + 2x + noise`.
//! Run with `cargo run --example linear_regression`.

use tapegrad::ndarray::{Array2, ArrayD};
use tapegrad::nn::functional::{linear, mean_squared_error};
use tapegrad::prelude::*;

/// 100 points: x uniform in [0, 1), noise uniform in [0, 1) (a small seeded LCG).
fn data() -> (ArrayD<f64>, ArrayD<f64>) {
    let mut state: u64 = 0;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let x = Array2::from_shape_simple_fn((100, 1), &mut uniform).into_dyn();
    let y = x.mapv(|v| 5.0 + 2.0 * v) + Array2::from_shape_simple_fn((100, 1), uniform).into_dyn();
    (x, y)
}

fn main() {
    let (x, y) = data();
    let (mut w, mut b) = (
        ArrayD::<f64>::zeros(vec![1, 1]),
        ArrayD::<f64>::zeros(vec![1]),
    );
    let lr = 0.1;
    let g: Graph = Graph::new();
    for i in 0..100 {
        g.clear(); // the parameters live outside the graph; each step binds them as leaves
        let (xv, yv, wv, bv) = (
            g.constant(x.clone()), // data: no gradient wanted
            g.constant(y.clone()),
            g.var(w.clone()),
            g.var(b.clone()),
        );
        let loss = mean_squared_error(linear(xv, wv, Some(bv)), yv);
        loss.backward();
        w = w - wv.grad().expect("loss depends on W") * lr;
        b = b - bv.grad().expect("loss depends on b") * lr;
        if i % 10 == 0 || i == 99 {
            println!(
                "iter {i:>3}: W = {:.4}, b = {:.4}, loss = {:.4}",
                w[[0, 0]],
                b[0],
                loss.item()
            );
        }
    }
    println!(
        "fitted y = {:.3} + {:.3} x (true: 5 + 2x, plus noise of mean 0.5)",
        b[0],
        w[[0, 0]]
    );
}
