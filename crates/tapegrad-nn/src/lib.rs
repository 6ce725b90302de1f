//! # tapegrad-nn
//!
//! Neural-network pieces on top of [`tapegrad_core`] (DeZero stage 4): [`functional`] (layers'
//! math, losses, metrics), [`layers`] (`Linear`, `Mlp`), [`optim`] (`Sgd`, `MomentumSgd`,
//! `AdaGrad`, `Adam`), [`datasets`] (the spiral) and [`io`] (parameters to and from `.npz`). Activations (`sigmoid`, `relu`, `softmax`,
//! `log_softmax`) are methods of `Var` in the core crate. Weights are parameters of the graph
//! (`Graph::param`), which survive `clear`: build the model once, clear the graph every step.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod conv;
pub mod datasets;
pub mod functional;
pub mod io;
pub mod layers;
mod losses;
pub mod optim;

/// `use tapegrad_nn::prelude::*;` (or `tapegrad::nn::prelude::*`) brings the traits whose methods
/// a training loop calls, [`Layer`](layers::Layer) and [`Optimizer`](optim::Optimizer), with the
/// layers and optimizers.
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::prelude::*;
/// let g: Graph = Graph::new();
/// let model = Mlp::new(&g, &[4, 1], |h| h.tanh(), 0);
/// let params = model.params();
/// model.forward(g.var(Array2::<f64>::ones((2, 3)))).sum().backward();
/// Sgd::new(0.1).step(&params);
/// ```
pub mod prelude {
    pub use crate::layers::{
        BatchNorm, Conv2d, Embedding, Layer, Linear, Lstm, MaxPool2d, Mlp, Rnn,
    };
    pub use crate::optim::{AdaGrad, Adam, Hooks, MomentumSgd, Optimizer, Sgd};
}
