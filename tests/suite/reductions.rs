//! Gradient checks and semantics of ops/reduce.rs and ops/layout.rs: reductions and PyTorch's
//! shape ops, first and second order, f64 and f32, with their errors.

use crate::common;

use tapegrad::ndarray::{ArrayD, array, s};
use tapegrad::prelude::*;

shapecheck!(
    mean_axes,
    (-2.0, 2.0),
    |xs| xs[0].mean_axes(&[0, 2], false).square(),
    shapes & [&[2, 3, 2]]
);
shapecheck!(
    var_axes,
    (-2.0, 2.0),
    |xs| xs[0].var_axes(&[1], true, 1),
    shapes & [&[2, 3]]
);
shapecheck!(
    var_axes_biased,
    (-2.0, 2.0),
    |xs| xs[0].var_axes(&[0, 1], false, 0),
    shapes & [&[2, 3]]
);
shapecheck!(
    std_axes,
    (-2.0, 2.0),
    |xs| xs[0].std_axes(&[1], false, 1),
    shapes & [&[2, 4]]
);
shapecheck!(
    logsumexp,
    (-2.0, 2.0),
    |xs| xs[0].logsumexp(&[1], false),
    shapes & [&[2, 3]]
);
shapecheck!(
    logsumexp_all,
    (-2.0, 2.0),
    |xs| xs[0].logsumexp(&[0, 1], true),
    shapes & [&[2, 3]]
);
shapecheck!(
    prod_axes,
    (-2.0, 2.0),
    |xs| xs[0].prod_axes(&[1], false),
    shapes & [&[2, 3]]
);
shapecheck!(
    prod_axes_two,
    (0.5, 1.5),
    |xs| xs[0].prod_axes(&[0, 2], true),
    shapes & [&[2, 2, 3]]
);
fullcheck!(norm, 1, (0.5, 2.0), |xs| xs[0].norm());
fullcheck!(norm_p3, 1, (0.5, 2.0), |xs| xs[0].norm_p(3.0 as T));
shapecheck!(
    cumsum,
    (-2.0, 2.0),
    |xs| xs[0].cumsum(1).square(),
    shapes & [&[2, 3]]
);
fullcheck!(max_all, 1, (-2.0, 2.0), |xs| xs[0].max() * xs[0].sum());
shapecheck!(
    min_all,
    (-2.0, 2.0),
    |xs| xs[0].min().square(),
    shapes & [&[2, 2]]
);

shapecheck!(
    unsqueeze,
    (-2.0, 2.0),
    |xs| xs[0].unsqueeze(1).square(),
    shapes & [&[2, 3]]
);
shapecheck!(
    squeeze,
    (-2.0, 2.0),
    |xs| xs[0].squeeze(1).square(),
    shapes & [&[2, 1, 3]]
);
shapecheck!(
    flatten,
    (-2.0, 2.0),
    |xs| xs[0].flatten().cumsum(0),
    shapes & [&[2, 3]]
);
shapecheck!(
    expand,
    (-2.0, 2.0),
    |xs| xs[0].expand(&[2, 3]).square(),
    shapes & [&[3]]
);
shapecheck!(
    repeat,
    (-2.0, 2.0),
    |xs| xs[0].repeat(&[2, 1, 2]).cumsum(2),
    shapes & [&[2, 3]]
);
shapecheck!(
    flip,
    (-2.0, 2.0),
    |xs| xs[0].flip(1).cumsum(1),
    shapes & [&[2, 3]]
);
shapecheck!(
    pad,
    (-2.0, 2.0),
    |xs| xs[0].pad(&[(1, 0), (2, 1)], 0.5 as T).cumsum(1).square(),
    shapes & [&[2, 3]]
);
shapecheck!(
    tril,
    (-2.0, 2.0),
    |xs| xs[0].tril(0).cumsum(0).square(),
    shapes & [&[3, 3]]
);
shapecheck!(
    triu,
    (-2.0, 2.0),
    |xs| xs[0].triu(-1).cumsum(1).square(),
    shapes & [&[2, 3, 3]]
);

