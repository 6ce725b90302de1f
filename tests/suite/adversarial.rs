//! Inputs an adversarial user tries (issue 15): each gets a typed `Error` or the right number,
//! never an internal panic, a silent wrong number or an abort. Checkpoint files are in
//! `tests/suite/checkpoints.rs`, changed data in `tests/suite/data_changes.rs`.

use tapegrad::ndarray::{ArrayD, ArrayViewD, array};
use tapegrad::nn::functional::try_linear;
use tapegrad::nn::optim::{AdaGrad, Adam, Hooks, MomentumSgd, Optimizer, Sgd};
use tapegrad::{BackwardOptions, Error, Function, Graph, Var};

fn invalid(e: &Error, op: &str) -> bool {
    matches!(e, Error::InvalidArgument { op: o, .. } if *o == op)
}

// ---------------------------------------------------------------------------------------------
// Sizes that overflow or cannot be allocated.

#[test]
fn shapes_whose_size_overflows_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let column = x.reshape(&[2, 1]);
    let a = g.var(ArrayD::<f64>::zeros(vec![1 << 20, 1]));
    let b = g.var(ArrayD::<f64>::zeros(vec![1, 1 << 20]));
    let before = g.len();
    let e = x.try_reshape(&[1 << 33, 1 << 31]).unwrap_err();
    assert!(
        matches!(e, Error::ShapeMismatch { op: "reshape", .. }),
        "{e}"
    );
    let e = x.try_reshape(&[usize::MAX, 2, 0]).unwrap_err(); // 0 elements, but the product overflows first
    assert!(
        matches!(e, Error::ShapeMismatch { op: "reshape", .. }),
        "{e}"
    );
    let e = x.try_broadcast_to(&[usize::MAX, 2]).unwrap_err();
    assert!(invalid(&e, "broadcast_to"), "{e}");
    assert!(e.to_string().contains("does not fit in memory"), "{e}");
    // valid for ndarray, but 8 TiB: an error, not an abort on allocation
    let e = column.try_broadcast_to(&[2, 1 << 39]).unwrap_err();
    assert!(invalid(&e, "broadcast_to"), "{e}");
    // two arrays of 8 MiB whose broadcast is 8 TiB
    let e = a.try_add(b).unwrap_err();
    assert!(invalid(&e, "add"), "{e}");
    assert_eq!(g.len(), before, "nothing recorded by the failures");
}

// ---------------------------------------------------------------------------------------------
// NaN goes through, as in numpy and PyTorch.

#[test]
fn nan_propagates_through_max_relu_and_clip() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, f64::NAN, -3.0]);
    assert!(x.max_axis(0, false).item().is_nan());
    assert!(x.min_axis(0, false).item().is_nan());
    let r = x.relu().data();
    assert_eq!((r[0], r[2]), (1.0, 0.0));
    assert!(r[1].is_nan());
    let c = x.clip(-1.0, 1.0).data();
    assert_eq!((c[0], c[2]), (1.0, -1.0));
    assert!(c[1].is_nan());
    // a NaN first in the lane, too
    let y = g.var(array![[f64::NAN, 2.0], [0.5, 1.0]]);
    let m = y.max_axis(1, false).data();
    assert!(m[0].is_nan());
    assert_eq!(m[1], 1.0);
    // and on numbers (the scalar path)
    let s = g.scalar(f64::NAN);
    assert!(s.relu().item().is_nan());
    assert!(s.clip(0.0, 1.0).item().is_nan());
}

