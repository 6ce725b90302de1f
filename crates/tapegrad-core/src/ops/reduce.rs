//! Reductions beyond `sum`: `mean_axes var_axes std_axes logsumexp` composed from ops;
//! `prod_axes norm norm_p cumsum` as [`Function`]s (their derivatives need care at zeros).
//! `max min argmax argmin` are in `extremes.rs`.
//!
//! | op | y | gradient |
//! |---|---|---|
//! | logsumexp(axes) | m + ln sum e^(x - m), m the (constant) maximum | softmax(x) gy |
//! | var_axes(axes, c) | sum (x - mean)^2 / (n - c) | |
//! | prod_axes(axes) | product | gy times the product of the others (right with zeros) |
//! | norm, norm_p(p) | (sum abs(x)^p)^(1/p) | gy sign(x) abs(x)^(p-1) / y^(p-1); 0 where y = 0 (PyTorch) |
//! | cumsum(a) | running sum along a | the running sum of gy from the end |

use ndarray::{ArrayD, ArrayViewD, Axis};

use crate::error::{Error, Result};
use crate::{Float, Function, Var};

/// The shapes of a reduction over `axes` of a variable of shape `shape`.
struct Reduction {
    /// The result's shape without them.
    dropped: Vec<usize>,
    /// Elements per result.
    count: usize,
}

fn reduction(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<Reduction> {
    let mut seen = vec![false; shape.len()];
    for &a in axes {
        if a >= shape.len() || std::mem::replace(&mut seen[a], true) {
            return Err(Error::InvalidAxes {
                op,
                axes: axes.to_vec(),
                ndim: shape.len(),
            });
        }
    }
    let seen = &seen;
    let pick = |reduced: bool| (0..shape.len()).filter(move |&i| seen[i] == reduced);
    Ok(Reduction {
        dropped: pick(false).map(|i| shape[i]).collect(),
        count: pick(true).map(|i| shape[i]).product(),
    })
}

/// `y` (reduced with kept axes) reshaped to drop them unless `keepdims`.
fn finish<'g, F: Float>(y: Var<'g, F>, r: &Reduction, keepdims: bool) -> Result<Var<'g, F>> {
    if keepdims {
        Ok(y)
    } else {
        y.try_reshape(&r.dropped)
    }
}

/// `f` folded over `axes` of `x`, each kept as a length-1 axis.
fn fold_axes<F: Float>(
    x: ArrayViewD<'_, F>,
    axes: &[usize],
    init: F,
    f: fn(F, F) -> F,
) -> ArrayD<F> {
    let mut y = x.to_owned();
    for &a in axes {
        y = y
            .fold_axis(Axis(a), init, |&acc, &v| f(acc, v))
            .insert_axis(Axis(a));
    }
    y
}

/// The product over `axes`, kept as length-1 axes.
struct Prod {
    axes: Vec<usize>,
}

impl<F: Float> Function<F> for Prod {
    fn name(&self) -> &'static str {
        "prod_axes"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        Ok(vec![fold_axes(
            xs[0].view(),
            &self.axes,
            F::one(),
            |a, b| a * b,
        )])
    }

    // d prod / dx_i = the product of the others: each element's lane, with itself replaced by
    // 1, multiplied out (a product again, so it differentiates at every order; no division)
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let x = xs[0];
        let shape = x.try_shape()?;
        let n: usize = self.axes.iter().map(|&a| shape[a]).product();
        let m = shape.iter().product::<usize>() / n.max(1);
        // the kept axes first, the reduced ones last, flattened to (m, n)
        let mut perm: Vec<usize> = (0..shape.len())
            .filter(|a| !self.axes.contains(a))
            .collect();
        perm.extend_from_slice(&self.axes);
        let permuted: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
        let lanes = x.try_permute(&perm)?.try_reshape(&[m, 1, n])?;
        let eye = ArrayD::from_shape_fn(vec![1, n, n], |i| i[1] == i[2]);
        let others = (lanes.try_broadcast_to(&[m, n, n])?)
            .try_masked_fill(&eye, F::one())?
            .try_prod_axes(&[2], false)?;
        let mut inverse = vec![0; perm.len()];
        for (k, &a) in perm.iter().enumerate() {
            inverse[a] = k;
        }
        let others = others.try_reshape(&permuted)?.try_permute(&inverse)?;
        Ok(vec![Some(others.try_mul(gys[0])?)])
    }
}

/// `(sum |x|^p)^(1/p)` over `axes`, kept as length-1 axes.
struct Norm<F> {
    p: F,
    axes: Vec<usize>,
}

