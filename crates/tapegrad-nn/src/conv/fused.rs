//! The array-level functions of convolution, each a [`Function`] whose backward is made of the
//! others, so that every order of derivative works:
//! - `Im2col` and `Col2im`, each other's adjoint;
//! - `Conv` in three kinds: the convolution `y = conv(x, w)`, its adjoint in `x`
//!   (`conv_t(g, w)`, the transposed convolution) and in `w` (`conv_w(x, g)`, the weight
//!   gradient). All three are derivatives of one trilinear form `B(x, w, g) = <g, conv(x, w)>`,
//!   so each one's backward is two of the three.
//!
//! Each works image by image: one image's columns (`[c kh kw, oh ow]`) in a scratch buffer, then
//! one GEMM, as PyTorch's CPU `slow_conv2d`; the full `[n, c kh kw, oh ow]` columns never exist.
//! Images go to rayon's threads in parallel.

use ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, IxDyn, ShapeError};
#[cfg(feature = "rayon")]
use rayon::prelude::*;
use tapegrad_core::linalg::gemm_serial as gemm; // the images already run in parallel
use tapegrad_core::{Float, Function, Result, Var};

use super::window::Windows;

type Forward<F> = std::result::Result<Vec<ArrayD<F>>, String>;

fn contiguous<'a, F: Float>(x: &'a ArrayViewD<'_, F>) -> ndarray::CowArray<'a, F, IxDyn> {
    x.as_standard_layout()
}

fn slice<'a, F>(x: &'a ndarray::CowArray<'_, F, IxDyn>) -> std::result::Result<&'a [F], String> {
    x.as_slice()
        .ok_or_else(|| "an input is not contiguous".to_owned())
}

fn shape_err(e: ShapeError) -> String {
    e.to_string()
}

/// `im2col` on a batch `[n, c, h, w]`: `[n, c kh kw, oh ow]`; its derivative is `col2im`.
pub(super) struct Im2col {
    pub(super) win: Windows,
    pub(super) image: [usize; 4],
}

impl<F: Float> Function<F> for Im2col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Forward<F> {
        let [n, c, _, _] = self.image;
        let x = contiguous(&xs[0]);
        let mut cols = vec![F::zero(); n * c * self.win.col_len()];
        self.win.im2col(n * c, slice(&x)?, &mut cols);
        let (kh, kw) = self.win.kernel;
        let shape = IxDyn(&[n, c * kh * kw, self.win.out.0 * self.win.out.1]);
        Ok(vec![
            ArrayD::from_shape_vec(shape, cols).map_err(shape_err)?,
        ])
    }

    // im2col is linear, and col2im is its adjoint
    fn backward<'g>(
        &self,
        _: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let f = Col2im {
            win: self.win,
            image: self.image,
        };
        Ok(vec![Some(gys[0].graph().try_apply(f, &[gys[0]])?[0])])
    }
}

/// `col2im`: columns `[n, c kh kw, oh ow]` added back into a zero image `[n, c, h, w]`; its
/// derivative is `im2col`.
pub(super) struct Col2im {
    pub(super) win: Windows,
    pub(super) image: [usize; 4],
}

impl<F: Float> Function<F> for Col2im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Forward<F> {
        let [n, c, h, w] = self.image;
        let cols = contiguous(&xs[0]);
        let mut x = vec![F::zero(); n * c * h * w];
        self.win.col2im(n * c, slice(&cols)?, &mut x);
        Ok(vec![
            ArrayD::from_shape_vec(IxDyn(&self.image), x).map_err(shape_err)?,
        ])
    }

    // col2im is im2col's adjoint, so its derivative is im2col
    fn backward<'g>(
        &self,
        _: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let f = Im2col {
            win: self.win,
            image: self.image,
        };
        Ok(vec![Some(gys[0].graph().try_apply(f, &[gys[0]])?[0])])
    }
}

/// Which derivative of `B(x, w, g) = <g, conv(x, w)>` a [`Conv`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `y = conv(x, w)` (= dB/dg), inputs `(x, w)`.
    Conv,
    /// `gx = conv_t(g, w)` (= dB/dx), inputs `(g, w)`.
    Input,
    /// `gw = conv_w(x, g)` (= dB/dw), inputs `(x, g)`.
    Weight,
}

/// A convolution of images `image` (`[n, c, h, w]`) with `oc` filters, or one of its adjoints.
#[derive(Debug, Clone, Copy)]
pub(super) struct Conv {
    pub(super) kind: Kind,
    pub(super) win: Windows,
    pub(super) image: [usize; 4],
    pub(super) oc: usize,
}

impl Conv {
    fn with(self, kind: Kind) -> Self {
        Conv { kind, ..self }
    }