#[test]
fn anomaly_detection_reports_the_first_op_that_reads_nan() {
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.var(array![1.0, f64::NAN]);
    for e in [
        x.try_relu().unwrap_err(),
        x.try_clip(-1.0, 1.0).unwrap_err(),
        x.try_max_axis(0, false).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                Error::Anomaly {
                    phase: "forward",
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn extrema_over_an_empty_axis_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::zeros(vec![0, 3]));
    let e = x.try_max_axis(0, false).unwrap_err();
    assert!(invalid(&e, "max_axis"), "{e}");
    let e = x.try_min_axis(0, true).unwrap_err();
    assert!(invalid(&e, "min_axis"), "{e}");
    // along the other axis there is nothing to reduce: an empty result, as numpy's
    assert_eq!(x.max_axis(1, false).shape(), vec![0]);
}

// ---------------------------------------------------------------------------------------------
// Derivatives that were silently wrong.

#[test]
fn grad_with_respect_to_a_constant_is_an_error() {
    let g: Graph = Graph::new();
    let c = g.constant(array![1.0, 2.0]);
    let x = g.var(array![3.0, 4.0]);
    let y = (c * x).sum();
    let e = tapegrad::try_grad(&[y], &[x, c], false).unwrap_err();
    assert!(invalid(&e, "grad"), "{e}");
    assert!(e.to_string().contains("input 1 is a constant"), "{e}");
    // a result of constants only is a constant too
    let d = c * 2.0;
    assert!(tapegrad::try_grad(&[y], &[d], false).is_err());
    // the variable alone still works
    let gx = tapegrad::grad(&[y], &[x], false);
    assert_eq!(gx[0].data(), array![1.0, 2.0].into_dyn());
}

#[test]
fn powf_zero_has_derivative_zero_at_zero() {
    let g: Graph = Graph::new();
    let x = g.scalar(0.0);
    let y = x.powf(0.0);
    assert_eq!(y.item(), 1.0);
    let gx = tapegrad::grad(&[y], &[x], true)[0];
    assert_eq!(gx.item(), 0.0);
    let ggx = tapegrad::grad(&[gx], &[x], false)[0];
    assert_eq!(ggx.item(), 0.0);
    let a = g.var(array![0.0, 2.0]);
    a.powf(0.0).sum().backward();
    assert_eq!(a.grad().unwrap(), array![0.0, 0.0].into_dyn());
    // other exponents keep their derivative at 0: c x^(c-1)
    let b = g.var(array![0.0]);
    b.powf(2.0).sum().backward();
    assert_eq!(b.grad().unwrap(), array![0.0].into_dyn());
}

#[test]
fn large_f32_sums_and_means_are_accurate() {
    // 2^22 values of 0.1 summed one after the other in f32 are 4 % off (2^25: 37 %)
    let g: Graph<f32> = Graph::new();
    let n = 1 << 22;
    let exact = f64::from(0.1f32) * n as f64;
    let column = g.var(ArrayD::from_elem(vec![n, 1], 0.1f32));
    let s = f64::from(column.sum().item());
    assert!((s - exact).abs() / exact < 1e-6, "{s} vs {exact}");
    let flat = g.var(ArrayD::from_elem(vec![n], 0.1f32));
    let m = f64::from(flat.mean().item());
    assert!((m - f64::from(0.1f32)).abs() < 1e-7, "{m}");
    // un-broadcasting sums too: the gradient of a 0-d variable added to the column
    let b = g.scalar(0.0);
    (column + b).sum().backward();
    let gb = f64::from(b.grad().unwrap()[[]]);
    assert!((gb - n as f64).abs() < 1.0, "{gb}");
}

/// The sum of every element counts each one once, at every length around the blocks it is
/// summed in (8 lanes, blocks of 128, levels of blocks) and on a strided view. Integers keep the
/// exact sum independent of the order of the additions.
#[test]
fn the_sum_of_a_long_vector_counts_every_element_once() {
    let g: Graph = Graph::new();
    for n in [1, 7, 8, 9, 127, 128, 129, 1031, 16_385, 1_000_003] {
        let values = ArrayD::from_shape_fn(vec![n], |i| (i[0] % 7) as f64);
        let exact: f64 = (0..n).map(|i| (i % 7) as f64).sum();
        let x = g.var(values);
        assert_eq!(x.sum().item(), exact, "n = {n}");
        assert_eq!(x.mean().item(), exact / n as f64, "n = {n}");
        x.sum().backward();
        assert!(x.grad().unwrap().iter().all(|&d| d == 1.0), "n = {n}");
        g.clear();
    }
    // A transposed array (not in standard layout): the same sum through the strided path.
    let n = 4099;
    let columns = ArrayD::from_shape_fn(vec![n, 2], |i| (i[0] % 5 + i[1]) as f64);
    let exact: f64 = columns.iter().sum();
    assert_eq!(g.var(columns.reversed_axes()).sum().item(), exact);
}

// ---------------------------------------------------------------------------------------------
// Optimizers.

#[test]
fn optimizer_state_is_per_graph() {
    let mut opt = MomentumSgd::new(0.1, 0.9);
    let (g1, g2): (Graph, Graph) = (Graph::new(), Graph::new());
    let (w1, w2) = (g1.param(array![1.0]), g2.param(array![1.0]));
    assert_eq!(w1.id(), w2.id(), "the same key in two graphs");
    w1.sum().backward();
    opt.step(&[w1]);
    w2.sum().backward();
    opt.step(&[w2]);
    assert!((w2.data()[0] - 0.9).abs() < 1e-15, "{}", w2.data()[0]);
    assert!((w1.data()[0] - 0.9).abs() < 1e-15);
}

#[test]
fn a_parameter_whose_shape_changed_is_an_error_and_nothing_moves() {
    let g: Graph = Graph::new();
    let opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(MomentumSgd::new(0.1, 0.9)),
        Box::new(AdaGrad::new(0.1)),
        Box::new(Adam::new(0.1)),
    ];
    for mut opt in opts {
        let w = g.param(array![1.0, 2.0]);
        let v = g.param(array![5.0]);
        (w.sum() + v.sum()).backward();
        opt.step(&[w, v]); // state of shape [2] for w
        w.set_data(array![1.0, 2.0, 3.0].into_dyn());
        (w.sum() + v.sum()).backward();
        let before = v.data();
        let e = opt.try_step(&[v, w]).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
        assert_eq!(v.data(), before, "v not updated either");
        assert!(v.grad().is_some() && w.grad().is_some(), "gradients kept");
    }
    // data of another shape drops the gradient of the old one: nothing to step
    let w = g.param(array![1.0, 2.0]);
    w.sum().backward();
    w.set_data(array![1.0].into_dyn());
    assert_eq!(w.grad_shape(), None);
    Sgd::new(0.1).try_step(&[w]).unwrap();
    assert_eq!(w.data(), array![1.0].into_dyn());
}

