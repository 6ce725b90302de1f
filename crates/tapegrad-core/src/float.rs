//! `Float`: the element types a graph can hold (`f32` and `f64`).

use std::fmt::{Debug, Display};

/// An element type of a [`Graph`](crate::Graph): `f32` or `f64` (no other type can implement it).
///
/// ```
/// use tapegrad_core::Float;
/// assert_eq!(<f32 as Float>::DTYPE, "f32");
/// assert_eq!(<f64 as Float>::from_f64(0.5), 0.5);
/// ```
pub trait Float:
    crate::engine::Engine
    + num_traits::Float
    + ndarray::ScalarOperand
    + ndarray::LinalgScalar
    + std::ops::AddAssign
    + std::iter::Sum
    + Display
    + Debug
    + Default
    + Send
    + Sync
    + 'static
{
    /// The numpy name of the type: `"f32"` or `"f64"`.
    const DTYPE: &'static str;
    /// Converts an `f64` constant (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Widens (or keeps) the value as an `f64`.
    fn to_f64(self) -> f64;
    /// The error function (the `libm` crate's `erf`/`erff`).
    fn erf(self) -> Self;
    /// Rounds half-way cases to the even neighbour, as numpy and PyTorch do (`2.5 -> 2`).
    fn round_even(self) -> Self;
    /// `e^x` as the `exp` and `sigmoid` ops compute it. For `f32`, with no branch and no library
    /// call, so that a loop over it vectorises, within 1 ulp (as PyTorch's vectorised `exp`); for
    /// `f64`, `f64::exp`.
    ///
    /// ```
    /// use tapegrad_core::Float;
    /// assert_eq!(1.0f64.exp_op(), 1f64.exp());
    /// assert!((1.0f32.exp_op() - std::f32::consts::E).abs() <= std::f32::consts::E * f32::EPSILON);
    /// assert_eq!(100.0f32.exp_op(), f32::INFINITY);
    /// ```
    fn exp_op(self) -> Self;
    /// `e^x` as the `exp` and `sigmoid` ops compute it on arrays of at least 2^14 elements: with
    /// no branch and no library call, so that a loop over it vectorises, within 1 ulp of
    /// [`Float::exp_op`] (as numpy's and PyTorch's vectorised loops are of libm's `exp`). For
    /// `f32` it is `exp_op`. Shorter arrays and numbers take `exp_op`, so that they match the
    /// standard library to the bit.
    ///
    /// ```
    /// use tapegrad_core::Float;
    /// let e = std::f64::consts::E;
    /// assert!((1.0f64.exp_array() - e).abs() <= e * f64::EPSILON);
    /// assert_eq!(710.0f64.exp_array(), f64::INFINITY);
    /// assert_eq!(0.5f32.exp_array(), 0.5f32.exp_op());
    /// ```
    fn exp_array(self) -> Self {
        self.exp_op()
    }
    /// `tanh x` as the `tanh` op computes it: for `f32` with no branch and no library call, so
    /// that a loop over it vectorises, within 2 ulp; for `f64`, `f64::tanh`.
    ///
    /// ```
    /// use tapegrad_core::Float;
    /// assert_eq!(0.5f64.tanh_op(), 0.5f64.tanh());
    /// assert!((0.5f32.tanh_op() - 0.5f32.tanh()).abs() <= 2.0 * f32::EPSILON);
    /// assert_eq!(100.0f32.tanh_op(), 1.0);
    /// ```
    fn tanh_op(self) -> Self;
}

impl Float for f64 {
    const DTYPE: &'static str = "f64";
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn round_even(self) -> Self {
        self.round_ties_even()
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn exp_op(self) -> Self {
        self.exp()
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn exp_array(self) -> Self {
        crate::simd::exp_f64(self)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn tanh_op(self) -> Self {
        self.tanh()
    }
}

impl Float for f32 {
    const DTYPE: &'static str = "f32";
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn erf(self) -> Self {
        libm::erff(self)
    }
    fn round_even(self) -> Self {
        self.round_ties_even()
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn exp_op(self) -> Self {
        crate::simd::exp_f32(self)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn tanh_op(self) -> Self {
        crate::simd::tanh_f32(self)
    }
}
