//! Convolution and pooling (DeZero step 57), NCHW as PyTorch: `im2col` (PyTorch's `unfold`),
//! `col2im` (`fold`), `conv2d`, `conv_transpose2d`, `max_pool2d`, `avg_pool2d`.
//!
//! `im2col` and `col2im` are [`Function`]s, each other's adjoint, so each one's backward is the
//! other and they differentiate at every order. The rest is made of those two, `matmul` and
//! reductions, so gradients of gradients work through a CNN. Sizes follow PyTorch:
//! `out = (in + 2 pad - kernel) / stride + 1`.

use tapegrad_core::{Error, Float, Result, Var, or_panic};

/// A pair of sizes `(height, width)`: a kernel, a stride or a padding.
///
/// ```
/// use tapegrad_nn::functional::Pair;
/// let (kernel, stride, pad): (Pair, Pair, Pair) = ((3, 3), (1, 1), (1, 1));
/// assert_eq!((5 + 2 * pad.0 - kernel.0) / stride.0 + 1, 5); // a "same" convolution
/// ```
pub type Pair = (usize, usize);

mod fused;
mod pool;
mod window;

use fused::{Col2im, Conv, Im2col, Kind};
use window::Windows;

fn invalid(op: &'static str, reason: String) -> Error {
    Error::InvalidArgument { op, reason }
}

/// `[n, c, h, w]` of a 4-d variable.
fn nchw(op: &'static str, x: Var<'_, impl Float>) -> Result<[usize; 4]> {
    let s = x.try_shape()?;
    s.as_slice().try_into().map_err(|_| {
        invalid(
            op,
            format!("the input must be 4-d (N, C, H, W), not of shape {s:?}"),
        )
    })
}

/// `[a, b, kh, kw]` of a 4-d weight whose channel axis `channel_axis` (1 for conv2d, 0 for the
/// transposed one) has `x`'s `c` channels, or `op`'s shape mismatch.
fn weight_shape<F: Float>(
    op: &'static str,
    x: Var<'_, F>,
    w: Var<'_, F>,
    c: usize,
    channel_axis: usize,
) -> Result<[usize; 4]> {
    let ws = w.try_shape()?;
    match <[usize; 4]>::try_from(ws.as_slice()) {
        Ok(shape) if shape[channel_axis] == c => Ok(shape),
        _ => Err(Error::ShapeMismatch {
            op,
            lhs: x.try_shape()?,
            rhs: ws,
        }),
    }
}

/// `x` (`[n, c, h, w]`) padded by `pad` with `fill` around its last two axes.
fn pad_image<'g, F: Float>(x: Var<'g, F>, pad: Pair, fill: F) -> Result<Var<'g, F>> {
    if pad == (0, 0) {
        Ok(x)
    } else {
        x.try_pad(&[(0, 0), (0, 0), (pad.0, pad.0), (pad.1, pad.1)], fill)
    }
}

/// Every `kernel` window of `x` (`[n, c, h, w]`) as a column: `[n, c * kh * kw, oh * ow]`, the
/// layout of PyTorch's `F.unfold` (channels outer, kernel offsets inner). Padding is zeros.
///
/// ```
/// use tapegrad_core::{ndarray::Array4, Graph};
/// use tapegrad_nn::functional::im2col;
/// let g: Graph = Graph::new();
/// let x = g.var(Array4::<f64>::ones((2, 3, 5, 5)));
/// assert_eq!(im2col(x, (3, 3), (2, 2), (1, 1)).shape(), vec![2, 27, 9]);
/// ```
///
/// # Panics
/// With the message of [`try_im2col`]'s error.
#[track_caller]
pub fn im2col<'g, F: Float>(x: Var<'g, F>, kernel: Pair, stride: Pair, pad: Pair) -> Var<'g, F> {
    or_panic(try_im2col(x, kernel, stride, pad))
}

