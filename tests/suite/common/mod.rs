//! Helpers shared by the integration tests.
#![allow(dead_code)]

use tapegrad::check::{CheckOptions, gradgrad_check_with, gradient_check_with, jvp_check_with};
use tapegrad::ndarray::ArrayD;
use tapegrad::prelude::*;

/// A fresh directory under the system's temporary one, removed with everything in it when the
/// guard drops (a failing test included): tests leave nothing behind.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// `tapegrad_{name}_{process}_{n}`: unique to this guard, whatever runs beside it.
    pub fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tapegrad_{name}_{}_{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A path in the directory.
    pub fn join(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic values in `[lo, hi)` (a small LCG: no dependency, same numbers everywhere).
pub fn values<F: Float>(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<F> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ArrayD::from_shape_simple_fn(shape.to_vec(), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        F::from_f64(lo + (hi - lo) * u)
    })
}

/// `f` run on a rayon pool of `threads` threads (what a parallel op sees as its thread count).
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
    pool.expect("a thread pool").install(f)
}

/// Tolerances: DeZero's for f64; for f32 a wider step and looser tolerances, because a central
/// difference with eps = 1e-4 in f32 loses about three of its seven digits to rounding.
pub fn options<F: Float>() -> CheckOptions {
    if F::DTYPE == "f32" {
        CheckOptions {
            eps: 1e-2,
            rtol: 1e-2,
            atol: 1e-3,
        }
    } else {
        CheckOptions::default()
    }
}

/// Gradient-checks `f` on `n` inputs of `shape` with values in `[lo, hi)`, for two seeds, and
/// checks its forward mode (`jvp_check`) the same way.
pub fn check<F: Float, Fun>(f: Fun, n: usize, shape: &[usize], lo: f64, hi: f64)
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    for seed in [1, 7] {
        let inputs: Vec<ArrayD<F>> = (0..n)
            .map(|k| values(shape, seed * 31 + k as u64, lo, hi))
            .collect();
        if let Err(e) = gradient_check_with(&f, &inputs, options::<F>()) {
            panic!("{F} {shape:?} seed {seed}: {e}", F = F::DTYPE);
        }
        if let Err(e) = jvp_check_with(&f, &inputs, options::<F>()) {
            panic!("forward mode, {F} {shape:?} seed {seed}: {e}", F = F::DTYPE);
        }
    }
}

/// Second-order check of `f`, as [`check`] does for the first order.
pub fn check2<F: Float, Fun>(f: Fun, n: usize, shape: &[usize], lo: f64, hi: f64)
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    for seed in [2, 9] {
        let inputs: Vec<ArrayD<F>> = (0..n)
            .map(|k| values(shape, seed * 31 + k as u64, lo, hi))
            .collect();
        if let Err(e) = gradgrad_check_with(&f, &inputs, options::<F>()) {
            panic!("second order, {F} {shape:?} seed {seed}: {e}", F = F::DTYPE);
        }
    }
}

/// Expands one second-order case to 0-d, 1-d and 2-d inputs in f64.
#[macro_export]
macro_rules! gradgradcheck {
    ($name:ident, $n:expr, ($lo:expr, $hi:expr), |$xs:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            type T = f64;
            #[test]
            fn scalar() {
                common::check2::<T, _>(|$xs| $body, $n, &[], $lo, $hi);
            }
            #[test]
            fn vector() {
                common::check2::<T, _>(|$xs| $body, $n, &[4], $lo, $hi);
            }
            #[test]
            fn matrix() {
                common::check2::<T, _>(|$xs| $body, $n, &[2, 3], $lo, $hi);
            }
        }
    };
}

/// Expands one gradient-check case to 0-d, 1-d and 2-d inputs, in f64 and f32. In the body, `T`
/// is the element type (write constants as `2.0 as T`).
#[macro_export]
macro_rules! gradcheck {
    ($name:ident, $n:expr, ($lo:expr, $hi:expr), |$xs:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            mod f64 {
                #[allow(unused_imports)]
                use super::*;
                #[allow(dead_code)]
                type T = f64;
                #[test]
                fn scalar() {
                    common::check::<T, _>(|$xs| $body, $n, &[], $lo, $hi);
                }
                #[test]
                fn vector() {
                    common::check::<T, _>(|$xs| $body, $n, &[5], $lo, $hi);
                }
                #[test]
                fn matrix() {
                    common::check::<T, _>(|$xs| $body, $n, &[2, 3], $lo, $hi);
                }
            }
            mod f32 {
                #[allow(unused_imports)]
                use super::*;
                #[allow(dead_code)]
                type T = f32;
                #[test]
                fn scalar() {
                    common::check::<T, _>(|$xs| $body, $n, &[], $lo, $hi);
                }
                #[test]
                fn matrix() {
                    common::check::<T, _>(|$xs| $body, $n, &[2, 3], $lo, $hi);
                }
            }
        }
    };
}

