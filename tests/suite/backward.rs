//! Semantics of the backward sweep: accumulation, cleargrad, retain_grad, no_grad, leaves,
//! operators with numbers and arrays, and a deep chain (constants: constants.rs).

use tapegrad::ndarray::{ArrayD, arr0, array};
use tapegrad::prelude::*;

fn g0(x: Var<'_>) -> f64 {
    x.grad().expect("a gradient")[[]]
}

#[test]
fn x_times_x_gives_two_x() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, -2.0, 3.0]);
    (x * x).backward();
    assert_eq!(x.grad().unwrap(), array![2.0, -4.0, 6.0].into_dyn());
}

/// `backward` from an array seeds it with ones kept as one number until an op needs an array;
/// the gradients are, to the bit, those an array of ones gives, through elementwise ops,
/// broadcasting, reductions, a product, selections and functions (`concat`, `split`, `cumsum`).
#[test]
fn a_seed_of_ones_gives_what_an_array_of_ones_gives() {
    fn graph<'g>(x: Var<'g>, w: Var<'g>) -> Var<'g> {
        let h = (x.matmul(w) + 0.5).tanh() * 2.0 - x.sum_axes(&[1], true); // 4 x 3
        let z = -h + h.exp() / 3.0 - h.square() * h.sigmoid();
        let parts = z.split(&[1, 2], 1);
        let z = tapegrad::concat(&[parts[1], parts[0] * parts[0]], 1).cumsum(1);
        z.softmax(1) * z.mean() + z.select(0, &[1, 1, 0, 3]) - z.sum()
    }
    let g: Graph = Graph::new();
    let xa = crate::common::values::<f64>(&[4, 5], 3, -1.0, 1.0);
    let wa = crate::common::values::<f64>(&[5, 3], 4, -1.0, 1.0);
    let (x, w) = (g.var(xa.clone()), g.var(wa.clone()));
    graph(x, w).backward();
    let (x2, w2) = (g.var(xa), g.var(wa));
    let y2 = graph(x2, w2);
    let ones = g.constant(ArrayD::ones(y2.shape()));
    (y2 * ones).sum().backward(); // the seed of y2 an array
    assert_eq!(x.grad().unwrap(), x2.grad().unwrap());
    assert_eq!(w.grad().unwrap(), w2.grad().unwrap());
    // and against central differences
    fn loss<'g>(v: &[Var<'g>]) -> Var<'g> {
        graph(v[0], v[1]).sum()
    }
    let inputs = [x.data(), w.data()];
    tapegrad::check::gradient_check(loss, &inputs).unwrap();
}

/// `x * x` on arrays takes its gradient `2 gy x` in one rule (as `square` does, to the bit), also
/// beside other uses of `x`, as a recorded gradient (second and third order), and through the
/// checks; a product with a constant gives the variable its gradient and the constant none.
#[test]
fn products_of_a_variable_with_itself_or_a_constant() {
    let g: Graph = Graph::new();
    let a = array![1.5, -0.3, 2.0, 1e-3];
    let (x, s) = (g.var(a.clone()), g.var(a.clone()));
    ((x * x).exp().sum() + (x * 0.7).sum()).backward();
    (s.square().exp().sum() + (s * 0.7).sum()).backward();
    let want = a.mapv(|v| 2.0 * v * (v * v).exp() + 0.7).into_dyn();
    let close = |got: &ArrayD<f64>, want: &ArrayD<f64>| {
        let near = got
            .iter()
            .zip(want)
            .all(|(p, q)| (p - q).abs() <= 1e-14 * q.abs());
        assert!(near && got.shape() == want.shape(), "{got} against {want}");
    };
    let got = x.grad().unwrap();
    assert_eq!(got, s.grad().unwrap(), "x * x and square agree to the bit");
    close(&got, &want);

    // d/dx sum(x * x * x) = 3x^2, then 6x, then 6
    let x = g.var(a.clone());
    let y = (x * x * x).sum();
    let g1 = tapegrad::grad(&[y], &[x], true)[0];
    let g2 = tapegrad::grad(&[g1.sum()], &[x], true)[0];
    let g3 = tapegrad::grad(&[g2.sum()], &[x], false)[0];
    close(&g1.data(), &a.mapv(|v| 3.0 * v * v).into_dyn());
    close(&g2.data(), &a.mapv(|v| 6.0 * v).into_dyn());
    close(&g3.data(), &a.mapv(|_| 6.0).into_dyn());

    let c = array![2.0, -1.0, 0.5, 4.0].into_dyn();
    let (x, k) = (g.var(a.clone()), g.constant(c.clone()));
    ((x * k).sum() + (k * x * x).sum()).backward();
    let want = (&c + &(2.0 * &c * &a)).into_dyn();
    assert_eq!(x.grad().unwrap(), want);
    assert!(k.grad().is_none());

    fn f<'g>(v: &[Var<'g>]) -> Var<'g> {
        (v[0] * v[0] * v[1] + v[1] * v[1]).sin().sum()
    }
    let inputs = [array![0.3, -1.2].into_dyn(), array![0.8, 0.1].into_dyn()];
    tapegrad::check::gradient_check(f, &inputs).unwrap();
    tapegrad::check::gradgrad_check(f, &inputs).unwrap();
}

