//! The workloads on burn (`Autodiff<NdArray<f64>>`, CPU): tensors of one element for the
//! scalar graphs.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::Tensor;

type B = Autodiff<NdArray<f64>>;
type T = Tensor<B, 1>;

pub fn run(name: &str, n: usize) -> Option<f64> {
    let dev = Default::default();
    let scalar = |v: f64| T::from_floats([v], &dev).require_grad();
    let first = |t: Option<Tensor<NdArray<f64>, 1>>| t.map(|t| t.into_scalar());
    match name {
        "chain" => {
            let x = scalar(1.0);
            let mut y = x.clone();
            for _ in 0..n {
                y = y.mul_scalar(0.999).add(x.clone());
            }
            let grads = y.backward();
            first(x.grad(&grads))
        }
        "goldstein" => {
            let mut checksum = 0.0;
            for _ in 0..n {
                let (x, y) = (scalar(1.0), scalar(1.0));
                let grads = goldstein(x.clone(), y.clone()).backward();
                checksum = first(x.grad(&grads))? + first(y.grad(&grads))?;
            }
            Some(checksum)
        }
        "wide" => {
            let x = scalar(1.0);
            let mut terms: Vec<T> = (0..n).map(|i| x.clone().mul_scalar(i as f64)).collect();
            while terms.len() > 1 {
                terms = terms
                    .chunks(2)
                    .map(|p| {
                        if p.len() == 2 {
                            p[0].clone().add(p[1].clone())
                        } else {
                            p[0].clone()
                        }
                    })
                    .collect();
            }
            let grads = terms[0].backward();
            first(x.grad(&grads))
        }
        _ => {
            let v: Vec<f64> = (0..n)
                .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
                .collect();
            let x = T::from_floats(v.as_slice(), &dev).require_grad();
            let y = x
                .clone()
                .mul(x.clone())
                .mul_scalar(0.5)
                .add(x.clone().exp())
                .sub(x.clone());
            let grads = y.sum().backward();
            x.grad(&grads).map(|g| g.sum().into_scalar())
        }
    }
}

/// Goldstein-Price, op for op as tapegrad's workload writes it.
fn goldstein(x: T, y: T) -> T {
    let sq = |t: T| t.powf_scalar(2.0);
    let xy = x.clone().mul(y.clone());
    let a = sq(x.clone().add(y.clone()).add_scalar(1.0));
    let b = x
        .clone()
        .mul_scalar(-14.0)
        .add_scalar(19.0)
        .add(sq(x.clone()).mul_scalar(3.0))
        .sub(y.clone().mul_scalar(14.0))
        .add(xy.clone().mul_scalar(6.0))
        .add(sq(y.clone()).mul_scalar(3.0));
    let c = sq(x.clone().mul_scalar(2.0).sub(y.clone().mul_scalar(3.0)));
    let d = x
        .clone()
        .mul_scalar(-32.0)
        .add_scalar(18.0)
        .add(sq(x).mul_scalar(12.0))
        .add(y.clone().mul_scalar(48.0))
        .sub(xy.mul_scalar(36.0))
        .add(sq(y).mul_scalar(27.0));
    a.mul(b).add_scalar(1.0).mul(c.mul(d).add_scalar(30.0))
}
