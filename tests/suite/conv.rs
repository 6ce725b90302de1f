//! The errors of tapegrad-nn's convolution and pooling functions, and their independence of the
//! thread count.

use tapegrad::ndarray::{Array1, Array4};
use tapegrad::nn::functional::*;
use tapegrad::prelude::*;

#[test]
fn bad_input_is_an_error() {
    let g: Graph = Graph::new();
    let x = g.var(Array4::<f64>::ones((1, 2, 3, 3)));
    let e = try_im2col(x, (5, 5), (1, 1), (0, 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "im2col: kernel (5, 5) is larger than the padded image (3, 3)"
    );
    assert!(try_im2col(x, (2, 2), (0, 1), (0, 0)).is_err());
    assert!(try_im2col(g.var(Array1::<f64>::ones(3)), (1, 1), (1, 1), (0, 0)).is_err());
    let w = g.var(Array4::<f64>::ones((4, 3, 2, 2))); // 3 input channels, x has 2
    let e = try_conv2d(x, w, None, (1, 1), (0, 0)).unwrap_err();
    assert!(
        matches!(e, Error::ShapeMismatch { op: "conv2d", .. }),
        "{e}"
    );
    let w = g.var(Array4::<f64>::ones((4, 2, 2, 2)));
    let b = g.var(Array1::<f64>::ones(3));
    assert!(try_conv2d(x, w, Some(b), (1, 1), (0, 0)).is_err()); // bias of 3 for 4 outputs
    let wt = g.var(Array4::<f64>::ones((3, 4, 2, 2)));
    assert!(try_conv_transpose2d(x, wt, None, (1, 1), (0, 0)).is_err());
    let e = try_max_pool2d(x, (2, 2), (1, 1), (2, 2)).unwrap_err();
    assert!(e.to_string().contains("more than half the kernel"), "{e}");
    let cols = g.var(tapegrad::ndarray::Array3::<f64>::ones((1, 8, 5)));
    let e = try_col2im(cols, (3, 3), (2, 2), (1, 1), (0, 0)).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { op: "col2im", .. }),
        "{e}"
    );
}

/// conv2d's value and gradients on a batch of 40 images (its images split across threads, its
/// weight gradient summed in fixed runs) are bit for bit the same on one thread and on two, and
/// equal to the images taken one at a time.
#[test]
fn convolution_does_not_depend_on_the_thread_count() {
    let x = crate::common::values::<f64>(&[40, 3, 9, 7], 0, -1.0, 1.0);
    let w = crate::common::values::<f64>(&[4, 3, 3, 3], 1, -1.0, 1.0);
    let run = |threads: usize| {
        crate::common::on_threads(threads, || {
            let g: Graph = Graph::new();
            let (xv, wv) = (g.var(x.clone()), g.var(w.clone()));
            let y = conv2d(xv, wv, None, (2, 1), (1, 1));
            (y * y).sum().backward();
            (y.data(), xv.grad().unwrap(), wv.grad().unwrap())
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    // the same, an image at a time: the output and input gradient exactly, the weight's sum
    // of 40 terms to rounding
    let g: Graph = Graph::new();
    let wv = g.var(w.clone());
    for i in [0, 17, 39] {
        let xi = g.var(
            x.slice(tapegrad::ndarray::s![i..i + 1, .., .., ..])
                .to_owned(),
        );
        let y = conv2d(xi, wv, None, (2, 1), (1, 1));
        assert_eq!(
            y.data(),
            one.0
                .slice(tapegrad::ndarray::s![i..i + 1, .., .., ..])
                .into_dyn()
        );
        (y * y).sum().backward();
        assert_eq!(
            xi.grad().unwrap(),
            one.1
                .slice(tapegrad::ndarray::s![i..i + 1, .., .., ..])
                .into_dyn()
        );
    }
    let mut gw = tapegrad::ndarray::ArrayD::zeros(w.shape());
    for i in 0..40 {
        let g: Graph = Graph::new();
        let wv = g.var(w.clone());
        let xi = g.constant(
            x.slice(tapegrad::ndarray::s![i..i + 1, .., .., ..])
                .to_owned(),
        );
        let y = conv2d(xi, wv, None, (2, 1), (1, 1));
        (y * y).sum().backward();
        gw = gw + wv.grad().unwrap();
    }
    let err = (&gw - &one.2)
        .mapv(f64::abs)
        .fold(0.0, |a: f64, &b| a.max(b));
    assert!(err < 1e-12, "weight gradient off by {err}");
}

/// A window whose maximum is tied gives the whole gradient to the first in row order, as
/// PyTorch's `max_pool2d` (the numbers are PyTorch 2.15's), padding included.
#[test]
fn max_pool_gives_a_tie_to_the_first_maximum() {
    let g: Graph = Graph::new();
    let image = tapegrad::ndarray::array![[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]];
    let x = g.var(image.into_shape_with_order((1, 1, 3, 3)).unwrap());
    max_pool2d(x, (2, 2), (1, 1), (0, 0)).sum().backward();
    let want = [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 1.0, 0.0]];
    assert_eq!(
        x.grad().unwrap().iter().copied().collect::<Vec<_>>(),
        want.concat()
    );
    x.cleargrad();
    max_pool2d(x, (2, 2), (1, 1), (1, 1)).sum().backward();
    let want = [[4.0, 1.0, 1.0], [1.0, 0.0, 4.0], [1.0, 3.0, 1.0]];
    assert_eq!(
        x.grad().unwrap().iter().copied().collect::<Vec<_>>(),
        want.concat()
    );
    // away from ties: central differences at first and second order, and forward mode
    let xs = [crate::common::values::<f64>(&[2, 2, 5, 4], 3, -1.0, 1.0)];
    fn pool<'g>(v: &[Var<'g>]) -> Var<'g> {
        (max_pool2d(v[0], (2, 2), (2, 1), (1, 0)) * v[0].sum()).sum()
    }
    tapegrad::check::gradient_check(pool, &xs).unwrap();
    tapegrad::check::gradgrad_check(pool, &xs).unwrap();
    tapegrad::check::jvp_check(pool, &xs).unwrap();
}
