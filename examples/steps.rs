//! Prints the result of each DeZero step from 3 to 24 (docs/reference.md), one line each.
//! Run with `cargo run --example steps`.

use tapegrad::check::numerical_grad;
use tapegrad::ndarray::{arr0, array};
use tapegrad::prelude::*;

fn gv(x: Var<'_>) -> String {
    match x.grad() {
        Some(g) => format!("{}", g[[]]),
        None => "None".to_owned(),
    }
}

fn main() {
    let g: Graph = Graph::new();
    let keep = BackwardOptions {
        retain_grad: true,
        ..Default::default()
    };

    let x = g.scalar(0.5);
    let y = x.square().exp().square();
    println!(
        "step 03  y = square(exp(square(0.5)))          {}",
        y.item()
    );

    let d = numerical_grad(|xs| xs[0].square(), &[arr0(2.0).into_dyn()]);
    println!(
        "step 04  numerical d square(x)/dx at 2.0       {}",
        d[0][[]]
    );
    let d = numerical_grad(|xs| xs[0].square().exp().square(), &[arr0(0.5).into_dyn()]);
    println!(
        "step 04  numerical d y/dx at 0.5               {}",
        d[0][[]]
    );

    y.backward();
    println!("step 09  analytic  d y/dx at 0.5               {}", gv(x));

    let (x, y) = (g.scalar(2.0), g.scalar(3.0));
    let z = x.square() + y.square();
    z.backward();
    println!(
        "step 13  z = x^2 + y^2, (2, 3): z, gx, gy      {} {} {}",
        z.item(),
        gv(x),
        gv(y)
    );

    let x = g.scalar(3.0);
    (x + x).backward();
    println!("step 14  y = x + x: x.grad                     {}", gv(x));
    x.cleargrad();
    (x + x + x).backward();
    println!("step 14  y = x + x + x after cleargrad         {}", gv(x));

    let x = g.scalar(2.0);
    let a = x.square();
    let y = a.square() + a.square();
    y.backward();
    println!(
        "step 16  y = a^2 + a^2, a = x^2: y, x.grad     {} {}",
        y.item(),
        gv(x)
    );

    let (x0, x1) = (g.scalar(1.0), g.scalar(1.0));
    let t = x0 + x1;
    let y = x0 + t;
    y.backward();
    println!(
        "step 18  default: y.grad t.grad x0.grad x1.grad {} {} {} {}",
        gv(y),
        gv(t),
        gv(x0),
        gv(x1)
    );
    x0.cleargrad();
    x1.cleargrad();
    y.backward_with(keep);
    println!(
        "step 18  retain:  y.grad t.grad x0.grad x1.grad {} {} {} {}",
        gv(y),
        gv(t),
        gv(x0),
        gv(x1)
    );
    {
        let _guard = g.no_grad();
        let y = g.scalar(2.0).square();
        println!(
            "step 18  no_grad: y is a leaf                  {}",
            y.is_leaf()
        );
    }

    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    println!("step 19  {x}");

    let (a, b, c) = (g.scalar(3.0), g.scalar(2.0), g.scalar(1.0));
    let y = a * b + c;
    y.backward();
    println!(
        "step 20  y = a*b + c: y, a.grad, b.grad        {} {} {}",
        y.item(),
        gv(a),
        gv(b)
    );

    let x = g.scalar(2.0);
    println!(
        "step 21  x + 3.0, 3.0 * x + 1.0                {} {}",
        (x + 3.0).item(),
        (3.0 * x + 1.0).item()
    );
    println!(
        "step 22  -x, 2-x, x-1, 3/x, x/4                {} {} {} {} {}",
        (-x).item(),
        (2.0 - x).item(),
        (x - 1.0).item(),
        (3.0 / x).item(),
        (x / 4.0).item()
    );
    let y = x.powf(3.0);
    y.backward();
    println!(
        "step 22  x^3: y, x.grad                        {} {}",
        y.item(),
        gv(x)
    );

    let x = g.scalar(1.0);
    let y = (x + 3.0).powf(2.0);
    y.backward();
    println!(
        "step 23  (x + 3)^2 at 1: y, x.grad             {} {}",
        y.item(),
        gv(x)
    );

    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = x.powf(2.0) + y.powf(2.0);
    z.backward();
    println!(
        "step 24  sphere: z, x.grad, y.grad             {} {} {}",
        z.item(),
        gv(x),
        gv(y)
    );
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = 0.26 * (x.powf(2.0) + y.powf(2.0)) - 0.48 * x * y;
    z.backward();
    println!(
        "step 24  matyas: z, x.grad, y.grad             {} {} {}",
        z.item(),
        gv(x),
        gv(y)
    );
    let (x, y) = (g.scalar(1.0), g.scalar(1.0));
    let z = (1.0
        + (x + y + 1.0).powf(2.0)
            * (19.0 - 14.0 * x + 3.0 * x.powf(2.0) - 14.0 * y + 6.0 * x * y + 3.0 * y.powf(2.0)))
        * (30.0
            + (2.0 * x - 3.0 * y).powf(2.0)
                * (18.0 - 32.0 * x + 12.0 * x.powf(2.0) + 48.0 * y - 36.0 * x * y
                    + 27.0 * y.powf(2.0)));
    z.backward();
    println!(
        "step 24  goldstein: z, x.grad, y.grad          {} {} {}",
        z.item(),
        gv(x),
        gv(y)
    );
}
