//! Optimizers (DeZero steps 45-46): [`Sgd`], [`MomentumSgd`], [`AdaGrad`], [`Adam`], each with optional
//! weight decay and gradient-norm clipping applied to the gradients before the update. `step`
//! updates every parameter that has a gradient and clears that gradient.
//!
//! A step checks everything before it changes anything: stale parameters, a gradient or a
//! state whose shape is no longer the parameter's (its data was replaced by one of another
//! shape), and hooks out of range are an [`Error`] from [`Optimizer::try_step`], with no
//! parameter, gradient or state touched. State is kept per variable of a graph
//! ([`Graph::id`](tapegrad_core::Graph::id) and [`Var::id`]): parameters of two graphs never
//! share it.

use std::collections::HashMap;

use ndarray::{ArrayD, Zip};
use tapegrad_core::or_panic;
use tapegrad_core::{Error, Float, Var, VarId};

/// Updates of at least this many elements run on rayon's threads (when there are several), as
/// the core's elementwise kernels do: below it, waking the threads costs more than it saves.
#[cfg(feature = "rayon")]
const PARALLEL_MIN: usize = 1 << 18;

/// `zip.for_each(f)`, on rayon's threads when the arrays are large. Each element's update is
/// the same on any number of threads.
macro_rules! for_each {
    ($zip:expr, $f:expr) => {{
        let zip = $zip;
        #[cfg(feature = "rayon")]
        if zip.size() >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
            zip.par_for_each($f)
        } else {
            zip.for_each($f)
        }
        #[cfg(not(feature = "rayon"))]
        zip.for_each($f)
    }};
}

/// Which variable an optimizer's state belongs to: its graph and its key in that graph.
type Key = (u64, VarId);

fn key<F: Float>(p: Var<'_, F>) -> Key {
    (p.graph().id(), p.id())
}

/// A parameter and the gradient it is to be updated with.
type Update<'g, F> = (Var<'g, F>, ArrayD<F>);

/// Changes to the gradients before an update (DeZero's optimizer hooks).
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::optim::{Hooks, Optimizer, Sgd};
/// let g: Graph = Graph::new();
/// let w = g.param(array![3.0, 4.0]);
/// (w * w).sum().backward(); // gradient (6, 8), norm 10
/// let hooks = Hooks { clip_grad_norm: Some(1.0), ..Hooks::default() };
/// Sgd { lr: 1.0, hooks }.step(&[w]); // clipped to norm 1: (0.6, 0.8)
/// assert!((w.data()[0] - 2.4).abs() < 1e-6 && (w.data()[1] - 3.2).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hooks {
    /// Adds `rate * param` to each gradient (L2 weight decay). Finite.
    pub weight_decay: Option<f64>,
    /// Scales all gradients down so that their joint L2 norm is at most this (as PyTorch's
    /// `clip_grad_norm_`: a NaN norm makes every gradient NaN). Positive and finite.
    pub clip_grad_norm: Option<f64>,
}

fn invalid(reason: String) -> Error {
    Error::InvalidArgument { op: "step", reason }
}

impl Hooks {
    fn check(&self) -> Result<(), Error> {
        if let Some(rate) = self.weight_decay.filter(|r| !r.is_finite()) {
            return Err(invalid(format!("weight_decay must be finite, not {rate}")));
        }
        if let Some(max) = self.clip_grad_norm.filter(|m| !(m.is_finite() && *m > 0.0)) {
            return Err(invalid(format!(
                "clip_grad_norm must be positive and finite, not {max}"
            )));
        }
        Ok(())
    }

