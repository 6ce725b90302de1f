//! Reliability: anomaly detection, seeds, threads, and algebraic identities that must hold
//! exactly (or to a few ulps).

use tapegrad::ndarray::{ArrayD, array};
use tapegrad::prelude::*;

fn g0(x: Var<'_>) -> f64 {
    x.grad().expect("a gradient")[[]]
}

#[test]
fn anomaly_detection_is_off_by_default() {
    let g: Graph = Graph::new();
    assert!(!g.detect_anomaly());
    assert!(g.scalar(-1.0).log().item().is_nan());
}

#[test]
fn anomaly_in_forward_names_op_and_position() {
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.scalar(0.0);
    let y = x + 1.0; // position 0, fine
    let e = y.try_div(x).unwrap_err(); // 1 / 0 = inf at position 1
    assert_eq!(
        e,
        Error::Anomaly {
            op: "div",
            phase: "forward",
            position: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "anomaly: div produced NaN or infinity in its forward pass (tape position 1)"
    );
}

#[test]
fn anomaly_on_overflow_and_nan_data() {
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let big = g.scalar(1000.0);
    assert!(matches!(
        big.try_exp(),
        Err(Error::Anomaly { op: "exp", .. })
    ));
    let nan = g.var(array![1.0, f64::NAN]);
    assert!(matches!(
        nan.try_mul(2.0),
        Err(Error::Anomaly { op: "mul", .. })
    ));
}

#[test]
#[should_panic(expected = "anomaly: log produced NaN or infinity in its forward pass")]
fn anomaly_panics_from_the_plain_method() {
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let _ = g.scalar(-1.0).log();
}

#[test]
fn anomaly_in_backward_names_op_and_position() {
    // sqrt(0) = 0 is fine; its gradient 1 / (2 sqrt(0)) is infinite.
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.scalar(0.0);
    let y = x.sqrt() * 3.0;
    let e = y.try_backward().unwrap_err();
    assert_eq!(
        e,
        Error::Anomaly {
            op: "sqrt",
            phase: "backward",
            position: 0
        }
    );
}

#[test]
fn a_backward_pass_stopped_by_an_anomaly_stores_no_gradient() {
    // x reaches y by two paths; `x * 2` is swept (and gives x a gradient) before `sqrt`, whose
    // gradient at 0 is infinite. The failed pass must leave x's gradient as it found it, on a
    // graph of numbers (the scalar sweep) and on an array graph alike.
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.scalar(0.0);
    let y = x.sqrt() + x * 2.0;
    assert!(matches!(
        y.try_backward(),
        Err(Error::Anomaly { op: "sqrt", .. })
    ));
    assert_eq!(x.grad(), None);

    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.var(array![0.0, 1.0]);
    let y = (x.sqrt() + x * 2.0).sum();
    assert!(matches!(
        y.try_backward(),
        Err(Error::Anomaly { op: "sqrt", .. })
    ));
    assert_eq!(x.grad(), None);
}

#[test]
fn anomaly_in_a_recorded_backward_pass() {
    let g: Graph = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.scalar(0.0);
    let e = x
        .sqrt()
        .try_backward_with(BackwardOptions {
            create_graph: true,
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Anomaly {
            op: "sqrt",
            phase: "backward",
            ..
        }
    ));
    assert!(g.detect_anomaly(), "the setting is restored after the pass");
}

#[test]
fn seed_of_the_wrong_shape_is_an_error() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let y = x.exp();
    let e = y
        .try_backward_with_grad(ArrayD::ones(vec![3]), BackwardOptions::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "backward: shape mismatch between [2] and [3]"
    );
    assert!(x.grad().is_none());
}

#[test]
fn seed_scales_the_gradient() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    x.square()
        .try_backward_with_grad(array![0.5, -1.0].into_dyn(), BackwardOptions::default())
        .unwrap();
    assert_eq!(x.grad().unwrap(), array![1.0, -4.0].into_dyn());
}

/// A 2000-op scalar graph seeded by `k`: its value and gradient.
fn sine_chain(k: usize) -> (f64, f64) {
    let g: Graph = Graph::new();
    let x = g.scalar(k as f64);
    let mut y = x;
    for _ in 0..1000 {
        y = (y * 0.5 + x).sin();
    }
    y.backward();
    (y.item(), g0(x))
}