/// Fallible [`im2col`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_im2col;
/// let x = g.var(Array4::<f64>::ones((1, 1, 3, 3)));
/// assert_eq!(try_im2col(x, (2, 2), (1, 1), (0, 0)).unwrap().shape(), vec![1, 4, 4]);
/// // a 2 x 2 kernel does not fit an image of 1 x 1
/// let small = g.var(Array4::<f64>::ones((1, 1, 1, 1)));
/// assert!(try_im2col(small, (2, 2), (1, 1), (0, 0)).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] for an input that is not 4-d, a zero kernel or stride, or a kernel
/// larger than the padded image; [`Error::StaleVar`].
pub fn try_im2col<'g, F: Float>(
    x: Var<'g, F>,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Result<Var<'g, F>> {
    let [n, c, h, w] = nchw("im2col", x)?;
    let win = Windows::new("im2col", (h, w), kernel, stride, pad)?;
    let image = [n, c, h, w];
    Ok(x.graph().try_apply(Im2col { win, image }, &[x])?[0])
}

/// The adjoint of [`im2col`] (PyTorch's `F.fold`): columns `[n, c * kh * kw, oh * ow]` added
/// back into an image `[n, c, h, w]` of `size = (h, w)`; overlapping windows add up.
///
/// ```
/// use tapegrad_core::{ndarray::Array4, Graph};
/// use tapegrad_nn::functional::{col2im, im2col};
/// let g: Graph = Graph::new();
/// let x = g.var(Array4::<f64>::ones((1, 1, 3, 3)));
/// let back = col2im(im2col(x, (2, 2), (1, 1), (0, 0)), (3, 3), (2, 2), (1, 1), (0, 0));
/// assert_eq!(back.data()[[0, 0, 1, 1]], 4.0); // the centre is in all four windows
/// ```
///
/// # Panics
/// With the message of [`try_col2im`]'s error.
#[track_caller]
pub fn col2im<'g, F: Float>(
    cols: Var<'g, F>,
    size: Pair,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Var<'g, F> {
    or_panic(try_col2im(cols, size, kernel, stride, pad))
}

/// Fallible [`col2im`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::{im2col, try_col2im};
/// let cols = im2col(g.var(Array4::<f64>::ones((1, 1, 3, 3))), (2, 2), (1, 1), (0, 0));
/// assert_eq!(try_col2im(cols, (3, 3), (2, 2), (1, 1), (0, 0)).unwrap().shape(), vec![1, 1, 3, 3]);
/// // 4 windows of 4 do not come from a 5 x 5 image
/// assert!(try_col2im(cols, (5, 5), (2, 2), (1, 1), (0, 0)).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] for columns that are not `[n, c * kh * kw, oh * ow]` for this
/// geometry, and as [`try_im2col`].
pub fn try_col2im<'g, F: Float>(
    cols: Var<'g, F>,
    size: Pair,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Result<Var<'g, F>> {
    let win = Windows::new("col2im", size, kernel, stride, pad)?;
    let s = cols.try_shape()?;
    let k = kernel.0 * kernel.1;
    let fits = s.len() == 3 && s[1] % k == 0 && s[2] == win.out.0 * win.out.1;
    if !fits {
        let want = format!("[n, c * {k}, {}]", win.out.0 * win.out.1);
        return Err(invalid(
            "col2im",
            format!("columns of shape {s:?} do not fit {want}"),
        ));
    }
    let image = [s[0], s[1] / k, size.0, size.1];
    Ok(cols.graph().try_apply(Col2im { win, image }, &[cols])?[0])
}

