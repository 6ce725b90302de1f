//! Function transforms, as `torch.func` and JAX give them: [`jvp`] (forward-mode directional
//! derivatives), [`vjp`], [`jacobian`] (by rows or by columns) and [`hessian`]. Each takes a
//! function of variables, `f(&[Var]) -> Vec<Var>`, and arrays; it builds a fresh graph, runs
//! `f` on it and returns arrays. Write `f` as a closure inside the call (`jvp(|xs| vec![..],
//! ..)`) or as a `fn` generic over the graph's lifetime: a closure bound by `let` first gets
//! one lifetime, not all of them, and is refused.
//!
//! Costs, in sweeps over the tape of `f` (see docs/higher-order.md):
//! - `vjp`: one reverse sweep.
//! - `jvp`: one forward sweep carrying tangents (`forward.rs`); no reverse sweep.
//! - `jacobian`, reverse: one reverse sweep per output element; forward: one forward sweep per
//!   input element.
//! - `hessian`: one recorded reverse sweep for the gradient, then one forward sweep per input
//!   element over the whole tape (forward over reverse).

use ndarray::{ArrayD, IxDyn};

use crate::backward::try_grad;
use crate::error::{Error, Result};
use crate::forward::tangents;
use crate::{Float, Graph, Var};

/// How [`jacobian`] computes: by rows (one reverse sweep per output element, `torch.func.jacrev`)
/// or by columns (one directional derivative per input element, `torch.func.jacfwd`).
///
/// ```
/// use tapegrad_core::{JacobianMode, Var, jacobian, ndarray::array};
/// fn square<'g>(xs: &[Var<'g>]) -> Vec<Var<'g>> {
///     vec![xs[0] * xs[0]]
/// }
/// let x = [array![1.0, 2.0].into_dyn()];
/// let by_rows = jacobian(square, &x, JacobianMode::Reverse).unwrap();
/// let by_columns = jacobian(square, &x, JacobianMode::Forward).unwrap();
/// assert_eq!(by_rows[0][0], array![[2.0, 0.0], [0.0, 4.0]].into_dyn());
/// assert_eq!(by_rows, by_columns);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JacobianMode {
    /// One reverse sweep per output element: cheap for few outputs.
    Reverse,
    /// One directional derivative per input element: cheap for few inputs.
    Forward,
    /// Whichever needs fewer sweeps: reverse when the outputs have no more elements than the
    /// inputs.
    #[default]
    Auto,
}

/// What [`jvp`] and [`vjp`] return: the outputs of the function, and their tangents (`jvp`) or
/// the inputs' cotangents (`vjp`).
///
/// ```
/// use tapegrad_core::{Derivatives, Var, jvp, ndarray::array};
/// fn cube<'g>(xs: &[Var<'g>]) -> Vec<Var<'g>> {
///     vec![xs[0].powf(3.0)]
/// }
/// let (ys, tangents): Derivatives<f64> =
///     jvp(cube, &[array![2.0].into_dyn()], &[array![1.0].into_dyn()]).unwrap();
/// assert_eq!((ys[0][[0]], tangents[0][[0]]), (8.0, 12.0)); // 3 x^2
/// ```
pub type Derivatives<F> = (Vec<ArrayD<F>>, Vec<ArrayD<F>>);

/// The inputs and outputs of a function run on a graph.
type Traced<'g, F> = (Vec<Var<'g, F>>, Vec<Var<'g, F>>);

/// The shapes of `a` and `b` agree pairwise, or `op`'s shape mismatch.
fn check_pairs<F: Float>(op: &'static str, a: &[ArrayD<F>], b: &[Vec<usize>]) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: vec![a.len()],
            rhs: vec![b.len()],
        });
    }
    for (x, s) in a.iter().zip(b) {
        if x.shape() != s.as_slice() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: s.clone(),
                rhs: x.shape().to_vec(),
            });
        }
    }
    Ok(())
}

