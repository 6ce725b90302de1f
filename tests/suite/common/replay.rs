//! Shared by tests/suite/torch_graphs.rs and tests/suite/torch_func.rs: replays the op programs that
//! tools/torch_graphs.py writes, and compares with PyTorch's numbers.
#![allow(dead_code)]

use std::collections::HashMap;

use tapegrad::ndarray::ArrayD;
use tapegrad::nn::functional::{
    binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, layer_norm, nll_loss,
    normalize,
};
use tapegrad::prelude::*;

pub const RTOL: f64 = 1e-9;

pub fn shape(s: &str) -> Vec<usize> {
    if s == "-" { vec![] } else { list(s) }
}

pub fn list<T: std::str::FromStr>(s: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    s.split(',').map(|v| v.parse().unwrap()).collect()
}

pub fn numbers(s: &str) -> Vec<f64> {
    s.split_whitespace().map(|v| v.parse().unwrap()).collect()
}

/// `a` equals PyTorch's `b` to `RTOL` relative (to the larger of the element and 1e-3 of the
/// array's largest magnitude, so that values that cancel to nearly 0 are judged at their scale).
pub fn assert_close(what: &str, a: &ArrayD<f64>, b: &[f64], graph: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{graph}: {what} has {} values, PyTorch {}",
        a.len(),
        b.len()
    );
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())) * 1e-3;
    for (i, (&p, &q)) in a.iter().zip(b).enumerate() {
        let tol = RTOL * q.abs().max(scale).max(1e-5); // an absolute floor of 1e-14
        assert!(
            (p - q).abs() <= tol,
            "{graph}: {what}[{i}] = {p}, PyTorch {q}"
        );
    }
}

/// One graph's program, replayed on `g`.
pub struct Replay<'g> {
    pub vars: HashMap<String, Var<'g>>,
    pub masks: HashMap<String, ArrayD<bool>>,
    pub indices: HashMap<String, ArrayD<usize>>,
}

impl<'g> Replay<'g> {
    pub fn var(&self, name: &str) -> Var<'g> {
        self.vars[name]
    }

    pub fn op(&self, name: &str, args: &[&str]) -> Var<'g> {
        let (pos, kw): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| !a.contains('='));
        let kw: HashMap<&str, &str> = kw.iter().map(|a| a.split_once('=').unwrap()).collect();
        let x = || self.var(pos[0]);
        let y = || self.var(pos[1]);
        let c = || kw["c"].parse::<f64>().unwrap();
        let axis = || kw["axis"].parse::<usize>().unwrap();
        let axes = || list::<usize>(kw["axes"]);
        let keep = || kw["keep"] == "1";
        match name {
            "sin" => x().sin(),
            "cos" => x().cos(),
            "tanh" => x().tanh(),
            "sigmoid" => x().sigmoid(),
            "softplus" => x().softplus(),
            "gelu" => x().gelu(),
            "silu" => x().silu(),
            "erf" => x().erf(),
            "atan" => x().atan(),
            "log_sigmoid" => x().log_sigmoid(),
            "square" => x().square(),
            "neg" => -x(),
            "abs" => x().abs(),
            "relu" => x().relu(),
            "floor" => x().floor(),
            "round" => x().round(),
            "sinh" => x().sinh(),
            "expm1" => x().expm1(),
            "exp" => x().exp(),
            "log" => x().log(),
            "sqrt" => x().sqrt(),
            "rsqrt" => x().rsqrt(),
            "reciprocal" => x().reciprocal(),
            "log1p" => x().log1p(),
            "leaky_relu" => x().leaky_relu(c()),
            "elu" => x().elu(c()),
            "add_scalar" => x() + c(),
            "powf" => x().powf(c()),
            "add" => x() + y(),
            "sub" => x() - y(),
            "mul" => x() * y(),
            "div" => x() / y(),
            "maximum" => x().maximum(y()),
            "minimum" => x().minimum(y()),
            "atan2" => x().atan2(y()),
            "pow" => x().pow(y()),
            "sum" => x().sum(),
            "sum_axes" => x().sum_axes(&axes(), keep()),
            "mean_axes" => x().mean_axes(&axes(), keep()),
            "var_axes" => x().var_axes(&axes(), keep(), kw["corr"].parse().unwrap()),
            "std_axes" => x().std_axes(&axes(), keep(), kw["corr"].parse().unwrap()),
            "logsumexp" => x().logsumexp(&axes(), keep()),
            "prod_axes" => x().prod_axes(&axes(), keep()),
            "norm" => x().norm(),
            "norm_axes" => x().norm_axes(c(), &axes(), keep()),
            "cumsum" => x().cumsum(axis()),
            "max" => x().max(),
            "min" => x().min(),
            "softmax" => x().softmax(axis()),
            "log_softmax" => x().log_softmax(axis()),
            "max_axis" => x().max_axis(axis(), keep()),
            "transpose" => x().transpose(),
            "permute" => x().permute(&axes()),
            "flatten" => x().flatten(),
            "squeeze" => x().squeeze(axis()),
            "unsqueeze" => x().unsqueeze(axis()),
            "flip" => x().flip(axis()),
            "repeat" => x().repeat(&list::<usize>(kw["reps"])),
            "expand" => x().expand(&list::<usize>(kw["shape"])),
            "pad" => {
                let widths: Vec<(usize, usize)> = (kw["widths"].split(';'))
                    .map(|p| {
                        let v = list::<usize>(p);
                        (v[0], v[1])
                    })
                    .collect();
                x().pad(&widths, c())
            }
            "tril" => x().tril(kw["k"].parse().unwrap()),
            "triu" => x().triu(kw["k"].parse().unwrap()),
            "where" => tapegrad::where_(&self.masks[pos[0]], self.var(pos[1]), self.var(pos[2])),
            "masked_fill" => x().masked_fill(&self.masks[kw["mask"]], c()),
            "gather" => x().gather(axis(), &self.indices[kw["index"]]),
            "index_select" => x().index_select(axis(), &list::<usize>(kw["idx"])),
            "matmul" => x().matmul(y()),
            "dot" => x().dot(y()),
            "outer" => x().outer(y()),
            "einsum" => {
                let operands: Vec<Var> = pos.iter().map(|p| self.var(p)).collect();
                tapegrad::einsum(kw["spec"], &operands)
            }
            "layer_norm" => {
                let last = *x().shape().last().unwrap();
                layer_norm(x(), &[last], None, None, 1e-5)
            }
            "normalize" => normalize(x(), 2.0, axis(), 1e-12),
            "cross_entropy" => cross_entropy(x(), &list::<usize>(kw["labels"]), c()),
            "nll_loss" => nll_loss(x(), &list::<usize>(kw["labels"])),
            "bce" => {
                let t = self.masks[kw["mask"]].mapv(|b| if b { 1.0 } else { 0.0 });
                binary_cross_entropy_with_logits(x(), &t)
            }
            "huber" => huber_loss(x(), y(), c()),
            "l1" => l1_loss(x(), y()),
            "ceil" => x().ceil(),
            "clamp" => x().clamp(kw["lo"].parse().unwrap(), kw["hi"].parse().unwrap()),
            "scatter_add" => x().scatter_add(axis(), &self.indices[kw["index"]], y()),
            other => panic!("unknown op {other}"),
        }
    }
}
