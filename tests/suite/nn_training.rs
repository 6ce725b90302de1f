//! Layers, optimizers and training (DeZero steps 45-48): every optimizer minimises a quadratic,
//! the hooks do what they say, and an MLP learns the spiral.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tapegrad::ndarray::{Array2, Axis, array};
use tapegrad::nn::datasets::spiral;
use tapegrad::nn::functional::{accuracy, mean_squared_error, softmax_cross_entropy};
use tapegrad::nn::layers::{Layer, Linear, Mlp};
use tapegrad::nn::optim::{AdaGrad, Adam, Hooks, MomentumSgd, Optimizer, Sgd};
use tapegrad::prelude::*;

/// Minimises sum((w - [1, -2])^2) from w = [5, 5] with `opt`; returns the final w.
fn minimise(opt: &mut dyn Optimizer, steps: usize) -> Vec<f64> {
    let g: Graph = Graph::new();
    let w = g.param(array![5.0, 5.0]);
    for _ in 0..steps {
        g.clear();
        (w - array![1.0, -2.0].into_dyn()).square().sum().backward();
        opt.step(&[w]);
    }
    w.data().iter().copied().collect()
}

#[test]
fn every_optimizer_finds_the_minimum() {
    let cases: Vec<(&str, Box<dyn Optimizer>, usize)> = vec![
        ("sgd", Box::new(Sgd::new(0.1)), 200),
        ("momentum", Box::new(MomentumSgd::new(0.05, 0.9)), 300),
        ("adagrad", Box::new(AdaGrad::new(1.0)), 500),
        ("adam", Box::new(Adam::new(0.1)), 1000),
    ];
    for (name, mut opt, steps) in cases {
        let w = minimise(opt.as_mut(), steps);
        assert!(
            (w[0] - 1.0).abs() < 1e-3 && (w[1] + 2.0).abs() < 1e-3,
            "{name}: {w:?}"
        );
    }
}

#[test]
fn sgd_update_matches_hand_computation() {
    let g: Graph = Graph::new();
    let w = g.param(array![1.0, 2.0]);
    (w * w).sum().backward(); // grad 2w = [2, 4]
    Sgd::new(0.5).step(&[w]);
    assert_eq!(w.data(), array![0.0, 0.0].into_dyn());
    assert!(w.grad().is_none());
}

/// One optimizer step on one element: `(w, grad, state, t) -> new w`.
type Update<'a> = dyn Fn(f64, f64, &mut [f64; 3], usize) -> f64 + 'a;

/// Three steps of each optimizer on `sum(c * w)` (gradient `c`, constant) against its formula,
/// written out here per element.
#[test]
fn optimizer_updates_match_their_formulas() {
    let (w0, c) = ([1.0, -2.0], [0.5, -3.0]);
    let run = |opt: &mut dyn Optimizer| {
        let g: Graph = Graph::new();
        let w = g.param(array![w0[0], w0[1]]);
        for _ in 0..3 {
            g.clear();
            (w * array![c[0], c[1]].into_dyn()).sum().backward();
            opt.step(&[w]);
            assert!(w.grad().is_none());
        }
        w.data()
    };
    let lr = 0.1;
    let expected = |update: &Update<'_>| {
        (0..2)
            .map(|i| {
                let (mut w, mut state) = (w0[i], [0.0; 3]);
                for t in 1..=3 {
                    w = update(w, c[i], &mut state, t);
                }
                w
            })
            .collect::<Vec<_>>()
    };
    let cases: Vec<(Box<dyn Optimizer>, Vec<f64>)> = vec![
        (Box::new(Sgd::new(lr)), expected(&|w, g, _, _| w - lr * g)),
        (
            Box::new(MomentumSgd::new(lr, 0.9)),
            expected(&|w, g, s, _| {
                s[0] = 0.9 * s[0] - lr * g;
                w + s[0]
            }),
        ),
        (
            Box::new(AdaGrad::new(lr)),
            expected(&|w, g, s, _| {
                s[0] += g * g;
                w - lr * g / (s[0].sqrt() + 1e-10)
            }),
        ),
        (
            Box::new(Adam::new(lr)),
            expected(&|w, g, s, t| {
                let (b1, b2) = (0.9f64, 0.999f64);
                s[0] = b1 * s[0] + (1.0 - b1) * g;
                s[1] = b2 * s[1] + (1.0 - b2) * g * g;
                let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
                w - lr / c1 * s[0] / (s[1].sqrt() / c2.sqrt() + 1e-8)
            }),
        ),
    ];
    for (k, (mut opt, want)) in cases.into_iter().enumerate() {
        let got = run(opt.as_mut());
        for i in 0..2 {
            assert!(
                (got[i] - want[i]).abs() < 1e-12,
                "optimizer {k}: {got} vs {want:?}"
            );
        }
    }
}