/// `f` run on a fresh graph at `x`: the inputs and the outputs.
fn trace<'g, F: Float, Fun>(
    op: &'static str,
    g: &'g Graph<F>,
    f: &Fun,
    x: &[ArrayD<F>],
) -> Result<Traced<'g, F>>
where
    Fun: for<'h> Fn(&[Var<'h, F>]) -> Vec<Var<'h, F>>,
{
    let xs: Vec<Var<'g, F>> = x.iter().map(|a| g.var(a.clone())).collect();
    let ys = f(&xs);
    if ys.is_empty() {
        let reason = "the function returned no outputs".into();
        return Err(Error::InvalidArgument { op, reason });
    }
    for &y in &ys {
        g.check(y, op)?;
    }
    Ok((xs, ys))
}

/// `sum_k sum(a_k * b_k)`, the inner product of two lists of variables and arrays.
fn inner<'g, F: Float>(
    a: &[Var<'g, F>],
    b: impl IntoIterator<Item = ArrayD<F>>,
) -> Result<Var<'g, F>> {
    let mut terms = a.iter().zip(b).map(|(&v, w)| v.try_mul(w)?.try_sum());
    let first = terms.next().ok_or_else(|| Error::InvalidArgument {
        op: "inner",
        reason: "nothing to sum".into(),
    })??;
    terms.try_fold(first, |acc, t| acc.try_add(t?))
}

/// The values of `vars`.
fn data<F: Float>(vars: &[Var<'_, F>]) -> Result<Vec<ArrayD<F>>> {
    vars.iter().map(|v| v.try_data()).collect()
}

/// The outputs of `f` at `x` and their directional derivatives along `v` (`torch.func.jvp`):
/// `(f(x), J v)`, one tangent per output. `x` and `v` are lists of arrays of matching shapes.
///
/// ```
/// use ndarray::{array, ArrayD};
/// // f(x) = (x^2, sum x): along v, 2 x v and sum v
/// let x = array![1.0, 2.0].into_dyn();
/// let v = array![1.0, 0.5].into_dyn();
/// let (ys, ts) = tapegrad_core::jvp(|xs| vec![xs[0].square(), xs[0].sum()], &[x], &[v]).unwrap();
/// assert_eq!(ys[0], array![1.0, 4.0].into_dyn());
/// assert_eq!(ts[0], array![2.0, 2.0].into_dyn());
/// assert_eq!(ts[1][[]], 1.5);
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `jvp`) for tangents that do not match the inputs in number or
/// shape; [`Error::InvalidArgument`] for a function with no outputs; whatever `f`'s ops return.
pub fn jvp<F: Float, Fun>(f: Fun, x: &[ArrayD<F>], v: &[ArrayD<F>]) -> Result<Derivatives<F>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Vec<Var<'g, F>>,
{
    check_pairs(
        "jvp",
        v,
        &x.iter().map(|a| a.shape().to_vec()).collect::<Vec<_>>(),
    )?;
    let g = Graph::new();
    let (xs, ys) = trace("jvp", &g, &f, x)?;
    let seeds: Vec<_> = xs.iter().map(|x| x.id()).zip(v.iter().cloned()).collect();
    let ids: Vec<_> = ys.iter().map(|y| y.id()).collect();
    Ok((data(&ys)?, tangents(&g, &seeds, &ids)?))
}

