//! Gradient checks of ops/math.rs and ops/trig.rs, alone and composed. `opcheck!` checks an op at
//! first and second order; the ops older than it have their second order in tests/suite/higher_order.rs.

use crate::common;

gradcheck!(powf_integer, 1, (-2.0, 2.0), |xs| xs[0].powf(3.0 as T));
gradcheck!(powf_fractional, 1, (0.5, 2.0), |xs| xs[0].powf(1.5 as T));
gradcheck!(powf_negative, 1, (0.5, 2.0), |xs| xs[0].powf(-2.0 as T));
gradcheck!(square, 1, (-2.0, 2.0), |xs| xs[0].square());
gradcheck!(exp, 1, (-2.0, 2.0), |xs| xs[0].exp());
gradcheck!(exp_of_square, 1, (-1.0, 1.0), |xs| xs[0].square().exp());
gradcheck!(rosenbrock, 2, (-1.5, 1.5), |xs| {
    (xs[1] - xs[0].square()).square() * 100.0 as T + (xs[0] - 1.0 as T).square()
});
gradcheck!(log, 1, (0.5, 3.0), |xs| xs[0].log());
gradcheck!(sin, 1, (-3.0, 3.0), |xs| xs[0].sin());
gradcheck!(cos, 1, (-3.0, 3.0), |xs| xs[0].cos());
gradcheck!(tanh, 1, (-2.0, 2.0), |xs| xs[0].tanh());
gradcheck!(sqrt, 1, (0.5, 3.0), |xs| xs[0].sqrt());
gradcheck!(abs_negative, 1, (-3.0, -0.5), |xs| xs[0].abs());
gradcheck!(abs_positive, 1, (0.5, 3.0), |xs| xs[0].abs());
gradcheck!(sign_times_x, 1, (0.5, 3.0), |xs| xs[0].sign() * xs[0]);
opcheck!(atan, 1, (-2.0, 2.0), |xs| xs[0].atan());
opcheck!(asin, 1, (-0.9, 0.9), |xs| xs[0].asin());
opcheck!(acos, 1, (-0.9, 0.9), |xs| xs[0].acos());
opcheck!(sinh, 1, (-2.0, 2.0), |xs| xs[0].sinh());
opcheck!(cosh, 1, (-2.0, 2.0), |xs| xs[0].cosh());
opcheck!(log1p, 1, (-0.5, 2.0), |xs| xs[0].log1p());
opcheck!(expm1, 1, (-2.0, 2.0), |xs| xs[0].expm1());
gradcheck!(log_of_exp, 1, (-2.0, 2.0), |xs| xs[0].exp().log());

#[test]
fn abs_has_zero_gradient_at_zero() {
    use tapegrad::ndarray::array;
    let g: tapegrad::Graph = tapegrad::Graph::new();
    let x = g.var(array![-2.0, 0.0, 3.0]);
    x.abs().backward();
    assert_eq!(x.grad().unwrap(), array![-1.0, 0.0, 1.0].into_dyn());
}

#[test]
fn sign_is_zero_at_zero_and_keeps_nan() {
    use tapegrad::ndarray::array;
    let g: tapegrad::Graph = tapegrad::Graph::new();
    let y = g.var(array![-0.0, 0.0, f64::NAN, -7.0]).sign().data();
    assert_eq!((y[0], y[1], y[3]), (0.0, 0.0, -1.0));
    assert!(y[2].is_nan());
}
