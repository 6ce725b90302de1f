//! 240 random graphs over the tensor ops, old and new together, replayed from
//! tests/data/torch_graphs.txt (written by tools/torch_graphs.py with PyTorch float64): every
//! op's value, the loss, first-order gradients and second-order gradients must agree to 1e-9
//! relative.

use std::collections::HashMap;

use tapegrad::ndarray::{ArrayD, IxDyn};
use tapegrad::nn::functional::{
    binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, layer_norm, nll_loss,
    normalize,
};
use tapegrad::prelude::*;

const DATA: &str = include_str!("data/torch_graphs.txt");
const RTOL: f64 = 1e-9;

fn shape(s: &str) -> Vec<usize> {
    if s == "-" { vec![] } else { list(s) }
}

fn list<T: std::str::FromStr>(s: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    s.split(',').map(|v| v.parse().unwrap()).collect()
}

fn numbers(s: &str) -> Vec<f64> {
    s.split_whitespace().map(|v| v.parse().unwrap()).collect()
}

/// `a` equals PyTorch's `b` to `RTOL` relative (to the larger of the element and 1e-3 of the
/// array's largest magnitude, so that values that cancel to nearly 0 are judged at their scale).
fn assert_close(what: &str, a: &ArrayD<f64>, b: &[f64], graph: &str) {
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
struct Replay<'g> {
    g: &'g Graph,
    vars: HashMap<String, Var<'g>>,
    masks: HashMap<String, ArrayD<bool>>,
    indices: HashMap<String, ArrayD<usize>>,
}

impl<'g> Replay<'g> {
    fn var(&self, name: &str) -> Var<'g> {
        self.vars[name]
    }

    fn op(&self, name: &str, args: &[&str]) -> Var<'g> {
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

/// Replays one graph block and checks it.
fn check_graph(block: &str) {
    let title = block.lines().next().unwrap().to_owned();
    let g: Graph = Graph::new();
    let mut r = Replay {
        g: &g,
        vars: HashMap::new(),
        masks: HashMap::new(),
        indices: HashMap::new(),
    };
    let (mut inputs, mut weights, mut results) = (Vec::new(), Vec::new(), Vec::new());
    let (mut loss, mut grads, mut grads2) = (None, HashMap::new(), HashMap::new());
    for line in block.lines().skip(1) {
        let (head, data) = line.split_once(" : ").unwrap_or((line, ""));
        let words: Vec<&str> = head.split_whitespace().collect();
        let array = |s: &str| ArrayD::from_shape_vec(IxDyn(&shape(s)), numbers(data)).unwrap();
        match words[0] {
            "input" => {
                let x = r.g.var(array(words[2]));
                r.vars.insert(words[1].to_owned(), x);
                inputs.push(x);
            }
            "weight" => weights.push(array(words[2])),
            "mask" => {
                let m = numbers(data).iter().map(|&v| v != 0.0).collect();
                let m = ArrayD::from_shape_vec(IxDyn(&shape(words[2])), m).unwrap();
                r.masks.insert(words[1].to_owned(), m);
            }
            "index" => {
                let i = numbers(data).iter().map(|&v| v as usize).collect();
                let i = ArrayD::from_shape_vec(IxDyn(&shape(words[2])), i).unwrap();
                r.indices.insert(words[1].to_owned(), i);
            }
            "op" => {
                let y = r.op(words[2], &words[3..]);
                r.vars.insert(words[1].to_owned(), y);
                results.push(y);
            }
            "value" => {
                let what = format!("{} ({})", words[1], title);
                assert_close(&what, &r.var(words[1]).data(), &numbers(data), &title);
            }
            "loss" => loss = Some(words[1].parse::<f64>().unwrap()),
            "grad" => drop(grads.insert(words[1].to_owned(), numbers(data))),
            "grad2" => drop(grads2.insert(words[1].to_owned(), numbers(data))),
            other => panic!("{title}: unknown line {other}"),
        }
    }
    // the loss: every op's result summed; its gradients with create_graph, then the second order
    let total = results
        .iter()
        .map(|v| v.sum())
        .reduce(|a, b| a + b)
        .unwrap();
    assert_close("loss", &total.data(), &[loss.unwrap()], &title);
    let gs = tapegrad::grad(&[total], &inputs, true);
    for (k, gx) in gs.iter().enumerate() {
        assert_close(
            &format!("grad x{k}"),
            &gx.data(),
            &grads[&format!("x{k}")],
            &title,
        );
    }
    let s = (gs.iter().zip(&weights))
        .map(|(gx, w)| (*gx * w.clone()).sum())
        .reduce(|a, b| a + b)
        .unwrap();
    let g2 = tapegrad::grad(&[s], &inputs, false);
    for (k, gx) in g2.iter().enumerate() {
        assert_close(
            &format!("grad2 x{k}"),
            &gx.data(),
            &grads2[&format!("x{k}")],
            &title,
        );
    }
}

#[test]
fn random_graphs_agree_with_pytorch() {
    let body = DATA.split_once('\n').map_or("", |(_comment, rest)| rest);
    let blocks: Vec<&str> = body
        .split("end\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    assert_eq!(blocks.len(), 240);
    for block in blocks {
        check_graph(block);
    }
}
