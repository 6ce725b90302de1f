//! # tapegrad-core
//!
//! The engine of [tapegrad](https://docs.rs/tapegrad): reverse-mode automatic differentiation of
//! `ndarray` values, in the define-by-run style of DeZero ("Deep Learning from Scratch 3").
//!
//! ```
//! use tapegrad_core::Graph;
//! use ndarray::array;
//!
//! let g: Graph = Graph::new();                  // arena + tape
//! let x = g.var(array![1.0, 2.0, 3.0]);         // a leaf
//! let y = (x * x + 2.0 * x - 0.5).exp();        // each op: one tape record
//! y.backward();                                 // one reverse loop over the tape
//! let gx = x.grad().unwrap();                   // dy/dx = (2x + 2) e^(x^2 + 2x - 0.5)
//! assert!((gx[0] - 4.0 * 2.5f64.exp()).abs() < 1e-9);
//! ```
//!
//! ## How it is built
//! - [`graph`](Graph): a slotmap arena owns every variable; a Wengert tape lists the ops in the
//!   order they ran; `no_grad` turns recording off. `clear` empties both at once.
//! - [`Var`]: a `Copy` handle (arena key + `&Graph`): value, gradient, attributes, operators.
//! - `ops/`: one enum of ops; per family file, the forward kernel and the backward rule, the
//!   rule written once for arrays and for variables (so higher-order derivatives come free).
//! - `backward`: the iterative reverse sweep; it alone accumulates and frees gradients.
//! - [`check`]: numerical gradients, `gradient_check` and `gradgrad_check`.
//! - [`dot`]: Graphviz export of a graph (`Graph::to_dot`, `Graph::plot_dot`).
//! - [`Error`]: every failure, returned by `try_*` methods and shown by panicking ones.

//!
//! ## Threads
//! A [`Graph`] is `Send` but not `Sync`: it keeps its arena and tape behind a `RefCell` (cheap,
//! single-threaded borrows on every op), so a graph can be moved to another thread, or each
//! thread can build its own, but two threads cannot use one graph at once. A [`Var`] borrows its
//! graph, so it is neither `Send` nor `Sync`; the compiler rejects sending one:
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
//! send(g.scalar(1.0)); // error: `Var` cannot be sent between threads
//! ```
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<tapegrad_core::Graph>(); // error: `RefCell` is not `Sync`
//! ```
//! ```
//! fn send<T: Send>(_: T) {}
//! send(tapegrad_core::Graph::<f64>::new()); // a whole graph moves fine
//! ```
//! Values are plain `f32`/`f64` arrays (`Send + Sync`); large elementwise kernels and matrix
//! products use rayon internally, which never exposes the graph to other threads.
//!
//! # Features
//! - `rayon` (default): large elementwise kernels (from 2^18 elements) and matrix products
//!   (from 2^24 multiply-adds) on all cores. Without it everything runs on the calling thread,
//!   with the same results.

#![deny(missing_docs)]
// Eight exceptions, each with its `// SAFETY:` comment and the benchmark that pays for it: the
// huge-page hint and a pooled buffer taken as uninitialised (`buffer.rs`), the tape push and
// its prefetch (`tape.rs`), the gemm call, a destination viewed as possibly uninitialised and
// a product's unzeroed result (`linalg.rs`), and the kernels' uninitialised outputs
// (`ops/kernel.rs`).
#![deny(unsafe_code)]

mod arena;
mod backward;
mod buffer;
pub mod check;
pub mod dot;
mod engine;
mod error;
mod float;
mod forward;
mod function;
mod grad;
mod graph;
pub mod linalg;
mod ops;
mod scalar_sweep;
mod simd;
mod storage;
mod sweep;
mod tape;
mod transforms;
mod var;

pub use arena::VarId;
pub use backward::{BackwardOptions, grad, hvp, try_grad, vhp};
pub use buffer::empty_cache;
pub use error::{Error, Result, or_panic};
pub use float::Float;
pub use function::Function;
pub use graph::{Graph, NoGrad};
pub use ndarray;
pub use ops::arith::Operand;
pub use ops::einsum::{einsum, try_einsum};
pub use ops::join::{concat, stack, try_concat, try_stack};
pub use ops::select::{try_where_, where_};
pub use transforms::{Derivatives, JacobianMode, hessian, jacobian, jvp, vjp};
pub use var::Var;

/// The names almost every user needs: `use tapegrad_core::prelude::*;`.
pub mod prelude {
    pub use crate::{BackwardOptions, Error, Float, Function, Graph, NoGrad, Var};
}

/// The threads large kernels and products share: rayon's pool, or the calling thread alone
/// without the `rayon` feature.
fn threads() -> usize {
    #[cfg(feature = "rayon")]
    let n = rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    let n = 1;
    n
}