/// Five steps of each optimizer on gradients of three sizes (1e-3, 1, 1e-6: where `eps`
/// matters) against PyTorch 2.15's `Adam`, `Adagrad` and `SGD(momentum=0.9)`, all at lr 0.01.
#[test]
fn optimizers_match_pytorch() {
    let torch: [(&str, [f64; 3]); 3] = [
        (
            "adam",
            [0.9500464120824272, -1.9500223623122932, 0.4506011613761118],
        ),
        (
            "adagrad",
            [0.9678738737828906, -1.9677780920291552, 0.4680706593294704],
        ),
        (
            "momentum",
            [0.9997371304021948, -1.4986329856000002, 0.49999986855900624],
        ),
    ];
    for (name, want) in torch {
        let mut opt: Box<dyn Optimizer> = match name {
            "adam" => Box::new(Adam::new(0.01)),
            "adagrad" => Box::new(AdaGrad::new(0.01)),
            _ => Box::new(MomentumSgd::new(0.01, 0.9)),
        };
        let g: Graph = Graph::new();
        let w = g.param(array![1.0, -2.0, 0.5]);
        for _ in 0..5 {
            g.clear();
            (w.square() * array![1e-3, 1.0, 1e-6].into_dyn())
                .sum()
                .backward();
            opt.step(&[w]);
        }
        for (got, want) in w.data().iter().zip(want) {
            assert!(
                (got - want).abs() <= 1e-14 * want.abs(),
                "{name}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn weight_decay_and_clipping_hooks() {
    let g: Graph = Graph::new();
    let w = g.param(array![3.0, 4.0]);
    w.sum().backward(); // grad [1, 1]
    let mut opt = Sgd {
        lr: 1.0,
        hooks: Hooks {
            weight_decay: Some(0.1),
            clip_grad_norm: None,
        },
    };
    opt.step(&[w]); // grad + 0.1 w = [1.3, 1.4]
    let got = w.data();
    assert!((got[0] - 1.7).abs() < 1e-12 && (got[1] - 2.6).abs() < 1e-12);

    let v = g.param(array![0.0, 0.0]);
    (v * array![30.0, 40.0].into_dyn()).sum().backward(); // grad [30, 40], norm 50
    let mut clip = Sgd {
        lr: 1.0,
        hooks: Hooks {
            weight_decay: None,
            clip_grad_norm: Some(5.0),
        },
    };
    clip.step(&[v]); // scaled to norm 5: [3, 4]
    let got = v.data();
    assert!(
        (got[0] + 3.0).abs() < 1e-5 && (got[1] + 4.0).abs() < 1e-5,
        "{got}"
    );
}

#[test]
fn linear_is_lazy_and_reproducible() {
    let g: Graph = Graph::new();
    let (a, b) = (Linear::new(&g, 4, 7), Linear::new(&g, 4, 7));
    let params = a.params();
    assert_eq!(params.len(), 2); // the weight is a handle before the first forward pass
    assert_eq!(params[0].shape(), vec![0, 4]);
    let x = g.var(Array2::<f64>::ones((2, 3)));
    assert_eq!(a.forward(x).data(), b.forward(x).data());
    assert_eq!(params[0].shape(), vec![3, 4]);
    assert_eq!(a.params(), params, "the same handles");
    // made at construction with the input size: the same weights as made lazily from the seed
    let c = Linear::with_input(&g, 3, 4, 7);
    assert_eq!(c.params()[0].data(), params[0].data());
}

/// The PyTorch habit: `optim.Adam(model.parameters())` before the loop. Every weight trains.
#[test]
fn params_collected_before_the_first_pass_train_every_weight() {
    let x = Array2::from_shape_fn((20, 1), |(i, _)| i as f64 / 20.0);
    let t: Array2<f64> = x.mapv(|v| (2.0 * std::f64::consts::PI * v).sin());
    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[10, 1], |h| h.sigmoid(), 0);
    let params = model.params(); // before any forward pass
    assert_eq!(params.len(), 4);
    let mut opt = Adam::new(0.05);
    let mut last = f64::NAN;
    for _ in 0..1000 {
        g.clear();
        let y = model.forward(g.constant(x.clone()));
        let loss = mean_squared_error(y, g.constant(t.clone()));
        loss.backward();
        opt.step(&params);
        last = loss.item();
    }
    assert!(last < 0.02, "loss {last}");
    let made: Vec<Vec<usize>> = params.iter().map(|p| p.shape()).collect();
    assert_eq!(made, [vec![1, 10], vec![10], vec![10, 1], vec![1]]);
    // the weights moved from their initial values
    let fresh = Mlp::new(&g, &[10, 1], |h| h.sigmoid(), 0);
    fresh.forward(g.constant(x.clone()));
    assert_ne!(fresh.params()[0].data(), params[0].data());
    assert_ne!(fresh.params()[2].data(), params[2].data());
}

#[test]
fn a_model_saved_right_after_it_is_built_reloads_whole() {
    let dir = crate::common::TempDir::new("lazy");
    let x = Array2::<f64>::ones((2, 5));
    // saved before any pass: the unmade weights are saved as such, and load into a fresh model
    let g: Graph = Graph::new();
    let built = Mlp::new(&g, &[3, 2], |h| h.tanh(), 1);
    let path = dir.join("built.npz");
    tapegrad::nn::io::save_npz(&path, &built.params()).unwrap();
    let fresh = Mlp::new(&g, &[3, 2], |h| h.tanh(), 1);
    tapegrad::nn::io::load_npz(&path, &fresh.params()).unwrap();
    assert_eq!(
        fresh.forward(g.var(x.clone())).data(),
        built.forward(g.var(x.clone())).data()
    );
    // a trained model's checkpoint loads into a model just built, before its first pass
    let trained = dir.join("trained.npz");
    tapegrad::nn::io::save_npz(&trained, &built.params()).unwrap();
    let other = Mlp::new(&g, &[3, 2], |h| h.tanh(), 99);
    tapegrad::nn::io::load_npz(&trained, &other.params()).unwrap();
    assert_eq!(
        other.forward(g.var(x.clone())).data(),
        built.forward(g.var(x.clone())).data()
    );
}

#[test]
fn an_activation_may_capture_values() {
    let g: Graph = Graph::new();
    let slope = 0.1;
    // a leaky relu, its slope captured
    let model = Mlp::new(
        &g,
        &[4, 1],
        move |h| h.relu() * (1.0 - slope) + h * slope,
        0,
    );
    let y = model.forward(g.var(Array2::<f64>::ones((3, 2))));
    assert_eq!(y.shape(), vec![3, 1]);
}

/// DeZero step 48: MLP (10, 3) with sigmoid on the spiral, SGD lr 1.0, batch 30, 300 epochs.
#[test]
fn step48_mlp_learns_the_spiral() {
    let (x, t) = spiral(1);
    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[10, 3], |h| h.sigmoid(), 0);
    let mut opt = Sgd::new(1.0);
    let mut rng = StdRng::seed_from_u64(0);
    let (batch, n) = (30, x.nrows());
    let mut order: Vec<usize> = (0..n).collect();
    let mut first = None;
    let mut avg_loss = f64::NAN;
    for _ in 0..300 {
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for chunk in order.chunks(batch) {
            g.clear();
            let xb = g.constant(x.select(Axis(0), chunk));
            let tb: Vec<usize> = chunk.iter().map(|&i| t[i]).collect();
            let loss = softmax_cross_entropy(model.forward(xb), &tb);
            loss.backward();
            opt.step(&model.params());
            sum += loss.item() * chunk.len() as f64;
        }
        avg_loss = sum / n as f64;
        first.get_or_insert(avg_loss);
    }
    g.clear();
    let acc = accuracy(model.forward(g.var(x.clone())), &t);
    println!(
        "average loss {:.3} -> {avg_loss:.3}, accuracy {acc:.3}",
        first.unwrap()
    );
    assert!(first.unwrap() > 1.0, "starts near ln 3");
    assert!(avg_loss < 0.15, "average loss {avg_loss}");
    assert!(acc >= 0.9, "accuracy {acc}");
}

#[test]
fn save_load_predict_gives_identical_outputs() {
    let dir = crate::common::TempDir::new("io");
    let path = dir.join("mlp.npz");
    let x = Array2::from_shape_fn((4, 2), |(i, j)| (i as f64 - 1.5) * (j as f64 + 0.5));

    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[5, 3], |h| h.tanh(), 3);
    let before = model.forward(g.var(x.clone())).data();
    tapegrad::nn::io::save_npz(&path, &model.params()).unwrap();

    let g2: Graph = Graph::new();
    let fresh = Mlp::new(&g2, &[5, 3], |h| h.tanh(), 99); // other initial weights
    fresh.forward(g2.var(x.clone())); // makes the lazy weights
    assert_ne!(fresh.forward(g2.var(x.clone())).data(), before);
    tapegrad::nn::io::load_npz(&path, &fresh.params()).unwrap();
    assert_eq!(fresh.forward(g2.var(x.clone())).data(), before);

    // A model of another shape: a clear error, and nothing changed.
    let g3: Graph = Graph::new();
    let wrong = Mlp::new(&g3, &[4, 3], |h| h.tanh(), 3);
    wrong.forward(g3.var(x.clone()));
    let snapshot: Vec<_> = wrong.params().iter().map(|p| p.data()).collect();
    let e = tapegrad::nn::io::load_npz(&path, &wrong.params()).unwrap_err();
    assert!(
        e.to_string()
            .contains("array p0 has shape [2, 5], the parameter has shape [2, 4]"),
        "{e}"
    );
    let after: Vec<_> = wrong.params().iter().map(|p| p.data()).collect();
    assert_eq!(snapshot, after);

    let e = tapegrad::nn::io::load_npz(dir.join("missing.npz"), &fresh.params()).unwrap_err();
    assert!(matches!(e, tapegrad::nn::io::IoError::File { .. }), "{e}");
    let e = tapegrad::nn::io::load_npz(&path, &fresh.params()[..2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: holds 4 arrays, the model has 2 parameters",
            path.display()
        )
    );
}

