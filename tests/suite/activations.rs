//! Gradient checks of ops/special.rs (activations, special functions, roundings) and
//! ops/pairwise.rs (maximum, minimum, pow, atan2): first and second order, f64 and f32, 0-d to
//! 2-d and broadcasting, plus the kinks PyTorch makes a choice at.

use crate::common;

use tapegrad::ndarray::array;
use tapegrad::prelude::*;

fullcheck!(erf, 1, (-2.0, 2.0), |xs| xs[0].erf());
fullcheck!(softplus, 1, (-3.0, 3.0), |xs| xs[0].softplus());
fullcheck!(gelu, 1, (-3.0, 3.0), |xs| xs[0].gelu());
fullcheck!(silu, 1, (-3.0, 3.0), |xs| xs[0].silu());
fullcheck!(log_sigmoid, 1, (-3.0, 3.0), |xs| xs[0].log_sigmoid());
fullcheck!(leaky_relu_negative, 1, (-3.0, -0.1), |xs| xs[0]
    .leaky_relu(0.1 as T)
    * xs[0]);
fullcheck!(leaky_relu_positive, 1, (0.1, 3.0), |xs| xs[0]
    .leaky_relu(0.1 as T)
    * xs[0]);
fullcheck!(elu_negative, 1, (-3.0, -0.1), |xs| xs[0].elu(1.5 as T));
fullcheck!(elu_positive, 1, (0.1, 3.0), |xs| xs[0].elu(1.5 as T)
    * xs[0]);
fullcheck!(reciprocal, 1, (0.5, 3.0), |xs| xs[0].reciprocal());
fullcheck!(rsqrt, 1, (0.5, 3.0), |xs| xs[0].rsqrt());
fullcheck!(clamp, 1, (-3.0, 3.0), |xs| xs[0].clamp(-1.7 as T, 1.9 as T)
    * xs[0]);
// floor and friends: derivative 0, so the product's gradient is the other factor's
fullcheck!(floor, 1, (0.1, 0.9), |xs| xs[0].floor() + xs[0]);
fullcheck!(ceil, 1, (0.1, 0.9), |xs| xs[0].ceil() * xs[0]);
fullcheck!(round, 1, (0.1, 0.4), |xs| xs[0].round() + xs[0].square());

fullcheck!(
    maximum,
    2,
    (-2.0, 2.0),
    |xs| xs[0].maximum(xs[1]) * xs[0],
    shapes & [&[2, 3], &[3]]
);
fullcheck!(
    minimum,
    2,
    (-2.0, 2.0),
    |xs| xs[0].minimum(xs[1]) * xs[1],
    shapes & [&[3], &[2, 3]]
);
fullcheck!(
    pow,
    2,
    (0.5, 2.0),
    |xs| xs[0].pow(xs[1]),
    shapes & [&[2, 3], &[2, 1]]
);
fullcheck!(
    atan2,
    2,
    (-2.0, 2.0),
    |xs| xs[0].atan2(xs[1]),
    shapes & [&[2, 3], &[]]
);

#[test]
fn kinks_follow_pytorch() {
    let g: Graph = Graph::new();
    let x = g.var(array![0.0, 0.0]);
    x.leaky_relu(0.2).sum().backward();
    assert_eq!(x.grad().unwrap(), array![0.2, 0.2].into_dyn());
    x.cleargrad();
    x.elu(0.7).sum().backward();
    assert_eq!(x.grad().unwrap(), array![0.7, 0.7].into_dyn());
    // maximum and minimum split a tie evenly
    let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![1.0, 3.0]));
    a.maximum(b).sum().backward();
    assert_eq!(a.grad().unwrap(), array![0.5, 0.0].into_dyn());
    assert_eq!(b.grad().unwrap(), array![0.5, 1.0].into_dyn());
    a.cleargrad();
    b.cleargrad();
    a.minimum(b).sum().backward();
    assert_eq!(a.grad().unwrap(), array![0.5, 1.0].into_dyn());
    // pow at 0: no 0 * inf
    let (base, e) = (g.var(array![0.0, 0.0, 2.0]), g.var(array![0.0, 2.0, 0.0]));
    let y = base.pow(e);
    y.sum().backward();
    assert_eq!(y.data(), array![1.0, 0.0, 1.0].into_dyn());
    assert_eq!(base.grad().unwrap(), array![0.0, 0.0, 0.0].into_dyn());
    assert_eq!(e.grad().unwrap(), array![0.0, 0.0, 2f64.ln()].into_dyn());
    // atan2 at the origin: 0, not 0 / 0 (PyTorch 2.15: 0 and -0)
    let (a, b) = (g.var(array![0.0, 0.0, 1.0]), g.var(array![0.0, -0.0, 0.0]));
    a.atan2(b).sum().backward();
    assert_eq!(a.grad().unwrap(), array![0.0, 0.0, 0.0].into_dyn());
    assert_eq!(b.grad().unwrap(), array![0.0, 0.0, -1.0].into_dyn());
    let gx = tapegrad::grad(&[a.atan2(b).sum()], &[a], true)[0];
    let ggx = tapegrad::grad(&[gx.sum()], &[a], false)[0];
    assert!(ggx.data().iter().all(|v| v.is_finite()), "{}", ggx.data());
}

#[test]
fn values_at_the_edges() {
    let g: Graph = Graph::new();
    let x = g.var(array![-1000.0, 1000.0]);
    assert_eq!(x.softplus().data(), array![0.0, 1000.0].into_dyn());
    assert_eq!(x.log_sigmoid().data(), array![-1000.0, 0.0].into_dyn());
    let e = x.elu(1.0);
    e.sum().backward();
    assert_eq!(e.data(), array![-1.0, 1000.0].into_dyn());
    assert_eq!(x.grad().unwrap(), array![0.0, 1.0].into_dyn()); // no NaN from e^1000
    let m = g
        .var(array![f64::NAN, 1.0])
        .maximum(g.var(array![0.0, f64::NAN]));
    assert!(m.data().iter().all(|v| v.is_nan()));
    let r = g.var(array![-2.5, -1.5, 2.5, 3.5]).round().data();
    assert_eq!(r, array![-2.0, -2.0, 2.0, 4.0].into_dyn());
    assert_eq!(g.scalar(0.5f64).erf().item(), 0.5204998778130465);
}

#[test]
fn errors_name_the_op_and_shapes() {
    let g: Graph = Graph::new();
    let a = g.var(array![1.0, 2.0]);
    let b = g.var(array![1.0, 2.0, 3.0]);
    let e = a.try_maximum(b).unwrap_err();
    assert_eq!(e.to_string(), "maximum: shape mismatch between [2] and [3]");
    let e = a.try_pow(array![1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(e.to_string(), "pow: shape mismatch between [2] and [3]");
    assert!(a.try_clamp(1.0, 0.0).is_err());
}
