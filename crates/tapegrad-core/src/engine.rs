//! The engine's large paths compiled once, here, for `f32` and `f64`: the general path of an op
//! (and of a function), the backward pass, `grad` and the forward sweep. Generic code is
//! compiled again in every crate that uses it (in optimised builds, crates do not share their
//! copies); these paths are reached through [`Engine`]'s two implementations instead, which are
//! not generic, so a user's program compiles only the calls to them.

use ndarray::ArrayD;

use crate::arena::VarId;
use crate::backward::BackwardOptions;
use crate::error::Result;
use crate::ops::Op;
use crate::ops::arith::{Binary, Operand};
use crate::{Float, Function, Graph, Var};

/// Every [`Engine`] method takes one: no other crate can name or make it, so none can call them
/// (through a `F: Float` bound, a supertrait's methods are in reach).
#[derive(Clone, Copy)]
pub(crate) struct Inside;

/// The element types the engine is compiled for: [`Float`](crate::Float)'s supertrait, in a
/// private module, so that no other type can implement either.
#[allow(private_interfaces)] // (the engine's own types: this trait is for this crate alone)
pub trait Engine: Sized {
    /// [`Graph::apply_general`] for this type.
    fn apply_general<'g>(
        _: Inside,
        g: &'g Graph<Self>,
        op: Op<Self>,
        inputs: &[Var<'_, Self>],
    ) -> Result<Var<'g, Self>>
    where
        Self: Float;

    /// The backward pass of [`Var::backward`] and its forms, for this type.
    fn backward_from(
        _: Inside,
        v: Var<'_, Self>,
        seed: Option<ArrayD<Self>>,
        opts: BackwardOptions,
    ) -> Result<()>
    where
        Self: Float;

    /// [`Graph::apply_boxed`]: a function's general path.
    fn apply_boxed<'g>(
        _: Inside,
        g: &'g Graph<Self>,
        f: Box<dyn Function<Self>>,
        inputs: &[Var<'g, Self>],
    ) -> Result<Vec<Var<'g, Self>>>
    where
        Self: Float;

    /// [`try_grad`](crate::try_grad).
    fn grad<'g>(
        _: Inside,
        outputs: &[Var<'g, Self>],
        inputs: &[Var<'g, Self>],
        create_graph: bool,
    ) -> Result<Vec<Var<'g, Self>>>
    where
        Self: Float;

    /// The forward sweep ([`tangents`](crate::forward::tangents)).
    fn tangents(
        _: Inside,
        g: &Graph<Self>,
        seeds: &[(VarId, ArrayD<Self>)],
        outputs: &[VarId],
    ) -> Result<Vec<ArrayD<Self>>>
    where
        Self: Float;

    /// An arithmetic operator with any operand ([`binary`](crate::ops::arith::binary)).
    fn binary<'g>(
        _: Inside,
        kind: Binary,
        x: Var<'g, Self>,
        rhs: Operand<'g, Self>,
        swapped: bool,
    ) -> Result<Var<'g, Self>>
    where
        Self: Float;
}

macro_rules! engine {
    ($($F:ty),*) => {$(
        #[allow(private_interfaces)]
        impl Engine for $F {
            fn apply_general<'g>(
                _: Inside,
                g: &'g Graph<Self>,
                op: Op<Self>,
                inputs: &[Var<'_, Self>],
            ) -> Result<Var<'g, Self>> {
                g.apply_general_here(op, inputs)
            }

            fn backward_from(
                _: Inside,
                v: Var<'_, Self>,
                seed: Option<ArrayD<Self>>,
                opts: BackwardOptions,
            ) -> Result<()> {
                v.backward_here(seed, opts)
            }

            fn apply_boxed<'g>(
                _: Inside,
                g: &'g Graph<Self>,
                f: Box<dyn Function<Self>>,
                inputs: &[Var<'g, Self>],
            ) -> Result<Vec<Var<'g, Self>>> {
                g.apply_boxed_here(f, inputs)
            }

            fn grad<'g>(
                _: Inside,
                outputs: &[Var<'g, Self>],
                inputs: &[Var<'g, Self>],
                create_graph: bool,
            ) -> Result<Vec<Var<'g, Self>>> {
                crate::backward::grad_here(outputs, inputs, create_graph)
            }

            fn tangents(
                _: Inside,
                g: &Graph<Self>,
                seeds: &[(VarId, ArrayD<Self>)],
                outputs: &[VarId],
            ) -> Result<Vec<ArrayD<Self>>> {
                crate::forward::tangents_here(g, seeds, outputs)
            }

            fn binary<'g>(
                _: Inside,
                kind: Binary,
                x: Var<'g, Self>,
                rhs: Operand<'g, Self>,
                swapped: bool,
            ) -> Result<Var<'g, Self>> {
                crate::ops::arith::binary_here(kind, x, rhs, swapped)
            }
        }
    )*};
}
engine!(f32, f64);
