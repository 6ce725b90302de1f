//! User-defined functions (`tapegrad::Function`): 1, 2 and 3 inputs, 1 and 2 outputs, checked
//! at first and second order in f64 and f32 (first order through `backward`, second through
//! `tapegrad::grad` twice), and their semantics: no graph under `no_grad`, errors that name the
//! function, gradients that are `None`, a graph left as it was after a failure.

use crate::common;

use tapegrad::Result;
use tapegrad::ndarray::{ArrayD, ArrayViewD, Zip, array};
use tapegrad::prelude::*;

/// `ln(1 + e^x)`, stably; d/dx = sigmoid(x).
struct Softplus;

impl<F: Float> Function<F> for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        Ok(vec![
            xs[0].mapv(|x| x.max(F::zero()) + (-x.abs()).exp().ln_1p()),
        ])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        Ok(vec![Some(gys[0] * xs[0].sigmoid())])
    }
}

/// `(a - b)^2` elementwise, of two inputs of one shape; d/da = 2(a - b), d/db = -2(a - b).
struct SquaredDifference;

impl<F: Float> Function<F> for SquaredDifference {
    fn name(&self) -> &'static str {
        "squared_difference"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        if xs[0].shape() != xs[1].shape() {
            return Err(format!(
                "shapes {:?} and {:?} differ",
                xs[0].shape(),
                xs[1].shape()
            ));
        }
        Ok(vec![
            Zip::from(&xs[0])
                .and(&xs[1])
                .map_collect(|&a, &b| (a - b) * (a - b)),
        ])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let d = (xs[0] - xs[1]) * gys[0] * F::from_f64(2.0);
        Ok(vec![Some(d), Some(-d)])
    }
}

/// `a * b + c`: three inputs; d/da = b, d/db = a, d/dc = 1.
struct MulAdd;

impl<F: Float> Function<F> for MulAdd {
    fn name(&self) -> &'static str {
        "mul_add"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        Ok(vec![
            Zip::from(&xs[0])
                .and(&xs[1])
                .and(&xs[2])
                .map_collect(|&a, &b, &c| a * b + c),
        ])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let gy = gys[0];
        Ok(vec![Some(gy * xs[1]), Some(gy * xs[0]), Some(gy)])
    }
}

/// `(sin x, cos x)`: two outputs; d/dx = gy0 cos x - gy1 sin x.
struct SinCos;

impl<F: Float> Function<F> for SinCos {
    fn name(&self) -> &'static str {
        "sin_cos"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        Ok(vec![xs[0].mapv(F::sin), xs[0].mapv(F::cos)])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        ys: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        // (the outputs are the derivatives: sin' = cos = ys[1], cos' = -sin = -ys[0])
        let _ = xs;
        Ok(vec![Some(gys[0] * ys[1] - gys[1] * ys[0])])
    }
}

/// Polar to Cartesian, `(r cos t, r sin t)`: two inputs, two outputs.
struct Polar;

impl<F: Float> Function<F> for Polar {
    fn name(&self) -> &'static str {
        "polar"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        let (r, t) = (&xs[0], &xs[1]);
        let x = Zip::from(r).and(t).map_collect(|&r, &t| r * t.cos());
        let y = Zip::from(r).and(t).map_collect(|&r, &t| r * t.sin());
        Ok(vec![x, y])
    }
    // dx = cos t dr - r sin t dt, dy = sin t dr + r cos t dt
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let (r, t) = (xs[0], xs[1]);
        let (c, s) = (t.cos(), t.sin());
        let gr = gys[0] * c + gys[1] * s;
        let gt = (gys[1] * c - gys[0] * s) * r;
        Ok(vec![Some(gr), Some(gt)])
    }
}

/// `x * w`, where `w` is a weight that takes no gradient (its rule says `None`).
struct Weighted;

impl<F: Float> Function<F> for Weighted {
    fn name(&self) -> &'static str {
        "weighted"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        Ok(vec![&xs[0] * &xs[1]])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        _: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        Ok(vec![Some(gys[0] * xs[1]), None])
    }
}

fn one<'g, F: Float>(f: impl Function<F>, xs: &[Var<'g, F>]) -> Var<'g, F> {
    xs[0].graph().apply(f, xs)[0]
}

/// Both outputs of a two-output function, weighted differently so that a swapped gradient shows.
fn both<'g, F: Float>(f: impl Function<F>, xs: &[Var<'g, F>]) -> Var<'g, F> {
    let ys = xs[0].graph().apply(f, xs);
    ys[0] * F::from_f64(0.7) + ys[1] * ys[1]
}

opcheck!(softplus, 1, (-3.0, 3.0), |xs| one(Softplus, xs));
opcheck!(two_inputs, 2, (-2.0, 2.0), |xs| one(SquaredDifference, xs));
opcheck!(three_inputs, 3, (-2.0, 2.0), |xs| one(MulAdd, xs));
opcheck!(two_outputs, 1, (-3.0, 3.0), |xs| both(SinCos, xs));
opcheck!(two_inputs_two_outputs, 2, (0.5, 2.0), |xs| both(Polar, xs));
opcheck!(composed_with_builtins, 2, (0.5, 2.0), |xs| {
    one(Softplus, &[one(MulAdd, &[xs[0], xs[1], xs[0].sin()])]).exp()
});
opcheck!(only_second_output_used, 1, (-3.0, 3.0), |xs| {
    xs[0].graph().apply(SinCos, xs)[1].exp()
});