/// 2-d convolution (PyTorch's `F.conv2d`, a cross-correlation): `x` `[n, c, h, w]`, `w`
/// `[out, c, kh, kw]`, `b` `[out]`; the result is `[n, out, oh, ow]`. Computed as one matrix
/// product of the weights with [`im2col`]'s columns.
///
/// ```
/// use tapegrad_core::{ndarray::{Array1, Array4}, Graph};
/// use tapegrad_nn::functional::conv2d;
/// let g: Graph = Graph::new();
/// let x = g.var(Array4::<f64>::ones((1, 2, 4, 4)));
/// let w = g.var(Array4::<f64>::ones((3, 2, 3, 3)));
/// let b = g.var(Array1::<f64>::zeros(3));
/// let y = conv2d(x, w, Some(b), (1, 1), (1, 1));
/// assert_eq!(y.shape(), vec![1, 3, 4, 4]);
/// assert_eq!(y.data()[[0, 0, 1, 1]], 18.0); // 2 channels x 9 ones
/// assert_eq!(y.data()[[0, 0, 0, 0]], 8.0); // a corner sees 2 x 4
/// ```
///
/// # Panics
/// With the message of [`try_conv2d`]'s error.
#[track_caller]
pub fn conv2d<'g, F: Float>(
    x: Var<'g, F>,
    w: Var<'g, F>,
    b: Option<Var<'g, F>>,
    stride: Pair,
    pad: Pair,
) -> Var<'g, F> {
    or_panic(try_conv2d(x, w, b, stride, pad))
}

/// Fallible [`conv2d`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_conv2d;
/// let x = g.var(Array4::<f64>::ones((1, 2, 4, 4)));
/// let w = g.var(Array4::<f64>::ones((3, 2, 3, 3)));
/// assert_eq!(try_conv2d(x, w, None, (1, 1), (1, 1)).unwrap().shape(), vec![1, 3, 4, 4]);
/// // filters of 5 channels on an image of 2
/// let w5 = g.var(Array4::<f64>::ones((3, 5, 3, 3)));
/// assert!(try_conv2d(x, w5, None, (1, 1), (1, 1)).is_err());
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `conv2d`) for a weight that is not 4-d or whose input channels
/// differ from `x`'s, or a bias that is not `[out]`; as [`try_im2col`] otherwise.
pub fn try_conv2d<'g, F: Float>(
    x: Var<'g, F>,
    w: Var<'g, F>,
    b: Option<Var<'g, F>>,
    stride: Pair,
    pad: Pair,
) -> Result<Var<'g, F>> {
    let [n, c, h, wd] = nchw("conv2d", x)?;
    let [oc, _, kh, kw] = weight_shape("conv2d", x, w, c, 1)?;
    let win = Windows::new("conv2d", (h, wd), (kh, kw), stride, pad)?;
    let f = Conv {
        kind: Kind::Conv,
        win,
        image: [n, c, h, wd],
        oc,
    };
    let y = x.graph().try_apply(f, &[x, w])?[0];
    add_bias("conv2d", y, b, oc)
}

/// `y + b` with `b` of shape `[channels]` broadcast over `[n, channels, h, w]`.
fn add_bias<'g, F: Float>(
    op: &'static str,
    y: Var<'g, F>,
    b: Option<Var<'g, F>>,
    channels: usize,
) -> Result<Var<'g, F>> {
    let Some(b) = b else { return Ok(y) };
    let bs = b.try_shape()?;
    if bs != [channels] {
        return Err(Error::ShapeMismatch {
            op,
            lhs: vec![channels],
            rhs: bs,
        });
    }
    y.try_add(b.try_reshape(&[1, channels, 1, 1])?)
}

