//! Gradient checks of ops/shape.rs and of broadcasting in `+ - * /` (DeZero steps 37-41), first
//! and second order and forward mode, with DeZero's own cases.

use crate::common;

use tapegrad::ndarray::{ArrayD, Axis, Slice, array};
use tapegrad::prelude::*;

/// Inputs of the given shapes, deterministic values in [lo, hi).
fn inputs(shapes: &[&[usize]], lo: f64, hi: f64) -> Vec<ArrayD<f64>> {
    shapes
        .iter()
        .enumerate()
        .map(|(k, s)| common::values(s, 11 + k as u64, lo, hi))
        .collect()
}

macro_rules! check_both_orders {
    ($name:ident, [$($shape:expr),+], ($lo:expr, $hi:expr), |$xs:ident| $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn first_order() {
                let xs = inputs(&[$(&$shape),+], $lo, $hi);
                tapegrad::check::gradient_check(|$xs| $body, &xs).unwrap();
                tapegrad::check::jvp_check(|$xs| $body, &xs).unwrap();
            }
            #[test]
            fn second_order() {
                let xs = inputs(&[$(&$shape),+], $lo, $hi);
                tapegrad::check::gradgrad_check(|$xs| $body, &xs).unwrap();
            }
        }
    };
}

// Broadcasting in binary ops: every pair of shapes that numpy broadcasts.
check_both_orders!(add_row, [[2, 3], [3]], (-2.0, 2.0), |xs| xs[0] + xs[1]);
check_both_orders!(sub_column, [[2, 3], [2, 1]], (-2.0, 2.0), |xs| xs[0]
    - xs[1]);
check_both_orders!(mul_outer, [[3, 1], [1, 4]], (-2.0, 2.0), |xs| xs[0] * xs[1]);
check_both_orders!(div_scalar_var, [[2, 3], []], (0.5, 2.0), |xs| xs[0] / xs[1]);
check_both_orders!(div_by_row, [[], [2, 3]], (0.5, 2.0), |xs| xs[0] / xs[1]);
check_both_orders!(mul_3d, [[2, 1, 3], [4, 1]], (-2.0, 2.0), |xs| (xs[0]
    * xs[1])
    .sin());
check_both_orders!(array_constant_row, [[2, 3]], (-2.0, 2.0), |xs| {
    xs[0] * array![1.0, -2.0, 0.5].into_dyn()
});

// Shape ops.
check_both_orders!(sum, [[2, 3]], (-2.0, 2.0), |xs| xs[0].sum().square());
check_both_orders!(sum_axes_0, [[2, 3]], (-2.0, 2.0), |xs| xs[0]
    .sum_axes(&[0], false)
    .square());
check_both_orders!(sum_axes_keepdims, [[2, 3, 2]], (-2.0, 2.0), |xs| {
    xs[0].sum_axes(&[0, 2], true).exp()
});
check_both_orders!(mean, [[4]], (-2.0, 2.0), |xs| xs[0].mean().exp());
check_both_orders!(sum_to, [[2, 3]], (-2.0, 2.0), |xs| xs[0]
    .sum_to(&[1, 3])
    .square());
check_both_orders!(broadcast_to, [[3]], (-2.0, 2.0), |xs| {
    xs[0].broadcast_to(&[2, 3]) * array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn()
});
check_both_orders!(reshape, [[2, 3]], (-2.0, 2.0), |xs| {
    xs[0].reshape(&[3, 2]) * array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into_dyn()
});
check_both_orders!(transpose, [[2, 3]], (-2.0, 2.0), |xs| {
    xs[0].transpose().square() * array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into_dyn()
});
check_both_orders!(permute_3d, [[2, 3, 4]], (-2.0, 2.0), |xs| {
    xs[0]
        .permute(&[2, 0, 1])
        .sin()
        .sum_axes(&[0], false)
        .square()
});
check_both_orders!(matmul, [[2, 3], [3, 4]], (-2.0, 2.0), |xs| xs[0]
    .matmul(xs[1])
    .tanh());
