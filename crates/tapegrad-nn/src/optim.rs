//! Optimizers (DeZero steps 45-46): `SGD`, `MomentumSGD`, `AdaGrad`, `Adam`, each with optional
//! weight decay and gradient-norm clipping applied to the gradients before the update. `step`
//! updates every parameter that has a gradient and clears that gradient.

use std::collections::HashMap;

use ndarray::{ArrayD, Zip};
use tapegrad_core::{Float, Var, VarId};

/// Changes to the gradients before an update (DeZero's optimizer hooks).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hooks {
    /// Adds `rate * param` to each gradient (L2 weight decay).
    pub weight_decay: Option<f64>,
    /// Scales all gradients down so that their joint L2 norm is at most this.
    pub clip_grad_norm: Option<f64>,
}

impl Hooks {
    /// The parameters with a gradient, and their gradients after the hooks; the gradients are
    /// moved out of the parameters (no copy), which leaves them cleared.
    fn grads<'g, F: Float>(&self, params: &[Var<'g, F>]) -> Vec<(Var<'g, F>, ArrayD<F>)> {
        let mut out: Vec<_> = params
            .iter()
            .filter_map(|&p| p.take_grad().map(|g| (p, g)))
            .collect();
        if let Some(rate) = self.weight_decay {
            for (p, g) in &mut out {
                p.with_data(|w| g.scaled_add(F::from_f64(rate), &w));
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
            if scale < 1.0 {
                for (_, g) in &mut out {
                    let scale = F::from_f64(scale);
                    g.mapv_inplace(|v| v * scale);
                }
            }
        }
        out
    }
}

/// An update rule for parameters.
pub trait Optimizer<F: Float = f64> {
    /// Updates every parameter of `params` that has a gradient, then clears its gradient.
    fn step(&mut self, params: &[Var<'_, F>]);
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
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            hooks: Hooks::default(),
        }
    }
}

impl<F: Float> Optimizer<F> for Sgd {
    fn step(&mut self, params: &[Var<'_, F>]) {
        for (p, g) in self.hooks.grads(params) {
            p.update_data(|mut w| w.scaled_add(F::from_f64(-self.lr), &g));
        }
    }
}

/// Gradient descent with momentum: `v = momentum v - lr g; p += v`.
#[derive(Debug, Clone)]
pub struct MomentumSgd<F: Float = f64> {
    /// Learning rate.
    pub lr: f64,
    /// Momentum (0.9 in DeZero).
    pub momentum: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
    velocity: HashMap<VarId, ArrayD<F>>,
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
    fn step(&mut self, params: &[Var<'_, F>]) {
        for (p, g) in self.hooks.grads(params) {
            let v = self
                .velocity
                .entry(p.id())
                .or_insert_with(|| ArrayD::zeros(g.raw_dim()));
            let (momentum, lr) = (F::from_f64(self.momentum), F::from_f64(self.lr));
            v.zip_mut_with(&g, |v, &g| *v = *v * momentum - g * lr);
            p.update_data(|mut w| w += &*v);
        }
    }
}

/// AdaGrad: `h += g^2; p -= lr g / (sqrt(h) + eps)`.
#[derive(Debug, Clone)]
pub struct AdaGrad<F: Float = f64> {
    /// Learning rate.
    pub lr: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
    sum_sq: HashMap<VarId, ArrayD<F>>,
}

impl<F: Float> AdaGrad<F> {
    /// AdaGrad with no hooks.
    pub fn new(lr: f64) -> Self {
        AdaGrad {
            lr,
            hooks: Hooks::default(),
            sum_sq: HashMap::new(),
        }
    }
}

impl<F: Float> Optimizer<F> for AdaGrad<F> {
    fn step(&mut self, params: &[Var<'_, F>]) {
        let eps = F::from_f64(1e-8);
        for (p, g) in self.hooks.grads(params) {
            let h = self
                .sum_sq
                .entry(p.id())
                .or_insert_with(|| ArrayD::zeros(g.raw_dim()));
            h.zip_mut_with(&g, |h, &g| *h += g * g);
            let lr = F::from_f64(self.lr);
            p.update_data(|w| {
                Zip::from(w)
                    .and(&g)
                    .and(&*h)
                    .for_each(|w, &g, &h| *w = *w - lr * g / (h.sqrt() + eps));
            });
        }
    }
}

/// Adam (Kingma and Ba), with bias correction.
#[derive(Debug, Clone)]
pub struct Adam<F: Float = f64> {
    /// Step size (alpha).
    pub lr: f64,
    /// Decay of the first moment (0.9).
    pub beta1: f64,
    /// Decay of the second moment (0.999).
    pub beta2: f64,
    /// Gradient hooks.
    pub hooks: Hooks,
    t: i32,
    moments: HashMap<VarId, (ArrayD<F>, ArrayD<F>)>,
}

impl<F: Float> Adam<F> {
    /// Adam with the usual betas (0.9, 0.999) and no hooks.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            hooks: Hooks::default(),
            t: 0,
            moments: HashMap::new(),
        }
    }
}

impl<F: Float> Optimizer<F> for Adam<F> {
    fn step(&mut self, params: &[Var<'_, F>]) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let lr_t = self.lr * (1.0 - b2.powi(self.t)).sqrt() / (1.0 - b1.powi(self.t));
        let eps = F::from_f64(1e-8);
        for (p, g) in self.hooks.grads(params) {
            let (m, v) = self
                .moments
                .entry(p.id())
                .or_insert_with(|| (ArrayD::zeros(g.raw_dim()), ArrayD::zeros(g.raw_dim())));
            let (b1, b2, lr_t) = (F::from_f64(b1), F::from_f64(b2), F::from_f64(lr_t));
            let one = F::one();
            Zip::from(&mut *m)
                .and(&mut *v)
                .and(&g)
                .for_each(|m, v, &g| {
                    *m = *m * b1 + g * (one - b1);
                    *v = *v * b2 + g * g * (one - b2);
                });
            p.update_data(|w| {
                Zip::from(w)
                    .and(&*m)
                    .and(&*v)
                    .for_each(|w, &m, &v| *w = *w - lr_t * m / (v.sqrt() + eps));
            });
        }
    }
}
