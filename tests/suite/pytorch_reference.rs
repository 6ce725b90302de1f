//! The new elementwise ops against PyTorch float64: values, first and second derivatives at
//! points across each domain (tiny arguments of `log1p`/`expm1` included), and the ops with a
//! kink at it (the subgradient PyTorch picks: `clamp` 0 at its bounds, `leaky_relu` and `elu`
//! their slope at 0), from `tests/data/pytorch_elementwise.txt`, written by
//! `tools/pytorch_reference.py`.

use tapegrad::ndarray::ArrayD;
use tapegrad::prelude::*;

const TABLE: &str = include_str!("../data/pytorch_elementwise.txt");

fn apply<'g>(op: &str, x: Var<'g>) -> Var<'g> {
    match op {
        "atan" => x.atan(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "log1p" => x.log1p(),
        "expm1" => x.expm1(),
        other => panic!("no op {other} in the table's test"),
    }
}

/// Equal to a few ulps of the larger magnitude (PyTorch and Rust's libm may differ in the last
/// bits).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

fn kinked<'g>(op: &str, x: Var<'g>) -> Var<'g> {
    match op {
        "clamp_m1_1" => x.clamp(-1.0, 1.0),
        "clamp_min0" => x.clamp(0.0, f64::INFINITY),
        "relu" => x.relu(),
        "abs" => x.abs(),
        "leaky_relu_0.5" => x.leaky_relu(0.5),
        "elu_2" => x.elu(2.0),
        "round" => x.round(),
        other => panic!("no op {other} in the table's kinks"),
    }
}

#[test]
fn new_elementwise_ops_match_pytorch() {
    let mut rows = 0;
    let rows_of_kinks = |l: &&str| !l.starts_with('#') && !l.starts_with("kink ");
    for line in TABLE.lines().filter(rows_of_kinks) {
        let mut fields = line.split_whitespace();
        let op = fields.next().expect("an op name");
        let v: Vec<f64> = fields.map(|f| f.parse().expect("a number")).collect();
        let (x0, y, dy, d2y) = (v[0], v[1], v[2], v[3]);
        let g: Graph = Graph::new();
        let x = g.var(ArrayD::from_elem(vec![1], x0));
        let out = apply(op, x);
        let first = tapegrad::grad(&[out], &[x], true)[0];
        let second = tapegrad::grad(&[first], &[x], false)[0];
        let got = [out.data()[0], first.data()[0], second.data()[0]];
        for (what, (g, want)) in ["value", "first derivative", "second derivative"]
            .iter()
            .zip(got.iter().zip([y, dy, d2y]))
        {
            assert!(close(*g, want), "{op}({x0}), {what}: {g} vs PyTorch {want}");
        }
        rows += 1;
    }
    assert_eq!(rows, 37, "every row of the table was checked");
}

/// At a kink the derivative is a choice: PyTorch's, on scalars and arrays, through the scalar
/// sweep and the general one (the value and first derivative; the rows of `kink` in the table).
#[test]
fn kinks_take_pytorchs_subgradient() {
    let mut rows = 0;
    for line in TABLE.lines().filter(|l| l.starts_with("kink ")) {
        let mut fields = line.split_whitespace().skip(1);
        let op = fields.next().expect("an op name");
        let v: Vec<f64> = fields.map(|f| f.parse().expect("a number")).collect();
        let (x0, y, dy) = (v[0], v[1], v[2]);
        let g: Graph = Graph::new();
        for x in [g.scalar(x0), g.var(ArrayD::from_elem(vec![2], x0))] {
            let out = kinked(op, x);
            out.sum().backward();
            let (value, grad) = (out.data(), x.grad().expect("a gradient"));
            for (what, got, want) in [("value", value, y), ("derivative", grad, dy)] {
                assert!(
                    got.iter().all(|&got| close(got, want)),
                    "{op}({x0}), {what}: {got} vs PyTorch {want}"
                );
            }
        }
        rows += 1;
    }
    assert_eq!(rows, 29, "every kink of the table was checked");
}