#[test]
fn gradients_from_several_paths_add_up() {
    // y = x*x + x*3 + x  =>  dy/dx = 2x + 4 = 8 at x = 2
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    (x * x + x * 3.0 + x).backward();
    assert_eq!(g0(x), 8.0);
}

#[test]
fn repeated_backward_adds_the_same_gradient_again() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x.square();
    y.backward();
    y.backward();
    assert_eq!(g0(x), 8.0); // 2 * (2x)
}

#[test]
fn cleargrad_forgets_then_backward_starts_over() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x.square();
    y.backward();
    x.cleargrad();
    assert!(x.grad().is_none());
    y.backward();
    assert_eq!(g0(x), 4.0);
}

#[test]
fn retain_grad_false_frees_every_intermediate() {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let a = x.square();
    let b = a.exp();
    let y = b.square();
    y.backward();
    for v in [a, b, y] {
        assert!(v.grad().is_none());
    }
    assert!(x.grad().is_some());
}

#[test]
fn retain_grad_true_keeps_every_intermediate() {
    // y = (e^(x^2))^2 at x = 0.5: dy/db = 2b, dy/da = 2b * b
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let a = x.square();
    let b = a.exp();
    let y = b.square();
    y.backward_with(BackwardOptions {
        retain_grad: true,
        ..Default::default()
    });
    let bv = 0.25f64.exp();
    assert_eq!(g0(y), 1.0);
    assert_eq!(g0(b), 2.0 * bv);
    assert!((g0(a) - 2.0 * bv * bv).abs() < 1e-12);
}

#[test]
fn a_plain_pass_frees_what_a_retaining_pass_kept() {
    // Numbers (the scalar sweep) and arrays (the general one) alike, and again after `clear`.
    let keep = BackwardOptions {
        retain_grad: true,
        ..Default::default()
    };
    for numbers in [true, false] {
        let g: Graph = Graph::new(); // (one array in a graph sends every pass to the general sweep)
        for round in 0..2 {
            g.clear();
            let x = if numbers {
                g.scalar(0.5)
            } else {
                g.var(array![0.5, 1.0])
            };
            let (a, b) = (x.square(), x.square().exp());
            let y = (a * b).sum();
            y.backward_with(keep);
            assert!(a.grad().is_some() && b.grad().is_some(), "round {round}");
            y.backward();
            assert!(a.grad().is_none() && b.grad().is_none(), "round {round}");
            assert!(y.grad().is_none() && x.grad().is_some(), "round {round}");
        }
    }
}

#[test]
fn retained_gradient_is_not_pushed_again() {
    // First pass keeps t.grad = 1; a second pass from y must not push that stale 1 into x again.
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let t = x * 2.0;
    let y = t * 3.0;
    let keep = BackwardOptions {
        retain_grad: true,
        ..Default::default()
    };
    y.backward_with(keep);
    assert_eq!((g0(t), g0(x)), (3.0, 6.0));
    y.backward_with(keep);
    assert_eq!((g0(t), g0(x)), (6.0, 12.0));
}

#[test]
fn backward_from_a_leaf_sets_ones() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    x.backward();
    assert_eq!(x.grad().unwrap(), ArrayD::ones(vec![2, 2]));
    x.backward();
    assert_eq!(x.grad().unwrap(), ArrayD::from_elem(vec![2, 2], 2.0));
}