check_both_orders!(linear_layer, [[5, 3], [3, 2], [2]], (-1.0, 1.0), |xs| {
    (xs[0].matmul(xs[1]) + xs[2]).sigmoid_like()
});

/// sigmoid composed from primitives, for the linear-layer case: 1 / (1 + e^-x).
trait SigmoidLike {
    fn sigmoid_like(self) -> Self;
}
impl SigmoidLike for Var<'_> {
    fn sigmoid_like(self) -> Self {
        1.0 / ((-self).exp() + 1.0)
    }
}

// DeZero's cases (steps 37-41).

#[test]
fn step39_sum_and_its_gradient() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let y = x.sum_axes(&[0], false);
    y.backward();
    assert_eq!(y.data(), array![5.0, 7.0, 9.0].into_dyn());
    assert_eq!(x.grad().unwrap(), ArrayD::ones(vec![2, 3]));
    let z = x.sum_axes(&[0, 1], true);
    assert_eq!(z.shape(), vec![1, 1]);
}

#[test]
fn step40_broadcast_add_gradient_is_summed() {
    let g: Graph = Graph::new();
    let x0 = g.var(array![1.0, 2.0, 3.0]);
    let x1 = g.var(array![10.0]);
    let y = x0 + x1;
    y.backward();
    assert_eq!(y.data(), array![11.0, 12.0, 13.0].into_dyn());
    assert_eq!(x1.grad().unwrap(), array![3.0].into_dyn());
}

#[test]
fn step41_matmul_shapes_of_gradients() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::ones(vec![2, 3]));
    let w = g.var(ArrayD::<f64>::ones(vec![3, 4]));
    let y = x.matmul(w);
    y.backward();
    assert_eq!(x.grad().unwrap().shape(), &[2, 3]);
    assert_eq!(w.grad().unwrap().shape(), &[3, 4]);
    assert_eq!(x.grad().unwrap(), ArrayD::from_elem(vec![2, 3], 4.0));
    assert_eq!(w.grad().unwrap(), ArrayD::from_elem(vec![3, 4], 2.0));
}

#[test]
fn step38_reshape_and_transpose() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let y = x.reshape(&[6]);
    y.backward();
    assert_eq!(x.grad().unwrap(), ArrayD::ones(vec![2, 3]));
    x.cleargrad();
    let t = x.transpose();
    assert_eq!(t.shape(), vec![3, 2]);
    assert_eq!(
        t.data(),
        array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]].into_dyn()
    );
    t.backward();
    assert_eq!(x.grad().unwrap(), ArrayD::ones(vec![2, 3]));
}

#[test]
fn reshape_of_a_transposed_array_uses_logical_order() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    assert_eq!(
        x.transpose().reshape(&[4]).data(),
        array![1.0, 3.0, 2.0, 4.0].into_dyn()
    );
}

// Errors.

#[test]
fn bad_shape_arguments_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::zeros(vec![2, 3]));
    let msg = |r: Result<Var<'_>, Error>| r.unwrap_err().to_string();
    assert_eq!(
        msg(x.try_reshape(&[4])),
        "reshape: shape mismatch between [2, 3] and [4]"
    );
    assert_eq!(
        msg(x.try_broadcast_to(&[3, 3])),
        "broadcast_to: shape mismatch between [2, 3] and [3, 3]"
    );
    assert_eq!(
        msg(x.try_sum_to(&[2, 2])),
        "sum_to: shape mismatch between [2, 3] and [2, 2]"
    );
    assert_eq!(
        msg(x.try_permute(&[0, 0])),
        "permute: invalid axes [0, 0] for a 2-d variable"
    );
    assert_eq!(
        msg(x.try_sum_axes(&[2], false)),
        "sum_axes: invalid axes [2] for a 2-d variable"
    );
    assert_eq!(
        msg(x.try_matmul(x)),
        "matmul: shape mismatch between [2, 3] and [2, 3]: the inner sizes 3 and 2 differ"
    );
    // two vectors give their dot product, as torch.matmul
    let v = g.var(array![1.0, 2.0, 3.0]);
    assert_eq!(v.matmul(v).item(), 14.0);
    assert!(matches!(
        x.try_permute(&[1]),
        Err(Error::InvalidAxes { op: "permute", .. })
    ));
}

