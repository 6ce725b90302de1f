//! matmul with PyTorch's rules (vectors, batches, broadcast batch axes), dot, outer and einsum:
//! values against plain loops, gradients at first and second order, errors.

use crate::common;

use tapegrad::ndarray::{ArrayD, Dimension, IxDyn, array};
use tapegrad::prelude::*;

shapecheck!(
    matmul_2d,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]),
    shapes & [&[2, 3], &[3, 4]]
);
shapecheck!(
    matmul_vec_mat,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]),
    shapes & [&[3], &[3, 2]]
);
shapecheck!(
    matmul_mat_vec,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]),
    shapes & [&[2, 3], &[3]]
);
shapecheck!(
    matmul_vec_vec,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]),
    shapes & [&[3], &[3]]
);
shapecheck!(
    matmul_batch_mat,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]),
    shapes & [&[2, 2, 3], &[3, 2]]
);
shapecheck!(
    matmul_batch_batch,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]).square(),
    shapes & [&[2, 2, 3], &[2, 3, 2]]
);
shapecheck!(
    matmul_broadcast,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]).square(),
    shapes & [&[2, 1, 2, 3], &[3, 3, 2]]
);
shapecheck!(
    matmul_vec_batch,
    (-1.0, 1.0),
    |xs| xs[0].matmul(xs[1]).square(),
    shapes & [&[3], &[2, 3, 2]]
);
shapecheck!(
    dot,
    (-1.0, 1.0),
    |xs| xs[0].dot(xs[1]).square(),
    shapes & [&[4], &[4]]
);
shapecheck!(
    outer,
    (-1.0, 1.0),
    |xs| xs[0].outer(xs[1]).square(),
    shapes & [&[2], &[3]]
);
shapecheck!(
    einsum_matmul,
    (-1.0, 1.0),
    |xs| tapegrad::einsum("ij,jk->ik", &[xs[0], xs[1]]).square(),
    shapes & [&[2, 3], &[3, 2]]
);
shapecheck!(
    einsum_batched,
    (-1.0, 1.0),
    |xs| tapegrad::einsum("bij,bjk->bik", &[xs[0], xs[1]]).square(),
    shapes & [&[2, 2, 3], &[2, 3, 2]]
);
shapecheck!(
    einsum_three,
    (-1.0, 1.0),
    |xs| tapegrad::einsum("ij,jk,k->i", &[xs[0], xs[1], xs[2]]).square(),
    shapes & [&[2, 3], &[3, 2], &[2]]
);

shapecheck!(
    einsum_trace,
    (-1.0, 1.0),
    |xs| tapegrad::einsum("ii->", &[xs[0]]).square(),
    shapes & [&[3, 3]]
);
shapecheck!(
    einsum_diagonals,
    (-1.0, 1.0),
    |xs| tapegrad::einsum("iij,jk,kk->ik", &[xs[0], xs[1], xs[2]]).square(),
    shapes & [&[2, 2, 3], &[3, 2], &[2, 2]]
);

/// A letter repeated within an operand takes its diagonal, as `torch.einsum`: the trace, the
/// diagonal, a batch of diagonals, and a diagonal contracted with another operand.
#[test]
fn einsum_takes_diagonals() {
    let g: Graph = Graph::new();
    let m = common::values::<f64>(&[3, 3], 7, -1.0, 1.0);
    let b = common::values::<f64>(&[2, 3, 3], 8, -1.0, 1.0);
    let u = common::values::<f64>(&[3], 9, -1.0, 1.0);
    let (x, bx, ux) = (g.var(m.clone()), g.var(b.clone()), g.var(u.clone()));
    let trace: f64 = (0..3).map(|i| m[[i, i]]).sum();
    assert!((tapegrad::einsum("ii->", &[x]).item() - trace).abs() < 1e-15);
    assert!((tapegrad::einsum("ii", &[x]).item() - trace).abs() < 1e-15); // implicit: the trace
    let diag = tapegrad::einsum("ii->i", &[x]).data();
    assert_eq!(
        diag,
        ArrayD::from_shape_fn(IxDyn(&[3]), |i| m[[i[0], i[0]]])
    );
    let batch = tapegrad::einsum("bii->b", &[bx]).data();
    for k in 0..2 {
        let t: f64 = (0..3).map(|i| b[[k, i, i]]).sum();
        assert!((batch[[k]] - t).abs() < 1e-15);
    }
    let weighted = tapegrad::einsum("ii,i->", &[x, ux]).item();
    let want: f64 = (0..3).map(|i| m[[i, i]] * u[[i]]).sum();
    assert!((weighted - want).abs() < 1e-15);
    // the gradient of the trace is the identity
    let gx = tapegrad::grad(&[tapegrad::einsum("ii->", &[x])], &[x], false)[0];
    assert_eq!(
        gx.data(),
        ArrayD::from_shape_fn(IxDyn(&[3, 3]), |i| f64::from(u8::from(i[0] == i[1])))
    );
}

