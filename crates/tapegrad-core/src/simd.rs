//! Loops the compiler vectorises, compiled for the vector instructions of the CPU they run on.
//!
//! Rust compiles for a baseline CPU (SSE2 on x86-64). [`dispatch`] compiles a closure also for
//! AVX2 and AVX-512 (through `pulp`, already a dependency of `gemm`) and runs the widest version
//! the CPU has: the unary elementwise kernels run their loops through it. Vector instructions do not
//! change an elementwise result, so every CPU computes the same bits. A loop vectorises only if
//! its body has no branch and no library call: `exp_f32` and `exp_f64` are `e^x` written that
//! way.

/// Runs `f`, compiled for the widest vector instructions this CPU has, chosen at run time.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `e^x` in `f32` within 1 ulp, with no branch and no call: Cephes' `expf`. `x = n ln2 + r`,
/// `|r| <= ln2 / 2`, `e^r` by a degree-7 polynomial, `2^n` built from its bits in two halves so
/// that subnormal results come out right.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const SHIFT: f32 = 12582912.0; // 1.5 * 2^23: adding it rounds to an integer in the low bits
    const LN2_HI: f32 = 355.0 / 512.0; // ln 2 = LN2_HI + LN2_LO, `n * LN2_HI` exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Beyond these bounds e^x is inf or 0; NaN stays NaN.
    let x = x.clamp(-104.0, 89.0);
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let nf = t - SHIFT; // round(x / ln 2)
    let r = x - nf * LN2_HI - nf * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * (r * r) + r + 1.0;
    let n = t.to_bits().wrapping_sub(SHIFT.to_bits()) as i32;
    let half = n >> 1;
    let scale = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    e_r * scale(half) * scale(n - half)
}

