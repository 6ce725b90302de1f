//! Gradient checks and semantics of ops/select.rs (comparisons, where_, masked_fill) and
//! ops/gather.rs (gather, scatter_add, index_select), with their errors.

use crate::common;

use tapegrad::ndarray::{ArrayD, array};
use tapegrad::prelude::*;

fn mask(shape: &[usize]) -> ArrayD<bool> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(shape.to_vec(), (0..n).map(|i| i % 3 != 1).collect()).unwrap()
}

fn index(shape: &[usize], len: usize) -> ArrayD<usize> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(shape.to_vec(), (0..n).map(|i| (i * 7 + 1) % len).collect()).unwrap()
}

fullcheck!(where_vars, 2, (-2.0, 2.0), |xs| {
    tapegrad::where_(&mask(&xs[0].shape()), xs[0] * xs[1], xs[1].exp())
});
shapecheck!(
    where_broadcast,
    (-2.0, 2.0),
    |xs| tapegrad::where_(&mask(&[2, 3]), xs[0], xs[1]).square(),
    shapes & [&[3], &[2, 1]]
);
fullcheck!(masked_fill, 1, (-2.0, 2.0), |xs| xs[0]
    .masked_fill(&mask(&xs[0].shape()), 0.5 as T)
    * xs[0]);
shapecheck!(
    gather_axis1,
    (-2.0, 2.0),
    |xs| xs[0].gather(1, &index(&[2, 4], 3)).square(),
    shapes & [&[2, 3]]
);
shapecheck!(
    gather_axis0,
    (-2.0, 2.0),
    |xs| xs[0].gather(0, &index(&[3, 2], 2)).square(),
    shapes & [&[2, 3]]
);
shapecheck!(
    scatter_add,
    (-2.0, 2.0),
    |xs| xs[0].scatter_add(0, &index(&[3, 3], 2), xs[1]).square(),
    shapes & [&[2, 3], &[3, 3]]
);
shapecheck!(
    index_select,
    (-2.0, 2.0),
    |xs| xs[0].index_select(1, &[2, 0, 2]).square(),
    shapes & [&[2, 3]]
);

#[test]
fn comparisons_broadcast() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    assert_eq!(
        x.gt(array![2.0, 2.0]),
        array![[false, false], [true, true]].into_dyn()
    );
    assert_eq!(x.ge(2.0), array![[false, true], [true, true]].into_dyn());
    assert_eq!(
        x.lt(g.var(array![[2.0], [4.0]])),
        array![[true, false], [true, false]].into_dyn()
    );
    assert_eq!(x.le(1.0), array![[true, false], [false, false]].into_dyn());
    assert_eq!(x.eq_elem(x), array![[true, true], [true, true]].into_dyn());
    let e = x.try_gt(array![1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(e.to_string(), "gt: shape mismatch between [2, 2] and [3]");
    let h: Graph = Graph::new();
    assert!(matches!(
        x.try_lt(h.scalar(1.0)),
        Err(Error::GraphMismatch { .. })
    ));
}

#[test]
fn where_takes_no_nan_from_the_branch_not_taken() {
    let g: Graph = Graph::new();
    let x = g.var(array![-1.0, 4.0]);
    // sqrt(-1) is NaN, but where x < 0 it is not chosen: its gradient there is exactly 0
    let y = tapegrad::where_(&x.gt(0.0), x.sqrt(), 0.0);
    y.sum().backward();
    assert_eq!(y.data(), array![0.0, 2.0].into_dyn());
    let gx = x.grad().unwrap();
    assert_eq!(gx[1], 0.25);
    assert!(gx[0].is_nan()); // as PyTorch: 0 * d sqrt(-1) = NaN; masking does not hide it
}

#[test]
fn gather_and_scatter_match_pytorch() {
    let g: Graph = Graph::new();
    // torch.gather(torch.tensor([[1., 2.], [3., 4.]]), 1, torch.tensor([[0, 0], [1, 0]]))
    let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    let y = x.gather(1, &array![[0, 0], [1, 0]].into_dyn());
    assert_eq!(y.data(), array![[1.0, 1.0], [4.0, 3.0]].into_dyn());
    // torch.zeros(2, 3).scatter_add(0, torch.tensor([[0, 1, 0]]), torch.ones(1, 3))
    let z = g.var(ArrayD::zeros(vec![2, 3]));
    let s = z.scatter_add(
        0,
        &array![[0, 1, 0]].into_dyn(),
        g.var(array![[1.0, 2.0, 3.0]]),
    );
    assert_eq!(
        s.data(),
        array![[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]].into_dyn()
    );
}

#[test]
fn bad_indices_and_shapes_are_errors() {
    let g: Graph = Graph::new();
    let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    let e = x.try_gather(1, &array![[0, 2]].into_dyn()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gather: index 2 is out of bounds for an axis of length 2"
    );
    let e = x.try_gather(0, &array![0, 1].into_dyn()).unwrap_err();
    assert!(
        matches!(e, Error::ShapeMismatch { op: "gather", .. }),
        "{e}"
    );
    assert!(matches!(
        x.try_gather(2, &array![[0]].into_dyn()),
        Err(Error::InvalidAxes { .. })
    ));
    let e = tapegrad::try_where_(&mask(&[3]), x, 0.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "where_: shape mismatch between [3] and [2, 2]"
    );
    let e = tapegrad::try_where_::<f64>(&mask(&[2]), 1.0, 2.0).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "where_", .. }));
    let e = x.try_masked_fill(&mask(&[3]), 0.0).unwrap_err();
    assert!(matches!(
        e,
        Error::ShapeMismatch {
            op: "masked_fill",
            ..
        }
    ));
    let src = g.var(array![[1.0, 2.0, 3.0]]);
    let e = x
        .try_scatter_add(0, &array![[0, 1]].into_dyn(), src)
        .unwrap_err();
    assert!(matches!(
        e,
        Error::ShapeMismatch {
            op: "scatter_add",
            ..
        }
    ));
}
