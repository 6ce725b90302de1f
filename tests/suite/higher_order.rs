//! Higher-order derivatives (DeZero stage 3): create_graph, grad, hvp, second-order checks of
//! every op, and the DOT export.

use crate::common;

use approx::assert_relative_eq;
use tapegrad::ndarray::{ArrayD, arr0, array};
use tapegrad::prelude::*;

const CREATE: BackwardOptions = BackwardOptions {
    retain_grad: false,
    create_graph: true,
};

fn g0(x: Var<'_>) -> f64 {
    x.grad().expect("a gradient")[[]]
}

// Second-order checks of every op.
gradgradcheck!(add, 2, (-2.0, 2.0), |xs| xs[0] + xs[1]);
gradgradcheck!(sub, 2, (-2.0, 2.0), |xs| xs[0] - xs[1]);
gradgradcheck!(mul, 2, (-2.0, 2.0), |xs| xs[0] * xs[1]);
gradgradcheck!(div, 2, (0.5, 2.0), |xs| xs[0] / xs[1]);
gradgradcheck!(neg, 1, (-2.0, 2.0), |xs| -xs[0] * xs[0]);
gradgradcheck!(scalar_ops, 1, (0.5, 2.0), |xs| {
    (2.0 - xs[0] * 3.0) / 1.5 + 1.0 / (xs[0] + 0.5) - xs[0] / 4.0
});
gradgradcheck!(array_ops, 1, (0.5, 2.0), |xs| {
    let c = ArrayD::from_elem(xs[0].shape(), 1.5);
    c.clone() / xs[0] + xs[0] * c
});
gradgradcheck!(powf, 1, (0.5, 2.0), |xs| xs[0].powf(2.5));
gradgradcheck!(square, 1, (-2.0, 2.0), |xs| xs[0].square() * xs[0]);
gradgradcheck!(exp, 1, (-2.0, 2.0), |xs| xs[0].exp());
gradgradcheck!(log, 1, (0.5, 3.0), |xs| xs[0].log());
gradgradcheck!(sin, 1, (-3.0, 3.0), |xs| xs[0].sin());
gradgradcheck!(cos, 1, (-3.0, 3.0), |xs| xs[0].cos());
gradgradcheck!(tanh, 1, (-2.0, 2.0), |xs| xs[0].tanh());
gradgradcheck!(sqrt, 1, (0.5, 3.0), |xs| xs[0].sqrt());
gradgradcheck!(abs, 1, (0.5, 3.0), |xs| (xs[0] - 2.0).abs() * xs[0]);
gradgradcheck!(mixed, 2, (0.5, 1.5), |xs| (xs[0] * xs[1]).sin()
    * xs[1].exp()
    / xs[0]);

#[test]
fn step33_newton_with_second_derivative() {
    let expected = [
        2.0,
        1.4545454545454546,
        1.1510467893775467,
        1.0253259289766978,
        1.0009084519430513,
        1.0000012353089454,
        1.000000000002289,
        1.0,
    ];
    let g: Graph = Graph::new();
    let mut xv = 2.0;
    for want in expected {
        assert_relative_eq!(xv, want, max_relative = 1e-12);
        g.clear();
        let x = g.scalar(xv);
        let y = x.powf(4.0) - 2.0 * x.powf(2.0);
        y.backward_with(CREATE);
        let gx = x.grad_var().unwrap();
        x.cleargrad();
        gx.backward();
        xv -= gx.item() / g0(x);
    }
}

#[test]
fn step34_sin_derivatives_two_to_four() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    x.sin().backward_with(CREATE);
    let mut got = Vec::new();
    for _ in 0..3 {
        let gx = x.grad_var().unwrap();
        x.cleargrad();
        gx.backward_with(CREATE);
        got.push(g0(x));
    }
    let s = 1f64.sin();
    let c = 1f64.cos();
    assert_relative_eq!(got[0], -s, max_relative = 1e-12);
    assert_relative_eq!(got[1], -c, max_relative = 1e-12);
    assert_relative_eq!(got[2], s, max_relative = 1e-12);
}

