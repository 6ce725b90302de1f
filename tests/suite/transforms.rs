//! jvp, vjp, jacobian (both modes) and hessian against central differences and each other, and
//! their errors.

use crate::common;

use tapegrad::ndarray::{ArrayD, array};
use tapegrad::prelude::*;
use tapegrad::{JacobianMode, hessian, jacobian, jvp, vjp};

/// A function of two inputs with two outputs: broadcasting, a reduction, a matmul, a softmax.
fn f<'g>(xs: &[Var<'g>]) -> Vec<Var<'g>> {
    let (a, b) = (xs[0], xs[1]);
    let y0 = (a * b.sin()).softmax(1) + a.matmul(b.transpose()).sum_axes(&[1], true);
    let y1 = (a.square().sum() + b.logsumexp(&[0, 1], false)).tanh();
    vec![y0, y1]
}

fn inputs() -> Vec<ArrayD<f64>> {
    vec![
        common::values(&[2, 3], 1, -1.0, 1.0),
        common::values(&[1, 3], 2, -1.0, 1.0),
    ]
}

/// `(f(x + h v) - f(x - h v)) / 2h`, output by output.
fn directional(x: &[ArrayD<f64>], v: &[ArrayD<f64>]) -> Vec<ArrayD<f64>> {
    let h = 1e-6;
    let at = |s: f64| {
        let g: Graph = Graph::new();
        let xs: Vec<Var> = x.iter().zip(v).map(|(a, d)| g.var(a + &(d * s))).collect();
        f(&xs).iter().map(|y| y.data()).collect::<Vec<_>>()
    };
    let (p, m) = (at(h), at(-h));
    p.iter().zip(&m).map(|(p, m)| (p - m) / (2.0 * h)).collect()
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, tol: f64) {
    assert_eq!(a.shape(), b.shape());
    for (p, q) in a.iter().zip(b) {
        assert!((p - q).abs() <= tol * (1.0 + q.abs()), "{p} vs {q}");
    }
}

#[test]
fn jvp_is_the_directional_derivative() {
    let x = inputs();
    let v = vec![
        common::values(&[2, 3], 3, -1.0, 1.0),
        common::values(&[1, 3], 4, -1.0, 1.0),
    ];
    let (ys, ts) = jvp(f, &x, &v).unwrap();
    let g: Graph = Graph::new();
    let xs: Vec<Var> = x.iter().map(|a| g.var(a.clone())).collect();
    for (y, want) in ys.iter().zip(f(&xs)) {
        assert_eq!(y, &want.data());
    }
    for (t, want) in ts.iter().zip(directional(&x, &v)) {
        close(t, &want, 1e-7);
    }
}

#[test]
fn vjp_and_both_jacobians_agree() {
    let x = inputs();
    let rev = jacobian(f, &x, JacobianMode::Reverse).unwrap();
    let fwd = jacobian(f, &x, JacobianMode::Forward).unwrap();
    let auto = jacobian(f, &x, JacobianMode::Auto).unwrap();
    assert_eq!(rev[0][0].shape(), &[2, 3, 2, 3]);
    assert_eq!(rev[0][1].shape(), &[2, 3, 1, 3]);
    assert_eq!(rev[1][0].shape(), &[2, 3]);
    for i in 0..2 {
        for j in 0..2 {
            close(&fwd[i][j], &rev[i][j], 1e-13);
            assert_eq!(auto[i][j], rev[i][j]); // 7 output elements <= 9 inputs: reverse
        }
    }
    // a column of the Jacobian is a directional derivative along a unit vector
    let mut e = vec![ArrayD::zeros(vec![2, 3]), ArrayD::zeros(vec![1, 3])];
    e[0][[1, 2]] = 1.0;
    let d = directional(&x, &e);
    close(
        &rev[0][0]
            .slice(tapegrad::ndarray::s![.., .., 1, 2])
            .to_owned()
            .into_dyn(),
        &d[0],
        1e-7,
    );
    // vjp: u^T J
    let u = vec![
        common::values(&[2, 3], 5, -1.0, 1.0),
        common::values(&[], 6, -1.0, 1.0),
    ];
    let (_, gs) = vjp(f, &x, &u).unwrap();
    for (j, gj) in gs.iter().enumerate() {
        let mut want = ArrayD::zeros(gj.shape());
        for (i, ui) in u.iter().enumerate() {
            let n = ui.len();
            let block = rev[i][j].to_shape((n, gj.len())).unwrap().to_owned();
            let row = ui.to_shape(n).unwrap().dot(&block);
            want = want + row.into_shape_with_order(gj.shape()).unwrap();
        }
        close(gj, &want, 1e-13);
    }
}

