//! Levenberg-Marquardt with `tapegrad::jacobian`: fits `y = a e^(-b t) + c` to 40 noisy samples
//! of a decay (a = 5, b = 1.3, c = 0.5), printing each iteration's residual norm; then checks
//! the fit's curvature with `tapegrad::hessian` and a directional derivative with `jvp`.
//!
//!     cargo run --release --example jacobian

use tapegrad::ndarray::{Array1, Array2, ArrayD, array};
use tapegrad::prelude::*;
use tapegrad::{JacobianMode, hessian, jacobian, jvp};

const N: usize = 40;

/// The sample times and the noisy observations (a fixed pseudo-random noise of +-0.05).
fn data() -> (Array1<f64>, Array1<f64>) {
    let t = Array1::from_shape_fn(N, |i| i as f64 * 0.1);
    let mut state: u64 = 42;
    let y = t.mapv(|t| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.1;
        5.0 * (-1.3 * t).exp() + 0.5 + noise
    });
    (t, y)
}

/// The residuals `a e^(-b t) + c - y` of the parameters `theta = [a, b, c]`.
fn residuals<'g>(theta: Var<'g>, t: &Array1<f64>, y: &Array1<f64>) -> Var<'g> {
    let g = theta.graph();
    let (a, b, c) = (
        theta.select(0, &[0]),
        theta.select(0, &[1]),
        theta.select(0, &[2]),
    );
    let decay = (-(b * g.constant(t.clone()))).exp();
    a * decay + c - y.clone()
}

/// Solves the 3 x 3 system `m x = r` by Gaussian elimination with partial pivoting.
fn solve(mut m: Array2<f64>, mut r: Array1<f64>) -> Array1<f64> {
    let n = r.len();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m[[i, k]].abs().total_cmp(&m[[j, k]].abs()))
            .unwrap();
        for j in 0..n {
            m.swap([k, j], [p, j]);
        }
        r.swap(k, p);
        for i in k + 1..n {
            let f = m[[i, k]] / m[[k, k]];
            for j in k..n {
                m[[i, j]] -= f * m[[k, j]];
            }
            r[i] -= f * r[k];
        }
    }
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|j| m[[k, j]] * r[j]).sum();
        r[k] = (r[k] - s) / m[[k, k]];
    }
    r
}

fn main() {
    let (t, y) = data();
    let mut theta = array![1.0, 0.5, 0.0];
    let mut lambda = 1e-2;
    let cost = |theta: &Array1<f64>| {
        let g: Graph = Graph::new();
        residuals(g.var(theta.clone()), &t, &y)
            .square()
            .sum()
            .item()
    };
    println!("Levenberg-Marquardt, y = a exp(-b t) + c, {N} samples");
    println!("iter  |r|          a        b        c        lambda");
    for iter in 0..30 {
        // J (40 x 3) by columns: three inputs, forward mode needs three sweeps
        let x = [theta.clone().into_dyn()];
        let jac = jacobian(
            |xs| vec![residuals(xs[0], &t, &y)],
            &x,
            JacobianMode::Forward,
        )
        .unwrap();
        let j = jac[0][0].clone().into_shape_with_order((N, 3)).unwrap();
        let g: Graph = Graph::new();
        let r = residuals(g.var(theta.clone()), &t, &y).data();
        let r = r.into_shape_with_order(N).unwrap();
        let norm = r.dot(&r).sqrt();
        println!(
            "{iter:>4}  {norm:<11.6} {:>8.5} {:>8.5} {:>8.5} {lambda:>8.1e}",
            theta[0], theta[1], theta[2]
        );
        // (J^T J + lambda diag(J^T J)) delta = -J^T r
        let jtj = j.t().dot(&j);
        let mut m = jtj.clone();
        for k in 0..3 {
            m[[k, k]] += lambda * jtj[[k, k]];
        }
        let delta = solve(m, -j.t().dot(&r));
        let next = &theta + &delta;
        if cost(&next) < norm * norm {
            theta = next;
            lambda = (lambda / 3.0).max(1e-9);
        } else {
            lambda *= 4.0;
        }
        if delta.dot(&delta).sqrt() < 1e-10 {
            break;
        }
    }
    println!(
        "fit: a = {:.4}, b = {:.4}, c = {:.4} (data made with 5, 1.3, 0.5)",
        theta[0], theta[1], theta[2]
    );

    // the curvature of the cost at the fit: positive definite at a minimum
    let x: [ArrayD<f64>; 1] = [theta.clone().into_dyn()];
    let h = hessian(|xs| vec![residuals(xs[0], &t, &y).square().sum()], &x).unwrap();
    println!(
        "Hessian of the squared residuals at the fit:\n{:.3}",
        h[0][0]
    );
    // a directional derivative of the cost: 0 at a minimum, in every direction
    let v = [array![1.0, 1.0, 1.0].into_dyn()];
    let (c, dc) = jvp(|xs| vec![residuals(xs[0], &t, &y).square().sum()], &x, &v).unwrap();
    println!(
        "cost {:.6}, its derivative along (1, 1, 1): {:.2e}",
        c[0][[]],
        dc[0][[]]
    );
    assert!(dc[0][[]].abs() < 1e-6 && h[0][0][[0, 0]] > 0.0);
}