    /// `(c kh kw, oh ow)`: the shape of one image's columns.
    fn cols(&self) -> (usize, usize) {
        let (kh, kw) = self.win.kernel;
        (self.image[1] * kh * kw, self.win.out.0 * self.win.out.1)
    }

    /// Images per parallel task: the images shared among rayon's threads, one run each (each
    /// task fills one scratch buffer of columns), but no fewer than make a task outweigh its
    /// scheduling (`oc k p` multiply-adds an image).
    fn images_per_task(&self) -> usize {
        let (k, p) = self.cols();
        let worth = (1usize << 16).div_ceil((self.oc * k * p).max(1));
        (self.image[0].div_ceil(threads())).max(worth)
    }

    /// `y[i] = W cols(x[i])`: `[n, oc, oh, ow]`, images in parallel.
    fn conv<F: Float>(&self, x: &[F], w: &[F]) -> std::result::Result<Vec<F>, String> {
        let [n, c, h, wd] = self.image;
        let (k, p, run) = (self.cols().0, self.cols().1, self.images_per_task());
        let w = ArrayView2::from_shape((self.oc, k), w).map_err(shape_err)?;
        let mut y = vec![F::zero(); n * self.oc * p];
        let task = |(ys, xs): (&mut [F], &[F])| {
            let mut cols = vec![F::zero(); k * p];
            for (yi, xi) in ys
                .chunks_exact_mut(self.oc * p)
                .zip(xs.chunks_exact(c * h * wd))
            {
                self.win.im2col(c, xi, &mut cols);
                let cm = ArrayView2::from_shape((k, p), &cols[..]).map_err(shape_err)?;
                let mut yi = ArrayViewMut2::from_shape((self.oc, p), yi).map_err(shape_err)?;
                gemm(F::one(), &w, &cm, F::zero(), &mut yi);
            }
            Ok::<_, String>(())
        };
        each_task(&mut y, run * self.oc * p, x, run * c * h * wd, task)?;
        Ok(y)
    }

    /// `gx[i] = col2im(W^T g[i])`: `[n, c, h, w]`, images in parallel.
    fn input<F: Float>(&self, g: &[F], w: &[F]) -> std::result::Result<Vec<F>, String> {
        let [n, c, h, wd] = self.image;
        let (k, p, run) = (self.cols().0, self.cols().1, self.images_per_task());
        let wt = ArrayView2::from_shape((self.oc, k), w).map_err(shape_err)?;
        let wt = wt.t();
        let mut gx = vec![F::zero(); n * c * h * wd];
        let task = |(xs, gs): (&mut [F], &[F])| {
            // written before col2im reads it: a fresh page read first and written after costs
            // a copy-on-write fault, and on two threads a TLB flush of the other
            xs.fill(F::zero());
            let mut cols = vec![F::zero(); k * p];
            for (xi, gi) in xs
                .chunks_exact_mut(c * h * wd)
                .zip(gs.chunks_exact(self.oc * p))
            {
                let gi = ArrayView2::from_shape((self.oc, p), gi).map_err(shape_err)?;
                let mut cm = ArrayViewMut2::from_shape((k, p), &mut cols[..]).map_err(shape_err)?;
                gemm(F::one(), &wt, &gi, F::zero(), &mut cm);
                self.win.col2im(c, &cols, xi);
            }
            Ok::<_, String>(())
        };
        each_task(&mut gx, run * c * h * wd, g, run * self.oc * p, task)?;
        Ok(gx)
    }

