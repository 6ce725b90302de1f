//! # tapegrad
//!
//! Reverse-mode automatic differentiation for Rust, built the way DeZero ("Deep Learning from
//! Scratch 3") builds it, on an arena and a Wengert tape: no `Rc` cycles, no recursion, gradients
//! of any order. This crate is the facade: it re-exports the engine (`tapegrad-core`) and the
//! `ndarray` it uses.
//!
//! ```
//! use tapegrad::ndarray::{array, ArrayD};
//! use tapegrad::prelude::*;
//!
//! let g: Graph = Graph::new();
//! let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
//! let y = (x * x + 2.0 * x - 0.5).exp();
//! y.backward();
//! let gx: ArrayD<f64> = x.grad().unwrap();
//! assert_eq!(gx.shape(), &[2, 2]);
//! ```
//!
//! See `docs/architecture.md` in the repository for the whole picture.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

// Everything the engine exports (`Graph`, `Var`, `grad`, `concat`, `where_`, `einsum`, ...);
// the `prelude` below is this crate's own, with the nn traits added.
pub use tapegrad_core::*;

/// Neural-network pieces (`tapegrad-nn`): `tapegrad::nn::functional::{linear, mean_squared_error,
/// softmax_cross_entropy, accuracy}`.
#[cfg(feature = "nn")]
pub use tapegrad_nn as nn;

/// `use tapegrad::prelude::*;` brings `Graph`, `Var`, `BackwardOptions`, `Error`, `Float`, and
/// the traits a training loop calls methods of, `Layer` and `Optimizer` (the layers and
/// optimizers themselves are in `tapegrad::nn::prelude`).
pub mod prelude {
    pub use tapegrad_core::prelude::*;
    #[cfg(feature = "nn")]
    pub use tapegrad_nn::layers::Layer;
    #[cfg(feature = "nn")]
    pub use tapegrad_nn::optim::Optimizer;
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "nn"))]
pub struct ReadmeDoctests;

/// docs/higher-order.md's examples, compiled and run as doctests.
#[doc = include_str!("../docs/higher-order.md")]
#[cfg(doctest)]
pub struct HigherOrderDoctests;