/// The transposed convolution (PyTorch's `F.conv_transpose2d`, the adjoint of `conv2d` in its
/// input): `x` `[n, in, h, w]`, `w` `[in, out, kh, kw]`, `b` `[out]`; the result is
/// `[n, out, (h - 1) stride - 2 pad + kh, ...]`.
///
/// ```
/// use tapegrad_core::{ndarray::Array4, Graph};
/// use tapegrad_nn::functional::conv_transpose2d;
/// let g: Graph = Graph::new();
/// let x = g.var(Array4::<f64>::ones((1, 2, 3, 3)));
/// let w = g.var(Array4::<f64>::ones((2, 4, 2, 2)));
/// assert_eq!(conv_transpose2d(x, w, None, (2, 2), (0, 0)).shape(), vec![1, 4, 6, 6]);
/// ```
///
/// # Panics
/// With the message of [`try_conv_transpose2d`]'s error.
#[track_caller]
pub fn conv_transpose2d<'g, F: Float>(
    x: Var<'g, F>,
    w: Var<'g, F>,
    b: Option<Var<'g, F>>,
    stride: Pair,
    pad: Pair,
) -> Var<'g, F> {
    or_panic(try_conv_transpose2d(x, w, b, stride, pad))
}

/// Fallible [`conv_transpose2d`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_conv_transpose2d;
/// let x = g.var(Array4::<f64>::ones((1, 2, 3, 3)));
/// let w = g.var(Array4::<f64>::ones((2, 4, 2, 2)));
/// assert_eq!(try_conv_transpose2d(x, w, None, (2, 2), (0, 0)).unwrap().shape(), vec![1, 4, 6, 6]);
/// g.clear();
/// assert!(matches!(try_conv_transpose2d(x, w, None, (2, 2), (0, 0)), Err(Error::StaleVar)));
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `conv_transpose2d`) for a weight that is not 4-d or whose input
/// channels differ from `x`'s, or a bias that is not `[out]`; [`Error::InvalidArgument`] when
/// the padding leaves no output.
pub fn try_conv_transpose2d<'g, F: Float>(
    x: Var<'g, F>,
    w: Var<'g, F>,
    b: Option<Var<'g, F>>,
    stride: Pair,
    pad: Pair,
) -> Result<Var<'g, F>> {
    const OP: &str = "conv_transpose2d";
    let [n, c, h, wd] = nchw(OP, x)?;
    let [_, oc, kh, kw] = weight_shape(OP, x, w, c, 0)?;
    let size = |i: usize, s: usize, k: usize, p: usize| {
        ((i - 1) * s + k).checked_sub(2 * p).filter(|&o| o > 0)
    };
    let (Some(oh), Some(ow)) = (size(h, stride.0, kh, pad.0), size(wd, stride.1, kw, pad.1)) else {
        return Err(invalid(OP, format!("padding {pad:?} leaves no output")));
    };
    // the adjoint in its input of a convolution of [n, oc, oh, ow] images with c filters
    let f = Conv {
        kind: Kind::Input,
        win: Windows::new(OP, (oh, ow), (kh, kw), stride, pad)?,
        image: [n, oc, oh, ow],
        oc: c,
    };
    let y = x.graph().try_apply(f, &[x, w])?[0];
    add_bias(OP, y, b, oc)
}

/// Windows of `x` as `[n, c, kh * kw, oh, ow]`, padded with `fill`.
fn windows<'g, F: Float>(
    op: &'static str,
    x: Var<'g, F>,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
    fill: F,
) -> Result<(Var<'g, F>, Windows)> {
    let [n, c, h, w] = nchw(op, x)?;
    let win = Windows::new(op, (h, w), kernel, stride, pad)?;
    if 2 * pad.0 > kernel.0 || 2 * pad.1 > kernel.1 {
        return Err(invalid(
            op,
            format!("padding {pad:?} is more than half the kernel {kernel:?}"),
        ));
    }
    let padded = pad_image(x, pad, fill)?;
    let cols = try_im2col(padded, kernel, stride, (0, 0))?;
    let k = kernel.0 * kernel.1;
    Ok((cols.try_reshape(&[n, c, k, win.out.0 * win.out.1])?, win))
}

