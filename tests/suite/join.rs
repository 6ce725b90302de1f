//! Gradient checks of ops/join.rs (`concat stack split chunk`: ops of several inputs or outputs),
//! at first and second order, and their errors.

use crate::common;

use tapegrad::ndarray::array;
use tapegrad::prelude::*;
use tapegrad::{concat, stack, try_concat, try_stack};

/// Uneven weights, so that a gradient landing on the wrong element shows.
fn weigh<'g, F: Float>(y: Var<'g, F>) -> Var<'g, F> {
    let n = y.size();
    let w: Vec<F> = (0..n)
        .map(|k| F::from_f64(0.3 + (k % 5) as f64 * 0.25))
        .collect();
    let w = tapegrad::ndarray::ArrayD::from_shape_vec(y.shape(), w).unwrap();
    (y * y * w).sum()
}

/// `concat`, `split` and `chunk` need an axis: a 0-d input of the checks becomes a 1-element
/// vector first.
fn as_vector<'g, F: Float>(x: Var<'g, F>) -> Var<'g, F> {
    if x.ndim() == 0 { x.reshape(&[1]) } else { x }
}

opcheck!(concat_three, 3, (-2.0, 2.0), |xs| {
    let vs: Vec<_> = xs.iter().map(|&x| as_vector(x)).collect();
    weigh(concat(&vs, 0))
});
opcheck!(concat_last_axis, 2, (-2.0, 2.0), |xs| {
    let (a, b) = (as_vector(xs[0]), as_vector(xs[1]));
    weigh(concat(&[a, b.exp(), a], a.ndim() - 1))
});
opcheck!(stack_new_first_axis, 2, (-2.0, 2.0), |xs| weigh(stack(
    xs, 0
)));
opcheck!(stack_new_last_axis, 3, (-2.0, 2.0), |xs| weigh(stack(
    xs,
    xs[0].ndim()
)));

opcheck!(split_two_parts, 1, (-2.0, 2.0), |xs| {
    let x = as_vector(xs[0]);
    let n = x.shape()[0];
    let parts = x.split(&[n / 2, n - n / 2], 0);
    weigh(parts[0]) + weigh(parts[1].sin())
});
opcheck!(split_one_part_used, 1, (-2.0, 2.0), |xs| {
    let x = as_vector(xs[0]);
    let n = *x.shape().last().unwrap();
    let axis = x.ndim() - 1;
    weigh(x.split(&[n - n / 2, n / 2], axis)[0])
});
opcheck!(chunk_uneven, 1, (-2.0, 2.0), |xs| {
    let parts = as_vector(xs[0]).chunk(2, 0);
    parts
        .iter()
        .fold(parts[0].sum() * 0.0, |acc, &p| acc + weigh(p.exp()))
});
opcheck!(split_then_concat, 1, (-2.0, 2.0), |xs| {
    let x = as_vector(xs[0]);
    let parts = x.chunk(3, 0);
    let reversed: Vec<_> = parts.iter().rev().copied().collect();
    weigh(concat(&reversed, 0) * x)
});

#[test]
fn chunk_sizes_follow_torch() {
    let g: Graph = Graph::new();
    let x = g.var(tapegrad::ndarray::Array::range(0.0, 6.0, 1.0));
    let lens = |n| x.chunk(n, 0).iter().map(|p| p.len()).collect::<Vec<_>>();
    assert_eq!(lens(1), [6]);
    assert_eq!(lens(4), [2, 2, 2]); // ceil(6 / 4) = 2: three chunks, not four
    assert_eq!(lens(5), [2, 2, 2]);
    assert_eq!(lens(6), [1; 6]);
    assert_eq!(lens(8), [1; 6]);
    let y = g.var(tapegrad::ndarray::Array::range(0.0, 7.0, 1.0));
    let lens: Vec<_> = y.chunk(3, 0).iter().map(|p| p.len()).collect();
    assert_eq!(lens, [3, 3, 1]);
    // an empty axis: n empty chunks (torch.zeros(0).chunk(2) is two)
    let empty = g.var(tapegrad::ndarray::Array2::<f64>::zeros((2, 0)));
    let shapes: Vec<_> = empty.chunk(3, 1).iter().map(|p| p.shape()).collect();
    assert_eq!(shapes, [[2, 0], [2, 0], [2, 0]]);
}

#[test]
fn split_values_and_axis() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let parts = x.split(&[2, 1], 1);
    assert_eq!(parts[0].data(), array![[1.0, 2.0], [4.0, 5.0]].into_dyn());
    assert_eq!(parts[1].data(), array![[3.0], [6.0]].into_dyn());
    assert_eq!(g.tape_len(), 1); // one record, two outputs
}

#[test]
fn stack_values() {
    let g: Graph = Graph::new();
    let a = g.var(array![[1.0, 2.0]]);
    let b = g.var(array![[3.0, 4.0]]);
    assert_eq!(stack(&[a, b], 0).shape(), [2, 1, 2]);
    assert_eq!(
        stack(&[a, b], 2).data(),
        array![[[1.0, 3.0], [2.0, 4.0]]].into_dyn()
    );
}

#[test]
fn bad_axes_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let axes = |op, axis, ndim| Error::InvalidAxes {
        op,
        axes: vec![axis],
        ndim,
    };
    assert_eq!(try_concat(&[x, x], 1).unwrap_err(), axes("concat", 1, 1));
    assert_eq!(try_stack(&[x, x], 2).unwrap_err(), axes("stack", 2, 1));
    assert_eq!(x.try_split(&[1, 1], 1).unwrap_err(), axes("split", 1, 1));
    assert_eq!(x.try_chunk(2, 3).unwrap_err(), axes("chunk", 3, 1));
    let s = g.scalar(1.0);
    assert_eq!(try_concat(&[s, s], 0).unwrap_err(), axes("concat", 0, 0));
}

#[test]
fn sizes_that_do_not_add_up_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0, 3.0]);
    let e = x.try_split(&[1, 1], 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "split: sizes [1, 1] do not add up to the length 3 of axis 0"
    );
    assert!(x.try_split(&[], 0).is_err());
    assert!(x.try_split(&[usize::MAX, 4], 0).is_err()); // no overflow
    assert!(x.try_chunk(0, 0).is_err());
    assert!(try_concat::<f64>(&[], 0).is_err());
    assert!(try_stack::<f64>(&[], 0).is_err());
}

#[test]
fn shape_mismatches_are_errors() {
    let g: Graph = Graph::new();
    let a = g.var(array![[1.0, 2.0]]);
    let b = g.var(array![[1.0, 2.0, 3.0]]);
    let mismatch = |op, lhs: &[usize], rhs: &[usize]| Error::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
    };
    assert_eq!(
        try_concat(&[a, b], 0).unwrap_err(),
        mismatch("concat", &[1, 2], &[1, 3])
    );
    assert!(try_concat(&[a, b], 1).is_ok()); // only the joined axis may differ
    let c = g.var(array![1.0, 2.0]);
    assert_eq!(
        try_concat(&[a, c], 0).unwrap_err(),
        mismatch("concat", &[1, 2], &[2])
    );
    assert_eq!(
        try_stack(&[a, b], 0).unwrap_err(),
        mismatch("stack", &[1, 2], &[1, 3])
    );
    let h: Graph = Graph::new();
    let foreign = h.var(array![[5.0, 6.0]]);
    assert_eq!(
        try_concat(&[a, foreign], 0).unwrap_err(),
        Error::GraphMismatch { op: "concat" }
    );
}
