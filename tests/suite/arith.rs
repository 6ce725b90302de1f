//! Gradient checks of ops/arith.rs: `+ - * /` and `-x` with variables, scalars and arrays on
//! either side, against central differences.

use crate::common;

use tapegrad::ndarray::ArrayD;

/// A constant array shaped like `x` (0-d for a 0-d `x`, which takes the scalar path).
fn like<F: tapegrad::Float>(x: tapegrad::Var<'_, F>, v: F) -> ArrayD<F> {
    ArrayD::from_elem(x.shape(), v)
}

gradcheck!(add, 2, (-2.0, 2.0), |xs| xs[0] + xs[1]);
gradcheck!(sub, 2, (-2.0, 2.0), |xs| xs[0] - xs[1]);
gradcheck!(mul, 2, (-2.0, 2.0), |xs| xs[0] * xs[1]);
gradcheck!(div, 2, (0.5, 2.0), |xs| xs[0] / xs[1]);
gradcheck!(neg, 1, (-2.0, 2.0), |xs| -xs[0]);

gradcheck!(add_scalar_rhs, 1, (-2.0, 2.0), |xs| xs[0] + 1.5 as T);
gradcheck!(add_scalar_lhs, 1, (-2.0, 2.0), |xs| (1.5 as T) + xs[0]);
gradcheck!(sub_scalar_rhs, 1, (-2.0, 2.0), |xs| xs[0] - 1.5 as T);
gradcheck!(sub_scalar_lhs, 1, (-2.0, 2.0), |xs| (1.5 as T) - xs[0]);
gradcheck!(mul_scalar_rhs, 1, (-2.0, 2.0), |xs| xs[0] * 1.5 as T);
gradcheck!(mul_scalar_lhs, 1, (-2.0, 2.0), |xs| (1.5 as T) * xs[0]);
gradcheck!(div_scalar_rhs, 1, (-2.0, 2.0), |xs| xs[0] / 1.5 as T);
gradcheck!(div_scalar_lhs, 1, (0.5, 2.0), |xs| (1.5 as T) / xs[0]);

gradcheck!(add_array_rhs, 1, (-2.0, 2.0), |xs| xs[0] + like(xs[0], 1.5));
gradcheck!(add_array_lhs, 1, (-2.0, 2.0), |xs| like(xs[0], 1.5) + xs[0]);
gradcheck!(sub_array_rhs, 1, (-2.0, 2.0), |xs| xs[0] - like(xs[0], 1.5));
gradcheck!(sub_array_lhs, 1, (-2.0, 2.0), |xs| like(xs[0], 1.5) - xs[0]);
gradcheck!(mul_array_rhs, 1, (-2.0, 2.0), |xs| xs[0] * like(xs[0], 1.5));
gradcheck!(mul_array_lhs, 1, (-2.0, 2.0), |xs| like(xs[0], 1.5) * xs[0]);
gradcheck!(div_array_rhs, 1, (-2.0, 2.0), |xs| xs[0] / like(xs[0], 1.5));
gradcheck!(div_array_lhs, 1, (0.5, 2.0), |xs| like(xs[0], 1.5) / xs[0]);

gradcheck!(same_variable_twice, 1, (-2.0, 2.0), |xs| xs[0] * xs[0]);
gradcheck!(reused_in_a_diamond, 2, (0.5, 2.0), |xs| {
    let t = xs[0] * xs[1];
    (t + xs[0]) / (t - xs[1] * 3.0 as T)
});

#[test]
fn operators_take_arrays_of_any_dimension_on_either_side() {
    use tapegrad::ndarray::{Array2, array};
    let g: tapegrad::Graph = tapegrad::Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let y = x * array![3.0, 4.0] + array![10.0, 20.0] - x / array![1.0, 2.0];
    assert_eq!(y.data(), array![12.0, 27.0].into_dyn());
    let z = (array![2.0, 2.0] * x + Array2::<f64>::ones((2, 2))).sum(); // broadcasting, 2-d on the right
    z.backward();
    assert_eq!(x.grad().unwrap(), array![4.0, 4.0].into_dyn()); // 2 per row, two rows
    assert_eq!(
        x.try_mul(array![1.0, 1.0, 1.0]).unwrap_err().to_string(),
        "mul: shape mismatch between [2] and [3]"
    );
}