/// `a @ b` by loops, for (.., n, k) x (.., k, m) with equal batch axes.
fn naive(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let (sa, sb) = (a.shape(), b.shape());
    let nd = sa.len();
    let (n, k, m) = (sa[nd - 2], sa[nd - 1], sb[nd - 1]);
    let mut shape = sa.to_vec();
    shape[nd - 1] = m;
    ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
        let mut s = 0.0;
        for t in 0..k {
            let mut ia = idx.slice().to_vec();
            let mut ib = idx.slice().to_vec();
            ia[nd - 1] = t;
            ib[nd - 2] = t;
            s += a[IxDyn(&ia)] * b[IxDyn(&ib)];
        }
        let _ = n;
        s
    })
}

#[test]
fn matmul_follows_pytorch_shapes_and_values() {
    let g: Graph = Graph::new();
    let a = common::values::<f64>(&[2, 3, 4], 1, -1.0, 1.0);
    let b = common::values::<f64>(&[2, 4, 5], 2, -1.0, 1.0);
    let y = g.var(a.clone()).matmul(g.var(b.clone())).data();
    let want = naive(&a, &b);
    assert!(y.iter().zip(&want).all(|(p, q)| (p - q).abs() < 1e-12));
    // (b, n, k) x (k, m): one matrix for every batch
    let w = common::values::<f64>(&[4, 5], 3, -1.0, 1.0);
    let y = g.var(a.clone()).matmul(g.var(w.clone())).data();
    let wb = w.broadcast(IxDyn(&[2, 4, 5])).unwrap().to_owned();
    assert!(
        y.iter()
            .zip(&naive(&a, &wb))
            .all(|(p, q)| (p - q).abs() < 1e-12)
    );
    // shapes as torch.matmul gives them
    let v = |s: &[usize]| g.var(ArrayD::<f64>::ones(s.to_vec()));
    assert_eq!(v(&[3]).matmul(v(&[3])).shape(), Vec::<usize>::new());
    assert_eq!(v(&[3]).matmul(v(&[3, 2])).shape(), vec![2]);
    assert_eq!(v(&[2, 3]).matmul(v(&[3])).shape(), vec![2]);
    assert_eq!(v(&[4, 2, 3]).matmul(v(&[3])).shape(), vec![4, 2]);
    assert_eq!(v(&[3]).matmul(v(&[4, 3, 2])).shape(), vec![4, 2]);
    assert_eq!(
        v(&[5, 1, 2, 3]).matmul(v(&[4, 3, 6])).shape(),
        vec![5, 4, 2, 6]
    );
}

#[test]
fn einsum_patterns_match_their_ops() {
    let g: Graph = Graph::new();
    let a = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let b = g.var(array![[1.0, 0.5], [2.0, -1.0], [0.0, 3.0]]);
    let u = g.var(array![1.0, 2.0, 3.0]);
    let e = |s: &str, xs: &[Var]| tapegrad::einsum(s, xs).data();
    assert_eq!(e("ij,jk->ik", &[a, b]), a.matmul(b).data());
    assert_eq!(e("ij,jk", &[a, b]), a.matmul(b).data()); // implicit output
    assert_eq!(e("ij->ji", &[a]), a.transpose().data());
    assert_eq!(e("ij->", &[a]), a.sum().data());
    assert_eq!(e("ij->j", &[a]), a.sum_axes(&[0], false).data());
    assert_eq!(
        e("i,i->", &[u, u]),
        array![14.0].into_shape_with_order(vec![]).unwrap()
    );
    assert_eq!(e("i,j->ij", &[u, u]), u.outer(u).data());
    assert_eq!(e("ij,j->i", &[a, u]), a.matmul(u).data());
    let x = g.var(common::values::<f64>(&[2, 2, 3], 5, -1.0, 1.0));
    let y = g.var(common::values::<f64>(&[2, 3, 2], 6, -1.0, 1.0));
    assert_eq!(e("bij,bjk->bik", &[x, y]), x.matmul(y).data());
    let t = e("bij,bjk->bki", &[x, y]);
    assert_eq!(t, x.matmul(y).permute(&[0, 2, 1]).data());
}

