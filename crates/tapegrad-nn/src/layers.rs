//! Layers and models (DeZero steps 44-46). A layer's weights are parameters of the graph
//! ([`Graph::param`]): they survive `g.clear()`, so a model is built once and a training loop
//! clears the graph every step.

use std::cell::RefCell;

use ndarray::{Array2, ArrayD};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use tapegrad_core::{Float, Graph, Result, Var};

use crate::functional::try_linear;

mod recurrent;
mod spatial;

pub use recurrent::{Lstm, Rnn};
pub use spatial::{BatchNorm, Conv2d, Embedding, MaxPool2d};

/// Something that maps a batch to a batch and owns parameters. A model of layers is one too:
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph, Result, Var};
/// use tapegrad_nn::layers::{Layer, Linear};
/// struct TwoLayers<'g> { a: Linear<'g>, b: Linear<'g> }
/// impl<'g> Layer<'g> for TwoLayers<'g> {
///     fn try_forward(&self, x: Var<'g>) -> Result<Var<'g>> {
///         self.b.try_forward(self.a.try_forward(x)?.try_relu()?)
///     }
///     fn params(&self) -> Vec<Var<'g>> {
///         [self.a.params(), self.b.params()].concat()
///     }
/// }
/// let g: Graph = Graph::new();
/// let model = TwoLayers { a: Linear::new(&g, 8, 0), b: Linear::new(&g, 1, 1) };
/// assert_eq!(model.forward(g.var(Array2::<f64>::ones((4, 3)))).shape(), vec![4, 1]);
/// assert_eq!(model.params().len(), 4);
/// ```
pub trait Layer<'g, F: Float = f64> {
    /// The forward pass, recorded on the graph.
    ///
    /// # Errors
    /// A shape error from an op, or [`tapegrad_core::Error::StaleVar`].
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>>;

    /// [`Layer::try_forward`], panicking with the error's message.
    #[track_caller]
    fn forward(&self, x: Var<'g, F>) -> Var<'g, F> {
        match self.try_forward(x) {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// The parameters, every one from the moment the layer is built (a lazy weight is a handle
    /// whose value the first forward pass makes): collect them once, before the training loop.
    fn params(&self) -> Vec<Var<'g, F>>;

    /// The parameters with names, as a PyTorch `state_dict` names them: [`Linear`] gives `w`
    /// and `b`, [`Mlp`] `0.w, 0.b, 1.w, ...`; by default `0, 1, ...` in [`Layer::params`]
    /// order. [`save_model`](crate::io::save_model) and [`load_model`](crate::io::load_model)
    /// store and find the arrays by these names.
    ///
    /// ```
    /// use tapegrad_core::Graph;
    /// use tapegrad_nn::layers::{Layer, Mlp};
    /// let g: Graph = Graph::new();
    /// let names: Vec<String> = Mlp::new(&g, &[3, 1], |h| h.tanh(), 0)
    ///     .named_params().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["0.w", "0.b", "1.w", "1.b"]);
    /// ```
    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        (self.params().into_iter().enumerate())
            .map(|(k, p)| (k.to_string(), p))
            .collect()
    }
}

/// `y = x W + b`, with `W` of shape `[in, out]` initialised `N(0, 1/in)` and `b` zeros.
///
/// [`Linear::new`] leaves the input size open, as DeZero's `Linear(out_size)`: `W` is a handle
/// from the start (in [`Layer::params`], so an optimizer or a checkpoint given the parameters
/// before the first pass sees it), whose value is made at the first forward pass from the input's
/// width; until then it holds an empty `[0, out]` array. [`Linear::with_input`] makes it at once,
/// as PyTorch's `nn.Linear(in, out)`.
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::layers::{Layer, Linear};
/// let g: Graph = Graph::new();
/// let layer = Linear::new(&g, 3, 0);
/// let params = layer.params(); // the weight and the bias, before any pass
/// assert_eq!(params[0].shape(), vec![0, 3]);
/// let y = layer.forward(g.var(Array2::<f64>::ones((5, 2))));
/// assert_eq!(y.shape(), vec![5, 3]);
/// assert_eq!(params[0].shape(), vec![2, 3]); // the same handle, now made
/// ```
pub struct Linear<'g, F: Float = f64> {
    out_size: usize,
    w: Var<'g, F>,
    b: Var<'g, F>,
    rng: RefCell<StdRng>,
}

