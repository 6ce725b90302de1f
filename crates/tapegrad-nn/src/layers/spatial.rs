//! Layers of images and normalisation (DeZero steps 57-58 and its library): `Conv2d` (lazy input
//! channels), `MaxPool2d`, `BatchNorm` (running statistics, train and test mode), `Embedding`.

use std::cell::{Cell, RefCell};

use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use tapegrad_core::{Error, Float, Graph, Result, Var};

use super::Layer;
use crate::functional::{Pair, try_conv2d, try_max_pool2d};

/// Normal values of `shape` times `scale`, from `rng`.
fn normal<F: Float>(rng: &mut StdRng, shape: &[usize], scale: f64) -> ArrayD<F> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        let z: f64 = StandardNormal.sample(rng);
        F::from_f64(z * scale)
    })
}

/// A 2-d convolution layer: `conv2d(x, W, b, stride, pad)` with `W` of shape
/// `[out, in, kh, kw]` initialised `N(0, 1 / (in kh kw))` and `b` zeros. The input channels are
/// taken from the first input (DeZero's `Conv2d(out_channels, kernel_size)`); until then the
/// weight is a handle of shape `[out, 0, kh, kw]`.
///
/// ```
/// use tapegrad_core::{ndarray::Array4, Graph};
/// use tapegrad_nn::layers::{Conv2d, Layer};
/// let g: Graph = Graph::new();
/// let conv = Conv2d::new(&g, 8, (3, 3), (1, 1), (1, 1), 0);
/// let y = conv.forward(g.var(Array4::<f64>::ones((2, 3, 5, 5))));
/// assert_eq!(y.shape(), vec![2, 8, 5, 5]);
/// assert_eq!(conv.params()[0].shape(), vec![8, 3, 3, 3]);
/// ```
pub struct Conv2d<'g, F: Float = f64> {
    kernel: Pair,
    stride: Pair,
    pad: Pair,
    w: Var<'g, F>,
    b: Var<'g, F>,
    rng: RefCell<StdRng>,
}

impl<'g, F: Float> Conv2d<'g, F> {
    /// `out_channels` filters of size `kernel`, moved by `stride` over the input padded by
    /// `pad`; `seed` makes the initial weights reproducible.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array4, Graph};
    /// use tapegrad_nn::layers::{Conv2d, Layer};
    /// let g: Graph = Graph::new();
    /// let conv = Conv2d::new(&g, 8, (3, 3), (1, 1), (1, 1), 0);
    /// let y = conv.forward(g.var(Array4::<f64>::ones((2, 3, 5, 5))));
    /// assert_eq!(y.shape(), vec![2, 8, 5, 5]);
    /// ```
    pub fn new(
        graph: &'g Graph<F>,
        out_channels: usize,
        kernel: Pair,
        stride: Pair,
        pad: Pair,
        seed: u64,
    ) -> Self {
        Conv2d {
            kernel,
            stride,
            pad,
            w: graph.param(ArrayD::zeros(vec![out_channels, 0, kernel.0, kernel.1])),
            b: graph.param(ArrayD::zeros(vec![out_channels])),
            rng: RefCell::new(StdRng::seed_from_u64(seed)),
        }
    }
}

impl<'g, F: Float> Layer<'g, F> for Conv2d<'g, F> {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        let shape = self.w.try_shape()?;
        let xs = x.try_shape()?;
        if shape[1] == 0 && xs.len() == 4 && xs[1] > 0 {
            let (oc, c, (kh, kw)) = (shape[0], xs[1], self.kernel);
            let scale = (1.0 / (c * kh * kw) as f64).sqrt();
            self.w
                .set_data(normal(&mut self.rng.borrow_mut(), &[oc, c, kh, kw], scale));
        }
        try_conv2d(x, self.w, Some(self.b), self.stride, self.pad)
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        vec![self.w, self.b]
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        vec![("w".into(), self.w), ("b".into(), self.b)]
    }
}

