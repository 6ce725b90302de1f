//! The benchmark workloads on tapegrad and their hand-written floors, shared by
//! `examples/workloads.rs` and `benches/workloads.rs`.

#![allow(dead_code)]

use tapegrad::ndarray::Array1;
use tapegrad::prelude::*;

// ---------------------------------------------------------------------------------------------
// The workloads on tapegrad.

pub fn chain(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let mut y = x;
    for _ in 0..n {
        y = y * 0.999 + x;
    }
    y.backward();
    x.grad().expect("x is used")[[]]
}

pub fn goldstein<'g>(x: Var<'g>, y: Var<'g>) -> Var<'g> {
    (1.0 + (x + y + 1.0).powf(2.0)
        * (19.0 - 14.0 * x + 3.0 * x.powf(2.0) - 14.0 * y + 6.0 * x * y + 3.0 * y.powf(2.0)))
        * (30.0
            + (2.0 * x - 3.0 * y).powf(2.0)
                * (18.0 - 32.0 * x + 12.0 * x.powf(2.0) + 48.0 * y - 36.0 * x * y
                    + 27.0 * y.powf(2.0)))
}

pub fn goldstein_n(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let mut checksum = 0.0;
    for _ in 0..n {
        g.clear();
        let (x, y) = (g.scalar(1.0), g.scalar(1.0));
        goldstein(x, y).backward();
        checksum = x.grad().expect("used")[[]] + y.grad().expect("used")[[]];
    }
    checksum
}

pub fn wide(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let mut terms: Vec<Var<'_>> = (0..n).map(|i| x * i as f64).collect();
    while terms.len() > 1 {
        terms = terms
            .chunks(2)
            .map(|p| if p.len() == 2 { p[0] + p[1] } else { p[0] })
            .collect();
    }
    terms[0].backward();
    x.grad().expect("x is used")[[]]
}

pub fn elem(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let x = g.var(Array1::linspace(-1.0, 1.0, n));
    let y = x * x * 0.5 + x.exp() - x;
    y.backward();
    x.grad().expect("x is used").sum()
}

/// `tanh` as a user would write it with `tapegrad::Function` (d/dx tanh x = 1 - y^2).
struct UserTanh;

impl Function for UserTanh {
    fn name(&self) -> &'static str {
        "user_tanh"
    }
    fn forward(
        &self,
        xs: &[tapegrad::ndarray::ArrayViewD<'_, f64>],
    ) -> Result<Vec<tapegrad::ndarray::ArrayD<f64>>, String> {
        Ok(vec![xs[0].mapv(f64::tanh)])
    }
    fn backward<'g>(
        &self,
        _: &[Var<'g>],
        ys: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> tapegrad::Result<Vec<Option<Var<'g>>>> {
        Ok(vec![Some(gys[0] * (1.0 - ys[0].square()))])
    }
}

/// [`UserTanh`] with the optional fast path on numbers ([`Function::on_numbers`]).
struct UserTanhOnNumbers;

impl Function for UserTanhOnNumbers {
    fn name(&self) -> &'static str {
        "user_tanh"
    }
    fn forward(
        &self,
        xs: &[tapegrad::ndarray::ArrayViewD<'_, f64>],
    ) -> Result<Vec<tapegrad::ndarray::ArrayD<f64>>, String> {
        UserTanh.forward(xs)
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g>],
        ys: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> tapegrad::Result<Vec<Option<Var<'g>>>> {
        UserTanh.backward(xs, ys, gys)
    }
    fn on_numbers(&self, xs: &[f64]) -> Option<(f64, [f64; 2])> {
        let y = xs[0].tanh();
        Some((y, [1.0 - y * y, 0.0]))
    }
}

/// A chain of `n` user-defined `tanh` functions on a number, with the fast path on numbers.
pub fn function(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let mut y = x;
    for _ in 0..n {
        y = g.apply(UserTanhOnNumbers, &[y])[0];
    }
    y.backward();
    x.grad().expect("x is used")[[]]
}

