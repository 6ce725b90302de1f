//! Products of named axes: `einsum` (numpy's and PyTorch's subscripts, any number of operands,
//! contracted pairwise from the left), `dot` and `outer`. All are composed from `sum_axes`,
//! `permute`, `reshape` and the (batched) matrix product, so they differentiate at every order.
//!
//! A pair of operands is contracted as one batched product: the axes both share and the
//! result keeps are the batch, the axes both share and the result drops are summed by the
//! product, each operand's own axes are its rows or columns. An axis only one operand has and
//! nothing later needs is summed first.

use std::collections::HashMap;

use super::matmul::batched;
use crate::error::{Error, Result, or_panic};
use crate::{Float, Var};

fn invalid(reason: String) -> Error {
    Error::InvalidArgument {
        op: "einsum",
        reason,
    }
}

/// A variable and the letters naming its axes.
struct Term<'g, F: Float> {
    var: Var<'g, F>,
    subs: Vec<char>,
}

impl<'g, F: Float> Term<'g, F> {
    /// Sums the axes whose letters `drop` says go.
    fn sum_where(self, drop: impl Fn(char) -> bool) -> Result<Self> {
        let axes: Vec<usize> = (0..self.subs.len())
            .filter(|&i| drop(self.subs[i]))
            .collect();
        if axes.is_empty() {
            return Ok(self);
        }
        let subs = self.subs.iter().copied().filter(|&c| !drop(c)).collect();
        let var = self.var.try_sum_axes(&axes, false)?;
        Ok(Term { var, subs })
    }

    /// The diagonal over each letter that repeats (`"ii"`: the elements `x[i, i]`), as the
    /// elements where the axes' indices are equal, multiplied by an identity mask and summed.
    fn diagonals(mut self) -> Result<Self> {
        while let Some((p, q)) = (0..self.subs.len()).find_map(|q| {
            (0..q)
                .find(|&p| self.subs[p] == self.subs[q])
                .map(|p| (p, q))
        }) {
            let n = self.var.try_shape()?[p];
            let mut shape = vec![1; self.subs.len()];
            (shape[p], shape[q]) = (n, n);
            let eye = ndarray::Array2::<F>::eye(n).into_shape_with_order(shape);
            let eye = eye.map_err(|e| invalid(e.to_string()))?;
            let masked = self.var.try_mul(self.var.graph.constant(eye))?;
            self.var = masked.try_sum_axes(&[q], false)?;
            self.subs.remove(q);
        }
        Ok(self)
    }

    /// The axes put in the order `order` (a permutation of the letters).
    fn arrange(self, order: &[char]) -> Result<Self> {
        if order == self.subs.as_slice() {
            return Ok(self);
        }
        let perm: Vec<usize> = (order.iter())
            .map(|c| self.subs.iter().position(|s| s == c).unwrap_or_default())
            .collect();
        let var = self.var.try_permute(&perm)?;
        Ok(Term {
            var,
            subs: order.to_vec(),
        })
    }
}

/// Contracts `a` and `b`, keeping the letters in `keep`.
fn contract<'g, F: Float>(
    a: Term<'g, F>,
    b: Term<'g, F>,
    keep: &[char],
    size: &HashMap<char, usize>,
) -> Result<Term<'g, F>> {
    let (a_subs, b_subs) = (a.subs.clone(), b.subs.clone());
    let a = a.sum_where(|c| !b_subs.contains(&c) && !keep.contains(&c))?;
    let b = b.sum_where(|c| !a_subs.contains(&c) && !keep.contains(&c))?;
    let shared = |c: &&char| b.subs.contains(c);
    let batch: Vec<char> = a
        .subs
        .iter()
        .filter(shared)
        .filter(|c| keep.contains(c))
        .copied()
        .collect();
    let summed: Vec<char> = a
        .subs
        .iter()
        .filter(shared)
        .filter(|c| !keep.contains(c))
        .copied()
        .collect();
    let rows: Vec<char> = a
        .subs
        .iter()
        .filter(|c| !b.subs.contains(c))
        .copied()
        .collect();
    let cols: Vec<char> = b
        .subs
        .iter()
        .filter(|c| !a.subs.contains(c))
        .copied()
        .collect();
    let len = |cs: &[char]| cs.iter().map(|c| size[c]).product::<usize>();
    let (nb, m, k, n) = (len(&batch), len(&rows), len(&summed), len(&cols));
    let a = a.arrange(&[&batch[..], &rows, &summed].concat())?;
    let b = b.arrange(&[&batch[..], &summed, &cols].concat())?;
    let y = if nb == 1 {
        a.var
            .try_reshape(&[m, k])?
            .try_matmul(b.var.try_reshape(&[k, n])?)?
    } else {
        batched(
            a.var.try_reshape(&[nb, m, k])?,
            b.var.try_reshape(&[nb, k, n])?,
        )?
    };
    let subs = [&batch[..], &rows, &cols].concat();
    let shape: Vec<usize> = subs.iter().map(|c| size[c]).collect();
    Ok(Term {
        var: y.try_reshape(&shape)?,
        subs,
    })
}