#[test]
fn step36_double_backprop() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x.powf(2.0);
    y.backward_with(CREATE);
    let gx = x.grad_var().unwrap();
    x.cleargrad();
    let z = gx.powf(3.0) + y;
    z.backward();
    assert_eq!(g0(x), 100.0);
}

/// Coefficients (lowest degree first) of the n-th derivative of a function `f` whose derivative
/// is a polynomial `d` in `f` itself, as a polynomial in `f`: P0 = f, P(n+1) = P(n)'(f) d(f).
fn derivative_poly(n: usize, d: &[f64]) -> Vec<f64> {
    let mut p = vec![0.0, 1.0];
    for _ in 0..n {
        let dp: Vec<f64> = (1..p.len()).map(|k| k as f64 * p[k]).collect();
        let mut next = vec![0.0; dp.len() + d.len() - 1];
        for (k, c) in dp.iter().enumerate() {
            for (j, e) in d.iter().enumerate() {
                next[k + j] += c * e;
            }
        }
        p = next;
    }
    p
}

/// tanh' = 1 - tanh^2.
fn tanh_derivative_poly(n: usize) -> Vec<f64> {
    derivative_poly(n, &[1.0, 0.0, -1.0])
}

#[test]
fn tanh_derivatives_up_to_sixth_match_closed_form() {
    for x0 in [-0.7, 0.3, 1.1] {
        let g: Graph = Graph::new();
        let x = g.scalar(x0);
        x.tanh().backward_with(CREATE);
        let t = x0.tanh();
        for n in 1..=6 {
            let gx = x.grad_var().unwrap();
            let want: f64 = tanh_derivative_poly(n)
                .iter()
                .enumerate()
                .map(|(k, c)| c * t.powi(k as i32))
                .sum();
            assert_relative_eq!(gx.item(), want, max_relative = 1e-10, epsilon = 1e-12);
            x.cleargrad();
            gx.backward_with(CREATE);
        }
    }
}

/// sigmoid' = sigmoid - sigmoid^2.
fn sigmoid_derivative_poly(n: usize) -> Vec<f64> {
    derivative_poly(n, &[0.0, 1.0, -1.0])
}

/// Elementwise on a vector, so that the array path's rules (and their own derivatives) run.
#[test]
fn sigmoid_derivatives_up_to_fifth_match_closed_form_on_arrays() {
    let x0 = array![-0.7, 0.3, 1.1];
    let g: Graph = Graph::new();
    let x = g.var(x0.clone());
    x.sigmoid().sum().backward_with(CREATE);
    for n in 1..=5 {
        let gx = x.grad_var().unwrap();
        for (i, &v) in x0.iter().enumerate() {
            let s = 1.0 / (1.0 + (-v).exp());
            let want: f64 = sigmoid_derivative_poly(n)
                .iter()
                .enumerate()
                .map(|(k, c)| c * s.powi(k as i32))
                .sum();
            let got = gx.data()[[i]];
            assert_relative_eq!(got, want, max_relative = 1e-10, epsilon = 1e-12);
        }
        x.cleargrad();
        gx.sum().backward_with(CREATE);
    }
}

#[test]
fn tanh_eighth_derivative_completes() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    x.tanh().backward_with(CREATE);
    for _ in 0..7 {
        let gx = x.grad_var().unwrap();
        x.cleargrad();
        gx.backward_with(CREATE);
    }
    let g8 = x.grad_var().unwrap();
    let t = 1f64.tanh();
    let want: f64 = tanh_derivative_poly(8)
        .iter()
        .enumerate()
        .map(|(k, c)| c * t.powi(k as i32))
        .sum();
    assert_relative_eq!(g8.item(), want, max_relative = 1e-9);
}

