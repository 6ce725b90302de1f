//! Recurrent layers (DeZero steps 59-60): `Rnn` and `Lstm`, with a hidden state carried from
//! step to step. For truncated backpropagation through time, [`Rnn::unchain`] ends a window:
//! the state's value moves into a parameter of the graph (which survives `g.clear()`), so the
//! next window starts from it with no history, and the graph of one window at a time is alive.

use std::cell::Cell;

use ndarray::ArrayD;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use tapegrad_core::{Error, Float, Graph, Result, Var};

use super::{Layer, Linear};

/// A `[hidden, width]` weight initialised `N(0, 1 / hidden)`.
fn recurrent_weight<'g, F: Float>(
    graph: &'g Graph<F>,
    hidden: usize,
    width: usize,
    seed: u64,
) -> Var<'g, F> {
    let mut rng = StdRng::seed_from_u64(seed);
    let scale = (1.0 / hidden.max(1) as f64).sqrt();
    graph.param(ArrayD::from_shape_simple_fn(vec![hidden, width], || {
        let z: f64 = StandardNormal.sample(&mut rng);
        F::from_f64(z * scale)
    }))
}

/// `x` must be `[n, features]`.
fn check_batch<F: Float>(op: &'static str, x: Var<'_, F>) -> Result<()> {
    let s = x.try_shape()?;
    if s.len() == 2 {
        Ok(())
    } else {
        let reason = format!("the input must be [n, features], not of shape {s:?}");
        Err(Error::InvalidArgument { op, reason })
    }
}

/// A state variable that can be moved into a surviving parameter (see [`Rnn::unchain`]).
struct State<'g, F: Float> {
    now: Cell<Option<Var<'g, F>>>,
    carry: Var<'g, F>,
}

impl<'g, F: Float> State<'g, F> {
    fn new(graph: &'g Graph<F>) -> Self {
        State {
            now: Cell::new(None),
            carry: graph.param(ArrayD::zeros(vec![0])),
        }
    }

    fn unchain(&self) -> Result<()> {
        if let Some(v) = self.now.get() {
            self.carry.set_data(v.try_data()?);
            self.carry.cleargrad();
            self.now.set(Some(self.carry));
        }
        Ok(())
    }
}

/// An Elman RNN cell (DeZero's `RNN`): `h = tanh(x W_x + b + h W_h)`, the `h W_h` term left out
/// at the first step; the input size is taken from the first input. Each `forward` is one time
/// step of a batch `[n, in]` and returns the new state `[n, hidden]`.
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::layers::{Layer, Rnn};
/// let g: Graph = Graph::new();
/// let rnn = Rnn::new(&g, 5, 0);
/// let x = g.var(Array2::<f64>::ones((2, 3)));
/// let h1 = rnn.forward(x);
/// let h2 = rnn.forward(x); // uses h1
/// assert_eq!(h2.shape(), vec![2, 5]);
/// assert_ne!(h1.data(), h2.data());
/// rnn.reset_state();
/// assert_eq!(rnn.forward(x).data(), h1.data());
/// ```
pub struct Rnn<'g, F: Float = f64> {
    x2h: Linear<'g, F>,
    wh: Var<'g, F>,
    h: State<'g, F>,
}

impl<'g, F: Float> Rnn<'g, F> {
    /// A cell with a state of `hidden` values; `seed` makes its weights reproducible.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array2, Graph};
    /// use tapegrad_nn::layers::{Layer, Rnn};
    /// let g: Graph = Graph::new();
    /// let rnn = Rnn::new(&g, 3, 0);
    /// let h = rnn.forward(g.var(Array2::<f64>::ones((2, 5)))); // a batch of 2, 5 features
    /// assert_eq!(h.shape(), vec![2, 3]);
    /// ```
    pub fn new(graph: &'g Graph<F>, hidden: usize, seed: u64) -> Self {
        Rnn {
            x2h: Linear::new(graph, hidden, seed),
            wh: recurrent_weight(graph, hidden, hidden, seed.wrapping_add(1)),
            h: State::new(graph),
        }
    }

    /// Forgets the state: the next step is a first step.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array2, Graph};
    /// use tapegrad_nn::layers::{Layer, Rnn};
    /// let g: Graph = Graph::new();
    /// let rnn = Rnn::new(&g, 3, 0);
    /// let x = g.var(Array2::<f64>::ones((1, 2)));
    /// let first = rnn.forward(x).data();
    /// let second = rnn.forward(x).data(); // carries the first step's state
    /// rnn.reset_state();
    /// assert_eq!(rnn.forward(x).data(), first);
    /// assert_ne!(second, first);
    /// ```
    pub fn reset_state(&self) {
        self.h.now.set(None);
    }