/// One op's whole check in one line: [`gradcheck!`] (first order, f64 and f32) and
/// [`gradgradcheck!`] (second order), each on 0-d, 1-d and 2-d inputs.
#[macro_export]
macro_rules! opcheck {
    ($name:ident, $n:expr, ($lo:expr, $hi:expr), |$xs:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            gradcheck!(first_order, $n, ($lo, $hi), |$xs| $body);
            gradgradcheck!(second_order, $n, ($lo, $hi), |$xs| $body);
        }
    };
}

/// First- and second-order checks of `f` on inputs of the given shapes (one per input), values
/// in `[lo, hi)`, in `F`: the broadcasting cases of binary ops, and ops whose inputs differ.
pub fn check_shapes<F: Float, Fun>(f: Fun, shapes: &[&[usize]], lo: f64, hi: f64)
where
    Fun: for<'g> Fn(&[Var<'g, F>]) -> Var<'g, F>,
{
    for seed in [3, 11] {
        let inputs: Vec<ArrayD<F>> = (shapes.iter().enumerate())
            .map(|(k, s)| values(s, seed * 31 + k as u64, lo, hi))
            .collect();
        if let Err(e) = gradient_check_with(&f, &inputs, options::<F>()) {
            panic!("{F} {shapes:?} seed {seed}: {e}", F = F::DTYPE);
        }
        if let Err(e) = jvp_check_with(&f, &inputs, options::<F>()) {
            panic!(
                "forward mode, {F} {shapes:?} seed {seed}: {e}",
                F = F::DTYPE
            );
        }
        if let Err(e) = gradgrad_check_with(&f, &inputs, options::<F>()) {
            panic!(
                "second order, {F} {shapes:?} seed {seed}: {e}",
                F = F::DTYPE
            );
        }
    }
}

/// [`opcheck!`] plus the second order in f32; with `shapes`, also a case of inputs of different
/// shapes (broadcasting), in f64 and f32. The one-line check of every op of the tensor issue.
#[macro_export]
macro_rules! fullcheck {
    ($name:ident, $n:expr, ($lo:expr, $hi:expr), |$xs:ident| $body:expr $(, shapes $shapes:expr)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            opcheck!(base, $n, ($lo, $hi), |$xs| $body);
            mod f32_second_order {
                #[allow(unused_imports)]
                use super::*;
                #[allow(dead_code)]
                type T = f32;
                #[test]
                fn matrix() {
                    common::check2::<T, _>(|$xs| $body, $n, &[2, 3], $lo, $hi);
                }
            }
            $(
            mod shapes {
                #[allow(unused_imports)]
                use super::*;
                #[test]
                fn f64() {
                    #[allow(dead_code)]
                    type T = f64;
                    common::check_shapes::<T, _>(|$xs| $body, $shapes, $lo, $hi);
                }
                #[test]
                fn f32() {
                    #[allow(dead_code)]
                    type T = f32;
                    common::check_shapes::<T, _>(|$xs| $body, $shapes, $lo, $hi);
                }
            }
            )?
        }
    };
}

/// The checks of [`fullcheck!`] for an op that takes inputs of given shapes only (an index, an
/// axis): first and second order on those shapes, in f64 and f32.
#[macro_export]
macro_rules! shapecheck {
    ($name:ident, ($lo:expr, $hi:expr), |$xs:ident| $body:expr, shapes $shapes:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn f64() {
                #[allow(dead_code)]
                type T = f64;
                common::check_shapes::<T, _>(|$xs| $body, $shapes, $lo, $hi);
            }
            #[test]
            fn f32() {
                #[allow(dead_code)]
                type T = f32;
                common::check_shapes::<T, _>(|$xs| $body, $shapes, $lo, $hi);
            }
        }
    };
}