impl<F: Float> Function<F> for Norm<F> {
    fn name(&self) -> &'static str {
        "norm"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let p = self.p;
        let y = if p == F::from_f64(2.0) {
            fold_axes(
                xs[0].mapv(|v| v * v).view(),
                &self.axes,
                F::zero(),
                |a, b| a + b,
            )
            .mapv(F::sqrt)
        } else {
            let powers = xs[0].mapv(|v| v.abs().powf(p));
            fold_axes(powers.view(), &self.axes, F::zero(), |a, b| a + b)
                .mapv(|s| s.powf(p.recip()))
        };
        Ok(vec![y])
    }

    // d y / dx = sign(x) |x|^(p-1) / y^(p-1) (x / y for p = 2); 0 where y = 0, as PyTorch (there
    // every x is 0, so y is replaced by 1 in the division)
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        ys: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let (x, y, p) = (xs[0], ys[0], self.p);
        let zeros =
            y.try_with_data(|a| a.mapv(|v| if v == F::zero() { F::one() } else { F::zero() }))?;
        let y = y.try_add(zeros)?;
        let gx = if p == F::from_f64(2.0) {
            x.try_div(y)?.try_mul(gys[0])?
        } else {
            let scale = gys[0].try_div(y.try_powf(p - F::one())?)?;
            x.try_sign()?
                .try_mul(x.try_abs()?.try_powf(p - F::one())?)?
                .try_mul(scale)?
        };
        Ok(vec![Some(gx)])
    }
}

/// The running sum along `axis`.
struct Cumsum {
    axis: usize,
}

impl<F: Float> Function<F> for Cumsum {
    fn name(&self) -> &'static str {
        "cumsum"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let mut y = xs[0].to_owned();
        y.accumulate_axis_inplace(Axis(self.axis), |&prev, cur| *cur += prev);
        Ok(vec![y])
    }

    // d cumsum: gx_i = sum_{j >= i} gy_j, the running sum from the end
    fn backward<'g>(
        &self,
        _: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let a = self.axis;
        Ok(vec![Some(gys[0].try_flip(a)?.try_cumsum(a)?.try_flip(a)?)])
    }
}

