//! The two [`Mode`]s of the sweep: gradients as values (arrays, or numbers for 0-d variables;
//! nothing recorded) and gradients as recorded variables (`create_graph`).

use ndarray::ArrayD;
use smallvec::SmallVec;

use super::Mode;
use crate::arena::{Data, Grad, LEAF, VarId};
use crate::buffer;
use crate::error::Result;
use crate::function::{Function, run_backward};
use crate::ops::{self, Grads, Op, Val};
use crate::{Float, Graph, Var};

/// Gradients as values (numbers for 0-d variables, arrays otherwise); nothing is recorded.
pub(crate) struct ArrayMode<'g, F: Float>(pub(crate) &'g Graph<F>);

impl<F: Float> Mode<F> for ArrayMode<'_, F> {
    type G = Val<'static, F>;
    const RECORDS: bool = false;

    fn graph(&self) -> &Graph<F> {
        self.0
    }

    fn filled(&self, id: VarId, v: F) -> Val<'static, F> {
        Val::filled(self.0.inner.borrow().val(id).shape(), v)
    }

    fn lift(&self, a: ArrayD<F>) -> Val<'static, F> {
        Val::from_array(a)
    }

    fn duplicate(&self, g: &Val<'static, F>) -> Val<'static, F> {
        g.clone()
    }

    fn accumulate(&self, acc: Val<'static, F>, g: Val<'static, F>) -> Val<'static, F> {
        match (acc, g) {
            (Val::S(a), Val::S(b)) => Val::S(a + b),
            // A fill has no buffer: the sum goes into `g`'s (IEEE addition commutes).
            (acc @ Val::Fill(_), g @ Val::A(_)) => ops::add(g, &acc),
            // In place: nobody else can see `acc`.
            (acc, g) => {
                let sum = ops::add(acc, &g);
                g.recycle();
                sum
            }
        }
    }

    fn rule(
        &self,
        op: &Op<F>,
        inputs: &[VarId],
        output: VarId,
        gy: Val<'static, F>,
        needs: &[bool],
    ) -> Grads<Val<'static, F>> {
        let inner = self.0.inner.borrow();
        let xs: SmallVec<[_; 2]> = ops::small(inputs.iter().map(|&id| inner.val(id)));
        let y = inner.val(output);
        // the `'static` gradient coerces to the arena borrow's lifetime: one lifetime for the rule
        let gxs = op.backward(&xs, &y, gy, needs);
        let mut out = [None, None];
        for (((slot, gx), x), &need) in out.iter_mut().zip(gxs).zip(&xs).zip(needs) {
            *slot = gx.filter(|_| need).map(|g| {
                let g = ops::unbroadcast(g, x).into_owned();
                // After un-broadcasting a gradient has its input's shape; anything else is a bug
                // here, and a loud one beats a wrong number.
                assert_eq!(g.shape(), x.shape(), "tapegrad bug: {op:?} gradient");
                g
            });
        }
        out
    }

    fn function(
        &self,
        f: &dyn Function<F>,
        inputs: &[VarId],
        outputs: &[VarId],
        gys: SmallVec<[Option<Val<'static, F>>; 2]>,
    ) -> Result<SmallVec<[Option<Val<'static, F>>; 2]>> {
        // Everything made from here on is temporary, the gradients given to `f` first.
        self.0.inner.borrow_mut().scratch = Some(Vec::new());
        let lift = |g: Val<'static, F>| {
            let mut inner = self.0.inner.borrow_mut();
            let data = match g {
                Val::S(s) => Data::Scalar(s),
                other => inner.store(other.into_array()),
            };
            inner.insert(data, LEAF)
        };
        let gys = gys.into_iter().map(|g| g.map(lift)).collect();
        run_backward(
            self.0,
            f,
            inputs,
            outputs,
            gys,
            false,
            |inner, id, temporary| {
                match inner.nodes[id].data() {
                    Data::Scalar(s) => Val::S(s),
                    // a temporary's array is moved out: it is about to be removed
                    Data::Array(k) if temporary => {
                        Val::A(Box::new(std::mem::take(&mut inner.arrays[k as usize])))
                    }
                    Data::Array(k) => Val::A(Box::new(buffer::copy(&inner.arrays[k as usize]))),
                }
            },
        )
    }

    fn store(&self, id: VarId, g: Val<'static, F>) {
        let mut inner = self.0.inner.borrow_mut();
        let old = inner.grads.remove(id);
        let new = match (old, g) {
            (None, Val::S(s)) => Grad::Scalar(s),
            (None, g) => Grad::Array(Box::new(g.into_array())),
            (Some(Grad::Scalar(a)), Val::S(b)) => Grad::Scalar(a + b),
            // In place: `grad()` hands out copies, never this buffer.
            (Some(Grad::Array(mut a)), g) => {
                *a += &g.view();
                g.recycle();
                Grad::Array(a)
            }
            // A constant now, if a variable: this pass did not record how it was computed.
            (Some(old), g) => Grad::Array(Box::new(inner.grad_array(&old) + &g.view())),
        };
        inner.grads.insert(id, new);
    }

    fn is_finite(&self, g: &Val<'static, F>) -> bool {
        match g {
            Val::S(s) => s.is_finite(),
            other => other.view().iter().all(|v| v.is_finite()),
        }
    }
}