/// Max pooling as a layer ([`max_pool2d`](crate::functional::max_pool2d)); no parameters.
///
/// ```
/// use tapegrad_core::{ndarray::Array4, Graph};
/// use tapegrad_nn::layers::{Layer, MaxPool2d};
/// let g: Graph = Graph::new();
/// let pool = MaxPool2d::new((2, 2), (2, 2), (0, 0));
/// assert_eq!(pool.forward(g.var(Array4::<f64>::ones((1, 3, 6, 6)))).shape(), vec![1, 3, 3, 3]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    kernel: Pair,
    stride: Pair,
    pad: Pair,
}

impl MaxPool2d {
    /// Windows of `kernel` moved by `stride` over the input padded by `pad`.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array4, Graph};
    /// use tapegrad_nn::layers::{Layer, MaxPool2d};
    /// let g: Graph = Graph::new();
    /// let pool = MaxPool2d::new((2, 2), (2, 2), (0, 0));
    /// assert_eq!(Layer::<f64>::params(&pool).len(), 0);
    /// assert_eq!(pool.forward(g.var(Array4::<f64>::ones((1, 3, 4, 4)))).shape(), vec![1, 3, 2, 2]);
    /// ```
    pub fn new(kernel: Pair, stride: Pair, pad: Pair) -> Self {
        MaxPool2d {
            kernel,
            stride,
            pad,
        }
    }
}

impl<'g, F: Float> Layer<'g, F> for MaxPool2d {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        try_max_pool2d(x, self.kernel, self.stride, self.pad)
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        Vec::new()
    }
}

/// Batch normalisation over the channel axis 1 of `[n, c]` or `[n, c, h, w]` inputs (PyTorch's
/// `BatchNorm1d`/`BatchNorm2d`): in training, `(x - mean) / sqrt(var + eps) * gamma + beta` with
/// the batch's mean and (biased) variance per channel, and running averages of both updated
/// with `momentum` (the variance unbiased, as PyTorch); in test mode ([`BatchNorm::train`]
/// `(false)`) the running averages are used instead. The channels are taken from the first
/// input; `gamma` starts at ones, `beta` at zeros.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::layers::{BatchNorm, Layer};
/// let g: Graph = Graph::new();
/// let bn = BatchNorm::new(&g);
/// let y = bn.forward(g.var(array![[1.0, 10.0], [3.0, 30.0]]));
/// assert!((y.data()[[0, 0]] + 1.0).abs() < 1e-4 && (y.data()[[1, 1]] - 1.0).abs() < 1e-4);
/// bn.train(false); // test mode: the running statistics
/// assert_eq!(bn.forward(g.var(array![[2.0, 20.0]])).shape(), vec![1, 2]);
/// ```
pub struct BatchNorm<'g, F: Float = f64> {
    gamma: Var<'g, F>,
    beta: Var<'g, F>,
    running: RefCell<Option<(ArrayD<F>, ArrayD<F>)>>,
    training: Cell<bool>,
    momentum: F,
    eps: F,
}

impl<'g, F: Float> BatchNorm<'g, F> {
    /// A layer in training mode, PyTorch's defaults: `momentum = 0.1`, `eps = 1e-5`.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::array, Graph};
    /// use tapegrad_nn::layers::{BatchNorm, Layer};
    /// let g: Graph = Graph::new();
    /// let bn = BatchNorm::new(&g);
    /// let x = g.var(array![[1.0], [3.0]]);
    /// let y = bn.forward(x).data(); // the batch's mean 2 and variance 1
    /// assert!((y[[0, 0]] + 1.0).abs() < 1e-4 && (y[[1, 0]] - 1.0).abs() < 1e-4);
    /// ```
    pub fn new(graph: &'g Graph<F>) -> Self {
        BatchNorm {
            gamma: graph.param(ArrayD::zeros(vec![0])),
            beta: graph.param(ArrayD::zeros(vec![0])),
            running: RefCell::new(None),
            training: Cell::new(true),
            momentum: F::from_f64(0.1),
            eps: F::from_f64(1e-5),
        }
    }