#[test]
fn hvp_of_rosenbrock_matches_analytic_hessian() {
    // f = 100 (x1 - x0^2)^2 + (x0 - 1)^2
    // H = [[1200 x0^2 - 400 x1 + 2, -400 x0], [-400 x0, 200]]
    let (x0, x1) = (0.7, -0.3);
    let (v0, v1) = (0.4, -1.3);
    let hv = tapegrad::hvp(
        |xs| 100.0 * (xs[1] - xs[0].square()).square() + (xs[0] - 1.0).square(),
        &[arr0(x0).into_dyn(), arr0(x1).into_dyn()],
        &[arr0(v0).into_dyn(), arr0(v1).into_dyn()],
    )
    .unwrap();
    let h00 = 1200.0 * x0 * x0 - 400.0 * x1 + 2.0;
    let h01 = -400.0 * x0;
    assert_relative_eq!(hv[0][[]], h00 * v0 + h01 * v1, max_relative = 1e-12);
    assert_relative_eq!(hv[1][[]], h01 * v0 + 200.0 * v1, max_relative = 1e-12);
    // v^T H by double backprop: the same numbers, H being symmetric
    let vh = tapegrad::vhp(
        |xs| 100.0 * (xs[1] - xs[0].square()).square() + (xs[0] - 1.0).square(),
        &[arr0(x0).into_dyn(), arr0(x1).into_dyn()],
        &[arr0(v0).into_dyn(), arr0(v1).into_dyn()],
    )
    .unwrap();
    assert_relative_eq!(vh[0][[]], hv[0][[]], max_relative = 1e-12);
    assert_relative_eq!(vh[1][[]], hv[1][[]], max_relative = 1e-12);
}

#[test]
fn hvp_and_vhp_of_a_tensor_function_agree_with_the_hessian() {
    fn f<'g>(xs: &[Var<'g>]) -> Var<'g> {
        (xs[0].matmul(xs[1]).tanh() * xs[0].sum_axes(&[1], true)).sum()
    }
    let x = [
        crate::common::values::<f64>(&[2, 3], 5, -1.0, 1.0),
        crate::common::values::<f64>(&[3, 2], 6, -1.0, 1.0),
    ];
    let v = [
        crate::common::values::<f64>(&[2, 3], 7, -1.0, 1.0),
        crate::common::values::<f64>(&[3, 2], 8, -1.0, 1.0),
    ];
    let h = tapegrad::hessian(|xs| vec![f(xs)], &x).unwrap();
    let (hv, vh) = (
        tapegrad::hvp(f, &x, &v).unwrap(),
        tapegrad::vhp(f, &x, &v).unwrap(),
    );
    for i in 0..2 {
        // (H v)_i = sum_j H[i][j] v_j, contracting v_j's axes
        let mut want = ArrayD::<f64>::zeros(x[i].shape());
        for j in 0..2 {
            let n = v[j].len();
            let block = h[i][j].to_shape((x[i].len(), n)).unwrap().to_owned();
            let col = v[j].to_shape((n, 1)).unwrap().to_owned();
            want = want + block.dot(&col).into_shape_with_order(x[i].shape()).unwrap();
        }
        for (a, b) in [(&hv[i], &want), (&vh[i], &want)] {
            let err = (a - b).mapv(f64::abs).fold(0.0, |m: f64, &e| m.max(e));
            assert!(err < 1e-12, "input {i}: off by {err}");
        }
    }
}

#[test]
fn hvp_rejects_mismatched_direction() {
    let e = tapegrad::hvp(
        |xs| xs[0].square(),
        &[ArrayD::<f64>::zeros(vec![2])],
        &[ArrayD::zeros(vec![3])],
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "hvp: shape mismatch between [2] and [3]");
}

#[test]
fn grad_leaves_every_dot_grad_untouched() {
    let g: Graph = Graph::new();
    let (x, w) = (g.scalar(2.0), g.scalar(5.0));
    w.backward(); // w.grad = 1 beforehand
    let t = x * w;
    let y = t.exp();
    let grads = tapegrad::grad(&[y], &[x, t], false);
    assert_relative_eq!(grads[0].item(), 5.0 * 10f64.exp(), max_relative = 1e-12);
    assert_relative_eq!(grads[1].item(), 10f64.exp(), max_relative = 1e-12);
    assert!(x.grad().is_none() && t.grad().is_none() && y.grad().is_none());
    assert_eq!(g0(w), 1.0);
}

