//! The errors of tapegrad-nn's convolution and pooling functions.

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