impl<'g, F: Float> Linear<'g, F> {
    /// A layer with `out_size` outputs whose input size is taken from its first input; `seed`
    /// makes its initial weights reproducible.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::{Array2, Array4}, Graph};
    /// use tapegrad_nn::layers::{Layer, Linear};
    /// let g: Graph = Graph::new();
    /// let layer = Linear::new(&g, 3, 0);
    /// let w = layer.params()[0]; // a handle already, its value made at the first pass
    /// assert_eq!(w.shape(), vec![0, 3]);
    /// assert_eq!(layer.forward(g.var(Array2::<f64>::ones((5, 2)))).shape(), vec![5, 3]);
    /// assert_eq!(w.shape(), vec![2, 3]);
    /// ```
    pub fn new(graph: &'g Graph<F>, out_size: usize, seed: u64) -> Self {
        Linear {
            out_size,
            w: graph.param(ArrayD::zeros(vec![0, out_size])),
            b: graph.param(ArrayD::zeros(vec![out_size])),
            rng: RefCell::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// A layer of `in_size` inputs and `out_size` outputs, its weight made now.
    ///
    /// ```
    /// use tapegrad_core::Graph;
    /// use tapegrad_nn::layers::{Layer, Linear};
    /// let g: Graph = Graph::new();
    /// let layer = Linear::with_input(&g, 4, 3, 0);
    /// assert_eq!(layer.params()[0].shape(), vec![4, 3]);
    /// ```
    pub fn with_input(graph: &'g Graph<F>, in_size: usize, out_size: usize, seed: u64) -> Self {
        let layer = Self::new(graph, out_size, seed);
        layer.make_weight(in_size);
        layer
    }

    /// Gives the weight its initial value for `in_size` inputs.
    fn make_weight(&self, in_size: usize) {
        let scale = (1.0 / in_size.max(1) as f64).sqrt();
        let mut rng = self.rng.borrow_mut();
        let w = Array2::from_shape_simple_fn((in_size, self.out_size), || {
            let z: f64 = StandardNormal.sample(&mut *rng);
            F::from_f64(z * scale)
        });
        self.w.set_data(w.into_dyn());
    }
}

impl<'g, F: Float> Layer<'g, F> for Linear<'g, F> {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        let in_size = *x.try_shape()?.last().unwrap_or(&1);
        // (not made yet: neither at construction nor by `load_npz`)
        if self.w.try_shape()?.first() == Some(&0) && in_size > 0 {
            self.make_weight(in_size);
        }
        try_linear(x, self.w, Some(self.b))
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        vec![self.w, self.b]
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        vec![("w".into(), self.w), ("b".into(), self.b)]
    }
}

/// A multi-layer perceptron: `Linear` layers of the given output sizes, `activation` between
/// them (not after the last).
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::layers::{Layer, Mlp};
/// let g: Graph = Graph::new();
/// let model = Mlp::new(&g, &[10, 3], |h| h.sigmoid(), 0);
/// assert_eq!(model.forward(g.var(Array2::<f64>::zeros((4, 2)))).shape(), vec![4, 3]);
/// assert_eq!(model.params().len(), 4);
/// ```
pub struct Mlp<'g, F: Float = f64> {
    layers: Vec<Linear<'g, F>>,
    activation: Box<dyn Fn(Var<'g, F>) -> Var<'g, F> + 'g>,
}

impl<'g, F: Float> Mlp<'g, F> {
    /// Layers of `sizes` outputs; layer `k` is seeded with `seed + k`. `activation` may be any
    /// closure (one that captures a slope, say).
    ///
    /// ```
    /// use tapegrad_core::{ndarray::{Array2, Array4}, Graph};
    /// use tapegrad_nn::layers::{Layer, Mlp};
    /// let g: Graph = Graph::new();
    /// let slope = 0.1;
    /// let model = Mlp::new(&g, &[8, 1], move |h| h.leaky_relu(slope), 0);
    /// assert_eq!(model.forward(g.var(Array2::<f64>::ones((4, 3)))).shape(), vec![4, 1]);
    /// assert_eq!(model.params().len(), 4); // two weights, two biases
    /// ```
    pub fn new(
        graph: &'g Graph<F>,
        sizes: &[usize],
        activation: impl Fn(Var<'g, F>) -> Var<'g, F> + 'g,
        seed: u64,
    ) -> Self {
        let layers = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| Linear::new(graph, n, seed + k as u64))
            .collect();
        Mlp {
            layers,
            activation: Box::new(activation),
        }
    }
}

impl<'g, F: Float> Layer<'g, F> for Mlp<'g, F> {
    fn try_forward(&self, mut x: Var<'g, F>) -> Result<Var<'g, F>> {
        let last = self.layers.len().saturating_sub(1);
        for (k, layer) in self.layers.iter().enumerate() {
            x = layer.try_forward(x)?;
            if k < last {
                x = (self.activation)(x);
            }
        }
        Ok(x)
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        let named = self.layers.iter().enumerate().flat_map(|(k, l)| {
            let params = l.named_params();
            params
                .into_iter()
                .map(move |(n, p)| (format!("{k}.{n}"), p))
        });
        named.collect()
    }
}