#[test]
fn hooks_out_of_range_are_errors_and_a_nan_norm_gives_nan() {
    let g: Graph = Graph::new();
    let w = g.param(array![3.0, 4.0]);
    for hooks in [
        Hooks {
            clip_grad_norm: Some(-1.0),
            ..Hooks::default()
        },
        Hooks {
            clip_grad_norm: Some(f64::NAN),
            ..Hooks::default()
        },
        Hooks {
            clip_grad_norm: Some(0.0),
            ..Hooks::default()
        },
        Hooks {
            weight_decay: Some(f64::INFINITY),
            ..Hooks::default()
        },
    ] {
        (w * w).sum().backward();
        let mut opt = Sgd { lr: 0.1, hooks };
        let e = opt.try_step(&[w]).unwrap_err();
        assert!(invalid(&e, "step"), "{e}");
        assert_eq!(w.data(), array![3.0, 4.0].into_dyn());
        w.cleargrad();
    }
    // clipping scales down, never flips
    (w * 1.0).sum().backward(); // gradient (1, 1), norm sqrt 2
    let mut opt = Sgd {
        lr: 1.0,
        hooks: Hooks {
            clip_grad_norm: Some(1.0),
            ..Hooks::default()
        },
    };
    opt.step(&[w]);
    let d = w.data();
    assert!((d[0] - (3.0 - 0.5f64.sqrt())).abs() < 1e-6, "{d}");
    // a NaN gradient: the norm is NaN and so is the step, as PyTorch's clip_grad_norm_
    let x = g.param(array![1.0, 1.0]);
    (x * f64::NAN).sum().backward();
    opt.step(&[x]);
    assert!(x.data().iter().all(|v| v.is_nan()));
}

