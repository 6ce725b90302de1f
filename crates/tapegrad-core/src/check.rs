//! Numerical gradients (DeZero step 4 and step 10's `gradient_check`): central differences to
//! test analytic gradients against.
//!
//! A function under test takes the variables of its inputs and returns one variable; the
//! gradient checked is that of the sum of its elements (what `backward` seeds with ones).
//!
//! Pass the function as a closure written in the call (`gradient_check(|xs| xs[0].exp(), ..)`)
//! or as a `fn f<'g>(xs: &[Var<'g>]) -> Var<'g>`: a closure first bound to a `let` does not
//! infer the higher-ranked signature these functions need (a limitation of Rust closures).

use ndarray::{ArrayD, Dimension, IxDyn};

use crate::{Float, Graph, Var};

/// Step size and tolerances of a check. The defaults are DeZero's (`eps = 1e-4`,
/// `rtol = 1e-4`, `atol = 1e-5`), right for `f64`; `f32` needs looser ones (e.g.
/// `eps = 1e-2`, `rtol = 1e-2`, `atol = 1e-3`).
///
/// ```
/// let opts = tapegrad_core::check::CheckOptions::default();
/// assert_eq!((opts.eps, opts.rtol, opts.atol), (1e-4, 1e-4, 1e-5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// Half-width of the central difference.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            eps: 1e-4,
            rtol: 1e-4,
            atol: 1e-5,
        }
    }
}

/// The first element where the analytic and numerical gradients disagree.
///
/// ```
/// use tapegrad_core::check::gradient_check;
/// use tapegrad_core::ndarray::array;
/// // the gradient of floor is 0 almost everywhere, but a difference across a step is not
/// let e = gradient_check(|xs| xs[0].floor(), &[array![1.0].into_dyn()]).unwrap_err();
/// assert_eq!((e.input, e.analytic), (0, 0.0));
/// assert!(e.numerical > 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "gradient check failed for input {input} at index {index:?}: \
     analytic {analytic}, numerical {numerical}"
)]
pub struct GradCheckError {
    /// Position of the input in the list given to the check.
    pub input: usize,
    /// Index of the element within that input.
    pub index: Vec<usize>,
    /// The gradient from `backward`.
    pub analytic: f64,
    /// The gradient from central differences.
    pub numerical: f64,
}

/// Evaluates `sum(f(inputs))` without recording anything.
fn eval<F: Float, Fun>(g: &Graph<F>, f: &Fun, inputs: &[ArrayD<F>]) -> F
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    g.clear();
    let _guard = g.no_grad();
    let xs: Vec<_> = inputs.iter().map(|a| g.var(a.clone())).collect();
    f(&xs).data().sum()
}

/// Central-difference gradient of `sum(f(inputs))` with respect to each input, with `eps = 1e-4`.
///
/// ```
/// use ndarray::arr0;
/// use tapegrad_core::check::numerical_grad;
/// let g = numerical_grad(|xs| xs[0].square(), &[arr0(2.0f64).into_dyn()]);
/// assert!((g[0][[]] - 4.0).abs() < 1e-9);
/// ```
pub fn numerical_grad<F: Float, Fun>(f: Fun, inputs: &[ArrayD<F>]) -> Vec<ArrayD<F>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    numerical_grad_eps(f, inputs, F::from_f64(CheckOptions::default().eps))
}

/// [`numerical_grad`] with a chosen step: `(f(x + eps) - f(x - eps)) / 2 eps` per element.
///
/// ```
/// use ndarray::arr0;
/// let g = tapegrad_core::check::numerical_grad_eps(|xs| xs[0].exp(), &[arr0(0.0f64).into_dyn()], 1e-6);
/// assert!((g[0][[]] - 1.0).abs() < 1e-9);
/// ```
pub fn numerical_grad_eps<F: Float, Fun>(f: Fun, inputs: &[ArrayD<F>], eps: F) -> Vec<ArrayD<F>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    let g = Graph::new();
    central_diff(|xs| eval(&g, &f, xs), inputs, eps)
}

/// Central differences of any scalar function `h` of several arrays.
fn central_diff<F: Float>(
    h: impl Fn(&[ArrayD<F>]) -> F,
    inputs: &[ArrayD<F>],
    eps: F,
) -> Vec<ArrayD<F>> {
    let mut xs: Vec<ArrayD<F>> = inputs.to_vec();
    let mut grads = Vec::with_capacity(xs.len());
    for k in 0..xs.len() {
        let mut grad = ArrayD::zeros(xs[k].raw_dim());
        for index in ndarray::indices(xs[k].raw_dim()) {
            let index: IxDyn = index;
            let x = xs[k][&index];
            xs[k][&index] = x + eps;
            let y1 = h(&xs);
            xs[k][&index] = x - eps;
            let y0 = h(&xs);
            xs[k][&index] = x;
            grad[&index] = (y1 - y0) / (eps + eps);
        }
        grads.push(grad);
    }
    grads
}

