//! # tapegrad-nn
//!
//! Neural-network pieces on top of [`tapegrad_core`] (DeZero stage 4): [`functional`] (layers'
//! math, losses, metrics), [`layers`] (`Linear`, `Mlp`), [`optim`] (`Sgd`, `MomentumSgd`,
//! `AdaGrad`, `Adam`), [`datasets`] (the spiral) and [`io`] (parameters to and from `.npz`). Activations (`sigmoid`, `relu`, `softmax`,
//! `log_softmax`) are methods of `Var` in the core crate. Weights are parameters of the graph
//! (`Graph::param`), which survive `clear`: build the model once, clear the graph every step.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod datasets;
pub mod functional;
pub mod io;
pub mod layers;
pub mod optim;