#[test]
fn reductions_match_pytorch() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]]);
    // torch.var(x, dim=1) (correction 1), torch.std(x, dim=0, correction=0)
    let v = x.var_axes(&[1], false, 1).data();
    assert!((v[0] - 1.0).abs() < 1e-15 && (v[1] - 7.0 / 3.0).abs() < 1e-15);
    assert_eq!(
        x.std_axes(&[0], false, 0).data(),
        array![1.5, 1.5, 2.0].into_dyn()
    );
    assert_eq!(x.prod_axes(&[0, 1], false).item(), 840.0);
    assert_eq!(
        x.cumsum(0).data(),
        array![[1.0, 2.0, 3.0], [5.0, 7.0, 10.0]].into_dyn()
    );
    assert_eq!(x.argmax(0), array![1, 1, 1].into_dyn());
    assert_eq!(x.argmin(1), array![0, 0].into_dyn());
    assert_eq!((x.max().item(), x.min().item()), (7.0, 1.0));
    // logsumexp is stable at 1e3 and at -inf
    let big = g.var(array![1000.0, 1000.0, f64::NEG_INFINITY]);
    assert!((big.logsumexp(&[0], false).item() - (1000.0 + 2f64.ln())).abs() < 1e-12);
    let ninf = g.var(array![f64::NEG_INFINITY, f64::NEG_INFINITY]);
    assert_eq!(ninf.logsumexp(&[0], false).item(), f64::NEG_INFINITY);
    // argmax: NaN is the maximum (first NaN), ties go to the first
    assert_eq!(g.var(array![1.0, f64::NAN, 3.0, f64::NAN]).argmax(0)[[]], 1);
    assert_eq!(g.var(array![3.0, 1.0, 3.0]).argmax(0)[[]], 0);
}

#[test]
fn zeros_and_ties_follow_pytorch() {
    let g: Graph = Graph::new();
    // prod with zeros: the product of the others
    let x = g.var(array![0.0, 0.0, 3.0]);
    x.prod_axes(&[0], false).backward();
    assert_eq!(x.grad().unwrap(), array![0.0, 0.0, 0.0].into_dyn());
    let y = g.var(array![0.0, 2.0, 3.0]);
    y.prod_axes(&[0], false).backward();
    assert_eq!(y.grad().unwrap(), array![6.0, 0.0, 0.0].into_dyn());
    // the norm at 0 has gradient 0, at every order
    let z = g.var(array![0.0, 0.0]);
    let gz = tapegrad::grad(&[z.norm()], &[z], true)[0];
    assert_eq!(gz.data(), array![0.0, 0.0].into_dyn());
    // max over all: ties share evenly
    let t = g.var(array![[2.0, 1.0], [2.0, 2.0]]);
    t.max().backward();
    assert_eq!(
        t.grad().unwrap(),
        array![[1.0, 0.0], [1.0, 1.0]].into_dyn() / 3.0
    );
}

#[test]
fn shape_ops_match_pytorch() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    assert_eq!(x.unsqueeze(0).shape(), vec![1, 2, 3]);
    assert_eq!(x.unsqueeze(2).shape(), vec![2, 3, 1]);
    assert_eq!(g.scalar(1.0).flatten().shape(), vec![1]);
    // torch.tensor([[1, 2, 3], [4, 5, 6]]).repeat(1, 2)
    let r = x.repeat(&[1, 2]).data();
    assert_eq!(
        r,
        array![
            [1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
            [4.0, 5.0, 6.0, 4.0, 5.0, 6.0]
        ]
        .into_dyn()
    );
    assert_eq!(x.repeat(&[2, 1]).data().shape(), &[4, 3]);
    assert_eq!(
        x.flip(0).data(),
        array![[4.0, 5.0, 6.0], [1.0, 2.0, 3.0]].into_dyn()
    );
    let p = x.pad(&[(1, 0), (0, 1)], -1.0).data();
    let want = array![
        [-1.0, -1.0, -1.0, -1.0],
        [1.0, 2.0, 3.0, -1.0],
        [4.0, 5.0, 6.0, -1.0]
    ];
    assert_eq!(p, want.into_dyn());
    assert_eq!(
        x.tril(-1).data(),
        array![[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]].into_dyn()
    );
    assert_eq!(
        x.triu(1).data(),
        array![[0.0, 2.0, 3.0], [0.0, 0.0, 6.0]].into_dyn()
    );
    // tril keeps no NaN from the dropped part
    let n = g.var(array![[1.0, f64::NAN], [2.0, 3.0]]).tril(0).data();
    assert_eq!(n, array![[1.0, 0.0], [2.0, 3.0]].into_dyn());
}