var_methods! {
    /// Mean over `axes`, kept as length-1 axes when `keepdims` (`torch.mean(dim)`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 6.0]]);
    /// assert_eq!(x.mean_axes(&[1], false).data(), array![1.5, 4.5].into_dyn());
    /// ```
    fn mean_axes / try_mean_axes(self, axes: &[usize], keepdims: bool) [&[1], false] {
        let r = reduction("mean_axes", &self.try_shape()?, axes)?;
        self.try_sum_axes(axes, keepdims)?.try_div(F::from_f64(r.count as f64))
    }

    /// Variance over `axes`: the sum of squared deviations from the mean divided by
    /// `max(0, n - correction)` (`torch.var`; PyTorch's default correction is 1, the unbiased
    /// estimate). A correction of `n` or more leaves no degree of freedom: infinity, or NaN
    /// where every deviation is 0, as PyTorch's.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0, 4.0]);
    /// assert!((x.var_axes(&[0], false, 1).item() - 5.0 / 3.0).abs() < 1e-15);
    /// assert_eq!(x.var_axes(&[0], false, 0).item(), 1.25);
    /// assert_eq!(x.var_axes(&[0], false, 5).item(), f64::INFINITY);
    /// ```
    fn var_axes / try_var_axes(self, axes: &[usize], keepdims: bool, correction: usize) [&[1], false, 1] {
        let r = reduction("var_axes", &self.try_shape()?, axes)?;
        let mean = self.try_mean_axes(axes, true)?;
        let dev = self.try_sub(mean)?.try_square()?.try_sum_axes(axes, keepdims)?;
        dev.try_div(F::from_f64(r.count.saturating_sub(correction) as f64))
    }

    /// Standard deviation over `axes`: the square root of [`Var::var_axes`] (`torch.std`); its
    /// gradient is 0 where it is 0, as PyTorch's.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 3.0], [2.0, 2.0]]);
    /// assert_eq!(x.std_axes(&[1], false, 0).data(), array![1.0, 0.0].into_dyn());
    /// ```
    fn std_axes / try_std_axes(self, axes: &[usize], keepdims: bool, correction: usize) [&[1], false, 1] {
        // sqrt(var), but 0 with gradient 0 where var is 0, as PyTorch's (sqrt's derivative is
        // infinite there): the root is taken of 1 instead, and not chosen
        let var = self.try_var_axes(axes, keepdims, correction)?;
        let positive = var.try_eq_elem(F::zero())?.mapv(|zero| !zero); // NaN stays NaN
        let safe = super::select::try_where_(&positive, var, F::one())?;
        super::select::try_where_(&positive, safe.try_sqrt()?, F::zero())
    }

    /// `ln sum e^x` over `axes`, computed without overflow (the maximum is taken out first:
    /// stable at 1e3 and beyond). Its gradient is the softmax over `axes`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1000.0, 1000.0]);
    /// let y = x.logsumexp(&[0], false);
    /// y.backward();
    /// assert!((y.item() - (1000.0 + 2f64.ln())).abs() < 1e-12);
    /// assert_eq!(x.grad().unwrap(), array![0.5, 0.5].into_dyn());
    /// ```
    fn logsumexp / try_logsumexp(self, axes: &[usize], keepdims: bool) [&[1], false] {
        let r = reduction("logsumexp", &self.try_shape()?, axes)?;
        // the maximum as a constant (infinite maxima as 0, as PyTorch, so inf - inf is avoided)
        let m = self.try_with_data(|a| fold_axes(a, axes, F::neg_infinity(), |a, b| a.max(b)))?;
        let m = m.mapv(|v| if v.is_infinite() { F::zero() } else { v });
        let m = self.graph.constant(m);
        let s = self.try_sub(m)?.try_exp()?.try_sum_axes(axes, true)?.try_log()?.try_add(m)?;
        finish(s, &r, keepdims)
    }

    /// Product over `axes` (`torch.prod`); the gradient of each element is the product of the
    /// others, right also where elements are 0.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![2.0, 0.0, 4.0]);
    /// let y = x.prod_axes(&[0], false);
    /// y.backward();
    /// assert_eq!(y.item(), 0.0);
    /// assert_eq!(x.grad().unwrap(), array![0.0, 8.0, 0.0].into_dyn());
    /// ```
    fn prod_axes / try_prod_axes(self, axes: &[usize], keepdims: bool) [&[1], false] {
        let r = reduction("prod_axes", &self.try_shape()?, axes)?;
        let y = self.graph.try_apply(Prod { axes: axes.to_vec() }, &[self])?[0];
        finish(y, &r, keepdims)
    }

    /// The L2 norm of all elements, 0-d (`torch.linalg.norm` of the flattened variable); its
    /// gradient `x / norm` is 0 at the origin, as PyTorch's.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![3.0, 4.0]);
    /// let y = x.norm();
    /// y.backward();
    /// assert_eq!(y.item(), 5.0);
    /// assert_eq!(x.grad().unwrap(), array![0.6, 0.8].into_dyn());
    /// ```
    fn norm / try_norm(self) [] {
        self.try_norm_p(F::from_f64(2.0))
    }

    /// The p-norm `(sum |x|^p)^(1/p)` of all elements, for a finite `p > 0`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![3.0, -4.0]).norm_p(1.0).item(), 7.0);
    /// ```
    fn norm_p / try_norm_p(self, p: F) [2.0] {
        let axes: Vec<usize> = (0..self.try_shape()?.len()).collect();
        self.try_norm_axes(p, &axes, false)
    }

    /// The p-norm over `axes`, kept as length-1 axes when `keepdims` (`torch.norm(p, dim)`),
    /// for a finite `p > 0`; the gradient is 0 where the norm is 0, as PyTorch's.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[3.0, 4.0], [0.0, 0.0]]);
    /// let y = x.norm_axes(2.0, &[1], false);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![5.0, 0.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![[0.6, 0.8], [0.0, 0.0]].into_dyn());
    /// ```
    fn norm_axes / try_norm_axes(self, p: F, axes: &[usize], keepdims: bool) [2.0, &[1], false] {
        if !(p > F::zero() && p.is_finite()) {
            return Err(Error::InvalidArgument { op: "norm", reason: format!("p = {p} is not a finite number > 0") });
        }
        let r = reduction("norm", &self.try_shape()?, axes)?;
        let y = self.graph.try_apply(Norm { p, axes: axes.to_vec() }, &[self])?[0];
        finish(y, &r, keepdims)
    }

    /// The running sum along `axis` (`torch.cumsum`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0, 3.0]);
    /// let y = x.cumsum(0);
    /// y.sum().backward();
    /// assert_eq!(y.data(), array![1.0, 3.0, 6.0].into_dyn());
    /// assert_eq!(x.grad().unwrap(), array![3.0, 2.0, 1.0].into_dyn());
    /// ```
    fn cumsum / try_cumsum(self, axis: usize) [1] {
        super::check_axis("cumsum", &self.try_shape()?, axis)?;
        Ok(self.graph.try_apply(Cumsum { axis }, &[self])?[0])
    }
}
