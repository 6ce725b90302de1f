//! Data sets. [`spiral`]: DeZero's three-armed spiral (step 48), seeded and deterministic.

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