    /// The parameters with a gradient, and their gradients after the hooks, once every check
    /// passed (each state shape in `state` too); the gradients are moved out of the parameters
    /// (no copy), which leaves them cleared.
    fn grads<'g, F: Float>(
        &self,
        params: &[Var<'g, F>],
        state: impl Fn(Key) -> Option<Vec<usize>>,
    ) -> Result<Vec<Update<'g, F>>, Error> {
        self.check()?;
        let mut with_grad = Vec::new();
        for &p in params {
            let shape = p.try_shape()?;
            let Some(grad_shape) = p.try_grad_shape()? else {
                continue;
            };
            if grad_shape != shape {
                return Err(Error::ShapeMismatch {
                    op: "step (gradient and parameter)",
                    lhs: grad_shape,
                    rhs: shape,
                });
            }
            if let Some(s) = state(key(p)).filter(|s| *s != shape) {
                return Err(Error::ShapeMismatch {
                    op: "step (optimizer state and parameter)",
                    lhs: s,
                    rhs: shape,
                });
            }
            with_grad.push(p);
        }
        let mut out = Vec::with_capacity(with_grad.len());
        for p in with_grad {
            if let Some(g) = p.try_take_grad()? {
                out.push((p, g));
            }
        }
        if let Some(rate) = self.weight_decay {
            for (p, g) in &mut out {
                p.try_with_data(|w| g.scaled_add(F::from_f64(rate), &w))?;
            }
        }
        if let Some(max) = self.clip_grad_norm {
            let norm = out
                .iter()
                .map(|(_, g)| {
                    g.iter()
                        .map(|&v| Float::to_f64(v) * Float::to_f64(v))
                        .sum::<f64>()
                })
                .sum::<f64>()
                .sqrt();
            let scale = max / (norm + 1e-6);
            if scale < 1.0 || scale.is_nan() {
                // (a NaN scale too: NaN gradients, as PyTorch gives)
                for (_, g) in &mut out {
                    let scale = F::from_f64(scale);
                    g.mapv_inplace(|v| v * scale);
                }
            }
        }
        Ok(out)
    }
}