/// Second order in f32 too (the `opcheck!` lines check it in f64).
#[test]
fn second_order_in_f32() {
    common::check2::<f32, _>(|xs| one(Softplus, xs), 1, &[2, 3], -2.0, 2.0);
    common::check2::<f32, _>(|xs| one(MulAdd, xs), 3, &[4], -2.0, 2.0);
    common::check2::<f32, _>(|xs| both(Polar, xs), 2, &[3], 0.5, 2.0);
}

/// `backward` and `tapegrad::grad` give the same gradients through a function of two outputs.
#[test]
fn backward_and_grad_agree() {
    let g: Graph = Graph::new();
    let r = g.var(array![1.0, 2.0]);
    let t = g.var(array![0.3, -0.4]);
    let ys = g.apply(Polar, &[r, t]);
    let loss = (ys[0] * ys[1]).sum();
    let gs = tapegrad::grad(&[loss], &[r, t], false);
    loss.backward();
    assert_eq!(r.grad().unwrap(), gs[0].data());
    assert_eq!(t.grad().unwrap(), gs[1].data());
    // x y = r^2 cos t sin t = r^2 sin(2t) / 2: d/dr = r sin 2t, d/dt = r^2 cos 2t
    let want_r = array![0.6f64.sin(), 2.0 * (-0.8f64).sin()].into_dyn();
    assert!((r.grad().unwrap() - want_r).iter().all(|d| d.abs() < 1e-12));
}

#[test]
fn a_function_is_one_tape_entry_and_its_pass_leaves_no_temporaries() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, -2.0, 3.0]);
    let y = one(Softplus, &[x]);
    assert_eq!(g.tape_len(), 1);
    let before = g.len();
    for _ in 0..3 {
        y.backward();
    }
    assert_eq!(g.len(), before, "the backward's variables were temporary");
    let s = |v: f64| 1.0 / (1.0 + (-v).exp());
    assert_eq!(
        x.grad().unwrap(),
        array![3.0 * s(1.0), 3.0 * s(-2.0), 3.0 * s(3.0)].into_dyn()
    );
}

#[test]
fn under_no_grad_nothing_is_recorded() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let ys = {
        let _guard = g.no_grad();
        g.apply(SinCos, &[x])
    };
    assert_eq!(g.tape_len(), 0);
    assert!(ys.iter().all(|y| y.is_leaf()));
    assert_eq!(ys[0].data(), array![1f64.sin(), 2f64.sin()].into_dyn());
}

#[test]
fn a_gradient_of_none_reaches_nothing() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let w = g.var(array![3.0, 4.0]);
    one(Weighted, &[x, w]).sum().backward();
    assert_eq!(x.grad().unwrap(), array![3.0, 4.0].into_dyn());
    assert!(w.grad().is_none());
}

#[test]
fn an_unused_output_gets_zeros() {
    let g: Graph = Graph::new();
    let x = g.scalar(0.5);
    let ys = g.apply(SinCos, &[x]);
    ys[0].backward(); // cos was not used: its gradient counts as 0
    assert_eq!(x.grad().unwrap()[[]], 0.5f64.cos());
}

#[test]
fn a_failing_forward_is_an_error_naming_the_function_and_records_nothing() {
    let g: Graph = Graph::new();
    let a = g.var(array![1.0, 2.0]);
    let b = g.var(array![1.0, 2.0, 3.0]);
    let (len, tape) = (g.len(), g.tape_len());
    let e = g.try_apply(SquaredDifference, &[a, b]).unwrap_err();
    assert_eq!(
        e,
        Error::InvalidArgument {
            op: "squared_difference",
            reason: "shapes [2] and [3] differ".into()
        }
    );
    assert_eq!((g.len(), g.tape_len()), (len, tape));
}

#[test]
#[should_panic(expected = "squared_difference: shapes [2] and [3] differ")]
fn apply_panics_with_the_same_message() {
    let g: Graph = Graph::new();
    g.apply(
        SquaredDifference,
        &[g.var(array![1.0, 2.0]), g.var(array![1.0, 2.0, 3.0])],
    );
}

#[test]
fn stale_and_foreign_inputs_are_errors() {
    let g: Graph = Graph::new();
    let h: Graph = Graph::new();
    let x = g.scalar(1.0);
    assert_eq!(
        g.try_apply(Softplus, &[h.scalar(1.0)]).unwrap_err(),
        Error::GraphMismatch { op: "softplus" }
    );
    g.clear();
    assert_eq!(g.try_apply(Softplus, &[x]).unwrap_err(), Error::StaleVar);
}

/// A backward that returns a gradient of the wrong shape, or the wrong number of them.
struct Broken(usize);