#[test]
fn bad_arguments_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let e = x.try_squeeze(1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "squeeze: axis 1 of shape [2, 3] has length 3, not 1"
    );
    assert!(matches!(x.try_unsqueeze(3), Err(Error::InvalidAxes { .. })));
    let e = x.try_pad(&[(1, 1)], 0.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pad: 1 (before, after) pairs for a 2-d variable"
    );
    assert!(x.try_repeat(&[2]).is_err());
    assert!(g.var(array![1.0]).try_tril(0).is_err());
    assert!(matches!(
        x.try_mean_axes(&[0, 0], false),
        Err(Error::InvalidAxes {
            op: "mean_axes",
            ..
        })
    ));
    assert!(matches!(
        x.try_logsumexp(&[2], false),
        Err(Error::InvalidAxes { .. })
    ));
    assert!(matches!(x.try_cumsum(2), Err(Error::InvalidAxes { .. })));
    assert!(matches!(x.try_argmax(2), Err(Error::InvalidAxes { .. })));
    assert!(g.var(ArrayD::<f64>::zeros(vec![0])).try_max().is_err());
    assert!(
        g.var(ArrayD::<f64>::zeros(vec![2, 0]))
            .try_argmax(1)
            .is_err()
    );
    assert!(x.try_norm_p(0.0).is_err());
}

/// Tied extrema share the gradient evenly, as PyTorch's `amax`/`amin` and `max()`; an axis whose
/// maximum is NaN gets NaN (`amax`), and a NaN maximum of all elements goes to the NaNs
/// (`max()`). The numbers are PyTorch 2.15's.
#[test]
fn tied_extrema_share_the_gradient_as_pytorch() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]);
    for keepdims in [false, true] {
        x.cleargrad();
        x.max_axis(1, keepdims).sum().backward();
        let third = 1.0 / 3.0;
        let want = array![[0.0, 0.5, 0.5], [third, third, third]].into_dyn();
        assert_eq!(x.grad().unwrap(), want);
    }
    let m = g.var(array![[1.0, 2.0, 3.0], [1.0, 2.0, 2.0]]);
    (m.min_axis(0, false) * array![1.0, 2.0, 4.0].into_dyn())
        .sum()
        .backward();
    assert_eq!(
        m.grad().unwrap(),
        array![[0.5, 1.0, 0.0], [0.5, 1.0, 4.0]].into_dyn()
    );
    // first and second order through the share, in both modes
    let gx = tapegrad::grad(&[x.max_axis(1, false).sum()], &[x], true)[0];
    assert_eq!(gx.data()[[0, 1]], 0.5);
    let t = tapegrad::jvp(
        |v| vec![v[0].max_axis(1, false)],
        &[x.data()],
        &[array![[0.0, 1.0, 3.0], [3.0, 0.0, 0.0]].into_dyn()],
    )
    .unwrap();
    assert_eq!(t.1[0], array![2.0, 1.0].into_dyn()); // the mean tangent of the ties

    let n = g.var(array![[1.0, f64::NAN], [2.0, 3.0]]);
    n.max_axis(1, false).sum().backward();
    let gn = n.grad().unwrap();
    assert!(gn[[0, 0]].is_nan() && gn[[0, 1]].is_nan(), "{gn}");
    assert_eq!((gn[[1, 0]], gn[[1, 1]]), (0.0, 1.0));
    n.cleargrad();
    n.max().backward();
    assert_eq!(n.grad().unwrap(), array![[0.0, 1.0], [0.0, 0.0]].into_dyn());
}

