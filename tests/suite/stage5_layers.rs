//! Conv2d, MaxPool2d, BatchNorm, Embedding, Rnn and Lstm: values against their functional
//! definitions, gradients at first and second order, truncated BPTT in flat memory, errors.

use crate::common;

use tapegrad::ndarray::{Array2, Array4, ArrayD, array};
use tapegrad::nn::functional::{conv2d, max_pool2d};
use tapegrad::nn::layers::{BatchNorm, Conv2d, Embedding, Layer, Lstm, MaxPool2d, Rnn};
use tapegrad::nn::optim::{Optimizer, Sgd};
use tapegrad::prelude::*;

shapecheck!(
    rnn_two_steps,
    (-1.0, 1.0),
    |xs| {
        let rnn = Rnn::new(xs[0].graph(), 3, 0);
        rnn.forward(xs[0]);
        rnn.forward(xs[0] * 0.5 as T).square().sum()
    },
    shapes & [&[2, 4]]
);
shapecheck!(
    lstm_three_steps,
    (-1.0, 1.0),
    |xs| {
        let lstm = Lstm::new(xs[0].graph(), 3, 0);
        lstm.forward(xs[0]);
        lstm.forward(xs[0].sin());
        lstm.forward(xs[0]).square().sum()
    },
    shapes & [&[2, 2]]
);
shapecheck!(
    conv_layer,
    (-1.0, 1.0),
    |xs| {
        let conv = Conv2d::new(xs[0].graph(), 2, (2, 2), (1, 1), (1, 0), 0);
        let pool = MaxPool2d::new((2, 2), (1, 1), (0, 0));
        pool.forward(conv.forward(xs[0]).tanh()).square().sum()
    },
    shapes & [&[1, 2, 3, 4]]
);
shapecheck!(
    batch_norm_train,
    (-1.0, 1.0),
    |xs| {
        BatchNorm::new(xs[0].graph())
            .forward(xs[0])
            .cumsum(0)
            .square()
            .sum()
    },
    shapes & [&[3, 2, 2, 2]]
);

#[test]
fn conv_layer_is_conv2d_with_its_weights() {
    let g: Graph = Graph::new();
    let x = g.var(common::values::<f64>(&[2, 3, 5, 5], 1, -1.0, 1.0));
    let conv = Conv2d::new(&g, 4, (3, 3), (2, 2), (1, 1), 0);
    assert_eq!(conv.params()[0].shape(), vec![4, 0, 3, 3]); // lazy input channels
    let y = conv.forward(x);
    let (w, b) = (conv.params()[0], conv.params()[1]);
    assert_eq!(w.shape(), vec![4, 3, 3, 3]);
    assert_eq!(y.data(), conv2d(x, w, Some(b), (2, 2), (1, 1)).data());
    let pooled = MaxPool2d::new((2, 2), (2, 2), (0, 0)).forward(y);
    assert_eq!(pooled.data(), max_pool2d(y, (2, 2), (2, 2), (0, 0)).data());
}

#[test]
fn batch_norm_tracks_running_statistics_as_pytorch() {
    let g: Graph = Graph::new();
    let bn = BatchNorm::new(&g);
    let x = array![[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]];
    let y = bn.forward(g.var(x.clone())).data();
    for c in 0..2 {
        let col = y.index_axis(tapegrad::ndarray::Axis(1), c);
        assert!(col.sum().abs() < 1e-9);
        assert!((col.mapv(|v| v * v).mean().unwrap() - 1.0).abs() < 1e-4);
    }
    // running mean = 0.9 * 0 + 0.1 * mean; running var = 0.9 * 1 + 0.1 * unbiased var
    bn.train(false);
    let z = bn.forward(g.var(array![[0.0, 0.0]])).data();
    let (rm, rv) = ([0.3, 2.0], [0.9 + 0.1 * 4.0, 0.9 + 0.1 * 100.0]);
    for c in 0..2 {
        let want = (0.0 - rm[c]) / (rv[c] + 1e-5f64).sqrt();
        assert!((z[[0, c]] - want).abs() < 1e-12, "{} vs {want}", z[[0, c]]);
    }
    assert!(
        bn.try_forward(g.var(ArrayD::<f64>::zeros(vec![2, 2, 2])))
            .is_err()
    );
}