/// The analytic gradient of `sum(f(inputs))` from one backward pass (zeros for an input `f`
/// does not use).
///
/// ```
/// use ndarray::arr1;
/// let g = tapegrad_core::check::analytic_grad(|xs| xs[0] * xs[1], &[arr1(&[2.0]).into_dyn(), arr1(&[3.0]).into_dyn()]);
/// assert_eq!((g[0][0], g[1][0]), (3.0, 2.0));
/// ```
pub fn analytic_grad<F: Float, Fun>(f: Fun, inputs: &[ArrayD<F>]) -> Vec<ArrayD<F>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    let g = Graph::new();
    let xs: Vec<_> = inputs.iter().map(|a| g.var(a.clone())).collect();
    f(&xs).backward();
    xs.iter()
        .map(|x| x.grad().unwrap_or_else(|| ArrayD::zeros(x.shape())))
        .collect()
}

/// Checks the analytic gradient of `sum(f(inputs))` against central differences with DeZero's
/// defaults (`eps = 1e-4`, `rtol = 1e-4`, `atol = 1e-5`).
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::check::gradient_check;
/// let x = array![[0.5, -1.0], [2.0, 0.1]].into_dyn();
/// assert!(gradient_check(|xs| (xs[0] * xs[0]).exp(), &[x]).is_ok());
/// ```
///
/// # Errors
/// [`GradCheckError`] naming the first element outside the tolerance.
pub fn gradient_check<F: Float, Fun>(f: Fun, inputs: &[ArrayD<F>]) -> Result<(), GradCheckError>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    gradient_check_with(f, inputs, CheckOptions::default())
}

/// [`gradient_check`] with chosen step and tolerances.
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::check::{gradient_check_with, CheckOptions};
/// let x = array![0.5f32, -1.0].into_dyn();
/// let loose = CheckOptions { eps: 1e-2, rtol: 1e-2, atol: 1e-3 };
/// assert!(gradient_check_with(|xs| xs[0].exp(), &[x], loose).is_ok());
/// ```
///
/// # Errors
/// [`GradCheckError`] naming the first element outside the tolerance.
pub fn gradient_check_with<F: Float, Fun>(
    f: Fun,
    inputs: &[ArrayD<F>],
    opts: CheckOptions,
) -> Result<(), GradCheckError>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    let analytic = analytic_grad(&f, inputs);
    let numerical = numerical_grad_eps(&f, inputs, F::from_f64(opts.eps));
    compare(&analytic, &numerical, opts)
}

/// Checks second derivatives: the analytic gradient of `h(x) = sum_k sum(w_k * g_k(x))`, where
/// `g = d sum(f) / dx` is computed with `create_graph` and `w` are fixed weights, against central
/// differences of `h` evaluated from the analytic first derivative (PyTorch's `gradgradcheck`).
/// Tolerances are [`CheckOptions::default`].
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::check::gradgrad_check;
/// let x = array![0.3, -1.2, 2.0].into_dyn();
/// assert!(gradgrad_check(|xs| xs[0].sin() * xs[0].exp(), &[x]).is_ok());
/// ```
///
/// # Errors
/// [`GradCheckError`] naming the first element outside the tolerance.
pub fn gradgrad_check<F: Float, Fun>(f: Fun, inputs: &[ArrayD<F>]) -> Result<(), GradCheckError>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    gradgrad_check_with(f, inputs, CheckOptions::default())
}

/// [`gradgrad_check`] with chosen step and tolerances.
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::check::{gradgrad_check_with, CheckOptions};
/// let x = array![0.5f32, 1.5].into_dyn();
/// let loose = CheckOptions { eps: 1e-2, rtol: 1e-2, atol: 1e-3 };
/// assert!(gradgrad_check_with(|xs| xs[0].powf(3.0), &[x], loose).is_ok());
/// ```
///
/// # Errors
/// [`GradCheckError`] naming the first element outside the tolerance.
pub fn gradgrad_check_with<F: Float, Fun>(
    f: Fun,
    inputs: &[ArrayD<F>],
    opts: CheckOptions,
) -> Result<(), GradCheckError>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    // Uneven weights, so that a wrong cross term cannot hide in a symmetric sum.
    let weights = uneven(inputs, 1, |n| 0.5 + (n % 7) as f64 / 7.0);
    let analytic = {
        let g = Graph::new();
        let xs: Vec<_> = inputs.iter().map(|a| g.var(a.clone())).collect();
        let gs = crate::grad(&[f(&xs)], &xs, true);
        let hs: Vec<_> = gs
            .iter()
            .zip(&weights)
            .map(|(&gk, w)| gk * w.clone())
            .collect();
        crate::grad(&hs, &xs, false)
            .iter()
            .map(|v| v.data())
            .collect::<Vec<_>>()
    };
    let h = |xs: &[ArrayD<F>]| -> F {
        let gs = analytic_grad(&f, xs);
        gs.iter().zip(&weights).map(|(gk, w)| (gk * w).sum()).sum()
    };
    let numerical = central_diff(h, inputs, F::from_f64(opts.eps));
    compare(&analytic, &numerical, opts)
}