#[test]
fn independent_graphs_on_several_threads() {
    let results: Vec<(f64, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|k| s.spawn(move || sine_chain(k))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // The same computation on this thread gives the same numbers, bit for bit.
    for (k, got) in results.into_iter().enumerate() {
        assert_eq!(got, sine_chain(k));
    }
}

#[test]
fn a_graph_can_move_to_another_thread() {
    let g: Graph = Graph::new();
    g.scalar(1.0);
    let n = std::thread::spawn(move || g.len()).join().unwrap();
    assert_eq!(n, 1);
}

// Algebraic identities.

#[test]
fn x_plus_x_equals_two_x_exactly() {
    let g: Graph = Graph::new();
    let x = g.var(array![0.3, -1.7, 2.5]);
    (x + x).sin().backward();
    let a = x.grad().unwrap();
    x.cleargrad();
    (2.0 * x).sin().backward();
    assert_eq!(a, x.grad().unwrap());
}

#[test]
fn x_times_x_equals_square_exactly() {
    let g: Graph = Graph::new();
    let x = g.var(array![0.3, -1.7, 2.5]);
    (x * x).exp().backward();
    let a = x.grad().unwrap();
    x.cleargrad();
    x.square().exp().backward();
    assert_eq!(a, x.grad().unwrap());
}

#[test]
fn exp_of_log_has_gradient_one_to_a_few_ulps() {
    let g: Graph = Graph::new();
    let x = g.var(array![0.1, 1.0, 7.5, 123.0]);
    x.log().exp().backward();
    for &v in x.grad().unwrap().iter() {
        assert!((v - 1.0).abs() <= 4.0 * f64::EPSILON, "{v}");
    }
}

#[test]
fn one_variable_used_in_many_places() {
    // y = sum_{k=1..50} k * x  =>  dy/dx = 1275, and x itself 50 more times: 1325
    let g: Graph = Graph::new();
    let x = g.scalar(0.7);
    let mut y = g.scalar(0.0);
    for k in 1..=50 {
        y = y + x * k as f64 + x;
    }
    y.backward();
    assert_eq!(g0(x), 1325.0);
}

/// A new graph takes the emptied storage of the last one dropped on its thread: it must start
/// empty, in either element type, whatever the dropped graph held (gradients, parameters,
/// arrays, names, a retained pass).
#[test]
fn a_new_graph_starts_empty_after_a_dropped_one() {
    for round in 0..3 {
        {
            let g: Graph = Graph::new();
            let w = g.param(array![1.0, 2.0]);
            w.set_name("w");
            let x = g.scalar(3.0);
            let y = (x * x).exp() + (w * 2.0).sum();
            y.backward_with(BackwardOptions {
                retain_grad: true,
                ..Default::default()
            });
            assert!(g.len() > 4 && g.tape_len() > 3);
        }
        {
            let g32 = Graph::<f32>::new();
            let s = g32.scalar(2.0);
            (s * s).backward();
            assert_eq!(s.grad().unwrap()[[]], 4.0);
        }
        let g: Graph = Graph::new();
        assert_eq!((g.len(), g.tape_len()), (0, 0), "round {round}");
        let x = g.scalar(0.5);
        let y = x.sin() * x;
        assert!(x.grad().is_none() && y.grad().is_none());
        y.backward();
        let expected = 0.5f64.cos() * 0.5 + 0.5f64.sin();
        assert!((x.grad().unwrap()[[]] - expected).abs() < 1e-15);
        assert_eq!((g.len(), g.tape_len()), (3, 2));
    }
}

/// Ops, a second-order backward pass and a Jacobian on a thread with a quarter of the stack a
/// test thread gets (2 MiB), as a user's worker thread may have: in a debug build each op's stack
/// frame must stay small.
#[test]
fn ops_and_backward_fit_a_small_thread_stack() {
    let run = || {
        let g: Graph = Graph::new();
        let x = g.var(array![[0.5, -1.0], [2.0, 0.25]]);
        let y = (x.matmul(x) * x).sigmoid().tanh().exp().sum();
        y.backward_with(BackwardOptions {
            create_graph: true,
            ..Default::default()
        });
        let gx = x.grad_var().expect("x is used");
        x.cleargrad();
        gx.sum().backward();
        let j = tapegrad::jacobian(
            |xs| vec![xs[0].sin() * xs[0]],
            &[array![1.0, 2.0].into_dyn()],
            tapegrad::JacobianMode::Forward,
        )
        .expect("a Jacobian");
        (x.grad().expect("second order")[[0, 0]], j[0][0][[1, 1]])
    };
    let (h, j) = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(run)
        .expect("a thread")
        .join()
        .expect("no overflow");
    assert!(h.is_finite());
    assert!((j - (2f64.cos() * 2.0 + 2f64.sin())).abs() < 1e-12);
}