    /// Training mode (`true`, batch statistics) or test mode (`false`, running statistics).
    ///
    /// ```
    /// use tapegrad_core::{ndarray::array, Graph};
    /// use tapegrad_nn::layers::{BatchNorm, Layer};
    /// let g: Graph = Graph::new();
    /// let bn = BatchNorm::new(&g);
    /// let x = g.var(array![[1.0], [3.0]]);
    /// bn.forward(x); // running mean 0.9 * 0 + 0.1 * 2 = 0.2, running variance 0.9 + 0.1 * 2
    /// bn.train(false);
    /// let y = bn.forward(x).data();
    /// assert!((y[[0, 0]] - (1.0 - 0.2) / (1.0f64 - 0.1 + 0.1 * 2.0 + 1e-5).sqrt()).abs() < 1e-9);
    /// ```
    pub fn train(&self, on: bool) {
        self.training.set(on);
    }

    /// Forgets the running statistics.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::array, Graph};
    /// use tapegrad_nn::layers::{BatchNorm, Layer};
    /// let g: Graph = Graph::new();
    /// let bn = BatchNorm::new(&g);
    /// let x = g.var(array![[1.0], [3.0]]);
    /// bn.forward(x);
    /// bn.reset_state();
    /// bn.train(false);
    /// // back to mean 0, variance 1
    /// assert!((bn.forward(x).data()[[1, 0]] - 3.0 / (1.0f64 + 1e-5).sqrt()).abs() < 1e-12);
    /// ```
    pub fn reset_state(&self) {
        *self.running.borrow_mut() = None;
    }
}

impl<'g, F: Float> Layer<'g, F> for BatchNorm<'g, F> {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        let shape = x.try_shape()?;
        if shape.len() != 2 && shape.len() != 4 {
            let reason = format!("the input must be [n, c] or [n, c, h, w], not {shape:?}");
            return Err(Error::InvalidArgument {
                op: "batch_norm",
                reason,
            });
        }
        let c = shape[1];
        if self.gamma.try_shape()? != [c] {
            self.gamma.set_data(ArrayD::from_elem(vec![c], F::one()));
            self.beta.set_data(ArrayD::zeros(vec![c]));
        }
        let axes: Vec<usize> = (0..shape.len()).filter(|&a| a != 1).collect();
        let mut kept = vec![1; shape.len()];
        kept[1] = c;
        let (mean, var) = if self.training.get() {
            let mean = x.try_mean_axes(&axes, true)?;
            let var = x.try_sub(mean)?.try_square()?.try_mean_axes(&axes, true)?;
            let n = F::from_f64((shape.iter().product::<usize>() / c) as f64);
            let unbiased = var.try_data()? * (n / (n - F::one()).max(F::one()));
            let m = self.momentum;
            let mut running = self.running.borrow_mut();
            let (rm, rv) = running.get_or_insert_with(|| {
                (
                    ArrayD::zeros(kept.clone()),
                    ArrayD::from_elem(kept.clone(), F::one()),
                )
            });
            *rm = &*rm * (F::one() - m) + mean.try_data()? * m;
            *rv = &*rv * (F::one() - m) + unbiased * m;
            (mean, var)
        } else {
            let running = self.running.borrow();
            let (rm, rv) = running.clone().unwrap_or_else(|| {
                (
                    ArrayD::zeros(kept.clone()),
                    ArrayD::from_elem(kept.clone(), F::one()),
                )
            });
            (x.graph().constant(rm), x.graph().constant(rv))
        };
        let y = x
            .try_sub(mean)?
            .try_div(var.try_add(self.eps)?.try_sqrt()?)?;
        y.try_mul(self.gamma.try_reshape(&kept)?)?
            .try_add(self.beta.try_reshape(&kept)?)
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        vec![self.gamma, self.beta]
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        vec![("gamma".into(), self.gamma), ("beta".into(), self.beta)]
    }
}