#[test]
#[should_panic(expected = "reshape: shape mismatch between [2, 3] and [5]")]
fn bad_reshape_panics_from_the_plain_method() {
    let g: Graph = Graph::new();
    let _ = g.var(ArrayD::<f64>::zeros(vec![2, 3])).reshape(&[5]);
}

// Activations, reductions by extremum, selection, softmax.
check_both_orders!(sigmoid, [[2, 3]], (-4.0, 4.0), |xs| xs[0].sigmoid());
check_both_orders!(relu_away_from_zero, [[2, 3]], (0.2, 2.0), |xs| {
    (xs[0] - 1.0).relu() * xs[0]
});
check_both_orders!(clip_inside_and_outside, [[2, 3]], (-2.0, 2.0), |xs| {
    (xs[0] * 3.0).clip(-1.0, 1.0) * xs[0] + xs[0].square()
});
check_both_orders!(max_axis, [[3, 4]], (-2.0, 2.0), |xs| xs[0]
    .max_axis(1, false)
    .square());
check_both_orders!(min_axis_keepdims, [[3, 4]], (-2.0, 2.0), |xs| {
    xs[0].min_axis(0, true).exp() * xs[0]
});
check_both_orders!(select_with_repeats, [[4, 3]], (-2.0, 2.0), |xs| {
    xs[0].select(0, &[3, 0, 3, 1]).square() * array![[1.0], [2.0], [3.0], [4.0]].into_dyn()
});
check_both_orders!(select_axis_1, [[2, 3]], (-2.0, 2.0), |xs| xs[0]
    .select(1, &[2, 2])
    .sin());
check_both_orders!(slice_range, [[4, 3]], (-2.0, 2.0), |xs| xs[0]
    .slice(0, 1..3)
    .sin());
check_both_orders!(
    slice_step_and_negative_bounds,
    [[2, 5]],
    (-2.0, 2.0),
    |xs| { xs[0].slice(1, Slice::new(-4, Some(-1), 2)).square() * xs[0].slice(1, ..2) }
);
check_both_orders!(slice_reversed, [[5]], (-2.0, 2.0), |xs| {
    xs[0].slice(0, Slice::new(0, None, -1)) * xs[0]
});

/// `slice` agrees with ndarray's `slice_axis` for every step and bound sign, values and gradient.
#[test]
fn slice_matches_ndarray_slice_axis() {
    let x0 = common::values(&[3, 7], 5, -1.0, 1.0);
    for slice in [
        Slice::from(..),
        Slice::from(2..5),
        Slice::from(4..4),
        Slice::new(1, None, 3),
        Slice::new(-5, Some(-1), 2),
        Slice::new(0, None, -1),
        Slice::new(1, Some(6), -2),
    ] {
        let g: Graph = Graph::new();
        let x = g.var(x0.clone());
        let y = x.slice(1, slice);
        let expected = x0.slice_axis(Axis(1), slice);
        assert_eq!(y.data(), expected, "{slice:?}");
        // the gradient counts how often each element was taken: 1 inside the slice, 0 elsewhere
        y.backward();
        let mut ones = ArrayD::<f64>::zeros(x0.raw_dim());
        ones.slice_axis_mut(Axis(1), slice).fill(1.0);
        assert_eq!(x.grad().unwrap(), ones, "{slice:?}");
    }
}