#[test]
fn hessian_matches_differences_of_the_gradient() {
    fn loss<'g>(xs: &[Var<'g>]) -> Vec<Var<'g>> {
        let ys = f(xs);
        vec![ys[0].sum() * ys[1]]
    }
    let x = inputs();
    let h = hessian(loss, &x).unwrap();
    assert_eq!(h[0][1].shape(), &[2, 3, 1, 3]);
    // symmetric
    let h01 = h[0][1].to_shape((6, 3)).unwrap().to_owned();
    let h10 = h[1][0].to_shape((3, 6)).unwrap().to_owned();
    close(&h01.into_dyn(), &h10.reversed_axes().into_dyn(), 1e-12);
    // against the jacobian of the gradient by differences
    let grad_at = |x: &[ArrayD<f64>]| {
        let g: Graph = Graph::new();
        let xs: Vec<Var> = x.iter().map(|a| g.var(a.clone())).collect();
        let y = loss(&xs)[0];
        tapegrad::grad(&[y], &xs, false)
            .iter()
            .map(|v| v.data())
            .collect::<Vec<_>>()
    };
    let eps = 1e-6;
    for k in 0..6 {
        let (mut p, mut m) = (x.clone(), x.clone());
        p[0].as_slice_mut().unwrap()[k] += eps;
        m[0].as_slice_mut().unwrap()[k] -= eps;
        let (gp, gm) = (grad_at(&p), grad_at(&m));
        let col = (&gp[0] - &gm[0]) / (2.0 * eps);
        let want = h[0][0].to_shape((6, 6)).unwrap().column(k).to_owned();
        close(
            &col.to_shape(6).unwrap().to_owned().into_dyn(),
            &want.into_dyn(),
            1e-6,
        );
    }
}

#[test]
fn an_input_nothing_depends_on_has_zero_blocks() {
    let x = [array![1.0, 2.0].into_dyn(), array![3.0].into_dyn()];
    let j = jacobian(|xs| vec![xs[0].exp()], &x, JacobianMode::Forward).unwrap();
    assert_eq!(j[0][1], ArrayD::zeros(vec![2, 1]));
    let (_, t) = jvp(
        |xs| vec![xs[0].exp()],
        &x,
        &[array![1.0, 1.0].into_dyn(), array![1.0].into_dyn()],
    )
    .unwrap();
    assert_eq!(t[0], array![1f64.exp(), 2f64.exp()].into_dyn());
}

#[test]
fn bad_input_is_an_error() {
    let x = inputs();
    let e = jvp(f, &x, &[array![1.0].into_dyn()]).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "jvp", .. }), "{e}");
    let e = jvp(
        f,
        &x,
        &[ArrayD::zeros(vec![3, 2]), ArrayD::zeros(vec![1, 3])],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "jvp: shape mismatch between [2, 3] and [3, 2]"
    );
    let e = vjp(f, &x, &[ArrayD::zeros(vec![2, 3])]).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "vjp", .. }));
    let e = hessian(f, &x).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { op: "hessian", .. }),
        "{e}"
    );
    assert!(jacobian(|_| Vec::new(), &x, JacobianMode::Auto).is_err());
}

/// `y = (x0 x1, x0 + x1)` elementwise: a function of two inputs and two outputs, with no forward
/// rule of its own (its tangents come from its backward), or with one (`Given`).
struct Pair<const GIVEN: bool>;

