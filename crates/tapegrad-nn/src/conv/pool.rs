//! Max pooling's reduction: the maximum of each window, whose gradient goes to the window's
//! first maximum, as PyTorch's `max_pool2d` (`max_axis` shares it between tied maxima).

use ndarray::{ArrayD, ArrayViewD, Axis, Zip};
use tapegrad_core::{Float, Function, Result, Var};

/// The maximum over axis 2 of window columns `[n, c, k, l]` (NaN counting as the maximum).
pub(super) struct WindowMax;

impl<F: Float> Function<F> for WindowMax {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn forward(&self, xs: &[ArrayViewD<'_, F>]) -> std::result::Result<Vec<ArrayD<F>>, String> {
        let x = &xs[0];
        let mut y = x.index_axis(Axis(2), 0).to_owned();
        for j in 1..x.len_of(Axis(2)) {
            Zip::from(&mut y)
                .and(x.index_axis(Axis(2), j))
                .for_each(|m, &v| {
                    if v > *m || v.is_nan() && !m.is_nan() {
                        *m = v;
                    }
                });
        }
        Ok(vec![y])
    }

    // d y / d x = 1 at each window's first maximum (in row order), 0 elsewhere
    fn backward<'g>(
        &self,
        xs: &[Var<'g, F>],
        ys: &[Var<'g, F>],
        gys: &[Var<'g, F>],
    ) -> Result<Vec<Option<Var<'g, F>>>> {
        let y = ys[0].try_data()?;
        let first = xs[0].try_with_data(|x| {
            let mut mask = ArrayD::<F>::zeros(x.raw_dim());
            let mut taken = y.map(|_| false);
            for j in 0..x.len_of(Axis(2)) {
                Zip::from(mask.index_axis_mut(Axis(2), j))
                    .and(x.index_axis(Axis(2), j))
                    .and(&y)
                    .and(&mut taken)
                    .for_each(|m, &v, &y, taken| {
                        if !*taken && (v == y || v.is_nan() && y.is_nan()) {
                            (*m, *taken) = (F::one(), true);
                        }
                    });
            }
            mask
        })?;
        let first = xs[0].graph().constant(first);
        Ok(vec![Some(gys[0].try_unsqueeze(2)?.try_mul(first)?)])
    }
}