/// Checks forward mode: the tangent of `f`'s output along a direction `v` (one array per input,
/// fixed uneven weights), from [`jvp`](crate::jvp)'s forward sweep, against the central
/// difference `(f(x + eps v) - f(x - eps v)) / 2 eps`, element by element of the output.
/// Tolerances are [`CheckOptions::default`].
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::check::jvp_check;
/// let x = array![[0.5, -1.0], [2.0, 0.1]].into_dyn();
/// assert!(jvp_check(|xs| xs[0].tanh().sum_axes(&[1], false), &[x]).is_ok());
/// ```
///
/// # Errors
/// [`GradCheckError`] naming the first output element outside the tolerance (`input` is 0 and
/// `index` the element's), or any element when `f` itself fails (`analytic` NaN).
pub fn jvp_check<F: Float, Fun>(f: Fun, inputs: &[ArrayD<F>]) -> Result<(), GradCheckError>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    jvp_check_with(f, inputs, CheckOptions::default())
}

/// [`jvp_check`] with chosen step and tolerances.
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::check::{jvp_check_with, CheckOptions};
/// let x = array![0.5f32, 1.5].into_dyn();
/// let loose = CheckOptions { eps: 1e-2, rtol: 1e-2, atol: 1e-3 };
/// assert!(jvp_check_with(|xs| xs[0].powf(3.0), &[x], loose).is_ok());
/// ```
///
/// # Errors
/// As [`jvp_check`].
pub fn jvp_check_with<F: Float, Fun>(
    f: Fun,
    inputs: &[ArrayD<F>],
    opts: CheckOptions,
) -> Result<(), GradCheckError>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    let directions = uneven(inputs, 3, |n| (n % 5) as f64 / 4.0 - 0.4);
    let failed = || GradCheckError {
        input: 0,
        index: vec![],
        analytic: f64::NAN,
        numerical: f64::NAN,
    };
    let (_, tangents) = crate::jvp(|xs| vec![f(xs)], inputs, &directions).map_err(|_| failed())?;
    let g = Graph::new();
    let at = |sign: f64| -> ArrayD<F> {
        g.clear();
        let _guard = g.no_grad();
        let eps = F::from_f64(sign * opts.eps);
        let xs: Vec<_> = (inputs.iter().zip(&directions))
            .map(|(x, v)| g.var(x + &(v * eps)))
            .collect();
        f(&xs).data()
    };
    let (plus, minus) = (at(1.0), at(-1.0));
    let numerical = (plus - minus) / F::from_f64(2.0 * opts.eps);
    compare(&tangents, &[numerical], opts)
}

/// Fixed values shaped like `inputs`: `value(n)` at the `n`-th element of input `k`, counting
/// from `n = start k + 1`.
fn uneven<F: Float>(
    inputs: &[ArrayD<F>],
    start: usize,
    value: impl Fn(usize) -> f64,
) -> Vec<ArrayD<F>> {
    (inputs.iter().enumerate())
        .map(|(k, x)| {
            let mut n = start * k;
            x.mapv(|_| {
                n += 1;
                F::from_f64(value(n))
            })
        })
        .collect()
}

/// `allclose` element by element, reporting the first failure.
pub(crate) fn compare<F: Float>(
    analytic: &[ArrayD<F>],
    numerical: &[ArrayD<F>],
    opts: CheckOptions,
) -> Result<(), GradCheckError> {
    for (input, (a, n)) in analytic.iter().zip(numerical).enumerate() {
        for ((index, &a), &n) in a.indexed_iter().zip(n.iter()) {
            let (a, n) = (a.to_f64(), n.to_f64());
            let close = (a - n).abs() <= opts.atol + opts.rtol * n.abs();
            if !close {
                return Err(GradCheckError {
                    input,
                    index: index.slice().to_vec(),
                    analytic: a,
                    numerical: n,
                });
            }
        }
    }
    Ok(())
}