/// Max pooling (PyTorch's `F.max_pool2d`): the maximum of each `kernel` window of `x`
/// `[n, c, h, w]`, padding counting as `-inf`; the gradient goes to the window's maximum (the
/// first one in row order where several are equal, as PyTorch's).
///
/// ```
/// use tapegrad_core::{ndarray::Array, Graph};
/// use tapegrad_nn::functional::max_pool2d;
/// let g: Graph = Graph::new();
/// let x = g.var(Array::from_shape_fn((1, 1, 4, 4), |(_, _, i, j)| (4 * i + j) as f64));
/// let y = max_pool2d(x, (2, 2), (2, 2), (0, 0));
/// assert_eq!(y.data().into_raw_vec_and_offset().0, vec![5.0, 7.0, 13.0, 15.0]);
/// ```
///
/// # Panics
/// With the message of [`try_max_pool2d`]'s error.
#[track_caller]
pub fn max_pool2d<'g, F: Float>(
    x: Var<'g, F>,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Var<'g, F> {
    or_panic(try_max_pool2d(x, kernel, stride, pad))
}

/// Fallible [`max_pool2d`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_max_pool2d;
/// let x = g.var(Array4::<f64>::ones((1, 1, 4, 4)));
/// assert_eq!(try_max_pool2d(x, (2, 2), (2, 2), (0, 0)).unwrap().shape(), vec![1, 1, 2, 2]);
/// // an input of 2 dimensions, not 4
/// assert!(try_max_pool2d(g.var(array![[1.0]]), (2, 2), (2, 2), (0, 0)).is_err());
/// ```
///
/// # Errors
/// As [`try_im2col`]; [`Error::InvalidArgument`] for padding more than half the kernel (as
/// PyTorch).
pub fn try_max_pool2d<'g, F: Float>(
    x: Var<'g, F>,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Result<Var<'g, F>> {
    let (cols, win) = windows("max_pool2d", x, kernel, stride, pad, F::neg_infinity())?;
    let [n, c, _, _] = nchw("max_pool2d", x)?;
    x.graph().try_apply(pool::WindowMax, &[cols])?[0].try_reshape(&[n, c, win.out.0, win.out.1])
}

/// Average pooling (PyTorch's `F.avg_pool2d` with its default `count_include_pad`): the mean
/// of each `kernel` window of `x`, padding counting as zeros.
///
/// ```
/// use tapegrad_core::{ndarray::Array4, Graph};
/// use tapegrad_nn::functional::avg_pool2d;
/// let g: Graph = Graph::new();
/// let x = g.var(Array4::<f64>::ones((1, 1, 2, 2)));
/// let y = avg_pool2d(x, (2, 2), (1, 1), (1, 1));
/// assert_eq!(y.data()[[0, 0, 0, 0]], 0.25); // one pixel of the window, three of padding
/// ```
///
/// # Panics
/// With the message of [`try_avg_pool2d`]'s error.
#[track_caller]
pub fn avg_pool2d<'g, F: Float>(
    x: Var<'g, F>,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Var<'g, F> {
    or_panic(try_avg_pool2d(x, kernel, stride, pad))
}

/// Fallible [`avg_pool2d`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::{array, Array4}};
/// let g: Graph = Graph::new();
/// use tapegrad_nn::functional::try_avg_pool2d;
/// let x = g.var(Array4::<f64>::ones((1, 1, 4, 4)));
/// assert_eq!(try_avg_pool2d(x, (2, 2), (2, 2), (0, 0)).unwrap().shape(), vec![1, 1, 2, 2]);
/// // an input of 2 dimensions, not 4
/// assert!(try_avg_pool2d(g.var(array![[1.0]]), (2, 2), (2, 2), (0, 0)).is_err());
/// ```
///
/// # Errors
/// As [`try_max_pool2d`].
pub fn try_avg_pool2d<'g, F: Float>(
    x: Var<'g, F>,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
) -> Result<Var<'g, F>> {
    let (cols, win) = windows("avg_pool2d", x, kernel, stride, pad, F::zero())?;
    let [n, c, _, _] = nchw("avg_pool2d", x)?;
    cols.try_mean_axes(&[2], false)?
        .try_reshape(&[n, c, win.out.0, win.out.1])
}
