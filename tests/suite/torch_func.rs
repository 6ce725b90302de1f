//! jvp, jacobian (reverse and forward) and hessian of 60 random tensor functions against
//! torch.func in float64, to 1e-9 relative: tests/data/torch_func.txt, written by
//! tools/torch_func.py (so CI needs no Python). Each function returns its last op's result and
//! the sum of all its ops' results.

use crate::replay;

use std::collections::HashMap;

use replay::{Replay, assert_close, numbers, shape};
use tapegrad::ndarray::{ArrayD, IxDyn};
use tapegrad::prelude::*;
use tapegrad::{JacobianMode, hessian, jacobian, jvp};

const DATA: &str = include_str!("../data/torch_func.txt");

/// A parsed function: its ops (result name, op name, arguments) and constant data.
struct Program<'a> {
    ops: Vec<(&'a str, &'a str, Vec<&'a str>)>,
    masks: HashMap<String, ArrayD<bool>>,
    indices: HashMap<String, ArrayD<usize>>,
}

impl Program<'_> {
    /// The function on `xs`: its last op's result and the sum of all results.
    fn run<'g>(&self, xs: &[Var<'g>]) -> Vec<Var<'g>> {
        let mut r = Replay {
            vars: HashMap::new(),
            masks: self.masks.clone(),
            indices: self.indices.clone(),
        };
        for (k, &x) in xs.iter().enumerate() {
            r.vars.insert(format!("x{k}"), x);
        }
        let mut results = Vec::new();
        for (dst, name, args) in &self.ops {
            let y = r.op(name, args);
            r.vars.insert(dst.to_string(), y);
            results.push(y);
        }
        let loss = results
            .iter()
            .map(|v| v.sum())
            .reduce(|a, b| a + b)
            .unwrap();
        vec![*results.last().unwrap(), loss]
    }
}

fn check_function(block: &str) {
    let title = block.lines().next().unwrap().to_owned();
    let mut p = Program {
        ops: Vec::new(),
        masks: HashMap::new(),
        indices: HashMap::new(),
    };
    let (mut x, mut w) = (Vec::new(), Vec::new());
    let mut want: HashMap<String, Vec<f64>> = HashMap::new();
    for line in block.lines().skip(1) {
        let (head, data) = line.split_once(" : ").unwrap_or((line, ""));
        let words: Vec<&str> = head.split_whitespace().collect();
        let array = |s: &str| ArrayD::from_shape_vec(IxDyn(&shape(s)), numbers(data)).unwrap();
        match words[0] {
            "input" => x.push(array(words[2])),
            "weight" => w.push(array(words[2])),
            "mask" => {
                let m = numbers(data).iter().map(|&v| v != 0.0).collect();
                let m = ArrayD::from_shape_vec(IxDyn(&shape(words[2])), m).unwrap();
                p.masks.insert(words[1].to_owned(), m);
            }
            "index" => {
                let i = numbers(data).iter().map(|&v| v as usize).collect();
                let i = ArrayD::from_shape_vec(IxDyn(&shape(words[2])), i).unwrap();
                p.indices.insert(words[1].to_owned(), i);
            }
            "op" => p.ops.push((words[1], words[2], words[3..].to_vec())),
            _ => drop(want.insert(head.to_owned(), numbers(data))),
        }
    }
    let (_, tangents) = jvp(|xs| p.run(xs), &x, &w).unwrap();
    for (i, t) in tangents.iter().enumerate() {
        assert_close(&format!("jvp y{i}"), t, &want[&format!("jvp y{i}")], &title);
    }
    let rev = jacobian(|xs| p.run(xs), &x, JacobianMode::Reverse).unwrap();
    let fwd = jacobian(|xs| p.run(xs), &x, JacobianMode::Forward).unwrap();
    for i in 0..2 {
        for j in 0..x.len() {
            let key = format!("jac y{i} x{j}");
            assert_close(&format!("{key} (reverse)"), &rev[i][j], &want[&key], &title);
            assert_close(&format!("{key} (forward)"), &fwd[i][j], &want[&key], &title);
        }
    }
    let h = hessian(|xs| vec![p.run(xs)[1]], &x).unwrap();
    for (i, row) in h.iter().enumerate() {
        for (j, block) in row.iter().enumerate() {
            let key = format!("hess x{i} x{j}");
            assert_close(&key, block, &want[&key], &title);
        }
    }
}

#[test]
fn transforms_agree_with_torch_func() {
    let body = DATA.split_once('\n').map_or("", |(_comment, rest)| rest);
    let blocks: Vec<&str> = body
        .split("end\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    assert_eq!(blocks.len(), 60);
    for block in blocks {
        check_function(block);
    }
}