#[test]
fn backward_touches_only_ancestors() {
    let g: Graph = Graph::new();
    let (x, z) = (g.scalar(1.0), g.scalar(5.0));
    let y = x.exp();
    let w = z.square(); // recorded after x's ops, not an ancestor of y
    let later = z * 2.0; // recorded after y
    y.backward();
    assert!(z.grad().is_none());
    assert!(w.grad().is_none() && later.grad().is_none());
    assert_eq!(g0(x), 1f64.exp());
}

#[test]
fn no_grad_records_nothing_and_makes_leaves() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = {
        let _guard = g.no_grad();
        x.square() * 3.0
    };
    assert!(y.is_leaf());
    assert_eq!(y.item(), 12.0);
    assert_eq!(g.tape_len(), 0);
    y.backward();
    assert!(x.grad().is_none());
}

#[test]
fn no_grad_nests_and_restores() {
    let g: Graph = Graph::new();
    assert!(g.is_recording());
    {
        let _outer = g.no_grad();
        {
            let _inner = g.no_grad();
            assert!(!g.is_recording());
        }
        assert!(
            !g.is_recording(),
            "dropping the inner guard keeps the outer one in force"
        );
    }
    assert!(g.is_recording());
    let x = g.scalar(1.0);
    assert!(!x.exp().is_leaf());
}

#[test]
fn operators_with_scalars_on_both_sides() {
    // y = (2 + x) * 3 - (1 - x) / 2 + x / 4 - 6 / x,  x = 2
    // dy/dx = 3 + 1/2 + 1/4 + 6/x^2 = 5.25
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = (2.0 + x) * 3.0 - (1.0 - x) / 2.0 + x / 4.0 - 6.0 / x;
    y.backward();
    assert_eq!(y.item(), 12.0 + 0.5 + 0.5 - 3.0);
    assert_eq!(g0(x), 5.25);
}

#[test]
fn operators_with_arrays_on_both_sides() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let c = || array![2.0, 4.0].into_dyn();
    // y = c*x + x/c - c + (c - x) + c/x  => dy/dx = c + 1/c - 1 - c/x^2
    let y = c() * x + x / c() - c() + (c() - x) + c() / x;
    y.backward();
    assert_eq!(
        y.data(),
        array![2.0 + 0.5 - 2.0 + 1.0 + 2.0, 8.0 + 0.5 - 4.0 + 2.0 + 2.0].into_dyn()
    );
    assert_eq!(
        x.grad().unwrap(),
        array![2.0 + 0.5 - 1.0 - 2.0, 4.0 + 0.25 - 1.0 - 1.0].into_dyn()
    );
}

#[test]
fn zero_d_array_constant_acts_as_scalar() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let y = x * arr0(3.0).into_dyn() + arr0(1.0).into_dyn();
    y.backward();
    assert_eq!(y.data(), array![4.0, 7.0].into_dyn());
    assert_eq!(x.grad().unwrap(), array![3.0, 3.0].into_dyn());
    assert_eq!(g.len(), 3, "no arena entry for a scalar constant");
}

#[test]
fn f32_graph_differentiates() {
    let g = Graph::<f32>::new();
    let x = g.scalar(2.0);
    let y = x.powf(3.0) + 1.0;
    y.backward();
    assert_eq!((y.item(), x.grad().unwrap()[[]]), (9.0f32, 12.0f32));
    assert_eq!(x.dtype(), "f32");
}

#[test]
fn clear_reuses_the_graph() {
    let g: Graph = Graph::new();
    for _ in 0..3 {
        let x = g.scalar(3.0);
        x.square().backward();
        assert_eq!(g0(x), 6.0);
        g.clear();
        assert_eq!((g.len(), g.tape_len()), (0, 0));
    }
}

#[test]
fn set_data_updates_a_leaf() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    x.set_data(arr0(3.0).into_dyn());
    x.square().backward();
    assert_eq!(g0(x), 6.0);
}

#[test]
fn chain_of_a_million_ops_backward_without_recursion() {
    // y = x + 1 + 1 + ... (10^6 times): dy/dx = 1; a recursive sweep would overflow the stack.
    let g: Graph = Graph::new();
    let x = g.scalar(0.0);
    let mut y = x;
    for _ in 0..1_000_000 {
        y = y + 1.0;
    }
    assert_eq!(g.tape_len(), 1_000_000);
    y.backward();
    assert_eq!(y.item(), 1e6);
    assert_eq!(g0(x), 1.0);
}

