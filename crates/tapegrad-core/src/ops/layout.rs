//! Shape ops under PyTorch's names, composed from the primitives (`reshape`, `broadcast_to`,
//! `select`, `concat`, `where_`), so each has derivatives of every order:
//! `unsqueeze squeeze flatten expand repeat flip pad tril triu`.
//!
//! | op | composed as |
//! |---|---|
//! | unsqueeze, squeeze, flatten | reshape |
//! | expand | broadcast_to |
//! | repeat(reps) | reshape to (1, s0, 1, s1, ..), broadcast to (r0, s0, r1, s1, ..), reshape |
//! | flip(a) | select of the indices in reverse |
//! | pad(widths, v) | concat with constant blocks of `v`, axis by axis |
//! | tril(k), triu(k) | where_ with the triangle's mask |

use ndarray::ArrayD;

use super::join::try_concat;
use super::select::try_where_;
use crate::Float;
use crate::error::{Error, Result};

/// `reason` as an error of `op`.
fn invalid(op: &'static str, reason: String) -> Error {
    Error::InvalidArgument { op, reason }
}

var_methods! {
    /// A length-1 axis inserted at `axis` (`0..=ndim`), as `torch.unsqueeze`.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, 2.0]).unsqueeze(1).shape(), vec![2, 1]);
    /// ```
    fn unsqueeze / try_unsqueeze(self, axis: usize) [0] {
        let mut shape = self.try_shape()?;
        if axis > shape.len() {
            return Err(Error::InvalidAxes { op: "unsqueeze", axes: vec![axis], ndim: shape.len() });
        }
        shape.insert(axis, 1);
        self.try_reshape(&shape)
    }

    /// The length-1 axis `axis` removed (`torch.squeeze(dim)`); an axis of another length is an
    /// error (PyTorch leaves it silently).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0]]);
    /// assert_eq!(x.squeeze(0).shape(), vec![2]);
    /// assert!(x.try_squeeze(1).is_err());
    /// ```
    fn squeeze / try_squeeze(self, axis: usize) [0] {
        let mut shape = self.try_shape()?;
        super::check_axis("squeeze", &shape, axis)?;
        if shape[axis] != 1 {
            return Err(invalid("squeeze", format!("axis {axis} of shape {shape:?} has length {}, not 1", shape[axis])));
        }
        shape.remove(axis);
        self.try_reshape(&shape)
    }

    /// All elements as one axis, in row-major order (`torch.flatten`; a 0-d variable becomes
    /// one element long).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.flatten().data(), array![1.0, 2.0, 3.0, 4.0].into_dyn());
    /// ```
    fn flatten / try_flatten(self) [] {
        let n = self.try_shape()?.iter().product::<usize>();
        self.try_reshape(&[n])
    }

    /// PyTorch's name for [`Var::broadcast_to`](crate::Var::broadcast_to).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, 2.0]).expand(&[3, 2]).shape(), vec![3, 2]);
    /// ```
    fn expand / try_expand(self, shape: &[usize]) [&[3, 2]] {
        self.try_broadcast_to(shape)
    }

    /// The variable tiled `reps[k]` times along axis `k` (`torch.repeat`; `reps` may have more
    /// entries than the variable has axes, which then gains leading axes).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![1.0, 2.0]);
    /// assert_eq!(x.repeat(&[2, 2]).data(), array![[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]].into_dyn());
    /// ```
    fn repeat / try_repeat(self, reps: &[usize]) [&[2, 1]] {
        let shape = self.try_shape()?;
        if reps.len() < shape.len() {
            return Err(invalid("repeat", format!("{} repeats for a {}-d variable", reps.len(), shape.len())));
        }
        let mut padded = vec![1; reps.len() - shape.len()];
        padded.extend_from_slice(&shape);
        let interleave = |r: &dyn Fn(usize) -> usize| -> Vec<usize> {
            (0..reps.len()).flat_map(|k| [r(k), padded[k]]).collect()
        };
        let target: Vec<usize> = reps.iter().zip(&padded).map(|(r, s)| r * s).collect();
        self.try_reshape(&interleave(&|_| 1))?
            .try_broadcast_to(&interleave(&|k| reps[k]))?
            .try_reshape(&target)
    }

    /// The order of elements along `axis` reversed (`torch.flip` of one axis).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// assert_eq!(g.var(array![1.0, 2.0, 3.0]).flip(0).data(), array![3.0, 2.0, 1.0].into_dyn());
    /// ```
    fn flip / try_flip(self, axis: usize) [1] {
        let shape = self.try_shape()?;
        super::check_axis("flip", &shape, axis)?;
        let reversed: Vec<usize> = (0..shape[axis]).rev().collect();
        self.try_select(axis, &reversed)
    }

    /// The variable with `widths[k] = (before, after)` elements of `value` added around axis
    /// `k`, one pair per axis (numpy's `pad` with a constant; PyTorch's `F.pad` lists the
    /// pairs last axis first).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0]]);
    /// let y = x.pad(&[(0, 1), (1, 0)], 0.0);
    /// assert_eq!(y.data(), array![[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]].into_dyn());
    /// ```
    fn pad / try_pad(self, widths: &[(usize, usize)], value: F) [&[(0, 0), (1, 1)], 0.0] {
        let mut shape = self.try_shape()?;
        if widths.len() != shape.len() {
            return Err(invalid("pad", format!("{} (before, after) pairs for a {}-d variable", widths.len(), shape.len())));
        }
        let mut y = self;
        for (axis, &(before, after)) in widths.iter().enumerate() {
            let mut parts = Vec::with_capacity(3);
            let block = |n: usize, shape: &[usize]| {
                let mut s = shape.to_vec();
                s[axis] = n;
                self.graph.constant(ArrayD::from_elem(s, value))
            };
            if before > 0 {
                parts.push(block(before, &shape));
            }
            parts.push(y);
            if after > 0 {
                parts.push(block(after, &shape));
            }
            if parts.len() > 1 {
                y = try_concat(&parts, axis)?;
            }
            shape[axis] += before + after;
        }
        Ok(y)
    }

    /// The lower triangle of the last two axes, on and below the `k`-th diagonal (`torch.tril`:
    /// `k > 0` above the main one, `k < 0` below); the rest is 0 and takes no gradient.
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.tril(0).data(), array![[1.0, 0.0], [3.0, 4.0]].into_dyn());
    /// ```
    fn tril / try_tril(self, k: isize) [0] {
        triangle(self, "tril", |i, j| j <= i + k)
    }

    /// The upper triangle of the last two axes, on and above the `k`-th diagonal (`torch.triu`).
    ///
    /// ```
    /// use ndarray::array;
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.triu(1).data(), array![[0.0, 2.0], [0.0, 0.0]].into_dyn());
    /// ```
    fn triu / try_triu(self, k: isize) [0] {
        triangle(self, "triu", |i, j| j >= i + k)
    }
}

/// `x` where `keep(row, column)` on its last two axes, 0 elsewhere.
fn triangle<'g, F: Float>(
    x: crate::Var<'g, F>,
    op: &'static str,
    keep: impl Fn(isize, isize) -> bool,
) -> Result<crate::Var<'g, F>> {
    let shape = x.try_shape()?;
    if shape.len() < 2 {
        return Err(invalid(
            op,
            format!("a {}-d variable has no matrix axes", shape.len()),
        ));
    }
    let (r, c) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let mask = ArrayD::from_shape_fn(vec![r, c], |i| keep(i[0] as isize, i[1] as isize));
    try_where_(&mask, x, F::zero())
}