/// A lookup table of `count` vectors of size `dim` (PyTorch's `nn.Embedding`), initialised
/// `N(0, 1)`: [`Embedding::lookup`] maps indices of any shape to their vectors (shape
/// `ids.shape ++ [dim]`); the gradient adds up into the rows used.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::layers::{Embedding, Layer};
/// let g: Graph = Graph::new();
/// let emb = Embedding::new(&g, 10, 4, 0);
/// let v = emb.lookup(&array![[1, 2, 1]].into_dyn());
/// assert_eq!(v.shape(), vec![1, 3, 4]);
/// v.sum().backward();
/// assert_eq!(emb.params()[0].grad().unwrap()[[1, 0]], 2.0); // row 1, used twice
/// ```
pub struct Embedding<'g, F: Float = f64> {
    w: Var<'g, F>,
}

impl<'g, F: Float> Embedding<'g, F> {
    /// `count` vectors of size `dim`; `seed` makes them reproducible.
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// use tapegrad_nn::layers::Embedding;
    /// let g: Graph = Graph::new();
    /// let emb = Embedding::new(&g, 10, 4, 0);
    /// let again = Embedding::new(&g, 10, 4, 0);
    /// let ids = array![3].into_dyn();
    /// assert_eq!(emb.lookup(&ids).data(), again.lookup(&ids).data());
    /// ```
    pub fn new(graph: &'g Graph<F>, count: usize, dim: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Embedding {
            w: graph.param(normal(&mut rng, &[count, dim], 1.0)),
        }
    }

    /// The vectors of `ids`.
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// use tapegrad_nn::layers::Embedding;
    /// let g: Graph = Graph::new();
    /// let emb = Embedding::new(&g, 10, 4, 0);
    /// assert_eq!(emb.lookup(&array![[1, 2, 1]].into_dyn()).shape(), vec![1, 3, 4]);
    /// ```
    ///
    /// # Panics
    /// With the message of [`Embedding::try_lookup`]'s error.
    #[track_caller]
    pub fn lookup(&self, ids: &ArrayD<usize>) -> Var<'g, F> {
        tapegrad_core::or_panic(self.try_lookup(ids))
    }

    /// Fallible [`Embedding::lookup`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// use tapegrad_nn::layers::Embedding;
    /// let g: Graph = Graph::new();
    /// let emb = Embedding::new(&g, 10, 4, 0);
    /// assert!(emb.try_lookup(&array![9].into_dyn()).is_ok());
    /// let past = emb.try_lookup(&array![10].into_dyn()); // a table of 10 rows
    /// assert!(matches!(past, Err(Error::IndexOutOfBounds { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::IndexOutOfBounds`] for an index past the table; [`Error::StaleVar`].
    pub fn try_lookup(&self, ids: &ArrayD<usize>) -> Result<Var<'g, F>> {
        let dim = self.w.try_shape()?[1];
        let flat: Vec<usize> = ids.iter().copied().collect();
        let rows = self.w.try_index_select(0, &flat)?;
        let mut shape = ids.shape().to_vec();
        shape.push(dim);
        rows.try_reshape(&shape)
    }
}

/// As a layer, the input holds the indices as numbers (`0.0, 1.0, ...`).
impl<'g, F: Float> Layer<'g, F> for Embedding<'g, F> {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        let ids = x.try_data()?;
        let bad = ids
            .iter()
            .find(|v| !(v.is_finite() && **v >= F::zero() && v.fract() == F::zero()));
        if let Some(v) = bad {
            let reason = format!("{v} is not an index");
            return Err(Error::InvalidArgument {
                op: "embedding",
                reason,
            });
        }
        self.try_lookup(&ids.mapv(|v| v.to_f64() as usize))
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        vec![self.w]
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        vec![("w".into(), self.w)]
    }
}
