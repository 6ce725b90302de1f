//! How sums are computed, for `sum_to` (and so `sum`, `mean` and every broadcast operand's
//! gradient): in blocks accumulated in `f64`, as numpy sums pairwise, so that the error grows
//! with the block and not with the length (docs/reliability.md).

use ndarray::{ArrayD, ArrayViewD, Axis, CowArray};

use crate::Float;

/// `x` summed down to `shape` (the forward kernel of `sum_to`; `shape` checked against it): the
/// leading axes broadcasting added, then the axes of length 1 in `shape`.
pub(super) fn sum_to<F: Float>(x: &ArrayViewD<'_, F>, shape: &[usize]) -> ArrayD<F> {
    if shape.is_empty()
        && let Some(s) = x.as_slice()
    {
        return ndarray::arr0(flat_sum(s)).into_dyn(); // the sum of every element: a loss
    }
    let lead = x.ndim() - shape.len();
    let mut y = CowArray::from(x.view()); // copied only if nothing is summed
    for _ in 0..lead {
        y = sum_axis(y.view(), Axis(0)).into();
    }
    for (i, &s) in shape.iter().enumerate() {
        if s == 1 && y.shape()[i] != 1 {
            y = sum_axis(y.view(), Axis(i)).insert_axis(Axis(i)).into();
        }
    }
    y.into_owned()
}

/// Rows summed per block along a long axis: the error of a sum grows with the block, not the axis.
const SUM_BLOCK: usize = 128;

/// `x.sum_axis(axis)`, in blocks along a long axis as numpy sums pairwise: blocks of
/// [`SUM_BLOCK`] summed in `f64`, then their sums the same way, level by level (a loop, not
/// recursion): the error grows with the block, not the axis (accuracy: docs/reliability.md).
fn sum_axis<F: Float>(x: ArrayViewD<'_, F>, axis: Axis) -> ArrayD<F> {
    if x.len_of(axis) <= SUM_BLOCK {
        return x.sum_axis(axis);
    }
    let mut level = block_sums(x, axis);
    while level.len_of(axis) > SUM_BLOCK {
        level = block_sums(level.view(), axis);
    }
    level.sum_axis(axis)
}

/// The sum of a slice the way [`sum_axis`] sums an axis: blocks of [`SUM_BLOCK`] summed in
/// `f64` (eight lanes at a time), then their sums the same way, level by level.
fn flat_sum<F: Float>(s: &[F]) -> F {
    fn block<T: Copy>(b: &[T], to_f64: impl Fn(T) -> f64) -> f64 {
        let mut lanes = [0.0; 8];
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            for (acc, &v) in lanes.iter_mut().zip(c) {
                *acc += to_f64(v);
            }
        }
        let rest: f64 = chunks.remainder().iter().map(|&v| to_f64(v)).sum();
        lanes.iter().sum::<f64>() + rest
    }
    let mut level: Vec<f64> = s
        .chunks(SUM_BLOCK)
        .map(|b| block(b, <F as Float>::to_f64))
        .collect();
    while level.len() > 1 {
        level = level.chunks(SUM_BLOCK).map(|b| block(b, |v| v)).collect();
    }
    F::from_f64(level.first().copied().unwrap_or(0.0))
}

/// The sums of consecutive blocks of `SUM_BLOCK` along `axis`, kept as that axis.
fn block_sums<F: Float>(x: ArrayViewD<'_, F>, axis: Axis) -> ArrayD<F> {
    let blocks: Vec<ArrayD<F>> = x
        .axis_chunks_iter(axis, SUM_BLOCK)
        .map(|b| {
            b.fold_axis(axis, 0.0, |&acc, &v| acc + v.to_f64())
                .mapv(F::from_f64)
                .insert_axis(axis)
        })
        .collect();
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    match ndarray::concatenate(axis, &views) {
        Ok(a) => a,
        Err(_) => unreachable!("blocks of one array have the same shape but along the axis"),
    }
}
