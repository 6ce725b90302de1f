//! Data sets (DeZero steps 48-50, 59-60): [`spiral`], DeZero's three-armed spiral, seeded and
//! deterministic; the [`Dataset`] trait and a [`DataLoader`] for mini-batches; [`sin_curve`]
//! and [`SeqDataLoader`] for time series; the 8x8 [`digits`] shipped with the crate, and
//! [`load_idx`] for MNIST's files.

mod real;
mod sequence;

pub use real::{digits, load_idx};
pub use sequence::{SeqDataLoader, sin_curve};

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The spiral data set: 3 classes of 100 points each on interleaved spiral arms with noise,
/// shuffled; `(x of shape [300, 2], labels)`. The same `seed` gives the same data.
///
/// ```
/// let (x, t) = tapegrad_nn::datasets::spiral(0);
/// assert_eq!((x.shape(), t.len()), (&[300, 2][..], 300));
/// assert_eq!(t.iter().filter(|&&c| c == 2).count(), 100);
/// ```
pub fn spiral(seed: u64) -> (Array2<f64>, Vec<usize>) {
    let (per_class, classes) = (100, 3);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(per_class * classes);
    for j in 0..classes {
        for i in 0..per_class {
            let rate = i as f64 / per_class as f64;
            let radius = rate;
            let theta = j as f64 * 4.0 + 4.0 * rate + rng.random::<f64>() * 0.2;
            points.push(([radius * theta.sin(), radius * theta.cos()], j));
        }
    }
    points.shuffle(&mut rng);
    let x = Array2::from_shape_fn((points.len(), 2), |(r, c)| points[r].0[c]);
    (x, points.into_iter().map(|(_, t)| t).collect())
}

use ndarray::{ArrayD, Axis, IxDyn};

/// A labelled data set: `len` examples, each an input array and a label of type `L`: a class
/// index (`usize`, the default), a regression target (`f64`), an array, anything `Clone`.
///
/// ```
/// use tapegrad_core::ndarray::{ArrayD, IxDyn};
/// use tapegrad_nn::datasets::{DataLoader, Dataset};
/// /// `y = 2 x` at x = 0, 1, 2, ...
/// struct Doubles(usize);
/// impl Dataset<f64, f64> for Doubles {
///     fn len(&self) -> usize {
///         self.0
///     }
///     fn get(&self, i: usize) -> (ArrayD<f64>, f64) {
///         (ArrayD::from_elem(IxDyn(&[1]), i as f64), 2.0 * i as f64)
///     }
/// }
/// let data = Doubles(5);
/// let (x, y) = DataLoader::new(&data, 2, false, 0).epoch().next().unwrap();
/// assert_eq!((x.shape(), y), (&[2, 1][..], vec![0.0, 2.0]));
/// ```
pub trait Dataset<F, L = usize> {
    /// Number of examples.
    fn len(&self) -> usize;
    /// Whether there is no example.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Example `i`: its input and its label.
    fn get(&self, i: usize) -> (ArrayD<F>, L);
}

/// Inputs as the rows of a matrix, with one label per row (what [`spiral`] returns); labels of
/// any type, so regression targets batch too:
///
/// ```
/// use tapegrad_core::ndarray::array;
/// use tapegrad_nn::datasets::DataLoader;
/// let data = (array![[1.0], [2.0], [3.0]], vec![0.5, 1.5, 2.5]); // targets, not classes
/// let (x, t) = DataLoader::new(&data, 2, false, 0).epoch().next().unwrap();
/// assert_eq!((x.shape(), t), (&[2, 1][..], vec![0.5, 1.5]));
/// ```
impl<F: Clone, L: Clone> Dataset<F, L> for (Array2<F>, Vec<L>) {
    fn len(&self) -> usize {
        self.1.len()
    }
    fn get(&self, i: usize) -> (ArrayD<F>, L) {
        (self.0.row(i).to_owned().into_dyn(), self.1[i].clone())
    }
}

/// Mini-batches of a [`Dataset`]: inputs stacked along a new first axis, labels in order;
/// shuffled each epoch with a seeded RNG when asked.
///
/// ```
/// use tapegrad_nn::datasets::{spiral, DataLoader};
/// let data = spiral(0);
/// let mut loader = DataLoader::new(&data, 32, true, 7);
/// let batches: Vec<_> = loader.epoch().collect();
/// assert_eq!(batches.len(), 10); // 300 examples: 9 of 32 and one of 12
/// assert_eq!(batches[0].0.shape(), &[32, 2]);
/// assert_eq!(batches[9].1.len(), 12);
/// ```
pub struct DataLoader<'d, F, D: Dataset<F, L>, L = usize> {
    data: &'d D,
    batch_size: usize,
    shuffle: bool,
    rng: StdRng,
    _element: std::marker::PhantomData<(F, L)>,
}

impl<'d, F: Clone + num_traits::Zero, D: Dataset<F, L>, L> DataLoader<'d, F, D, L> {
    /// Batches of `batch_size` (the last one may be smaller); `seed` drives the shuffling.
    ///
    /// ```
    /// use tapegrad_core::ndarray::array;
    /// use tapegrad_nn::datasets::DataLoader;
    /// let data = (array![[1.0], [2.0], [3.0]], vec![0, 1, 0]);
    /// let batches: Vec<_> = DataLoader::new(&data, 2, false, 0).epoch().collect();
    /// assert_eq!(batches[0].1, vec![0, 1]); // in order, without shuffling
    /// assert_eq!(batches[1].0, array![[3.0]].into_dyn());
    /// ```
    pub fn new(data: &'d D, batch_size: usize, shuffle: bool, seed: u64) -> Self {
        DataLoader {
            data,
            batch_size: batch_size.max(1),
            shuffle,
            rng: StdRng::seed_from_u64(seed),
            _element: std::marker::PhantomData,
        }
    }

    /// One pass over the data set, in a new order when shuffling.
    ///
    /// ```
    /// use tapegrad_core::ndarray::array;
    /// use tapegrad_nn::datasets::DataLoader;
    /// let data = (array![[0.0], [1.0], [2.0]], vec![0usize, 1, 0]);
    /// let mut loader = DataLoader::new(&data, 2, true, 7);
    /// let mut seen: Vec<usize> = loader.epoch().flat_map(|(x, _)| x.iter().map(|&v| v as usize).collect::<Vec<_>>()).collect();
    /// seen.sort();
    /// assert_eq!(seen, vec![0, 1, 2]); // every example once, in some order
    /// ```
    pub fn epoch(&mut self) -> impl Iterator<Item = (ArrayD<F>, Vec<L>)> + '_ {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        if self.shuffle {
            order.shuffle(&mut self.rng);
        }
        let data = self.data;
        let batches: Vec<Vec<usize>> = order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        batches.into_iter().map(move |idx| {
            let examples: Vec<(ArrayD<F>, L)> = idx.iter().map(|&i| data.get(i)).collect();
            let mut shape = vec![examples.len()];
            shape.extend_from_slice(examples[0].0.shape());
            let mut x = ArrayD::zeros(IxDyn(&shape));
            for (k, (xi, _)) in examples.iter().enumerate() {
                x.index_axis_mut(Axis(0), k).assign(xi);
            }
            (x, examples.into_iter().map(|(_, t)| t).collect())
        })
    }
}