/// The outputs of `f` at `x` and the cotangents `J^T u` of `u`, one per output
/// (`torch.func.vjp`): the gradient of `sum_i sum(f_i(x) * u_i)`.
///
/// ```
/// use ndarray::array;
/// let x = [array![1.0, 2.0].into_dyn(), array![3.0, 4.0].into_dyn()];
/// let (ys, gs) = tapegrad_core::vjp(|xs| vec![xs[0] * xs[1]], &x, &[array![1.0, 10.0].into_dyn()]).unwrap();
/// assert_eq!(ys[0], array![3.0, 8.0].into_dyn());
/// assert_eq!(gs[0], array![3.0, 40.0].into_dyn()); // u * x1
/// assert_eq!(gs[1], array![1.0, 20.0].into_dyn()); // u * x0
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] (op `vjp`) for cotangents that do not match the outputs in number
/// or shape; as [`jvp`] otherwise.
pub fn vjp<F: Float, Fun>(f: Fun, x: &[ArrayD<F>], u: &[ArrayD<F>]) -> Result<Derivatives<F>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Vec<Var<'g, F>>,
{
    let g = Graph::new();
    let (xs, ys) = trace("vjp", &g, &f, x)?;
    let shapes = ys
        .iter()
        .map(|y| y.try_shape())
        .collect::<Result<Vec<_>>>()?;
    check_pairs("vjp", u, &shapes)?;
    let s = inner(&ys, u.iter().cloned())?;
    Ok((data(&ys)?, data(&try_grad(&[s], &xs, false)?)?))
}

/// The one-hot array of `shape` at flat position `k`.
fn one_hot<F: Float>(shape: &[usize], k: usize) -> ArrayD<F> {
    let mut a = ArrayD::zeros(IxDyn(shape));
    if let Some(v) = a.iter_mut().nth(k) {
        *v = F::one();
    }
    a
}

/// Zero blocks `[i][j]` of shape `rows[i] ++ cols[j]`.
fn blocks<F: Float>(rows: &[Vec<usize>], cols: &[Vec<usize>]) -> Vec<Vec<ArrayD<F>>> {
    (rows.iter())
        .map(|r| {
            cols.iter()
                .map(|c| ArrayD::zeros([&r[..], c].concat()))
                .collect()
        })
        .collect()
}

/// Writes `part` (of shape `cols[j]`) as row `k` of block `b` (rows first, then columns).
fn set_row<F: Float>(b: &mut ArrayD<F>, k: usize, part: &ArrayD<F>) {
    let n = part.len();
    for (dst, &src) in b.iter_mut().skip(k * n).take(n).zip(part.iter()) {
        *dst = src;
    }
}

/// Writes `part` (of shape `rows[i]`) as column `k` of block `b`, of `ncols` columns.
fn set_col<F: Float>(b: &mut ArrayD<F>, k: usize, ncols: usize, part: &ArrayD<F>) {
    for (dst, &src) in b.iter_mut().skip(k).step_by(ncols).zip(part.iter()) {
        *dst = src;
    }
}

/// The Jacobian of `f` at `x` (`torch.func.jacrev` / `jacfwd`): `[i][j]` is `d f_i / d x_j`, of
/// shape `f_i.shape ++ x_j.shape`. `mode` picks rows or columns; both give the same numbers.
///
/// ```
/// use ndarray::array;
/// use tapegrad_core::JacobianMode;
/// // f(x) = x0 * x1 elementwise: d/dx0 = diag(x1); a `fn` (or a closure written in the call)
/// fn f<'g>(xs: &[tapegrad_core::Var<'g>]) -> Vec<tapegrad_core::Var<'g>> {
///     vec![xs[0] * xs[1]]
/// }
/// let x = [array![1.0, 2.0].into_dyn(), array![3.0, 4.0].into_dyn()];
/// for mode in [JacobianMode::Reverse, JacobianMode::Forward, JacobianMode::Auto] {
///     let j = tapegrad_core::jacobian(f, &x, mode).unwrap();
///     assert_eq!(j[0][0], array![[3.0, 0.0], [0.0, 4.0]].into_dyn());
///     assert_eq!(j[0][1], array![[1.0, 0.0], [0.0, 2.0]].into_dyn());
/// }
/// ```
///
/// # Errors
/// As [`jvp`].
pub fn jacobian<F: Float, Fun>(
    f: Fun,
    x: &[ArrayD<F>],
    mode: JacobianMode,
) -> Result<Vec<Vec<ArrayD<F>>>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Vec<Var<'g, F>>,
{
    let g = Graph::new();
    let (xs, ys) = trace("jacobian", &g, &f, x)?;
    jacobian_of(&g, &xs, &ys, mode)
}

