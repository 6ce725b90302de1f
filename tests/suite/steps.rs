//! DeZero steps 3 to 24: every stage-1/2 row of docs/reference.md, in f64 (relative tolerance
//! 1e-12 unless the row says otherwise), and Goldstein-Price also in f32.

use approx::assert_relative_eq;
use tapegrad::check::{numerical_grad, numerical_grad_eps};
use tapegrad::ndarray::{ArrayD, arr0, array};
use tapegrad::prelude::*;

const RTOL: f64 = 1e-12;

fn g0(x: Var<'_>) -> f64 {
    x.grad().expect("a gradient")[[]]
}

fn sphere<'g, F: Float>(x: Var<'g, F>, y: Var<'g, F>) -> Var<'g, F> {
    x.powf(F::from_f64(2.0)) + y.powf(F::from_f64(2.0))
}

fn matyas<'g>(x: Var<'g>, y: Var<'g>) -> Var<'g> {
    0.26 * sphere(x, y) - 0.48 * x * y
}

macro_rules! goldstein {
    ($x:expr, $y:expr, $t:ty) => {{
        let (x, y) = ($x, $y);
        let c = |v: f64| v as $t;
        (c(1.0)
            + (x + y + c(1.0)).powf(c(2.0))
                * (c(19.0) - c(14.0) * x + c(3.0) * x.powf(c(2.0)) - c(14.0) * y
                    + c(6.0) * x * y
                    + c(3.0) * y.powf(c(2.0))))
            * (c(30.0)
                + (c(2.0) * x - c(3.0) * y).powf(c(2.0))
                    * (c(18.0) - c(32.0) * x + c(12.0) * x.powf(c(2.0)) + c(48.0) * y
                        - c(36.0) * x * y
                        + c(27.0) * y.powf(c(2.0))))
    }};
}

#[test]
fn step03_composite_forward() {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let y = x.square().exp().square();
    assert_relative_eq!(y.item(), 1.648721270700128, max_relative = RTOL);
}

#[test]
fn step04_numerical_diff_of_square() {
    let d = numerical_grad(|xs| xs[0].square(), &[arr0(2.0).into_dyn()]);
    assert_relative_eq!(d[0][[]], 4.000000000004, max_relative = RTOL);
}

#[test]
fn step04_numerical_diff_of_composite() {
    let d = numerical_grad_eps(
        |xs| xs[0].square().exp().square(),
        &[arr0(0.5).into_dyn()],
        1e-4,
    );
    assert_relative_eq!(d[0][[]], 3.2974426293330694, max_relative = 1e-9);
}

#[test]
fn step06_to_09_analytic_grad_of_composite() {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    x.square().exp().square().backward();
    assert_relative_eq!(g0(x), 3.297442541400256, max_relative = RTOL);
}

#[test]
fn step13_two_inputs() {
    let g: Graph = Graph::new();
    let (x, y) = (g.scalar(2.0), g.scalar(3.0));
    let z = x.square() + y.square();
    z.backward();
    assert_eq!((z.item(), g0(x), g0(y)), (13.0, 4.0, 6.0));
}

#[test]
fn step14_same_variable_twice() {
    let g: Graph = Graph::new();
    let x = g.scalar(3.0);
    (x + x).backward();
    assert_eq!(g0(x), 2.0);
}

#[test]
fn step14_cleargrad_between_passes() {
    let g: Graph = Graph::new();
    let x = g.scalar(3.0);
    (x + x).backward();
    x.cleargrad();
    (x + x + x).backward();
    assert_eq!(g0(x), 3.0);
}

#[test]
fn step14_passes_accumulate_without_cleargrad() {
    let g: Graph = Graph::new();
    let x = g.scalar(3.0);
    (x + x).backward();
    (x + x + x).backward();
    assert_eq!(g0(x), 5.0);
}

#[test]
fn step16_diamond_graph() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let a = x.square();
    let y = a.square() + a.square();
    y.backward();
    assert_eq!((y.item(), g0(x)), (32.0, 64.0));
}

#[test]
fn step18_default_backward_frees_intermediate_grads() {
    let g: Graph = Graph::new();
    let (x0, x1) = (g.scalar(1.0), g.scalar(1.0));
    let t = x0 + x1;
    let y = x0 + t;
    y.backward();
    assert!(y.grad().is_none());
    assert!(t.grad().is_none());
    assert_eq!((g0(x0), g0(x1)), (2.0, 1.0));
}