#[test]
fn grad_gives_zeros_for_an_unused_input() {
    let g: Graph = Graph::new();
    let (x, z) = (g.scalar(2.0), g.var(array![1.0, 2.0]));
    let gs = tapegrad::grad(&[x.square()], &[z, x], false);
    assert_eq!(gs[0].data(), ArrayD::zeros(vec![2]));
    assert_eq!(gs[1].item(), 4.0);
}

#[test]
fn grad_without_create_graph_is_a_constant() {
    let g: Graph = Graph::new();
    let x = g.scalar(3.0);
    let gx = tapegrad::grad(&[x.powf(3.0)], &[x], false)[0];
    assert!(gx.is_leaf());
    let again = tapegrad::grad(&[gx], &[x], false)[0];
    assert_eq!(again.item(), 0.0);
}

#[test]
fn grad_of_vector_output_differentiates_the_sum() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0, 3.0]);
    let gx = tapegrad::grad(&[x.square()], &[x], false)[0];
    assert_eq!(gx.data(), array![2.0, 4.0, 6.0].into_dyn());
}

#[test]
fn create_graph_false_records_nothing_of_the_backward_pass() {
    let g: Graph = Graph::new();
    let x = g.scalar(3.0);
    let y = x.sin() * x;
    let before = g.tape_len();
    y.backward();
    assert_eq!(g.tape_len(), before);
    y.backward_with(CREATE);
    assert!(g.tape_len() > before);
}

#[test]
fn dot_draws_exactly_the_ancestors() {
    let g: Graph = Graph::new();
    let unrelated = g.scalar(9.0).exp(); // recorded before
    let x = g.scalar(1.0);
    x.set_name("x");
    let y = (x * 2.0).exp() + x;
    y.set_name("y");
    let _after = y.sin(); // recorded after
    let dot = g.to_dot(&[y], false);
    let nodes: Vec<&str> = dot.lines().filter(|l| l.contains("[label=")).collect();
    let edges = dot.lines().filter(|l| l.contains("->")).count();
    // variables x, x*2, exp(.), y; ops mul(2), exp, add
    assert_eq!(
        nodes
            .iter()
            .filter(|l| l.contains("ellipse") || !l.contains("box"))
            .count(),
        4
    );
    assert_eq!(nodes.iter().filter(|l| l.contains("shape=box")).count(), 3);
    // mul: x -> f, f -> v; exp: 2; add: 2 in, 1 out
    assert_eq!(edges, 7);
    assert!(dot.contains("label=\"x\""));
    assert!(dot.contains("label=\"y\""));
    assert!(dot.contains("label=\"mul(2)\""));
    assert!(!dot.contains("sin"));
    assert!(dot.starts_with("digraph g {") && dot.trim_end().ends_with('}'));
    let _ = unrelated;
}

#[test]
fn dot_verbose_shows_shape_and_dtype() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    x.set_name("x");
    let dot = g.to_dot(&[x.exp()], true);
    assert!(dot.contains("label=\"x: (2, 3) f64\""), "{dot}");
    let v = g.var(array![1.0, 2.0]);
    assert!(g.to_dot(&[v], true).contains("label=\"(2,) f64\""));
}

#[test]
fn plain_backward_adds_to_a_gradient_from_create_graph() {
    // All-scalar graph: the second pass takes the scalar sweep and must add to the Var gradient.
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x.powf(3.0);
    y.backward_with(CREATE);
    assert_eq!(g0(x), 12.0);
    y.backward();
    assert_eq!(g0(x), 24.0);
    let keep = BackwardOptions {
        retain_grad: true,
        ..Default::default()
    };
    let t = x * 3.0;
    let z = t.exp();
    z.backward_with(keep);
    assert_eq!(g0(t), 6f64.exp());
}