#[test]
fn bad_slices_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::zeros(vec![2, 3]));
    let msg = |r: Result<Var<'_>, Error>| r.unwrap_err().to_string();
    assert_eq!(
        msg(x.try_slice(1, 1..4)),
        "slice: range 1..4 is out of bounds for an axis of length 3"
    );
    assert_eq!(
        msg(x.try_slice(0, Slice::new(-3, None, 1))),
        "slice: range -3.. is out of bounds for an axis of length 2"
    );
    assert_eq!(
        // `Slice::new` itself rejects a 0 step; the public fields can still build one
        msg(x.try_slice(
            1,
            Slice {
                start: 0,
                end: None,
                step: 0
            }
        )),
        "slice: the step must not be 0"
    );
    assert_eq!(
        msg(x.try_slice(2, ..)),
        "slice: invalid axes [2] for a 2-d variable"
    );
}

#[test]
#[should_panic(expected = "slice: range 2..1 is out of bounds for an axis of length 3")]
fn bad_slice_panics_from_the_plain_method() {
    let g: Graph = Graph::new();
    let _ = g
        .var(ArrayD::<f64>::zeros(vec![3]))
        .slice(0, Slice::new(2, Some(1), 1));
}

check_both_orders!(softmax, [[2, 4]], (-2.0, 2.0), |xs| {
    xs[0].softmax(1) * array![[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 2.0, 0.0]].into_dyn()
});
check_both_orders!(log_softmax, [[3, 2]], (-2.0, 2.0), |xs| {
    xs[0].log_softmax(0) * array![[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]].into_dyn()
});

#[test]
fn softmax_rows_sum_to_one_and_survive_large_inputs() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]);
    let s = x.softmax(1).sum_axes(&[1], false).data();
    for v in s.iter() {
        assert!((v - 1.0).abs() < 1e-12);
    }
    assert!(x.log_softmax(1).data().iter().all(|v| v.is_finite()));
}

#[test]
fn sigmoid_is_stable_for_large_inputs() {
    let g: Graph = Graph::new();
    let x = g.var(array![-800.0, 800.0]);
    let y = x.sigmoid();
    y.backward();
    assert_eq!(y.data(), array![0.0, 1.0].into_dyn());
    assert_eq!(x.grad().unwrap(), array![0.0, 0.0].into_dyn());
}

#[test]
fn bad_selection_and_clip_arguments_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::zeros(vec![2, 3]));
    let msg = |r: Result<Var<'_>, Error>| r.unwrap_err().to_string();
    assert_eq!(
        msg(x.try_select(0, &[0, 2])),
        "select: index 2 is out of bounds for an axis of length 2"
    );
    assert_eq!(
        msg(x.try_select(2, &[0])),
        "select: invalid axes [2] for a 2-d variable"
    );
    assert_eq!(
        msg(x.try_max_axis(5, false)),
        "max_axis: invalid axes [5] for a 2-d variable"
    );
    // composed ops and aliases name the op that was called, not one inside it
    assert_eq!(
        msg(x.try_softmax(2)),
        "softmax: invalid axes [2] for a 2-d variable"
    );
    assert_eq!(
        msg(x.try_log_softmax(2)),
        "log_softmax: invalid axes [2] for a 2-d variable"
    );
    assert_eq!(
        msg(x.try_std_axes(&[4], false, 1)),
        "std_axes: invalid axes [4] for a 2-d variable"
    );
    assert_eq!(
        msg(x.try_index_select(0, &[9])),
        "index_select: index 9 is out of bounds for an axis of length 2"
    );
    assert_eq!(
        msg(x.try_expand(&[4, 4])),
        "expand: shape mismatch between [2, 3] and [4, 4]"
    );
    assert_eq!(
        msg(x.try_clamp(1.0, -1.0)),
        "clamp: lo (1) is greater than hi (-1)"
    );
    let other: Graph = Graph::new();
    assert_eq!(
        msg(x.try_atan2(other.var(ArrayD::zeros(vec![2, 3])))),
        "atan2: the variables belong to two different graphs"
    );
    assert_eq!(
        msg(x.try_clip(1.0, -1.0)),
        "clip: lo (1) is greater than hi (-1)"
    );
    assert!(matches!(
        x.try_select(1, &[9]),
        Err(Error::IndexOutOfBounds {
            index: 9,
            len: 3,
            ..
        })
    ));
}