impl Function for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        Ok(vec![xs[0].to_owned()])
    }
    fn backward<'g>(
        &self,
        _: &[Var<'g>],
        _: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> Result<Vec<Option<Var<'g>>>> {
        Ok(match self.0 {
            0 => vec![Some(gys[0].sum())],
            _ => vec![Some(gys[0]), Some(gys[0])],
        })
    }
}

#[test]
fn a_bad_backward_is_an_error_naming_the_function() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    let e = one(Broken(0), &[x]).sum().try_backward().unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            op: "broken",
            lhs: vec![2],
            rhs: vec![]
        }
    );
    let e = one(Broken(1), &[x]).sum().try_backward().unwrap_err();
    assert_eq!(
        e.to_string(),
        "broken: backward returned 2 gradients for 1 inputs"
    );
    assert!(x.grad().is_none());
}

#[test]
fn works_on_f32() {
    let g = Graph::<f32>::new();
    let x = g.var(array![0.0f32, 100.0]);
    let y = one(Softplus, &[x]);
    y.sum().backward();
    assert_eq!(y.data(), array![2f32.ln(), 100.0].into_dyn());
    assert_eq!(x.grad().unwrap(), array![0.5f32, 1.0].into_dyn());
}

#[test]
fn a_graph_of_functions_is_freed_by_clear() {
    let g: Graph = Graph::new();
    for _ in 0..3 {
        g.clear();
        let x = g.var(array![1.0, 2.0]);
        let y = one(Softplus, &[one(MulAdd, &[x, x, x])]).sum();
        y.backward();
        assert_eq!(g.tape_len(), 3);
    }
}

/// Softplus with the fast path on numbers: value and derivative without arrays.
struct FastSoftplus;

impl<F: Float> Function<F> for FastSoftplus {
    fn name(&self) -> &'static str {
        "fast_softplus"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> Result<Vec<ArrayD<F>>, String> {
        Function::<F>::forward(&Softplus, xs)
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        ys: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        Function::<F>::backward(&Softplus, xs, ys, gys)
    }
    // softplus(x) = max(x, 0) + ln(1 + e^-|x|); d/dx = sigmoid(x)
    fn on_numbers(&self, xs: &[F]) -> Option<(F, [F; 2])> {
        let x = xs[0];
        let y = x.max(F::zero()) + (-x.abs()).exp().ln_1p();
        Some((y, [F::one() / (F::one() + (-x).exp()), F::zero()]))
    }
}

/// `x0 * x1` with the fast path, for two inputs.
struct FastProduct;

impl Function for FastProduct {
    fn name(&self) -> &'static str {
        "fast_product"
    }
    fn forward(&self, xs: &[ArrayViewD<'_, f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        Ok(vec![&xs[0] * &xs[1]])
    }
    fn backward<'g>(
        &self,
        xs: &[Var<'g>],
        _: &[Var<'g>],
        gys: &[Var<'g>],
    ) -> Result<Vec<Option<Var<'g>>>> {
        Ok(vec![Some(gys[0] * xs[1]), Some(gys[0] * xs[0])])
    }
    fn on_numbers(&self, xs: &[f64]) -> Option<(f64, [f64; 2])> {
        Some((xs[0] * xs[1], [xs[1], xs[0]]))
    }
}

opcheck!(on_numbers, 1, (-3.0, 3.0), |xs| one(
    FastSoftplus,
    &[one(FastSoftplus, xs)]
));

/// The fast path and the general one give the same numbers: a graph of numbers only takes the
/// fast sweep, and an array anywhere in the graph sends the same records through `backward`.
#[test]
fn the_fast_path_on_numbers_agrees_with_the_general_one() {
    let run = |with_array: bool| {
        let g: Graph = Graph::new();
        let _array = with_array.then(|| g.var(array![1.0, 2.0]));
        let (a, b) = (g.scalar(0.7), g.scalar(-1.3));
        let y = one(FastSoftplus, &[one(FastProduct, &[a, b])]) * a;
        assert_eq!(g.tape_len(), 3);
        y.backward();
        (y.item(), a.grad().unwrap()[[]], b.grad().unwrap()[[]])
    };
    let (fast, general) = (run(false), run(true));
    assert_eq!(fast.0, general.0);
    assert!((fast.1 - general.1).abs() < 1e-15 && (fast.2 - general.2).abs() < 1e-15);
    // by hand: y = softplus(ab) a; dy/da = sigmoid(ab) b a + softplus(ab), dy/db = sigmoid(ab) a^2
    let (p, s) = (0.7f64 * -1.3, 1.0 / (1.0 + (0.7f64 * 1.3).exp()));
    let softplus = p.exp().ln_1p();
    assert!((fast.1 - (s * -1.3 * 0.7 + softplus)).abs() < 1e-15);
    assert!((fast.2 - s * 0.49).abs() < 1e-15);
}

#[test]
fn the_fast_path_records_nothing_under_no_grad_or_on_constants() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    {
        let _guard = g.no_grad();
        let y = one(FastSoftplus, &[x]);
        assert!(y.is_leaf());
    }
    let c = g.constant(tapegrad::ndarray::arr0(2.0));
    assert!(one(FastSoftplus, &[c]).is_constant());
    assert_eq!(g.tape_len(), 0);
}