impl<const GIVEN: bool> Function for Pair<GIVEN> {
    fn name(&self) -> &'static str {
        "pair"
    }
    fn forward(
        &self,
        xs: &[tapegrad::ndarray::ArrayViewD<'_, f64>],
    ) -> std::result::Result<Vec<ArrayD<f64>>, String> {
        Ok(vec![&xs[0] * &xs[1], &xs[0] + &xs[1]])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g>],
        _: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> tapegrad::Result<Vec<Option<Var<'g>>>> {
        Ok(vec![
            Some(gys[0] * xs[1] + gys[1]),
            Some(gys[0] * xs[0] + gys[1]),
        ])
    }
    #[allow(clippy::type_complexity)]
    fn jvp(
        &self,
        xs: &[tapegrad::ndarray::ArrayViewD<'_, f64>],
        _: &[tapegrad::ndarray::ArrayViewD<'_, f64>],
        txs: &[Option<tapegrad::ndarray::ArrayViewD<'_, f64>>],
    ) -> Option<std::result::Result<Vec<Option<ArrayD<f64>>>, String>> {
        if !GIVEN {
            return None;
        }
        let zero = ArrayD::zeros(xs[0].shape());
        let t0 = txs[0].as_ref().map_or(zero.clone(), |t| t.to_owned());
        let t1 = txs[1].as_ref().map_or(zero, |t| t.to_owned());
        // d(x0 x1) = t0 x1 + x0 t1; a wrong shape when x0 is 0-d, to test the check
        let wrong = xs[0].ndim() == 0;
        let prod = if wrong {
            ArrayD::zeros(vec![2])
        } else {
            &t0 * &xs[1] + &xs[0] * &t1
        };
        Some(Ok(vec![Some(prod), Some(t0 + t1)]))
    }
}

#[test]
fn functions_have_forward_mode_given_or_derived() {
    let x = [
        array![0.5, -1.5, 2.0].into_dyn(),
        array![3.0, 0.25, -1.0].into_dyn(),
    ];
    let v = [
        array![1.0, 2.0, -0.5].into_dyn(),
        array![0.5, 0.0, 4.0].into_dyn(),
    ];
    // (t0 x1 + x0 t1, t0 + t1)
    let want = [&v[0] * &x[1] + &x[0] * &v[1], &v[0] + &v[1]];
    let (_, derived) = jvp(|xs| xs[0].graph().apply(Pair::<false>, xs), &x, &v).unwrap();
    let (_, given) = jvp(|xs| xs[0].graph().apply(Pair::<true>, xs), &x, &v).unwrap();
    for k in 0..2 {
        close(&derived[k], &want[k], 1e-14);
        assert_eq!(given[k], want[k]);
    }
    // forward and reverse Jacobians agree through either
    for mode in [JacobianMode::Forward, JacobianMode::Reverse] {
        let j = jacobian(|xs| xs[0].graph().apply(Pair::<false>, xs), &x, mode).unwrap();
        assert_eq!(
            j[0][0],
            tapegrad::ndarray::Array2::from_diag(&array![3.0, 0.25, -1.0]).into_dyn()
        );
        assert_eq!(
            j[1][1],
            tapegrad::ndarray::Array2::from_diag(&array![1.0, 1.0, 1.0]).into_dyn()
        );
    }
    // a given rule of the wrong shape is an error naming the function
    let s = [
        tapegrad::ndarray::arr0(2.0).into_dyn(),
        tapegrad::ndarray::arr0(3.0).into_dyn(),
    ];
    let e = jvp(|xs| xs[0].graph().apply(Pair::<true>, xs), &s, &s).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { op: "pair", .. }),
        "{e}"
    );
}

#[test]
fn forward_mode_through_convolution_and_functions_of_the_library() {
    use tapegrad::check::jvp_check;
    use tapegrad::nn::functional::conv2d;
    let x = common::values::<f64>(&[2, 2, 5, 4], 0, -1.0, 1.0);
    let w = common::values::<f64>(&[3, 2, 3, 2], 1, -1.0, 1.0);
    jvp_check(
        |xs| conv2d(xs[0], xs[1], None, (2, 1), (1, 0)).tanh(),
        &[x, w],
    )
    .unwrap();
    let a = common::values::<f64>(&[2, 3], 2, -1.0, 1.0);
    let b = common::values::<f64>(&[2, 2], 3, -1.0, 1.0);
    jvp_check(
        |xs| {
            let parts = xs[0].split(&[1, 2], 1);
            tapegrad::concat(&[parts[1].exp(), xs[1] * parts[0]], 1).cumsum(1)
        },
        &[a, b],
    )
    .unwrap();
}

#[test]
fn forward_mode_on_numbers_uses_the_recorded_derivatives() {
    // y = x^3 sin x (all numbers): dy = (3 x^2 sin x + x^3 cos x) dx
    let x = 0.7f64;
    let (ys, ts) = jvp(
        |xs| vec![xs[0].powf(3.0) * xs[0].sin()],
        &[tapegrad::ndarray::arr0(x).into_dyn()],
        &[tapegrad::ndarray::arr0(2.0).into_dyn()],
    )
    .unwrap();
    let want = 2.0 * (3.0 * x * x * x.sin() + x.powi(3) * x.cos());
    assert_eq!(ys[0][[]], x.powi(3) * x.sin());
    assert!((ts[0][[]] - want).abs() < 1e-15, "{} vs {want}", ts[0][[]]);
}
