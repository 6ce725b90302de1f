//! 240 random graphs over the tensor ops, old and new together, replayed from
//! tests/data/torch_graphs.txt (written by tools/torch_graphs.py with PyTorch float64): every
//! op's value, the loss, first-order gradients and second-order gradients must agree to 1e-9
//! relative.

use crate::replay;

use std::collections::HashMap;

use replay::{Replay, assert_close, numbers, shape};
use tapegrad::ndarray::{ArrayD, IxDyn};
use tapegrad::prelude::*;

const DATA: &str = include_str!("../data/torch_graphs.txt");

/// Replays one graph block and checks it.
fn check_graph(block: &str) {
    let title = block.lines().next().unwrap().to_owned();
    let g: Graph = Graph::new();
    let mut r = Replay {
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
                let x = g.var(array(words[2]));
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