/// The same chain without the fast path: `forward` on 0-d arrays, `backward` on variables.
pub fn function_general(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let mut y = x;
    for _ in 0..n {
        y = g.apply(UserTanh, &[y])[0];
    }
    y.backward();
    x.grad().expect("x is used")[[]]
}

/// The same chain with the built-in `tanh`: the `function` workload's baseline.
pub fn builtin_function(n: usize) -> f64 {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let mut y = x;
    for _ in 0..n {
        y = y.tanh();
    }
    y.backward();
    x.grad().expect("x is used")[[]]
}

/// Recorded ops of each workload (for bytes per op).
pub fn recorded_ops(workload: &str, n: usize) -> usize {
    match workload {
        "chain" => 2 * n,
        "goldstein" => 38,
        "wide" => 2 * n - 1,
        "function" | "function_general" => n,
        _ => 5,
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: a minimal scalar Wengert tape with no generality, and a fused loop for `elem`.

#[derive(Clone, Copy)]
enum FOp {
    Leaf,
    Add(u32, u32),
    Mul(u32, u32),
    MulC(u32, f64),
    AddC(u32),
    Square(u32),
}

#[derive(Default)]
struct FloorTape {
    vals: Vec<f64>,
    ops: Vec<FOp>,
}

impl FloorTape {
    fn push(&mut self, v: f64, op: FOp) -> u32 {
        self.vals.push(v);
        self.ops.push(op);
        (self.vals.len() - 1) as u32
    }
    fn leaf(&mut self, v: f64) -> u32 {
        self.push(v, FOp::Leaf)
    }
    fn add(&mut self, a: u32, b: u32) -> u32 {
        self.push(
            self.vals[a as usize] + self.vals[b as usize],
            FOp::Add(a, b),
        )
    }
    fn mul(&mut self, a: u32, b: u32) -> u32 {
        self.push(
            self.vals[a as usize] * self.vals[b as usize],
            FOp::Mul(a, b),
        )
    }
    fn mulc(&mut self, a: u32, c: f64) -> u32 {
        self.push(self.vals[a as usize] * c, FOp::MulC(a, c))
    }
    fn addc(&mut self, a: u32, c: f64) -> u32 {
        self.push(self.vals[a as usize] + c, FOp::AddC(a))
    }
    fn square(&mut self, a: u32) -> u32 {
        let v = self.vals[a as usize];
        self.push(v * v, FOp::Square(a))
    }
    fn grads(&self, y: u32) -> Vec<f64> {
        let mut g = vec![0.0; self.vals.len()];
        g[y as usize] = 1.0;
        for i in (0..=y as usize).rev() {
            let gy = g[i];
            match self.ops[i] {
                FOp::Leaf => {}
                FOp::Add(a, b) => {
                    g[a as usize] += gy;
                    g[b as usize] += gy;
                }
                FOp::Mul(a, b) => {
                    g[a as usize] += gy * self.vals[b as usize];
                    g[b as usize] += gy * self.vals[a as usize];
                }
                FOp::MulC(a, c) => g[a as usize] += gy * c,
                FOp::AddC(a) => g[a as usize] += gy,
                FOp::Square(a) => g[a as usize] += gy * 2.0 * self.vals[a as usize],
            }
        }
        g
    }
}

pub fn floor_chain(n: usize) -> f64 {
    let mut t = FloorTape::default();
    let x = t.leaf(1.0);
    let mut y = x;
    for _ in 0..n {
        let m = t.mulc(y, 0.999);
        y = t.add(m, x);
    }
    t.grads(y)[x as usize]
}

pub fn floor_goldstein(n: usize) -> f64 {
    let mut t = FloorTape::default();
    let mut checksum = 0.0;
    for _ in 0..n {
        t.vals.clear();
        t.ops.clear();
        let x = t.leaf(1.0);
        let y = t.leaf(1.0);
        // (1 + (x + y + 1)^2 * (19 - 14x + 3x^2 - 14y + 6xy + 3y^2))
        let s = t.add(x, y);
        let s = t.addc(s, 1.0);
        let a2 = t.square(s);
        let m14x = t.mulc(x, -14.0);
        let p = t.addc(m14x, 19.0);
        let x2 = t.square(x);
        let x2_3 = t.mulc(x2, 3.0);
        let p = t.add(p, x2_3);
        let m14y = t.mulc(y, -14.0);
        let p = t.add(p, m14y);
        let x6 = t.mulc(x, 6.0);
        let x6y = t.mul(x6, y);
        let p = t.add(p, x6y);
        let y2 = t.square(y);
        let y2_3 = t.mulc(y2, 3.0);
        let p = t.add(p, y2_3);
        let l = t.mul(a2, p);
        let l = t.addc(l, 1.0);
        // (30 + (2x - 3y)^2 * (18 - 32x + 12x^2 + 48y - 36xy + 27y^2))
        let x2b = t.mulc(x, 2.0);
        let y3 = t.mulc(y, -3.0);
        let d = t.add(x2b, y3);
        let d2 = t.square(d);
        let m32x = t.mulc(x, -32.0);
        let q = t.addc(m32x, 18.0);
        let x2c = t.square(x);
        let x2_12 = t.mulc(x2c, 12.0);
        let q = t.add(q, x2_12);
        let y48 = t.mulc(y, 48.0);
        let q = t.add(q, y48);
        let x36 = t.mulc(x, -36.0);
        let x36y = t.mul(x36, y);
        let q = t.add(q, x36y);
        let y2b = t.square(y);
        let y2_27 = t.mulc(y2b, 27.0);
        let q = t.add(q, y2_27);
        let r = t.mul(d2, q);
        let r = t.addc(r, 30.0);
        let z = t.mul(l, r);
        let g = t.grads(z);
        checksum = g[x as usize] + g[y as usize];
    }
    checksum
}

pub fn floor_wide(n: usize) -> f64 {
    let mut t = FloorTape::default();
    let x = t.leaf(1.0);
    let mut terms: Vec<u32> = (0..n).map(|i| t.mulc(x, i as f64)).collect();
    while terms.len() > 1 {
        terms = terms
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    t.add(p[0], p[1])
                } else {
                    p[0]
                }
            })
            .collect();
    }
    t.grads(terms[0])[x as usize]
}