/// `e^x` in `f64` within 1 ulp of libm's, with no branch and no call. `x = n ln2 + r`,
/// `|r| <= ln2 / 2` (Cephes' split of ln 2), `e^r = 1 + r + r^2 p(r)` by a Taylor polynomial, `2^n`
/// built from its bits in two halves as in [`exp_f32`].
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn exp_f64(x: f64) -> f64 {
    const SHIFT: f64 = 6755399441055744.0; // 1.5 * 2^52: adding it rounds to an integer in the low bits
    const LN2_HI: f64 = 6.931_457_519_531_25e-1; // ln 2 = LN2_HI + LN2_LO, `n * LN2_HI` exact
    const LN2_LO: f64 = 1.428_606_820_309_417_3e-6;
    // (e^r - 1 - r) / r^2 by its Taylor series to r^11 / 13!: the rest is below 2^-60 of e^r
    const C: [f64; 12] = [
        1.0 / 6227020800.0,
        1.0 / 479001600.0,
        1.0 / 39916800.0,
        1.0 / 3628800.0,
        1.0 / 362880.0,
        1.0 / 40320.0,
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    // Beyond these bounds e^x is inf or 0; NaN stays NaN.
    let x = x.clamp(-746.0, 710.0);
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let nf = t - SHIFT; // round(x / ln 2)
    let r = x - nf * LN2_HI - nf * LN2_LO;
    let p = C.iter().fold(0.0, |p, &c| p * r + c);
    let e_r = p * (r * r) + r + 1.0;
    let n = t.to_bits().wrapping_sub(SHIFT.to_bits()) as i64;
    let half = n >> 1;
    let scale = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    e_r * scale(half) * scale(n - half)
}

/// `tanh x` in `f32` within 2 ulp, with no branch and no call: Cephes' `tanhf`. An odd
/// polynomial below `|x| = 0.625`, `1 - 2 / (e^(2|x|) + 1)` above it (`e^(2|x|)` by
/// [`exp_f32`]): both are computed and one is chosen, so that a loop over it vectorises.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = a * a;
    let p = (((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
        - 3.333_328e-1;
    let small = p * z * a + a;
    let large = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
    // (on |x|, the sign put back last: tanh is odd, and -0 stays -0)
    (if a < 0.625 { small } else { large }).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::exp_f32;

    /// The distance from `got` to the exact `want`, in units of the last place of `want` as an
    /// `f32` (0 when `got` is `want` rounded, infinity included).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if got == w {
            return 0.0;
        }
        let ulp = f32::from_bits(w.abs().to_bits() + 1) - w.abs();
        (got as f64 - want).abs() / ulp as f64
    }

    /// Every 997th `f32` from -104 to 89, against `f64::exp` rounded: within 1 ulp, and the
    /// limits (overflow, underflow, subnormals, infinities, NaN) as `f32::exp` gives them.
    #[test]
    fn exp_f32_is_within_one_ulp() {
        let (mut worst, mut count) = (0.0f64, 0);
        let mut bits = (-104.0f32).to_bits();
        loop {
            let x = f32::from_bits(bits);
            let e = ulps(exp_f32(x), (x as f64).exp());
            assert!(
                e <= 1.0,
                "exp({x}) = {} is {e} ulp from {}",
                exp_f32(x),
                x.exp()
            );
            worst = worst.max(e);
            count += 1;
            // Down through the negatives to -0, then up through the positives to 89.
            bits = match x.is_sign_negative() {
                true if bits > 0x8000_0000 + 997 => bits - 997,
                true => 0,
                false if x < 89.0 => bits + 997,
                false => break,
            };
        }
        assert!(
            count > 2_000_000 && worst > 0.5,
            "{count} values, worst {worst} ulp"
        );
        for x in [
            88.73, 88.8, 100.0, -87.5, -100.0, -103.9, -104.5, 0.0, -0.0, 1e-30,
        ] {
            assert_eq!(exp_f32(x), x.exp(), "exp({x})");
        }
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }
}

#[cfg(test)]
mod tanh_tests {
    use super::tanh_f32;

    /// Every 997th `f32` from -20 to 20 against `f64::tanh` rounded: within 2 ulp (Cephes'
    /// bound); the limits and the sign of zero as `f32::tanh` gives them.
    #[test]
    fn tanh_f32_is_within_two_ulp() {
        let (mut worst, mut count) = (0.0f64, 0);
        let mut bits = (-20.0f32).to_bits();
        loop {
            let x = f32::from_bits(bits);
            let want = (x as f64).tanh();
            let w = want as f32;
            let got = tanh_f32(x);
            let ulp = f32::from_bits(w.abs().to_bits() + 1) - w.abs();
            let e = if got == w {
                0.0
            } else {
                (got as f64 - want).abs() / ulp as f64
            };
            assert!(e <= 2.0, "tanh({x}) = {got} is {e} ulp from {}", x.tanh());
            worst = worst.max(e);
            count += 1;
            bits = match x.is_sign_negative() {
                true if bits > 0x8000_0000 + 997 => bits - 997,
                true => 0,
                false if x < 20.0 => bits + 997,
                false => break,
            };
        }
        assert!(
            count > 2_000_000 && worst > 0.5,
            "{count} values, worst {worst} ulp"
        );
        for x in [0.0f32, -0.0, 1e-30, -1e-30, 9.0, 50.0, -50.0, 1e30, -1e30] {
            let y = tanh_f32(x);
            assert!(
                y == x.tanh() && y.is_sign_negative() == x.is_sign_negative(),
                "tanh({x}) = {y}"
            );
        }
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}

#[cfg(test)]
mod exp_f64_tests {
    use super::exp_f64;

    /// The distance from `got` to `want` (`f64::exp`'s), in units of the last place of `want`.
    fn ulps(got: f64, want: f64) -> f64 {
        if got == want {
            return 0.0;
        }
        let ulp = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
        (got - want).abs() / ulp
    }

    /// Two million points evenly from -745 to 709.7, and every power of two from 2^-60 to 2^-1
    /// and its negative, against `f64::exp`: within 1 ulp of it; the limits (overflow, underflow,
    /// subnormals, infinities, NaN) as `f64::exp` gives them.
    #[test]
    fn exp_f64_is_within_one_ulp_of_libm() {
        let n = 2_000_000;
        let (lo, hi) = (-745.0, 709.7);
        let small = (1..=60).flat_map(|k| [0.5f64.powi(k), -(0.5f64.powi(k))]);
        let even = (0..=n).map(|i| lo + (hi - lo) * i as f64 / n as f64);
        let mut worst = 0.0f64;
        for x in even.chain(small) {
            let want = x.exp();
            let e = if want < f64::MIN_POSITIVE {
                // subnormal results: one rounding, so within one subnormal step
                (exp_f64(x) - want).abs() / 4.9e-324
            } else {
                ulps(exp_f64(x), want)
            };
            assert!(e <= 1.0, "exp({x}) = {} is {e} ulp from {want}", exp_f64(x));
            worst = worst.max(e);
        }
        assert!(
            worst > 0.5,
            "worst {worst} ulp: the test reaches rounding differences"
        );
        for x in [
            709.78, 710.0, 1000.0, -745.2, -746.0, -1000.0, 0.0, -0.0, 1e-300,
        ] {
            assert_eq!(exp_f64(x), x.exp(), "exp({x})");
        }
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert!(exp_f64(f64::NAN).is_nan());
    }
}
