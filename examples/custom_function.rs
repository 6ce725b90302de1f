//! Your own differentiable functions: implement `tapegrad::Function` (a forward on arrays, a
//! backward written once with `Var` ops), record it with `g.apply`, and check it.
//!
//! ```text
//! cargo run --example custom_function
//! ```
//! Two functions a user would want and tapegrad does not have as ops: a numerically stable
//! `logsumexp` over the last axis (naive `x.exp().sum().log()` overflows at x = 1000), and
//! `normalize`, with two outputs: `x / |x|` and the norm `|x|` of a vector. Each is checked
//! against central differences at first order (`gradient_check`) and second order
//! (`gradgrad_check`), and used in a graph.

use tapegrad::Result;
use tapegrad::check::{gradgrad_check, gradient_check};
use tapegrad::ndarray::{ArrayD, ArrayViewD, Axis, array};
use tapegrad::prelude::*;

/// `log(sum(exp(x)))` over the last axis, computed as `m + log(sum(exp(x - m)))` with `m` the
/// maximum, so that it never overflows. Its gradient is `softmax(x) = exp(x - y)`.
struct LogSumExp;

impl Function for LogSumExp {
    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        let x = &xs[0];
        let last = x
            .ndim()
            .checked_sub(1)
            .ok_or("a 0-d input has no last axis")?;
        let y = x.map_axis(Axis(last), |row| {
            let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            m + row.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
        });
        Ok(vec![y])
    }

    // d/dx_i logsumexp(x) = exp(x_i - y): softmax, written with ops so it differentiates again
    fn backward<'g>(
        &self,
        xs: &[Var<'g>],
        ys: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> Result<Vec<Option<Var<'g>>>> {
        let mut kept = ys[0].shape();
        kept.push(1); // y and gy with the summed axis back, to broadcast against x
        let y = ys[0].try_reshape(&kept)?;
        let gy = gys[0].try_reshape(&kept)?;
        Ok(vec![Some(gy * (xs[0] - y).exp())])
    }
}

/// A vector's direction and length: `(x / |x|, |x|)`. Two outputs, from one computation.
struct Normalize;

impl Function for Normalize {
    fn name(&self) -> &'static str {
        "normalize"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        let x = &xs[0];
        if x.ndim() != 1 {
            return Err(format!("takes a vector, not a {}-d array", x.ndim()));
        }
        let norm = x.dot_norm();
        if norm == 0.0 {
            return Err("the zero vector has no direction".into());
        }
        Ok(vec![x.mapv(|v| v / norm), ndarray_scalar(norm)])
    }

    // u = x / r, r = |x|: dr/dx = u; du/dx = (I - u u^T) / r, so
    // gx = (gu - (gu . u) u) / r + gr u
    fn backward<'g>(
        &self,
        _xs: &[Var<'g>],
        ys: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> Result<Vec<Option<Var<'g>>>> {
        let (u, r) = (ys[0], ys[1]);
        let (gu, gr) = (gys[0], gys[1]);
        let along = (gu * u).sum();
        let gx = (gu - along * u) / r + gr * u;
        Ok(vec![Some(gx)])
    }
}

/// `|x|` of a vector, for the forward.
trait DotNorm {
    fn dot_norm(&self) -> f64;
}

impl DotNorm for ArrayViewD<'_, f64> {
    fn dot_norm(&self) -> f64 {
        self.iter().map(|v| v * v).sum::<f64>().sqrt()
    }
}

fn ndarray_scalar(v: f64) -> ArrayD<f64> {
    tapegrad::ndarray::arr0(v).into_dyn()
}

fn main() {
    // logsumexp: where the naive formula overflows, the function does not.
    let g: Graph = Graph::new();
    let x = g.var(array![[1000.0, 1000.0], [0.0, 2f64.ln()]]);
    let y = g.apply(LogSumExp, &[x])[0];
    let naive = x.exp().sum_axes(&[1], false).log();
    y.sum().backward();
    println!("logsumexp([[1000, 1000], [0, ln 2]]) = {}", y.data());
    println!("  naive log(sum(exp(x)))          = {}", naive.data());
    println!("  gradient (softmax of each row)  = {}", x.grad().unwrap());

    let inputs = [array![[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]].into_dyn()];
    report(
        "logsumexp",
        gradient_check(lse, &inputs),
        gradgrad_check(lse, &inputs),
    );

    // normalize: two outputs, either or both used.
    let v = g.var(array![3.0, 4.0]);
    let outs = g.apply(Normalize, &[v]);
    println!(
        "normalize([3, 4]) = ({}, {})",
        outs[0].data(),
        outs[1].data()
    );
    let e = g
        .try_apply(Normalize, &[g.var(array![0.0, 0.0])])
        .unwrap_err();
    println!("normalize([0, 0]) -> error: {e}");

    let inputs = [array![0.8, -0.6, 1.5].into_dyn()];
    report(
        "normalize, both outputs",
        gradient_check(both, &inputs),
        gradgrad_check(both, &inputs),
    );
    report(
        "normalize, length only",
        gradient_check(length_only, &inputs),
        gradgrad_check(length_only, &inputs),
    );
}

/// The functions checked: logsumexp of a matrix's rows, summed.
fn lse<'g>(xs: &[Var<'g>]) -> Var<'g> {
    xs[0].graph().apply(LogSumExp, xs)[0].sum()
}

/// Both outputs of `normalize`, weighted.
fn both<'g>(xs: &[Var<'g>]) -> Var<'g> {
    let outs = xs[0].graph().apply(Normalize, xs);
    (outs[0] * array![1.0, 2.0, 3.0].into_dyn()).sum() * outs[1]
}

/// Only the length (the direction's gradient never arrives: zeros).
fn length_only<'g>(xs: &[Var<'g>]) -> Var<'g> {
    xs[0].graph().apply(Normalize, xs)[1].square()
}

/// Prints both checks' outcomes; a failure ends the program with status 1.
fn report<E: std::fmt::Display>(name: &str, first: Result<(), E>, second: Result<(), E>) {
    let failed = first.is_err() || second.is_err();
    let say = |r: Result<(), E>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("FAILED ({e})"),
    };
    println!(
        "{name}: first-order gradient check {}, second-order {}",
        say(first),
        say(second)
    );
    if failed {
        std::process::exit(1);
    }
}