pub fn floor_elem(n: usize) -> f64 {
    let x = Array1::linspace(-1.0, 1.0, n);
    let mut y = Vec::with_capacity(n);
    let mut gx = Vec::with_capacity(n);
    for &v in &x {
        let e = f64::exp(v);
        y.push(v * v * 0.5 + e - v);
        gx.push(v + e - 1.0); // d/dx (x^2/2 + e^x - x)
    }
    std::hint::black_box(&y);
    Array1::from(gx).sum() // ndarray's summation, as the engine's checksum uses
}

/// Runs one workload (`floor` picks the hand-written baseline) and returns its checksum.
pub fn run(workload: &str, floor: bool, n: usize) -> Option<f64> {
    Some(match (workload, floor) {
        ("chain", false) => chain(n),
        ("chain", true) => floor_chain(n),
        ("goldstein", false) => goldstein_n(n),
        ("goldstein", true) => floor_goldstein(n),
        ("wide", false) => wide(n),
        ("wide", true) => floor_wide(n),
        ("elem", false) => elem(n),
        ("elem", true) => floor_elem(n),
        // (the baseline of a user function is the built-in op it mirrors)
        ("function", false) => function(n),
        ("function", true) | ("function_general", true) => builtin_function(n),
        ("function_general", false) => function_general(n),
        _ => return None,
    })
}