#[test]
fn a_stale_parameter_is_an_error_for_every_optimizer() {
    let g: Graph = Graph::new();
    let w = g.param(array![1.0]);
    let t = g.var(array![1.0]);
    (w * t).sum().backward();
    g.clear();
    let e = Sgd::new(0.1).try_step(&[w, t]).unwrap_err();
    assert_eq!(e, Error::StaleVar);
    assert!(w.grad().is_some(), "w's gradient kept");
}

// ---------------------------------------------------------------------------------------------
// Closures that use the graph, a function that panics, labels, layers.

#[test]
fn re_entrant_closures_get_graph_busy() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0]);
    let mut inner = None;
    x.try_update_data(|_| inner = Some(x.try_data())).unwrap();
    assert_eq!(inner.unwrap().unwrap_err(), Error::GraphBusy);
    let r = x.try_with_data(|_| x.try_exp().map(|_| ())).unwrap();
    assert_eq!(r.unwrap_err(), Error::GraphBusy);
    assert_eq!(x.data(), array![1.0].into_dyn(), "graph usable afterwards");
}

/// `x * 2`, whose backward panics.
struct Panics;

impl Function<f64> for Panics {
    fn name(&self) -> &'static str {
        "panics"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        Ok(vec![xs[0].mapv(|v| v * 2.0)])
    }
    fn backward<'g>(
        &self,
        _: &[Var<'g, f64>],
        _: &[Var<'g, f64>],
        _: &[Var<'g, f64>],
    ) -> tapegrad::Result<Vec<Option<Var<'g, f64>>>> {
        panic!("a bug in a user's backward")
    }
}

#[test]
fn a_panic_inside_the_sweep_restores_the_graph_modes() {
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.var(array![1.0, 2.0]);
    let y = g.apply(Panics, &[x])[0].sum();
    for create_graph in [false, true] {
        let opts = BackwardOptions {
            create_graph,
            ..Default::default()
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward_with(opts)));
        assert!(r.is_err());
        assert!(g.detect_anomaly(), "anomaly detection still on");
        assert!(g.is_recording(), "recording restored");
    }
    // and the graph still works, on numbers and arrays
    let s = g.scalar(3.0);
    (s * s).backward();
    assert_eq!(s.grad().unwrap()[[]], 6.0);
    let z = (x * x).sum();
    z.backward();
    assert_eq!(x.grad().unwrap(), array![2.0, 4.0].into_dyn());
}

#[test]
fn dot_labels_escape_backslashes_and_quotes() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    x.set_name("a\\\"b\nc");
    let y = x.exp();
    let dot = g.to_dot(&[y], false);
    assert!(dot.contains(r#"label="a\\\"b\nc""#), "{dot}");
    // every quote inside a label is escaped: the labels' quotes pair up on each line
    for line in dot.lines().filter(|l| l.contains("label=")) {
        let unescaped = line
            .char_indices()
            .filter(|&(i, c)| c == '"' && !escaped(line, i))
            .count();
        assert_eq!(unescaped, 2, "{line}");
    }
}

/// Whether the character at byte `i` is preceded by an odd number of backslashes.
fn escaped(line: &str, i: usize) -> bool {
    line[..i].bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

#[test]
fn linear_rejects_a_bias_of_the_wrong_size() {
    let g: Graph = Graph::new();
    let x = g.var(ArrayD::<f64>::ones(vec![4, 3]));
    let w = g.var(ArrayD::<f64>::ones(vec![3, 2]));
    for bad in [vec![1], vec![4, 2], vec![2, 1], vec![3]] {
        let b = g.var(ArrayD::<f64>::ones(bad.clone()));
        let e = try_linear(x, w, Some(b)).unwrap_err();
        assert!(
            matches!(e, Error::ShapeMismatch { op: "linear", .. }),
            "{bad:?}: {e}"
        );
    }
    let b = g.var(array![10.0, 20.0]);
    let y = try_linear(x, w, Some(b)).unwrap();
    assert_eq!(
        y.data(),
        ArrayD::from_shape_vec(vec![4, 2], [13.0, 23.0].repeat(4)).unwrap()
    );
}