/// Gradients as variables; every step is recorded (`create_graph`).
pub(crate) struct VarMode<'g, F: Float>(pub(crate) &'g Graph<F>);

impl<F: Float> Mode<F> for VarMode<'_, F> {
    type G = VarId;
    const RECORDS: bool = true;

    fn graph(&self) -> &Graph<F> {
        self.0
    }

    fn filled(&self, id: VarId, v: F) -> VarId {
        let shape = self.0.inner.borrow().val(id).shape().to_vec();
        self.0.leaf(ArrayD::from_elem(shape, v)).id()
    }

    fn lift(&self, a: ArrayD<F>) -> VarId {
        self.0.leaf(a).id()
    }

    fn duplicate(&self, g: &VarId) -> VarId {
        *g // variables are immutable: sharing is free
    }

    fn accumulate(&self, acc: VarId, g: VarId) -> VarId {
        let (a, b) = (Var::from_id(self.0, acc), Var::from_id(self.0, g));
        ops::add(a, &b).id()
    }

    fn rule(
        &self,
        op: &Op<F>,
        inputs: &[VarId],
        output: VarId,
        gy: VarId,
        needs: &[bool],
    ) -> Grads<VarId> {
        let var = |id: &VarId| Var::from_id(self.0, *id);
        let xs: SmallVec<[_; 2]> = inputs.iter().map(var).collect();
        let [g0, g1] = op.backward(&xs, &var(&output), var(&gy), needs);
        let finish = |g: Option<Var<'_, F>>, k: usize| {
            g.filter(|_| needs[k])
                .map(|g| ops::unbroadcast(g, &xs[k]).id())
        };
        [finish(g0, 0), finish(g1, 1)]
    }

    fn function(
        &self,
        f: &dyn Function<F>,
        inputs: &[VarId],
        outputs: &[VarId],
        gys: SmallVec<[Option<VarId>; 2]>,
    ) -> Result<SmallVec<[Option<VarId>; 2]>> {
        run_backward(self.0, f, inputs, outputs, gys, true, |_, id, _| id)
    }

    fn store(&self, id: VarId, g: VarId) {
        let old = self.0.inner.borrow_mut().grads.remove(id);
        let sum = match old {
            None => g,
            Some(Grad::Var(v)) => self.accumulate(v, g),
            Some(Grad::Array(a)) => {
                let a = self.0.leaf(*a).id();
                self.accumulate(a, g)
            }
            Some(Grad::Scalar(s)) => {
                let a = self.0.scalar(s).id();
                self.accumulate(a, g)
            }
        };
        self.0.inner.borrow_mut().grads.insert(id, Grad::Var(sum));
    }

    fn is_finite(&self, g: &VarId) -> bool {
        self.0.inner.borrow().view(*g).iter().all(|v| v.is_finite())
    }
}
