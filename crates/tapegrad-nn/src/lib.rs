//! # tapegrad-nn
//!
//! Neural-network pieces on top of [`tapegrad_core`] (DeZero stage 4). So far: [`functional`],
//! the stateless functions (layers' math, losses, metrics). Activations (`sigmoid`, `relu`,
//! `softmax`, `log_softmax`) are methods of `Var` in the core crate.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod functional;
