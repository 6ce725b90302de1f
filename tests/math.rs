//! Gradient checks of ops/math.rs: `powf square exp`, alone and composed.

mod common;

gradcheck!(powf_integer, 1, (-2.0, 2.0), |xs| xs[0].powf(3.0 as T));
gradcheck!(powf_fractional, 1, (0.5, 2.0), |xs| xs[0].powf(1.5 as T));
gradcheck!(powf_negative, 1, (0.5, 2.0), |xs| xs[0].powf(-2.0 as T));
gradcheck!(square, 1, (-2.0, 2.0), |xs| xs[0].square());
gradcheck!(exp, 1, (-2.0, 2.0), |xs| xs[0].exp());
gradcheck!(exp_of_square, 1, (-1.0, 1.0), |xs| xs[0].square().exp());
gradcheck!(rosenbrock, 2, (-1.5, 1.5), |xs| {
    (xs[1] - xs[0].square()).square() * 100.0 as T + (xs[0] - 1.0 as T).square()
});