#[test]
fn large_arrays_on_the_parallel_path_give_exact_closed_forms() {
    // 300,000 elements run on all cores; 600,000 f64 (4.8 MB) also go on huge pages.
    for n in [300_000, 600_000] {
        let g: Graph = Graph::new();
        let xs = tapegrad::ndarray::Array1::linspace(-1.0, 1.0, n);
        let x = g.var(xs.clone());
        let c = g.var(xs.mapv(|v| v + 3.0));
        // y = x*x*0.5 + exp(x) - x + x/c: dy/dx = x + e^x - 1 + 1/c, dy/dc = -x/c^2
        let y = x * x * 0.5 + x.exp() - x + x / c;
        y.backward();
        let (yv, gx, gc) = (y.data(), x.grad().unwrap(), c.grad().unwrap());
        for (i, &v) in xs.iter().enumerate() {
            let cv = v + 3.0;
            let want = v * v * 0.5 + v.exp() - v + v / cv;
            assert!((yv[i] - want).abs() < 1e-12, "y at {i} of {n}");
            let want = v + v.exp() - 1.0 + 1.0 / cv;
            assert!((gx[i] - want).abs() < 1e-12, "gx at {i} of {n}");
            assert!((gc[i] + v / (cv * cv)).abs() < 1e-12, "gc at {i} of {n}");
        }
    }
}

#[test]
fn large_transposed_and_broadcast_operands_match_ndarray() {
    // Not contiguous (a transpose) and broadcast operands take the general kernels.
    let a = tapegrad::ndarray::Array2::from_shape_fn((600, 500), |(i, j)| {
        (i as f64 - 2.0 * j as f64) / 1000.0
    });
    let row = tapegrad::ndarray::Array1::from_shape_fn(600, |i| i as f64 / 600.0);
    let g: Graph = Graph::new();
    let (x, r) = (g.var(a.clone()), g.var(row.clone()));
    let y = (x.transpose() * 2.0).exp() * r; // (500, 600) * (600,)
    let want = (a.t().mapv(|v| (2.0 * v).exp())) * &row;
    assert!(max_diff(&y.data(), &want.into_dyn()) < 1e-12);
    y.sum().backward();
    // d/da[i][j] = 2 e^(2 a[i][j]) row[i]; d/drow[i] = sum_j e^(2 a[i][j])
    let ga = tapegrad::ndarray::Array2::from_shape_fn(a.dim(), |(i, j)| {
        2.0 * (2.0 * a[[i, j]]).exp() * row[i]
    });
    let gr = a
        .mapv(|v| (2.0 * v).exp())
        .sum_axis(tapegrad::ndarray::Axis(1));
    assert!(max_diff(&x.grad().unwrap(), &ga.into_dyn()) < 1e-12);
    assert!(max_diff(&r.grad().unwrap(), &gr.into_dyn()) < 1e-9);
}

/// The largest elementwise difference of two arrays of one shape.
fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

#[test]
fn debug_shows_the_value() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.5, 2.0]);
    let s = format!("{x:?}");
    assert!(
        s.contains("shape: [2]") && s.contains("value: [1.5, 2]"),
        "{s}"
    );
    g.clear();
    assert!(format!("{x:?}").contains("stale: true"));
}

/// `grad` builds a number's gradient itself (see `Var::grad`): it gives what `try_grad` gives for
/// every kind of stored gradient, a number, an array, a variable (`create_graph`) and none.
#[test]
fn grad_gives_what_try_grad_gives() {
    let g: Graph = Graph::new();
    let (x, a, unused) = (g.scalar(1.5), g.var(array![1.0, -2.0]), g.scalar(3.0));
    (x * x + (a * x).sum()).backward();
    let (h, k) = (g.var(array![0.5, 2.0]), g.scalar(2.0));
    (h.powf(3.0).sum() * k).backward_with(BackwardOptions {
        create_graph: true,
        ..Default::default()
    });
    assert!(k.grad_var().is_some()); // (a number kept as a variable)
    for v in [x, a, unused, h, k] {
        assert_eq!(v.grad(), v.try_grad().unwrap());
    }
    assert_eq!(g0(x), 2.0 * 1.5 - 1.0);
    assert_eq!(a.grad().unwrap(), array![1.5, 1.5].into_dyn());
    assert_eq!(unused.grad(), None);
    assert_eq!(h.grad().unwrap(), array![1.5, 24.0].into_dyn()); // 3 h^2 k
    assert_eq!(g0(k), 0.125 + 8.0); // sum h^3
}
