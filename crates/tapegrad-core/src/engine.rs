//! The engine's large paths compiled once, here, for `f32` and `f64`: the general path of an op
//! and the backward pass. Generic code is compiled again in every crate that uses it (in
//! optimised builds, crates do not share their copies); these paths are reached through
//! [`Engine`]'s two implementations instead, which are not generic, so a user's program compiles
//! only the calls to them.

use ndarray::ArrayD;

use crate::backward::BackwardOptions;
use crate::error::Result;
use crate::ops::Op;
use crate::{Float, Graph, Var};

/// The element types the engine is compiled for: [`Float`](crate::Float)'s supertrait, in a
/// private module, so that no other type can implement either.
#[allow(private_interfaces)] // (the engine's own types: this trait is for this crate alone)
pub trait Engine: Sized {
    /// [`Graph::apply_general`] for this type.
    fn apply_general<'g>(
        g: &'g Graph<Self>,
        op: Op<Self>,
        inputs: &[Var<'_, Self>],
    ) -> Result<Var<'g, Self>>
    where
        Self: Float;

    /// The backward pass of [`Var::backward`] and its forms, for this type.
    fn backward_from(
        v: Var<'_, Self>,
        seed: Option<ArrayD<Self>>,
        opts: BackwardOptions,
    ) -> Result<()>
    where
        Self: Float;
}

macro_rules! engine {
    ($($F:ty),*) => {$(
        #[allow(private_interfaces)]
        impl Engine for $F {
            fn apply_general<'g>(
                g: &'g Graph<Self>,
                op: Op<Self>,
                inputs: &[Var<'_, Self>],
            ) -> Result<Var<'g, Self>> {
                g.apply_general_here(op, inputs)
            }

            fn backward_from(
                v: Var<'_, Self>,
                seed: Option<ArrayD<Self>>,
                opts: BackwardOptions,
            ) -> Result<()> {
                v.backward_here(seed, opts)
            }
        }
    )*};
}
engine!(f32, f64);