#[test]
fn step18_retain_grad_keeps_intermediate_grads() {
    let g: Graph = Graph::new();
    let (x0, x1) = (g.scalar(1.0), g.scalar(1.0));
    let t = x0 + x1;
    let y = x0 + t;
    y.backward_with(BackwardOptions {
        retain_grad: true,
        ..Default::default()
    });
    assert_eq!((g0(y), g0(t), g0(x0), g0(x1)), (1.0, 1.0, 2.0, 1.0));
}

#[test]
fn step18_no_grad_makes_leaves() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::ones(vec![100, 100]));
    let _guard = g.no_grad();
    let y = x.square();
    assert!(y.is_leaf());
    assert_eq!(g.tape_len(), 0);
}

#[test]
fn step19_display() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    assert_eq!(x.to_string(), "variable([[1, 2, 3],\n          [4, 5, 6]])");
    let second = x.to_string().lines().nth(1).unwrap().to_owned();
    assert_eq!(second.find('[').unwrap(), 10);
}

#[test]
fn step19_attributes() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    x.set_name("x");
    assert_eq!(x.shape(), vec![2, 3]);
    assert_eq!((x.ndim(), x.size(), x.len()), (2, 6, 2));
    assert_eq!(x.dtype(), "f64");
    assert_eq!(x.name().as_deref(), Some("x"));
}

#[test]
fn step20_mul_and_add() {
    let g: Graph = Graph::new();
    let (a, b, c) = (g.scalar(3.0), g.scalar(2.0), g.scalar(1.0));
    let y = a * b + c;
    y.backward();
    assert_eq!((y.item(), g0(a), g0(b)), (7.0, 2.0, 3.0));
}

#[test]
fn step21_scalar_and_array_constants() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    assert_eq!((x + 3.0).item(), 5.0);
    assert_eq!((3.0 + x).item(), 5.0);
    assert_eq!((x + arr0(3.0).into_dyn()).item(), 5.0);
    assert_eq!((arr0(3.0).into_dyn() + x).item(), 5.0);
    assert_eq!((3.0 * x + 1.0).item(), 7.0);
}

#[test]
fn step22_operators() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    assert_eq!((-x).item(), -2.0);
    assert_eq!((2.0 - x).item(), 0.0);
    assert_eq!((x - 1.0).item(), 1.0);
    assert_eq!((3.0 / x).item(), 1.5);
    assert_eq!((x / 4.0).item(), 0.5);
}

#[test]
fn step22_powf() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x.powf(3.0);
    y.backward();
    assert_eq!((y.item(), g0(x)), (8.0, 12.0));
}

#[test]
fn step23_package_example() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let y = (x + 3.0).powf(2.0);
    y.backward();
    assert_eq!((y.item(), g0(x)), (16.0, 8.0));
}

#[test]
fn step24_sphere() {
    let g: Graph = Graph::new();
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = sphere(x, y);
    z.backward();
    assert_eq!((z.item(), g0(x), g0(y)), (2.0, 2.0, 2.0));
}

#[test]
fn step24_matyas() {
    let g: Graph = Graph::new();
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = matyas(x, y);
    z.backward();
    let expected = 0.040000000000000036;
    assert_relative_eq!(z.item(), expected, max_relative = RTOL);
    assert_relative_eq!(g0(x), expected, max_relative = RTOL);
    assert_relative_eq!(g0(y), expected, max_relative = RTOL);
}

#[test]
fn step24_goldstein_price_f64() {
    let g: Graph = Graph::new();
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = goldstein!(x, y, f64);
    z.backward();
    assert_relative_eq!(z.item(), 1876.0, max_relative = RTOL);
    assert_relative_eq!(g0(x), -5376.0, max_relative = RTOL);
    assert_relative_eq!(g0(y), 8064.0, max_relative = RTOL);
}

#[test]
fn step24_goldstein_price_f32() {
    let g = Graph::<f32>::new();
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = goldstein!(x, y, f32);
    z.backward();
    let (gx, gy) = (x.grad().unwrap()[[]], y.grad().unwrap()[[]]);
    assert_relative_eq!(z.item(), 1876.0, max_relative = 1e-4);
    assert_relative_eq!(gx, -5376.0, max_relative = 1e-4);
    assert_relative_eq!(gy, 8064.0, max_relative = 1e-4);
}