/// An update rule for parameters.
///
/// ```
/// use tapegrad_core::{ndarray::array, Error, Graph};
/// use tapegrad_nn::optim::{Optimizer, Sgd};
/// let g: Graph = Graph::new();
/// let w = g.param(array![1.0]);
/// let t = g.var(array![2.0]); // not a parameter: stale after the clear
/// (w * t).sum().backward();
/// g.clear();
/// assert_eq!(Sgd::new(0.1).try_step(&[w, t]).unwrap_err(), Error::StaleVar);
/// assert_eq!(w.data()[0], 1.0); // nothing changed
/// ```
pub trait Optimizer<F: Float = f64> {
    /// Updates every parameter of `params` that has a gradient, then clears its gradient.
    ///
    /// # Errors
    /// [`Error::StaleVar`] for a parameter of a cleared graph, [`Error::ShapeMismatch`] when a
    /// parameter's data no longer has the shape of its gradient or of the optimizer's state for
    /// it, [`Error::InvalidArgument`] for hooks out of range. Nothing is changed then.
    fn try_step(&mut self, params: &[Var<'_, F>]) -> Result<(), Error>;

    /// [`Optimizer::try_step`], panicking with its error's message.
    #[track_caller]
    fn step(&mut self, params: &[Var<'_, F>]) {
        or_panic(self.try_step(params));
    }
}

/// Plain gradient descent: `p -= lr * g`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::optim::{Optimizer, Sgd};
/// let g: Graph = Graph::new();
/// let w = g.param(array![1.0]);
/// (w * 3.0).sum().backward();
/// Sgd::new(0.1).step(&[w]);
/// assert!((w.data()[0] - 0.7).abs() < 1e-15);
/// assert!(w.grad().is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
}

impl Sgd {
    /// SGD with learning rate `lr` and no hooks.
    ///
    /// ```
    /// use tapegrad_nn::optim::Sgd;
    /// let mut opt = Sgd::new(0.01);
    /// opt.lr *= 0.5; // a schedule changes the field between steps
    /// assert_eq!(opt.lr, 0.005);
    /// ```
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            hooks: Hooks::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for Sgd {
    fn try_step(&mut self, params: &[Var<'_, F>]) -> Result<(), Error> {
        for (p, g) in self.hooks.grads(params, |_| None)? {
            let a = F::from_f64(-self.lr);
            p.try_update_data(|w| for_each!(Zip::from(w).and(&g), |w, &g| *w += a * g))?;
        }
        Ok(())
    }
}

/// Gradient descent with momentum: `v = momentum v - lr g; p += v`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::optim::{MomentumSgd, Optimizer};
/// let g: Graph = Graph::new();
/// let w = g.param(array![3.0]);
/// let mut opt = MomentumSgd::new(0.05, 0.9);
/// for _ in 0..200 {
///     g.step(|| {
///         let loss = (w - 1.0).square().sum(); // minimum at w = 1
///         loss.backward();
///         opt.step(&[w]);
///     });
/// }
/// assert!((w.data()[0] - 1.0).abs() < 1e-3);
/// ```
#[derive(Debug, Clone)]
pub struct MomentumSgd<F: Float = f64> {
    /// Learning rate.
    pub lr: f64,
    /// Momentum (0.9 in DeZero).
    pub momentum: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
    velocity: HashMap<Key, ArrayD<F>>,
}

impl<F: Float> MomentumSgd<F> {
    /// Momentum SGD with no hooks.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::array, Graph};
    /// use tapegrad_nn::optim::{MomentumSgd, Optimizer};
    /// let g: Graph = Graph::new();
    /// let w = g.param(array![1.0]);
    /// let mut opt = MomentumSgd::new(0.1, 0.9);
    /// for _ in 0..2 {
    ///     w.sum().backward(); // gradient 1
    ///     opt.step(&[w]);
    /// }
    /// assert!((w.data()[0] - (1.0 - 0.1 - 0.19)).abs() < 1e-12);
    /// ```
    pub fn new(lr: f64, momentum: f64) -> Self {
        MomentumSgd {
            lr,
            momentum,
            hooks: Hooks::default(),
            velocity: HashMap::new(),
        }
    }
}

impl<F: Float> Optimizer<F> for MomentumSgd<F> {
    fn try_step(&mut self, params: &[Var<'_, F>]) -> Result<(), Error> {
        let velocity = &self.velocity;
        let grads = (self.hooks).grads(params, |k| velocity.get(&k).map(|v| v.shape().to_vec()))?;
        for (p, g) in grads {
            let v = self
                .velocity
                .entry(key(p))
                .or_insert_with(|| ArrayD::zeros(g.raw_dim()));
            let (momentum, lr) = (F::from_f64(self.momentum), F::from_f64(self.lr));
            for_each!(Zip::from(&mut *v).and(&g), |v, &g| *v =
                *v * momentum - g * lr);
            p.try_update_data(|w| for_each!(Zip::from(w).and(&*v), |w, &v| *w += v))?;
        }
        Ok(())
    }
}

/// AdaGrad: `h += g^2; p -= lr g / (sqrt(h) + eps)`, with PyTorch's `eps` of 1e-10
/// (`torch.optim.Adagrad`; DeZero's is 1e-8).
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::optim::{AdaGrad, Optimizer};
/// let g: Graph = Graph::new();
/// let w = g.param(array![3.0]);
/// let mut opt = AdaGrad::new(0.5);
/// for _ in 0..200 {
///     g.step(|| {
///         let loss = (w - 1.0).square().sum(); // minimum at w = 1
///         loss.backward();
///         opt.step(&[w]);
///     });
/// }
/// assert!((w.data()[0] - 1.0).abs() < 1e-3);
/// ```
#[derive(Debug, Clone)]
pub struct AdaGrad<F: Float = f64> {
    /// Learning rate.
    pub lr: f64,
    /// Added to the root of the sum of squares (1e-10).
    pub eps: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
    sum_sq: HashMap<Key, ArrayD<F>>,
}

impl<F: Float> AdaGrad<F> {
    /// AdaGrad with no hooks.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::array, Graph};
    /// use tapegrad_nn::optim::{AdaGrad, Optimizer};
    /// let g: Graph = Graph::new();
    /// let w = g.param(array![1.0]);
    /// (w * 2.0).sum().backward(); // gradient 2: h = 4, step lr * 2 / sqrt(4) = lr
    /// AdaGrad::new(0.1).step(&[w]);
    /// assert!((w.data()[0] - 0.9).abs() < 1e-8);
    /// ```
    pub fn new(lr: f64) -> Self {
        AdaGrad {
            lr,
            eps: 1e-10,
            hooks: Hooks::default(),
            sum_sq: HashMap::new(),
        }
    }
}

impl<F: Float> Optimizer<F> for AdaGrad<F> {
    fn try_step(&mut self, params: &[Var<'_, F>]) -> Result<(), Error> {
        let eps = F::from_f64(self.eps);
        let sum_sq = &self.sum_sq;
        let grads = (self.hooks).grads(params, |k| sum_sq.get(&k).map(|h| h.shape().to_vec()))?;
        for (p, g) in grads {
            let h = self
                .sum_sq
                .entry(key(p))
                .or_insert_with(|| ArrayD::zeros(g.raw_dim()));
            for_each!(Zip::from(&mut *h).and(&g), |h, &g| *h += g * g);
            let lr = F::from_f64(self.lr);
            p.try_update_data(|w| {
                for_each!(Zip::from(w).and(&g).and(&*h), |w, &g, &h| *w =
                    *w - lr * g / (h.sqrt() + eps))
            })?;
        }
        Ok(())
    }
}

/// Adam (Kingma and Ba), with bias correction, as `torch.optim.Adam`:
/// `m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;`
/// `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)` (DeZero's adds `eps` before
/// the correction of `v`, a larger `eps` for small gradients).
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::optim::{Adam, Optimizer};
/// let g: Graph = Graph::new();
/// let w = g.param(array![3.0]);
/// let mut opt = Adam::new(0.1);
/// for _ in 0..200 {
///     g.step(|| {
///         let loss = (w - 1.0).square().sum(); // minimum at w = 1
///         loss.backward();
///         opt.step(&[w]);
///     });
/// }
/// assert!((w.data()[0] - 1.0).abs() < 1e-2);
/// ```
#[derive(Debug, Clone)]
pub struct Adam<F: Float = f64> {
    /// Step size (alpha).
    pub lr: f64,
    /// Decay of the first moment (0.9).
    pub beta1: f64,
    /// Decay of the second moment (0.999).
    pub beta2: f64,
    /// Added to the corrected root of the second moment (1e-8).
    pub eps: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
    t: i32,
    moments: HashMap<Key, (ArrayD<F>, ArrayD<F>)>,
}

impl<F: Float> Adam<F> {
    /// Adam with the usual betas (0.9, 0.999) and no hooks.
    ///
    /// ```
    /// use tapegrad_core::{ndarray::array, Graph};
    /// use tapegrad_nn::optim::{Adam, Optimizer};
    /// let g: Graph = Graph::new();
    /// let w = g.param(array![1.0]);
    /// (w * 3.0).sum().backward();
    /// Adam::new(0.1).step(&[w]); // the first step moves by lr, whatever the gradient's size
    /// assert!((w.data()[0] - 0.9).abs() < 1e-6);
    /// ```
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            hooks: Hooks::default(),
            t: 0,
            moments: HashMap::new(),
        }
    }
}

impl<F: Float> Optimizer<F> for Adam<F> {
    fn try_step(&mut self, params: &[Var<'_, F>]) -> Result<(), Error> {
        let moments = &self.moments;
        let grads =
            (self.hooks).grads(params, |k| moments.get(&k).map(|(m, _)| m.shape().to_vec()))?;
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let step = F::from_f64(self.lr / (1.0 - b1.powi(self.t)));
        let root_correction = F::from_f64((1.0 - b2.powi(self.t)).sqrt());
        let eps = F::from_f64(self.eps);
        for (p, g) in grads {
            let (m, v) = self
                .moments
                .entry(key(p))
                .or_insert_with(|| (ArrayD::zeros(g.raw_dim()), ArrayD::zeros(g.raw_dim())));
            let (b1, b2) = (F::from_f64(b1), F::from_f64(b2));
            let one = F::one();
            for_each!(Zip::from(&mut *m).and(&mut *v).and(&g), |m, v, &g| {
                *m = *m * b1 + g * (one - b1);
                *v = *v * b2 + g * g * (one - b2);
            });
            p.try_update_data(|w| {
                for_each!(Zip::from(w).and(&*m).and(&*v), |w, &m, &v| *w =
                    *w - step * m / (v.sqrt() / root_correction + eps))
            })?;
        }
        Ok(())
    }
}