/// A correction of `n` or more divides by `max(0, n - correction) = 0`, as `torch.var` and
/// `torch.std` do: infinity, NaN where every deviation is 0 (never a negative variance).
#[test]
fn var_without_degrees_of_freedom_is_infinite_as_pytorch() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0], [3.0, 4.0], [5.0, 5.0]]);
    for correction in [3, 5] {
        let v = x.var_axes(&[1], false, correction).data();
        assert_eq!(v.slice(s![..2]), array![f64::INFINITY, f64::INFINITY]);
        assert!(v[2].is_nan(), "{v}");
        let sd = x.std_axes(&[1], false, correction).data();
        assert_eq!(sd.slice(s![..2]), array![f64::INFINITY, f64::INFINITY]);
    }
    // the gradient of an infinite variance is not a number either (PyTorch's is +-inf, and NaN
    // at the mean; through the mean's path here, NaN everywhere): never a finite wrong one
    let v = x.var_axes(&[0], false, 3);
    v.sum().backward();
    assert!(x.grad().unwrap().iter().all(|g| !g.is_finite()));
}

#[test]
fn std_is_exact_and_zero_where_the_variance_is() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 4.0], [2.0, 2.0]]);
    let s = x.std_axes(&[1], false, 0);
    s.sum().backward();
    assert_eq!(s.data(), array![1.5, 0.0].into_dyn());
    assert_eq!(
        x.grad().unwrap(),
        array![[-0.5, 0.5], [0.0, 0.0]].into_dyn()
    );
    assert!(
        g.var(array![1.0, f64::NAN])
            .std_axes(&[0], false, 1)
            .item()
            .is_nan()
    );
}

// 1-d and 3-d cases of the reductions
shapecheck!(
    logsumexp_1d,
    (-2.0, 2.0),
    |xs| xs[0].logsumexp(&[0], false),
    shapes & [&[4]]
);
shapecheck!(
    var_1d,
    (-2.0, 2.0),
    |xs| xs[0].var_axes(&[0], false, 1),
    shapes & [&[4]]
);
shapecheck!(
    std_3d,
    (-2.0, 2.0),
    |xs| xs[0].std_axes(&[0, 2], true, 1).square(),
    shapes & [&[2, 2, 3]]
);
shapecheck!(
    prod_1d,
    (-2.0, 2.0),
    |xs| xs[0].prod_axes(&[0], false),
    shapes & [&[4]]
);
shapecheck!(
    cumsum_1d,
    (-2.0, 2.0),
    |xs| xs[0].cumsum(0).square(),
    shapes & [&[4]]
);
shapecheck!(
    norm_axes_3d,
    (0.5, 2.0),
    |xs| xs[0].norm_axes(1.5 as T, &[1], false),
    shapes & [&[2, 3, 2]]
);
shapecheck!(
    mean_1d,
    (-2.0, 2.0),
    |xs| xs[0].mean_axes(&[0], true).square(),
    shapes & [&[4]]
);
shapecheck!(
    flip_1d,
    (-2.0, 2.0),
    |xs| xs[0].flip(0).cumsum(0).square(),
    shapes & [&[4]]
);
shapecheck!(
    pad_1d,
    (-2.0, 2.0),
    |xs| xs[0].pad(&[(2, 1)], 0.0 as T).cumsum(0).square(),
    shapes & [&[3]]
);
shapecheck!(
    repeat_1d,
    (-2.0, 2.0),
    |xs| xs[0].repeat(&[3]).cumsum(0).square(),
    shapes & [&[2]]
);
