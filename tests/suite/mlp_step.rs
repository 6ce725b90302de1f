//! The `mlp_step` bench compares tapegrad with a hand-written ndarray step: this checks that both
//! compute the same step (loss, and every parameter after several SGD steps), on a small network
//! of the bench's shape in f32.

use tapegrad::nn::layers::{Layer, Mlp};
use tapegrad::nn::optim::Sgd;
use tapegrad::prelude::*;

#[path = "../../examples/support/mlp_step.rs"]
mod support;

#[test]
fn engine_and_hand_written_steps_agree() {
    let (x, t) = support::batch(16, 30, 5);
    let g: Graph<f32> = Graph::new();
    let model = Mlp::new(&g, &[20, 5], |h| h.sigmoid(), 3);
    model.forward(g.constant(x.clone())); // makes the lazy weights
    let mut hand = support::HandMlp::from_engine(&model);
    let mut opt = Sgd::new(0.5);
    let mut losses = Vec::new();
    for _ in 0..5 {
        let engine = support::engine_step(&g, &model, &mut opt, &x, &t);
        let by_hand = hand.step(&x, &t, 0.5);
        assert!((engine - by_hand).abs() < 1e-5, "{engine} vs {by_hand}");
        losses.push(engine);
    }
    assert!(losses[4] < losses[0], "the steps descend: {losses:?}");
    let after = support::HandMlp::from_engine(&model);
    for (e, h) in [
        (after.w1.into_dyn(), hand.w1.clone().into_dyn()),
        (after.b1.into_dyn(), hand.b1.clone().into_dyn()),
        (after.w2.into_dyn(), hand.w2.clone().into_dyn()),
        (after.b2.into_dyn(), hand.b2.clone().into_dyn()),
    ] {
        let diff = (&e - &h).iter().fold(0f32, |m, d| m.max(d.abs()));
        assert!(diff < 1e-5, "parameters differ by {diff}");
    }
}

/// The bench's step at full size (its products large enough to run on several threads) gives
/// the same loss and parameters on one thread and on two: the parallel product splits rows and
/// columns, never a sum, so the results agree bit for bit (tolerance 0).
#[test]
fn the_step_does_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        crate::common::on_threads(threads, || {
            let (x, t) = support::batch(100, 784, 10);
            let g: Graph<f32> = Graph::new();
            let model = Mlp::new(&g, &[1000, 10], |h| h.sigmoid(), 0);
            model.forward(g.constant(x.clone()));
            let mut opt = Sgd::new(0.1);
            let losses: Vec<f32> = (0..2)
                .map(|_| support::engine_step(&g, &model, &mut opt, &x, &t))
                .collect();
            let params: Vec<_> = model.params().iter().map(|p| p.data()).collect();
            (losses, params)
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0, two.0, "losses");
    assert!(
        one.1 == two.1,
        "parameters differ between one and two threads"
    );
}