#[test]
fn embedding_rows_take_their_gradients() {
    let g: Graph = Graph::new();
    let emb = Embedding::new(&g, 5, 3, 0);
    let w = emb.params()[0];
    let v = emb.lookup(&array![4, 0, 4].into_dyn());
    assert_eq!(
        v.data().index_axis(tapegrad::ndarray::Axis(0), 0),
        w.data().index_axis(tapegrad::ndarray::Axis(0), 4)
    );
    (v * 2.0).sum().backward();
    let gw = w.grad().unwrap();
    assert_eq!(
        gw.index_axis(tapegrad::ndarray::Axis(0), 4)
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![4.0; 3]
    );
    assert_eq!(
        gw.index_axis(tapegrad::ndarray::Axis(0), 1)
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![0.0; 3]
    );
    assert!(matches!(
        emb.try_lookup(&array![5].into_dyn()),
        Err(Error::IndexOutOfBounds { .. })
    ));
    assert!(emb.try_forward(g.var(array![0.5])).is_err());
    assert_eq!(emb.forward(g.var(array![1.0, 2.0])).shape(), vec![2, 3]);
}

#[test]
fn truncated_bptt_keeps_memory_flat() {
    // an LSTM learns the next value of a sine, window by window, the graph cleared in between
    let g: Graph = Graph::new();
    let lstm = Lstm::new(&g, 8, 0);
    let head = tapegrad::nn::layers::Linear::new(&g, 1, 1);
    let params = [lstm.params(), head.params()].concat();
    let mut opt = Sgd::new(0.05);
    let series: Vec<f64> = (0..400).map(|t| (t as f64 * 0.1).sin()).collect();
    let (mut losses, mut len_at) = (Vec::new(), Vec::new());
    for window in 0..300 {
        let start = (window * 7) % 380;
        let loss = g.step(|| {
            let mut loss = g.scalar(0.0);
            for t in start..start + 10 {
                let x = g.constant(Array2::from_elem((1, 1), series[t]));
                let y = head.forward(lstm.forward(x));
                loss = loss + (y - series[t + 1]).square().sum();
            }
            loss.backward();
            opt.step(&params);
            lstm.unchain().unwrap();
            loss.item() / 10.0
        });
        losses.push(loss);
        if window == 50 || window == 299 {
            len_at.push(g.len());
        }
    }
    let mean = |w: &[f64]| w.iter().sum::<f64>() / w.len() as f64;
    let (early, late) = (mean(&losses[..30]), mean(&losses[270..]));
    assert!(
        late < early / 2.0,
        "the loss did not fall: {early} -> {late}"
    );
    assert_eq!(len_at[0], len_at[1], "the arena grew across windows");
}

#[test]
fn recurrent_layers_refuse_inputs_that_are_not_batches() {
    let g: Graph = Graph::new();
    let x = g.var(Array4::<f64>::ones((1, 1, 2, 2)));
    let e = Rnn::new(&g, 3, 0).try_forward(x).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "rnn", .. }), "{e}");
    assert!(Lstm::new(&g, 3, 0).try_forward(x).is_err());
}

#[test]
fn a_small_cnn_learns_digits() {
    use tapegrad::nn::datasets::digits;
    use tapegrad::nn::functional::softmax_cross_entropy;
    use tapegrad::nn::optim::Adam;
    let (x, t) = digits();
    let (xb, tb) = (
        x.slice(tapegrad::ndarray::s![..64, ..]).to_owned(),
        t[..64].to_vec(),
    );
    let g: Graph = Graph::new();
    let conv = Conv2d::new(&g, 4, (3, 3), (1, 1), (1, 1), 0);
    let pool = MaxPool2d::new((2, 2), (2, 2), (0, 0));
    let head = tapegrad::nn::layers::Linear::new(&g, 10, 1);
    let forward = || {
        let h = conv.forward(g.constant(xb.clone().into_shape_with_order((64, 1, 8, 8)).unwrap()));
        head.forward(pool.forward(h.relu()).reshape(&[64, 64]))
    };
    forward();
    let params = [conv.params(), head.params()].concat();
    let mut opt = Adam::new(0.01);
    let losses: Vec<f64> = (0..30)
        .map(|_| {
            g.step(|| {
                let loss = softmax_cross_entropy(forward(), &tb);
                loss.backward();
                opt.step(&params);
                loss.item()
            })
        })
        .collect();
    assert!(losses[29] < losses[0] / 3.0, "{losses:?}");
}