/// The Jacobian of the variables `ys` with respect to `xs`, all of `g`.
fn jacobian_of<'g, F: Float>(
    g: &'g Graph<F>,
    xs: &[Var<'g, F>],
    ys: &[Var<'g, F>],
    mode: JacobianMode,
) -> Result<Vec<Vec<ArrayD<F>>>> {
    let rows = ys
        .iter()
        .map(|y| y.try_shape())
        .collect::<Result<Vec<_>>>()?;
    let cols = xs
        .iter()
        .map(|x| x.try_shape())
        .collect::<Result<Vec<_>>>()?;
    let count = |s: &[Vec<usize>]| s.iter().map(|d| d.iter().product::<usize>()).sum::<usize>();
    let reverse = match mode {
        JacobianMode::Reverse => true,
        JacobianMode::Forward => false,
        JacobianMode::Auto => count(&rows) <= count(&cols),
    };
    let mut jac = blocks(&rows, &cols);
    if reverse {
        for (i, (&y, shape)) in ys.iter().zip(&rows).enumerate() {
            for k in 0..shape.iter().product() {
                let s = y.try_mul(one_hot(shape, k))?.try_sum()?;
                for (j, gx) in try_grad(&[s], xs, false)?.iter().enumerate() {
                    set_row(&mut jac[i][j], k, &gx.try_data()?);
                }
            }
        }
    } else {
        let ids: Vec<_> = ys.iter().map(|y| y.id()).collect();
        for (j, shape) in cols.iter().enumerate() {
            let n = shape.iter().product();
            for k in 0..n {
                let seed = [(xs[j].id(), one_hot(shape, k))];
                for (i, col) in tangents(g, &seed, &ids)?.iter().enumerate() {
                    set_col(&mut jac[i][j], k, n, col);
                }
            }
        }
    }
    Ok(jac)
}

/// The Hessian of `f` at `x`, for an `f` with one 0-d output (`torch.func.hessian`): `[i][j]` is
/// `d^2 f / dx_i dx_j`, of shape `x_i.shape ++ x_j.shape`.
///
/// ```
/// use ndarray::array;
/// // f(x) = x0^2 x1: H = [[2 x1, 2 x0], [2 x0, 0]]
/// let x = [array![3.0].into_dyn(), array![5.0].into_dyn()];
/// let h = tapegrad_core::hessian(|xs| vec![(xs[0].square() * xs[1]).sum()], &x).unwrap();
/// assert_eq!(h[0][0], array![[10.0]].into_dyn());
/// assert_eq!(h[0][1], array![[6.0]].into_dyn());
/// assert_eq!(h[1][1], array![[0.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] (op `hessian`) unless `f` returns exactly one 0-d output; as
/// [`jvp`] otherwise.
pub fn hessian<F: Float, Fun>(f: Fun, x: &[ArrayD<F>]) -> Result<Vec<Vec<ArrayD<F>>>>
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Vec<Var<'g, F>>,
{
    let g = Graph::new();
    let (xs, ys) = trace("hessian", &g, &f, x)?;
    let shapes = ys
        .iter()
        .map(|y| y.try_shape())
        .collect::<Result<Vec<_>>>()?;
    if shapes.len() != 1 || !shapes[0].is_empty() {
        let reason =
            format!("the function must return one 0-d output, not outputs of shapes {shapes:?}");
        return Err(Error::InvalidArgument {
            op: "hessian",
            reason,
        });
    }
    let gs = try_grad(&ys, &xs, true)?;
    jacobian_of(&g, &xs, &gs, JacobianMode::Forward) // forward over reverse
}