#[test]
fn bad_operands_are_errors() {
    let g: Graph = Graph::new();
    let a = g.var(ArrayD::<f64>::ones(vec![2, 3]));
    let b = g.var(ArrayD::<f64>::ones(vec![4, 5]));
    let e = a.try_matmul(b).unwrap_err();
    let msg = "matmul: shape mismatch between [2, 3] and [4, 5]: the inner sizes 3 and 4 differ";
    assert_eq!(e.to_string(), msg);
    assert!(matches!(e, Error::ShapeMismatch { op: "matmul", .. }));
    let c = g.var(ArrayD::<f64>::ones(vec![2, 3, 4]));
    let d = g.var(ArrayD::<f64>::ones(vec![3, 4, 5]));
    assert!(c.try_matmul(d).is_err()); // batch axes 2 and 3 do not broadcast
    assert!(g.scalar(1.0).try_matmul(a).is_err());
    let v = g.var(ArrayD::<f64>::ones(vec![4]));
    assert!(
        a.try_matmul(v)
            .unwrap_err()
            .to_string()
            .contains("inner sizes 3 and 4")
    );
    let ein = |s: &str, xs: &[Var]| tapegrad::try_einsum(s, xs).unwrap_err().to_string();
    assert_eq!(
        ein("ij,jk->ik", &[a]),
        "einsum: 2 subscripts for 1 operands"
    );
    assert_eq!(
        ein("ijk->i", &[a]),
        "einsum: operand 0 has shape [2, 3], but subscripts 'ijk'"
    );
    assert_eq!(ein("ij,jk->ik", &[a, b]), "einsum: 'j' has sizes 3 and 4");
    assert!(ein("ij->iz", &[a]).contains("'z'"));
    assert_eq!(ein("ii->i", &[a]), "einsum: 'i' has sizes 2 and 3");
    assert!(ein("...j->j", &[a]).contains("'.'"));
    assert!(a.try_dot(a).is_err());
    assert!(a.try_outer(v).is_err());
}

/// A product large enough to be shared among threads gives the same bits on one, two and three
/// threads, and the right values, whichever side of the output is cut (and when neither is).
#[test]
fn large_products_do_not_depend_on_the_thread_count() {
    use tapegrad::ndarray::{Array2, Ix2};
    fn run<F: Float>(m: usize, k: usize, n: usize, transposed: bool) {
        let a = common::values::<F>(&[m, k], 1, -1.0, 1.0);
        let a = a.into_dimensionality::<Ix2>().unwrap();
        // `b` read through a transposed view when asked: strides other than the standard ones
        let b = common::values::<F>(&if transposed { [n, k] } else { [k, n] }, 2, -1.0, 1.0);
        let b = b.into_dimensionality::<Ix2>().unwrap();
        let b = if transposed { b.reversed_axes() } else { b };
        let product = |threads| {
            common::on_threads(threads, || {
                let mut c = Array2::from_elem((m, n), F::from_f64(7.0));
                tapegrad::linalg::gemm(
                    F::one(),
                    &a.view(),
                    &b.view(),
                    F::zero(),
                    &mut c.view_mut(),
                );
                c
            })
        };
        let one = product(1);
        for threads in [2, 3] {
            assert!(product(threads) == one, "{m}x{k}x{n} on {threads} threads");
        }
        for (i, j) in [
            (0, 0),
            (m - 1, n - 1),
            (m / 2, n / 3),
            (m - 1, 0),
            (0, n - 1),
        ] {
            let want = (0..k).fold(0.0, |s, t| s + a[[i, t]].to_f64() * b[[t, j]].to_f64());
            let tol = if F::DTYPE == "f32" { 1e-3 } else { 1e-10 };
            assert!(
                (one[[i, j]].to_f64() - want).abs() < tol,
                "{m}x{k}x{n} at ({i}, {j})"
            );
        }
    }
    for transposed in [false, true] {
        run::<f32>(70, 300, 1000, transposed); // cut along the columns
        run::<f64>(1000, 300, 70, transposed); // along the rows
        run::<f64>(40, 1100, 400, transposed); // 40 rows: not cut
    }
}

/// A product's result takes a freed buffer without zeroing it first, so the product must write
/// every element: buffers of NaN freed by an earlier graph never show through, whatever path the
/// product takes (one summed term, one row, one column, strided operands).
#[test]
fn products_write_every_element_of_a_reused_buffer() {
    // (m, k, n): outputs of 64 KiB and more, the size the buffer pool keeps
    let shapes = [
        (128, 1, 128),
        (128, 2, 96),
        (1, 40, 9000),
        (9000, 40, 1),
        (130, 70, 110),
    ];
    for (m, k, n) in shapes {
        {
            let g: Graph = Graph::new();
            for _ in 0..4 {
                let _ = g.var(ArrayD::from_elem(vec![m, n], f64::NAN)); // freed with the graph
            }
        }
        let g: Graph = Graph::new();
        let a = common::values::<f64>(&[m, k], 1, -1.0, 1.0);
        let b = common::values::<f64>(&[n, k], 2, -1.0, 1.0); // read transposed
        let y = g.var(a.clone()).matmul(g.var(b.clone()).transpose()).data();
        let bt = b.t().to_owned();
        let want = naive(&a, &bt);
        let worst = y
            .iter()
            .zip(&want)
            .fold(0.0f64, |w, (p, q)| w.max((p - q).abs()));
        assert!(worst < 1e-12, "{m}x{k}x{n}: off by {worst}");
    }
}
