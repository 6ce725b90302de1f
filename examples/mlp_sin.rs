//! DeZero steps 43-46: a 1-10-1 MLP with sigmoid fits `sin(2 pi x)` plus noise, by plain SGD
//! (lr 0.2, 10,000 iterations). Run with `cargo run --release --example mlp_sin`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tapegrad::ndarray::Array2;
use tapegrad::nn::functional::mean_squared_error;
use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::prelude::*;

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Array2::from_shape_simple_fn((100, 1), || rng.random::<f64>());
    let y = x.mapv(|v| (2.0 * std::f64::consts::PI * v).sin())
        + Array2::from_shape_simple_fn((100, 1), || rng.random::<f64>());

    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[10, 1], |h| h.sigmoid(), 0);
    let mut opt = Sgd::new(0.2);
    for i in 0..10_000 {
        g.clear(); // the model's weights are parameters: they stay
        let loss = mean_squared_error(model.forward(g.constant(x.clone())), g.constant(y.clone()));
        loss.backward();
        opt.step(&model.params());
        if i % 1000 == 0 || i == 9_999 {
            println!("iter {i:>5}: loss {:.4}", loss.item());
        }
    }
}
