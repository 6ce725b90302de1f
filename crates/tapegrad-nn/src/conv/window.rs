//! The geometry of sliding a kernel over an image, and the two array kernels made from it:
//! `im2col` (copy every window into a column) and its adjoint `col2im` (add every column back).

use tapegrad_core::{Error, Float, Result};

use super::Pair;

/// The geometry of sliding a `kernel` over an image with `stride` and `pad`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Windows {
    pub(super) kernel: Pair,
    pub(super) stride: Pair,
    pub(super) pad: Pair,
    /// The image's height and width, unpadded.
    pub(super) size: Pair,
    /// The number of window positions down and across.
    pub(super) out: Pair,
}

impl Windows {
    pub(super) fn new(
        op: &'static str,
        size: Pair,
        kernel: Pair,
        stride: Pair,
        pad: Pair,
    ) -> Result<Self> {
        let invalid = |reason| Error::InvalidArgument { op, reason };
        if kernel.0 == 0 || kernel.1 == 0 || stride.0 == 0 || stride.1 == 0 {
            let reason = format!("kernel {kernel:?} and stride {stride:?} must be positive");
            return Err(invalid(reason));
        }
        let padded = (size.0 + 2 * pad.0, size.1 + 2 * pad.1);
        if padded.0 < kernel.0 || padded.1 < kernel.1 {
            let reason = format!("kernel {kernel:?} is larger than the padded image {padded:?}");
            return Err(invalid(reason));
        }
        let out = (
            (padded.0 - kernel.0) / stride.0 + 1,
            (padded.1 - kernel.1) / stride.1 + 1,
        );
        Ok(Windows {
            kernel,
            stride,
            pad,
            size,
            out,
        })
    }

    /// The length of one image plane's columns: `kh kw` rows of `oh ow`.
    pub(super) fn col_len(&self) -> usize {
        self.kernel.0 * self.kernel.1 * self.out.0 * self.out.1
    }

    /// The window columns `ox` whose pixel at kernel column `kj` falls inside the image:
    /// `lo..hi`, and the image column of the first.
    fn inside(&self, kj: usize) -> (usize, usize, usize) {
        let (s, p, w) = (self.stride.1, self.pad.1, self.size.1);
        // ox s + kj - p in 0..w  <=>  ox in ceil((p - kj) / s) ..= (w - 1 + p - kj) / s
        let lo = p.saturating_sub(kj).div_ceil(s);
        let hi = match (w + p).checked_sub(kj + 1) {
            Some(last) => (last / s + 1).min(self.out.1),
            None => 0,
        };
        if lo < hi {
            (lo, hi, lo * s + kj - p)
        } else {
            (0, 0, 0)
        }
    }

    /// Calls `visit(column, pixel, len)` for every run of `len` window positions inside the
    /// image: column `column + i` of the flat columns `[planes, kh, kw, oh, ow]` is pixel
    /// `pixel + i * stride` of the flat image `[planes, h, w]`. Positions in the padding are
    /// never visited. Shared by `im2col` (copies) and `col2im` (adds), so that the two stay each
    /// other's adjoint.
    fn walk(&self, planes: usize, mut visit: impl FnMut(usize, usize, usize)) {
        let (kh, kw) = self.kernel;
        let (oh, ow) = self.out;
        let (h, w) = self.size;
        let runs: Vec<_> = (0..kw).map(|kj| self.inside(kj)).collect();
        for plane in 0..planes {
            for ki in 0..kh {
                for (kj, &(lo, hi, first)) in runs.iter().enumerate() {
                    let col_row = ((plane * kh + ki) * kw + kj) * oh * ow;
                    for oy in 0..oh {
                        let r = (oy * self.stride.0 + ki).checked_sub(self.pad.0);
                        let Some(r) = r.filter(|&r| r < h) else {
                            continue;
                        };
                        if hi > lo {
                            visit(col_row + oy * ow + lo, (plane * h + r) * w + first, hi - lo);
                        }
                    }
                }
            }
        }
    }

    /// Copies every window of `x` (`[planes, h, w]`) into `cols` (`[planes, kh kw, oh ow]`);
    /// entries in the padding are left as they are (zeros, for a fresh or reused buffer).
    pub(super) fn im2col<F: Float>(&self, planes: usize, x: &[F], cols: &mut [F]) {
        let s = self.stride.1;
        self.walk(planes, |col, pixel, len| {
            let dst = &mut cols[col..col + len];
            if s == 1 {
                dst.copy_from_slice(&x[pixel..pixel + len]);
            } else {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = x[pixel + i * s];
                }
            }
        });
    }

    /// Adds every column of `cols` (`[planes, kh kw, oh ow]`) into its window of `x`
    /// (`[planes, h, w]`).
    pub(super) fn col2im<F: Float>(&self, planes: usize, cols: &[F], x: &mut [F]) {
        let s = self.stride.1;
        self.walk(planes, |col, pixel, len| {
            let src = &cols[col..col + len];
            if s == 1 {
                for (d, &v) in x[pixel..pixel + len].iter_mut().zip(src) {
                    *d += v;
                }
            } else {
                for (i, &v) in src.iter().enumerate() {
                    x[pixel + i * s] += v;
                }
            }
        });
    }
}
