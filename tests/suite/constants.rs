//! Constants (`Graph::constant`, array operands, `detach`): PyTorch's `requires_grad=False`.
//! They take no gradient, ops on constants alone are not recorded, and everything else
//! differentiates exactly as if the constant were a variable, at every order.

use tapegrad::ndarray::{arr0, array};
use tapegrad::prelude::*;

fn g0(x: Var<'_>) -> f64 {
    x.grad().expect("a gradient")[[]]
}

/// Constants (PyTorch's `requires_grad=False`): no gradient, and ops on constants alone are not
/// recorded; everything else differentiates exactly as if the constant were a variable.
#[test]
fn constants_take_no_gradient_and_change_no_other() {
    let (x0, w0) = (
        array![[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]],
        array![[0.5, 1.0], [-1.5, 2.0], [0.75, -0.25]],
    );
    let g: Graph = Graph::new();
    let (xv, wv) = (g.var(x0.clone()), g.var(w0.clone()));
    loss(xv, wv).backward();
    let tape_with_var = g.tape_len();

    let h: Graph = Graph::new();
    let (xc, wc) = (h.constant(x0), h.var(w0));
    let y = loss(xc, wc);
    y.backward();
    assert_eq!(wc.grad().unwrap(), wv.grad().unwrap()); // bit for bit: the same rules ran
    assert!(xc.grad().is_none() && xv.grad().is_some());
    assert!(xc.is_constant() && xc.is_leaf() && !wc.is_constant() && !y.is_constant());
    // `x * 2`, `exp` and `x.sum()` ran on the constant alone: computed, not recorded
    assert_eq!(h.tape_len(), tape_with_var - 3);
    assert!(xc.sum().is_constant());
}

fn loss<'g>(x: Var<'g>, w: Var<'g>) -> Var<'g> {
    ((x * 2.0).exp().matmul(w).tanh() * x.sum()).sum()
}

#[test]
fn array_operands_are_constants() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let y = (x * array![3.0, 4.0].into_dyn()).sum();
    y.backward();
    assert_eq!(x.grad().unwrap(), array![3.0, 4.0].into_dyn());
    assert_eq!(g.len(), 4); // x, the constant, the product, the sum
    assert_eq!(g.tape_len(), 2);
}

#[test]
fn backward_from_a_constant_does_nothing_and_grad_refuses_constant_inputs() {
    let g: Graph = Graph::new();
    let c = g.constant(array![1.0, 2.0]);
    let y = c.exp();
    y.backward();
    assert!(y.grad().is_none() && c.grad().is_none());
    let x = g.var(array![0.5, 0.5]);
    // as PyTorch: differentiating with respect to a constant is an error, not zeros
    let y = (x * c).sum();
    assert!(tapegrad::try_grad(&[y], &[x, c], false).is_err());
    let gs = tapegrad::grad(&[y], &[x], false);
    assert_eq!(gs[0].data(), array![1.0, 2.0].into_dyn());
}

#[test]
fn constants_at_second_order() {
    // y = sum(c * x^3): dy/dx = 3 c x^2, d2y/dx2 = 6 c x, with c constant
    let g: Graph = Graph::new();
    let (c, x) = (g.constant(array![2.0, -1.0]), g.var(array![1.5, 0.5]));
    let gx = tapegrad::grad(&[(c * x.powf(3.0)).sum()], &[x], true)[0];
    assert_eq!(gx.data(), array![13.5, -0.75].into_dyn());
    gx.sum().backward();
    assert_eq!(x.grad().unwrap(), array![18.0, -3.0].into_dyn());
    assert!(c.grad().is_none());
}

#[test]
fn scalar_constants_take_no_gradient() {
    let g: Graph = Graph::new();
    let (c, x) = (g.constant(arr0(3.0)), g.scalar(2.0));
    let y = c * x * x + c.exp();
    y.backward();
    assert_eq!(g0(x), 12.0); // 2 c x
    assert!(c.grad().is_none());
    let z = c.square();
    z.backward(); // a constant seed keeps nothing
    assert!(z.grad().is_none() && c.grad().is_none());
}

#[test]
fn detach_stops_gradients_at_every_order() {
    let g: Graph = Graph::new();
    let x = g.var(array![3.0, -2.0]);
    let d = x.detach();
    assert!(d.is_constant() && d.data() == x.data());
    let y = (x * x * d).sum(); // d/dx = 2 x d = 2x^2, d2/dx2 = 2d = 2x
    let gx = tapegrad::grad(&[y], &[x], true)[0];
    assert_eq!(gx.data(), array![18.0, 8.0].into_dyn());
    let ggx = tapegrad::grad(&[gx.sum()], &[x], false)[0];
    assert_eq!(ggx.data(), array![6.0, -4.0].into_dyn());
    g.clear();
    assert_eq!(x.try_detach().unwrap_err(), tapegrad::Error::StaleVar);
}
