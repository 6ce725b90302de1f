//! The graph of the n-th derivative of tanh (DeZero step 35), written as Graphviz DOT and, when
//! Graphviz is installed, rendered to PNG. Run with `cargo run --example tanh_graph -- 2`.

use tapegrad::prelude::*;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("usage: tanh_graph [ORDER >= 1]"))
        .unwrap_or(2);
    assert!(n >= 1, "usage: tanh_graph [ORDER >= 1]");
    let create = BackwardOptions {
        create_graph: true,
        ..Default::default()
    };

    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    x.set_name("x");
    let y = x.tanh();
    y.set_name("y");
    y.backward_with(create);
    for _ in 1..n {
        let gx = x.grad_var().expect("a gradient");
        x.cleargrad();
        gx.backward_with(create);
    }
    let gx = x.grad_var().expect("a gradient");
    gx.set_name(format!("gx{n}"));

    let dot = g.to_dot(&[gx], false);
    let ops = dot.lines().filter(|l| l.contains("shape=box")).count();
    let vars = dot.lines().filter(|l| l.contains("[label=")).count() - ops;
    println!("d^{n}/dx^{n} tanh(x) at x = 1: {}", gx.item());
    println!(
        "its graph: {vars} variables, {ops} ops (tape: {} records)",
        g.tape_len()
    );

    let png = format!("tanh{n}.png");
    match g.plot_dot(&[gx], false, &png) {
        Ok(path) => println!("wrote tanh{n}.dot and {}", path.display()),
        Err(e) => println!("wrote tanh{n}.dot; no PNG: {e}"),
    }
}