/// The subscripts of each operand and of the result, checked against the operands' shapes.
type Spec = (Vec<Vec<char>>, Vec<char>, HashMap<char, usize>);

fn parse(spec: &str, shapes: &[Vec<usize>]) -> Result<Spec> {
    let spec: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match spec.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (spec.as_str(), None),
    };
    let inputs: Vec<Vec<char>> = lhs.split(',').map(|s| s.chars().collect()).collect();
    if inputs.len() != shapes.len() {
        return Err(invalid(format!(
            "{} subscripts for {} operands",
            inputs.len(),
            shapes.len()
        )));
    }
    let mut size = HashMap::new();
    for (k, (subs, shape)) in inputs.iter().zip(shapes).enumerate() {
        if let Some(c) = subs.iter().find(|c| !c.is_ascii_alphabetic()) {
            return Err(invalid(format!(
                "'{c}' is not a subscript (letters only; no '...')"
            )));
        }
        if subs.len() != shape.len() {
            let s: String = subs.iter().collect();
            return Err(invalid(format!(
                "operand {k} has shape {shape:?}, but subscripts '{s}'"
            )));
        }
        for (i, &c) in subs.iter().enumerate() {
            match *size.entry(c).or_insert(shape[i]) {
                n if n == shape[i] => {}
                n => return Err(invalid(format!("'{c}' has sizes {n} and {}", shape[i]))),
            }
        }
    }
    let output: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            // numpy's implicit form: the letters that appear once, in alphabetical order
            let mut once: Vec<char> = size
                .keys()
                .copied()
                .filter(|c| inputs.iter().flatten().filter(|d| *d == c).count() == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    for (i, c) in output.iter().enumerate() {
        if !size.contains_key(c) || output[..i].contains(c) {
            return Err(invalid(format!(
                "output subscript '{c}' is not an input's, or repeats"
            )));
        }
    }
    Ok((inputs, output, size))
}

/// Sums of products over named axes (`torch.einsum`): `"ij,jk->ik"` (matmul),
/// `"bij,bjk->bik"` (batched), `"i,i->"` (dot), `"ij->ji"` (transpose), `"ij->"`, `"i,j->ij"`,
/// `"ii->"` (trace), `"ii->i"` (diagonal), or the implicit form without `->` (the letters seen
/// once, in alphabetical order). Any number of operands; `...` is not supported.
///
/// ```
/// use tapegrad_core::ndarray::array;
/// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
/// let a = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
/// let b = g.var(array![[5.0], [6.0]]);
/// let y = tapegrad_core::einsum("ij,jk->ik", &[a, b]);
/// assert_eq!(y.data(), a.matmul(b).data());
/// let t = tapegrad_core::einsum("ij->ji", &[a]);
/// assert_eq!(t.data(), array![[1.0, 3.0], [2.0, 4.0]].into_dyn());
/// assert_eq!(tapegrad_core::einsum("ii->", &[a]).item(), 5.0); // the trace
/// assert_eq!(tapegrad_core::einsum("ii->i", &[a]).data(), array![1.0, 4.0].into_dyn());
/// ```
///
/// # Panics
/// With the message of [`try_einsum`]'s error.
#[track_caller]
pub fn einsum<'g, F: Float>(spec: &str, operands: &[Var<'g, F>]) -> Var<'g, F> {
    or_panic(try_einsum(spec, operands))
}