    /// Ends a window of truncated backpropagation through time (DeZero's
    /// `unchain_backward`): the state keeps its value but not its history, and lives in a
    /// parameter of the graph, so `g.clear()` may follow.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array2, Graph};
    /// use tapegrad_nn::layers::{Layer, Rnn};
    /// let g: Graph = Graph::new();
    /// let rnn = Rnn::new(&g, 3, 0);
    /// let mut sizes = Vec::new();
    /// for window in 0..4 {
    ///     g.step(|| {
    ///         // two steps a window; the state carried in from the last window
    ///         let x = g.constant(Array2::from_elem((1, 2), window as f64));
    ///         let loss = (rnn.forward(x) + rnn.forward(x)).sum();
    ///         loss.backward();
    ///         rnn.unchain().unwrap(); // before the next window's clear
    ///     });
    ///     sizes.push(g.len());
    /// }
    /// assert_eq!(sizes[1], sizes[3]); // the graph does not grow window by window
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`] if the graph was cleared before the state was unchained.
    pub fn unchain(&self) -> Result<()> {
        self.h.unchain()
    }
}

impl<'g, F: Float> Layer<'g, F> for Rnn<'g, F> {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        check_batch("rnn", x)?;
        let mut a = self.x2h.try_forward(x)?;
        if let Some(h) = self.h.now.get() {
            a = a.try_add(h.try_matmul(self.wh)?)?;
        }
        let h = a.try_tanh()?;
        self.h.now.set(Some(h));
        Ok(h)
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        [self.x2h.params(), vec![self.wh]].concat()
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        let mut named: Vec<_> = (self.x2h.named_params().into_iter())
            .map(|(n, p)| (format!("x2h.{n}"), p))
            .collect();
        named.push(("h2h.w".into(), self.wh));
        named
    }
}

/// An LSTM cell (DeZero's `LSTM`): with `a = x W_x + b + h W_h` cut into four,
/// `f, i, o = sigmoid(..)`, `u = tanh(..)`, `c = f c + i u`, `h = o tanh(c)` (at the first step
/// `h W_h` and `f c` are left out). Each `forward` is one time step of a batch `[n, in]` and
/// returns `h` `[n, hidden]`.
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::layers::{Layer, Lstm};
/// let g: Graph = Graph::new();
/// let lstm = Lstm::new(&g, 4, 0);
/// let x = g.var(Array2::<f64>::ones((3, 2)));
/// lstm.forward(x);
/// let h = lstm.forward(x);
/// assert_eq!(h.shape(), vec![3, 4]);
/// assert!(h.data().iter().all(|v| v.abs() < 1.0));
/// ```
pub struct Lstm<'g, F: Float = f64> {
    hidden: usize,
    x2g: Linear<'g, F>,
    wh: Var<'g, F>,
    h: State<'g, F>,
    c: State<'g, F>,
}

impl<'g, F: Float> Lstm<'g, F> {
    /// A cell with a state of `hidden` values; `seed` makes its weights reproducible.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array2, Graph};
    /// use tapegrad_nn::layers::{Layer, Lstm};
    /// let g: Graph = Graph::new();
    /// let lstm = Lstm::new(&g, 3, 0);
    /// let h = lstm.forward(g.var(Array2::<f64>::ones((2, 5))));
    /// assert_eq!(h.shape(), vec![2, 3]);
    /// ```
    pub fn new(graph: &'g Graph<F>, hidden: usize, seed: u64) -> Self {
        Lstm {
            hidden,
            x2g: Linear::new(graph, 4 * hidden, seed),
            wh: recurrent_weight(graph, hidden, 4 * hidden, seed.wrapping_add(1)),
            h: State::new(graph),
            c: State::new(graph),
        }
    }

    /// Forgets the state: the next step is a first step.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array2, Graph};
    /// use tapegrad_nn::layers::{Layer, Lstm};
    /// let g: Graph = Graph::new();
    /// let lstm = Lstm::new(&g, 3, 0);
    /// let x = g.var(Array2::<f64>::ones((1, 2)));
    /// let first = lstm.forward(x).data();
    /// lstm.forward(x);
    /// lstm.reset_state();
    /// assert_eq!(lstm.forward(x).data(), first);
    /// ```
    pub fn reset_state(&self) {
        self.h.now.set(None);
        self.c.now.set(None);
    }

    /// Ends a window of truncated backpropagation through time; see [`Rnn::unchain`].
    ///
    /// ```
    /// use tapegrad_core::{ndarray::Array2, Graph};
    /// use tapegrad_nn::layers::{Layer, Lstm};
    /// let g: Graph = Graph::new();
    /// let lstm = Lstm::new(&g, 3, 0);
    /// let x = g.constant(Array2::from_elem((1, 2), 1.0));
    /// lstm.forward(x).sum().backward();
    /// lstm.unchain().unwrap(); // the state is kept, its history is not
    /// g.clear();
    /// let x = g.constant(Array2::from_elem((1, 2), 1.0));
    /// assert_eq!(lstm.forward(x).shape(), vec![1, 3]); // a second step from the kept state
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`] if the graph was cleared before the state was unchained.
    pub fn unchain(&self) -> Result<()> {
        self.h.unchain()?;
        self.c.unchain()
    }
}

impl<'g, F: Float> Layer<'g, F> for Lstm<'g, F> {
    fn try_forward(&self, x: Var<'g, F>) -> Result<Var<'g, F>> {
        check_batch("lstm", x)?;
        let mut a = self.x2g.try_forward(x)?;
        if let Some(h) = self.h.now.get() {
            a = a.try_add(h.try_matmul(self.wh)?)?;
        }
        let n = self.hidden;
        let gates = a.try_split(&[n, n, n, n], 1)?;
        let (f, i, o) = (
            gates[0].try_sigmoid()?,
            gates[1].try_sigmoid()?,
            gates[2].try_sigmoid()?,
        );
        let u = gates[3].try_tanh()?;
        let mut c = i.try_mul(u)?;
        if let Some(prev) = self.c.now.get() {
            c = c.try_add(f.try_mul(prev)?)?;
        }
        let h = o.try_mul(c.try_tanh()?)?;
        self.c.now.set(Some(c));
        self.h.now.set(Some(h));
        Ok(h)
    }

    fn params(&self) -> Vec<Var<'g, F>> {
        [self.x2g.params(), vec![self.wh]].concat()
    }

    fn named_params(&self) -> Vec<(String, Var<'g, F>)> {
        let mut named: Vec<_> = (self.x2g.named_params().into_iter())
            .map(|(n, p)| (format!("x2g.{n}"), p))
            .collect();
        named.push(("h2g.w".into(), self.wh));
        named
    }
}
