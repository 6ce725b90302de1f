//! Time series (DeZero steps 59-60): the sine curve and a loader of sequential mini-batches.

use ndarray::{Array2, ArrayD, Axis, IxDyn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Dataset;

/// DeZero's `SinCurve`: 999 pairs (value at step t, value at step t + 1) of a sine over one
/// period sampled at 1,000 points; with `train`, `sin` plus uniform noise in `[-0.05, 0.05)`
/// (from `seed`), else the noiseless `cos` (DeZero's test curve). Inputs `[999, 1]`, targets
/// as `f64` labels.
///
/// ```
/// use tapegrad_nn::datasets::sin_curve;
/// let (x, t) = sin_curve(false, 0);
/// assert_eq!((x.shape(), t.len()), (&[999, 1][..], 999));
/// assert_eq!(x[[1, 0]], t[0]); // each target is the next input
/// ```
pub fn sin_curve(train: bool, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let n = 1000;
    let mut rng = StdRng::seed_from_u64(seed);
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let x = 2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64;
            if train {
                x.sin() + rng.random_range(-0.05..0.05)
            } else {
                x.cos()
            }
        })
        .collect();
    let x = Array2::from_shape_fn((n - 1, 1), |(i, _)| y[i]);
    (x, y[1..].to_vec())
}

/// Mini-batches for truncated BPTT (DeZero's `SeqDataLoader`): the data set is cut into
/// `batch_size` contiguous runs, and step `k` of an epoch takes element `k` of each run, so row
/// `i` of consecutive batches walks one run in order. An epoch has `len / batch_size` steps.
///
/// ```
/// use tapegrad_core::ndarray::array;
/// use tapegrad_nn::datasets::SeqDataLoader;
/// let data = (array![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let batches: Vec<_> = SeqDataLoader::new(&data, 2).epoch().collect();
/// assert_eq!(batches.len(), 3);
/// assert_eq!(batches[0].0, array![[0.0], [3.0]].into_dyn()); // runs 0..3 and 3..6
/// assert_eq!(batches[1].1, vec![2.0, 5.0]);
/// ```
pub struct SeqDataLoader<'d, D> {
    data: &'d D,
    batch_size: usize,
}

impl<'d, D> SeqDataLoader<'d, D> {
    /// `batch_size` runs of the data set, walked together.
    ///
    /// ```
    /// use tapegrad_core::ndarray::array;
    /// use tapegrad_nn::datasets::SeqDataLoader;
    /// let data = (array![[0.0], [1.0], [2.0], [3.0]], vec![0.0, 1.0, 2.0, 3.0]);
    /// let loader = SeqDataLoader::new(&data, 2); // runs 0..2 and 2..4
    /// assert_eq!(loader.epoch().count(), 2);
    /// ```
    pub fn new(data: &'d D, batch_size: usize) -> Self {
        SeqDataLoader {
            data,
            batch_size: batch_size.max(1),
        }
    }

    /// One pass: `len / batch_size` batches of inputs stacked along a new first axis, with their
    /// labels.
    ///
    /// ```
    /// use tapegrad_core::ndarray::array;
    /// use tapegrad_nn::datasets::SeqDataLoader;
    /// let data = (array![[0.0], [1.0], [2.0], [3.0]], vec![0.0, 1.0, 2.0, 3.0]);
    /// let labels: Vec<Vec<f64>> = SeqDataLoader::new(&data, 2).epoch().map(|(_, l)| l).collect();
    /// assert_eq!(labels, vec![vec![0.0, 2.0], vec![1.0, 3.0]]);
    /// ```
    pub fn epoch<F, L>(&self) -> impl Iterator<Item = (ArrayD<F>, Vec<L>)> + '_
    where
        F: Clone + num_traits::Zero,
        D: Dataset<F, L>,
    {
        let jump = self.data.len() / self.batch_size;
        (0..jump).map(move |k| {
            let examples: Vec<(ArrayD<F>, L)> = (0..self.batch_size)
                .map(|i| self.data.get(i * jump + k))
                .collect();
            let mut shape = vec![examples.len()];
            shape.extend_from_slice(examples[0].0.shape());
            let mut x = ArrayD::zeros(IxDyn(&shape));
            for (r, (xi, _)) in examples.iter().enumerate() {
                x.index_axis_mut(Axis(0), r).assign(xi);
            }
            (x, examples.into_iter().map(|(_, t)| t).collect())
        })
    }
}