    /// `gw = sum_i g[i] cols(x[i])^T`: `[oc, c, kh, kw]`. Each run of [`WEIGHT_RUN`] images is
    /// summed on its own, runs in parallel, then the runs' sums in order: the order of summation,
    /// and so the result, is the same on any number of threads.
    fn weight<F: Float>(&self, x: &[F], g: &[F]) -> std::result::Result<Vec<F>, String> {
        let [_, c, h, wd] = self.image;
        let (k, p) = self.cols();
        let runs_per_task = self.images_per_task().div_ceil(WEIGHT_RUN);
        let (xr, gr) = (WEIGHT_RUN * c * h * wd, WEIGHT_RUN * self.oc * p);
        let task = |(xs, gs): (&[F], &[F])| {
            let mut cols = vec![F::zero(); k * p];
            let mut sums = Vec::new();
            for (xs, gs) in xs.chunks(xr).zip(gs.chunks(gr)) {
                let mut gw = vec![F::zero(); self.oc * k];
                let mut gwm =
                    ArrayViewMut2::from_shape((self.oc, k), &mut gw[..]).map_err(shape_err)?;
                let images = xs
                    .chunks_exact(c * h * wd)
                    .zip(gs.chunks_exact(self.oc * p));
                for (xi, gi) in images {
                    self.win.im2col(c, xi, &mut cols);
                    let cm = ArrayView2::from_shape((k, p), &cols[..]).map_err(shape_err)?;
                    let gi = ArrayView2::from_shape((self.oc, p), gi).map_err(shape_err)?;
                    gemm(F::one(), &gi, &cm.t(), F::one(), &mut gwm);
                }
                sums.push(gw);
            }
            Ok::<_, String>(sums)
        };
        let sums = if runs_per_task * WEIGHT_RUN >= self.image[0] {
            vec![task((x, g))?] // one task: here
        } else {
            (chunks(x, runs_per_task * xr).zip(chunks(g, runs_per_task * gr)))
                .map(&task)
                .collect::<std::result::Result<Vec<Vec<Vec<F>>>, String>>()?
        };
        let mut sums = sums.into_iter().flatten();
        let mut gw = sums.next().unwrap_or_else(|| vec![F::zero(); self.oc * k]);
        for part in sums {
            gw.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
        Ok(gw)
    }
}

/// The images of one run of a weight gradient's sum (see [`Conv::weight`]).
const WEIGHT_RUN: usize = 8;

impl<F: Float> Function<F> for Conv {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Conv => "conv2d",
            Kind::Input => "conv_transpose2d",
            Kind::Weight => "conv2d_weight",
        }
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Forward<F> {
        let (a, b) = (contiguous(&xs[0]), contiguous(&xs[1]));
        let (a, b) = (slice(&a)?, slice(&b)?);
        let [n, c, h, w] = self.image;
        let (kh, kw) = self.win.kernel;
        let (oh, ow) = self.win.out;
        let (value, shape) = match self.kind {
            Kind::Conv => (self.conv(a, b)?, vec![n, self.oc, oh, ow]),
            Kind::Input => (self.input(a, b)?, vec![n, c, h, w]),
            Kind::Weight => (self.weight(a, b)?, vec![self.oc, c, kh, kw]),
        };
        Ok(vec![
            ArrayD::from_shape_vec(shape, value).map_err(shape_err)?,
        ])
    }

    // d<u, f(a, b)>: for conv(x, w), (conv_t(u, w), conv_w(x, u)); for conv_t(g, w),
    // (conv(u, w), conv_w(u, g)); for conv_w(x, g), (conv_t(g, u), conv(x, u))
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let (a, b, u) = (xs[0], xs[1], gys[0]);
        let g = u.graph();
        // (a constant input takes no gradient: not computing it saves a GEMM)
        let apply = |of: Var<'g, F>, kind: Kind, p: Var<'g, F>, q: Var<'g, F>| {
            if of.is_constant() {
                return Ok(None);
            }
            Ok(Some(g.try_apply(self.with(kind), &[p, q])?[0]))
        };
        let (ga, gb) = match self.kind {
            Kind::Conv => (apply(a, Kind::Input, u, b)?, apply(b, Kind::Weight, a, u)?),
            Kind::Input => (apply(a, Kind::Conv, u, b)?, apply(b, Kind::Weight, u, a)?),
            Kind::Weight => (apply(a, Kind::Input, b, u)?, apply(b, Kind::Conv, a, u)?),
        };
        Ok(vec![ga, gb])
    }
}

/// Runs `task` on `out` and `x` cut into matching parts of `out_run` and `x_run` values: the
/// parts on rayon's threads, but a single part on the calling thread (handed to the pool, it
/// would only be waited for).
fn each_task<F: Float>(
    out: &mut [F],
    out_run: usize,
    x: &[F],
    x_run: usize,
    task: impl Fn((&mut [F], &[F])) -> std::result::Result<(), String> + Send + Sync,
) -> std::result::Result<(), String> {
    if out_run >= out.len() {
        return task((out, x));
    }
    chunks_mut(out, out_run)
        .zip(chunks(x, x_run))
        .try_for_each(task)
}

// Parts of a slice, on rayon's threads or, without the `rayon` feature, in order.

#[cfg(feature = "rayon")]
fn chunks<T: Sync>(s: &[T], n: usize) -> rayon::slice::Chunks<'_, T> {
    s.par_chunks(n)
}

#[cfg(feature = "rayon")]
fn chunks_mut<T: Send>(s: &mut [T], n: usize) -> rayon::slice::ChunksMut<'_, T> {
    s.par_chunks_mut(n)
}

#[cfg(feature = "rayon")]
fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(not(feature = "rayon"))]
fn chunks<T>(s: &[T], n: usize) -> std::slice::Chunks<'_, T> {
    s.chunks(n)
}

#[cfg(not(feature = "rayon"))]
fn chunks_mut<T>(s: &mut [T], n: usize) -> std::slice::ChunksMut<'_, T> {
    s.chunks_mut(n)
}

#[cfg(not(feature = "rayon"))]
fn threads() -> usize {
    1
}
