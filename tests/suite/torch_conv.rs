//! conv2d, conv_transpose2d, max_pool2d, avg_pool2d, im2col and col2im against PyTorch float64
//! on 30 shape/kernel/stride/pad combinations each (tests/data/torch_conv.txt, written by
//! tools/torch_conv.py): values, first- and second-order gradients to 1e-9 relative.

use crate::replay;

use replay::{assert_close, list, numbers, shape};
use tapegrad::ndarray::{ArrayD, IxDyn};
use tapegrad::nn::functional::{avg_pool2d, col2im, conv_transpose2d, conv2d, im2col, max_pool2d};
use tapegrad::prelude::*;

const DATA: &str = include_str!("../data/torch_conv.txt");

fn pair(s: &str) -> (usize, usize) {
    let v = list::<usize>(s);
    (v[0], v[1])
}

fn check_case(block: &str) {
    let title = block.lines().next().unwrap().to_owned();
    let words: Vec<&str> = title.split_whitespace().collect();
    let param = |key: &str| {
        let w = words.iter().find(|w| w.starts_with(key)).unwrap();
        pair(&w[key.len()..])
    };
    let (k, s, p) = (param("k="), param("s="), param("p="));
    let g: Graph = Graph::new();
    let (mut xs, mut vs, mut out) = (Vec::new(), Vec::new(), None);
    let (mut value, mut grads, mut grads2) = (None, Vec::new(), Vec::new());
    for line in block.lines().skip(1) {
        let (head, data) = line.split_once(" : ").unwrap();
        let w: Vec<&str> = head.split_whitespace().collect();
        let array = |s: &str| ArrayD::from_shape_vec(IxDyn(&shape(s)), numbers(data)).unwrap();
        match w[0] {
            "input" => xs.push(g.var(array(w[2]))),
            "weight" => vs.push(array(w[2])),
            "out" => out = Some(array(w[1])),
            "value" => value = Some(numbers(data)),
            "grad" => grads.push(numbers(data)),
            "grad2" => grads2.push(numbers(data)),
            other => panic!("{title}: unknown line {other}"),
        }
    }
    let y = match words[1] {
        "im2col" => im2col(xs[0], k, s, p),
        "col2im" => col2im(xs[0], param("size="), k, s, p),
        "conv2d" => conv2d(xs[0], xs[1], Some(xs[2]), s, p),
        "conv_transpose2d" => conv_transpose2d(xs[0], xs[1], Some(xs[2]), s, p),
        "max_pool2d" => max_pool2d(xs[0], k, s, p),
        "avg_pool2d" => avg_pool2d(xs[0], k, s, p),
        other => panic!("unknown op {other}"),
    };
    assert_close("value", &y.data(), &value.unwrap(), &title);
    let loss = (y * out.unwrap()).sum();
    let gs = tapegrad::grad(&[loss], &xs, true);
    for (i, gx) in gs.iter().enumerate() {
        assert_close(&format!("grad x{i}"), &gx.data(), &grads[i], &title);
    }
    let sec = (gs.iter().zip(&vs))
        .map(|(gx, v)| (*gx * v.clone()).sum())
        .reduce(|a, b| a + b)
        .unwrap();
    for (i, gx) in tapegrad::grad(&[sec], &xs, false).iter().enumerate() {
        assert_close(&format!("grad2 x{i}"), &gx.data(), &grads2[i], &title);
    }
}

#[test]
fn convolutions_and_pooling_agree_with_pytorch() {
    let body = DATA.split_once('\n').map_or("", |(_comment, rest)| rest);
    let blocks: Vec<&str> = body
        .split("end\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    assert_eq!(blocks.len(), 180);
    for block in blocks {
        check_case(block);
    }
}
