//! The workloads on candle (`candle-core`, CPU, f64): each op returns a `Result`, a constant
//! term is an `affine` (`a x + b`).

use candle_core::{Device, Result, Tensor, Var};

pub fn run(name: &str, n: usize) -> Option<f64> {
    match inner(name, n) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

fn inner(name: &str, n: usize) -> Result<f64> {
    let dev = Device::Cpu;
    match name {
        "chain" => {
            let x = Var::new(1.0f64, &dev)?;
            let mut y = x.as_tensor().clone();
            for _ in 0..n {
                y = y.affine(0.999, 0.0)?.add(x.as_tensor())?;
            }
            let grads = y.backward()?;
            grads
                .get(x.as_tensor())
                .expect("x is used")
                .to_scalar::<f64>()
        }
        "goldstein" => {
            let mut checksum = 0.0;
            for _ in 0..n {
                let (x, y) = (Var::new(1.0f64, &dev)?, Var::new(1.0f64, &dev)?);
                let grads = goldstein(x.as_tensor(), y.as_tensor())?.backward()?;
                let gx = grads.get(x.as_tensor()).expect("used").to_scalar::<f64>()?;
                let gy = grads.get(y.as_tensor()).expect("used").to_scalar::<f64>()?;
                checksum = gx + gy;
            }
            Ok(checksum)
        }
        "wide" => {
            let x = Var::new(1.0f64, &dev)?;
            let mut terms: Vec<Tensor> = (0..n)
                .map(|i| x.as_tensor().affine(i as f64, 0.0))
                .collect::<Result<_>>()?;
            while terms.len() > 1 {
                terms = terms
                    .chunks(2)
                    .map(|p| {
                        if p.len() == 2 {
                            p[0].add(&p[1])
                        } else {
                            Ok(p[0].clone())
                        }
                    })
                    .collect::<Result<_>>()?;
            }
            let grads = terms[0].backward()?;
            grads
                .get(x.as_tensor())
                .expect("x is used")
                .to_scalar::<f64>()
        }
        _ => {
            let v: Vec<f64> = (0..n)
                .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
                .collect();
            let x = Var::from_tensor(&Tensor::from_vec(v, n, &dev)?)?;
            let t = x.as_tensor();
            let y = t.mul(t)?.affine(0.5, 0.0)?.add(&t.exp()?)?.sub(t)?;
            let grads = y.sum_all()?.backward()?;
            grads
                .get(t)
                .expect("x is used")
                .sum_all()?
                .to_scalar::<f64>()
        }
    }
}

/// Goldstein-Price, op for op as tapegrad's workload writes it.
fn goldstein(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let sq = |t: &Tensor| t.powf(2.0);
    let xy = x.mul(y)?;
    let a = sq(&x.add(y)?.affine(1.0, 1.0)?)?;
    let b = x
        .affine(-14.0, 19.0)?
        .add(&sq(x)?.affine(3.0, 0.0)?)?
        .sub(&y.affine(14.0, 0.0)?)?
        .add(&xy.affine(6.0, 0.0)?)?
        .add(&sq(y)?.affine(3.0, 0.0)?)?;
    let c = sq(&x.affine(2.0, 0.0)?.sub(&y.affine(3.0, 0.0)?)?)?;
    let d = x
        .affine(-32.0, 18.0)?
        .add(&sq(x)?.affine(12.0, 0.0)?)?
        .add(&y.affine(48.0, 0.0)?)?
        .sub(&xy.affine(36.0, 0.0)?)?
        .add(&sq(y)?.affine(27.0, 0.0)?)?;
    a.mul(&b)?
        .affine(1.0, 1.0)?
        .mul(&c.mul(&d)?.affine(1.0, 30.0)?)
}