/// Fallible [`einsum`].
///
/// ```
/// use tapegrad_core::{Error, Graph, ndarray::array};
/// let g: Graph = Graph::new();
/// use tapegrad_core::try_einsum;
/// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
/// let t = try_einsum("ij->ji", &[x]).unwrap();
/// assert_eq!(t.data(), array![[1.0, 3.0], [2.0, 4.0]].into_dyn());
/// // a spec naming more operands than given
/// assert!(try_einsum("ij,jk->ik", &[x]).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] (op `einsum`) for subscripts that do not match the operands (their
/// number, an operand's number of axes, one letter with two sizes, an output letter no input
/// has) or that are not supported; [`Error::GraphMismatch`], [`Error::StaleVar`].
pub fn try_einsum<'g, F: Float>(spec: &str, operands: &[Var<'g, F>]) -> Result<Var<'g, F>> {
    let first = *operands
        .first()
        .ok_or_else(|| invalid("no operands".into()))?;
    let shapes = (operands.iter())
        .map(|v| first.graph.check(*v, "einsum").and_then(|_| v.try_shape()))
        .collect::<Result<Vec<_>>>()?;
    let (inputs, output, size) = parse(spec, &shapes)?;
    // the letters still needed after operand k: the output's and those of later operands
    let needed = |k: usize| -> Vec<char> {
        let mut keep = output.clone();
        keep.extend(inputs[k + 1..].iter().flatten().copied());
        keep
    };
    let mut acc = Term {
        var: first,
        subs: inputs[0].clone(),
    }
    .diagonals()?;
    for k in 1..operands.len() {
        let term = Term {
            var: operands[k],
            subs: inputs[k].clone(),
        }
        .diagonals()?;
        acc = contract(acc, term, &needed(k), &size)?;
    }
    Ok(acc
        .sum_where(|c| !output.contains(&c))?
        .arrange(&output)?
        .var)
}

impl<'g, F: Float> Var<'g, F> {
    /// The dot product of two vectors of one length, 0-d (`torch.dot`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![3.0, 4.0]));
    /// assert_eq!(a.dot(b).item(), 11.0);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_dot`]'s error.
    #[track_caller]
    pub fn dot(self, other: Var<'g, F>) -> Var<'g, F> {
        or_panic(self.try_dot(other))
    }

    /// Fallible [`Var::dot`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// assert_eq!(x.try_dot(x).unwrap().item(), 5.0);
    /// // lengths that differ
    /// assert!(x.try_dot(g.var(array![1.0, 2.0, 3.0])).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (op `dot`) unless both are 1-D of one length;
    /// [`Error::GraphMismatch`], [`Error::StaleVar`].
    pub fn try_dot(self, other: Var<'g, F>) -> Result<Var<'g, F>> {
        self.graph.check(other, "dot")?;
        let (a, b) = (self.try_shape()?, other.try_shape()?);
        if a.len() != 1 || a != b {
            return Err(Error::ShapeMismatch {
                op: "dot",
                lhs: a,
                rhs: b,
            });
        }
        self.try_mul(other)?.try_sum()
    }

    /// The outer product of two vectors: `y[i][j] = self[i] other[j]` (`torch.outer`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![3.0, 4.0, 5.0]));
    /// assert_eq!(a.outer(b).data(), array![[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]].into_dyn());
    /// ```
    ///
    /// # Panics
    /// With the message of [`Var::try_outer`]'s error.
    #[track_caller]
    pub fn outer(self, other: Var<'g, F>) -> Var<'g, F> {
        or_panic(self.try_outer(other))
    }

    /// Fallible [`Var::outer`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// assert_eq!(x.try_outer(x).unwrap().shape(), vec![2, 2]);
    /// g.clear();
    /// assert!(matches!(x.try_outer(x), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (op `outer`) unless both are 1-D; [`Error::GraphMismatch`],
    /// [`Error::StaleVar`].
    pub fn try_outer(self, other: Var<'g, F>) -> Result<Var<'g, F>> {
        self.graph.check(other, "outer")?;
        let (a, b) = (self.try_shape()?, other.try_shape()?);
        if a.len() != 1 || b.len() != 1 {
            return Err(Error::ShapeMismatch {
                op: "outer",
                lhs: a,
                rhs: b,
            });
        }
        self.try_reshape(&[a[0], 1])?
            .try_mul(other.try_reshape(&[1, b[0]])?)
    }
}