#[test]
fn dropout_masks_scales_and_passes_gradients_through_the_mask() {
    use tapegrad::nn::functional::{dropout, try_dropout};
    let g: Graph = Graph::new();
    let x = g.var(tapegrad::ndarray::Array1::<f64>::from_elem(10_000, 3.0));
    let mut rng = StdRng::seed_from_u64(1);
    let y = dropout(x, 0.25, true, &mut rng);
    y.sum().backward();
    let (yd, gx) = (y.data(), x.grad().unwrap());
    let kept = yd.iter().filter(|&&v| v != 0.0).count() as f64 / 10_000.0;
    assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
    for (&v, &gv) in yd.iter().zip(gx.iter()) {
        assert!((v == 0.0 && gv == 0.0) || (v == 4.0 && (gv - 4.0 / 3.0).abs() < 1e-12));
    }
    assert_eq!(dropout(x, 0.25, false, &mut rng).data(), x.data());
    assert!(matches!(
        try_dropout(x, 1.0, true, &mut rng),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn data_loader_covers_every_example_once_per_epoch() {
    use tapegrad::nn::datasets::{DataLoader, Dataset};
    // Row i is [i, -i] with label i % 3: every example can be recognised in a batch.
    let data = (
        Array2::from_shape_fn(
            (100, 2),
            |(i, j)| if j == 0 { i as f64 } else { -(i as f64) },
        ),
        (0..100).map(|i| i % 3).collect::<Vec<usize>>(),
    );
    let mut loader = DataLoader::new(&data, 32, true, 5);
    let mut seen = vec![0; data.len()];
    let mut first_labels = Vec::new();
    for (x, t) in loader.epoch() {
        assert_eq!(x.shape()[0], t.len());
        first_labels.extend(t.iter().copied());
        for (row, &label) in x.outer_iter().zip(&t) {
            let i = row[0] as usize;
            assert_eq!((data.get(i).0, label), (row.to_owned(), i % 3));
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    let mut again = DataLoader::new(&data, 32, true, 5);
    let labels: Vec<usize> = again.epoch().flat_map(|(_, t)| t).collect();
    assert_eq!(labels, first_labels, "the same seed gives the same order");
}

#[test]
fn the_preludes_bring_what_a_training_loop_calls() {
    // `Layer` and `Optimizer` from `tapegrad::prelude` (already imported above), the types from
    // `tapegrad::nn::prelude`
    use tapegrad::nn::prelude::{Mlp as PMlp, Sgd as PSgd};
    let g: Graph = Graph::new();
    let model = PMlp::new(&g, &[3, 1], |h| h.tanh(), 0);
    let params = model.params();
    model
        .forward(g.var(Array2::<f64>::ones((2, 2))))
        .sum()
        .backward();
    let before = params[0].data();
    PSgd::new(0.1).step(&params);
    assert_ne!(params[0].data(), before);
}
