//! Forward mode: one sweep over the tape in recording order, carrying a tangent for every
//! variable the seeded inputs reach (`ty = sum_k dy/dx_k tx_k`), where `backward` carries
//! cotangents the other way. The tape is already a topological order, so this is a plain loop.
//!
//! Each record's tangent comes from, in order:
//! - its local derivatives, when it is an op of numbers (they are on the tape: `Record::partials`);
//! - a built-in op's forward rule ([`Op::jvp`](crate::ops::Op), next to its backward rule);
//! - a [`Function`]'s own [`Function::jvp`], when it gives one;
//! - otherwise the function's backward: `J t` is the derivative in `u` of `<J^T u, t>`
//!   ([`derived_jvp`]).

use ndarray::{ArrayD, ArrayViewD};
use slotmap::SecondaryMap;
use smallvec::SmallVec;

use crate::arena::VarId;
use crate::backward::try_grad;
use crate::engine::Inside;
use crate::error::{Error, Result};
use crate::ops::{Val, broadcast_like, small};
use crate::tape::RecordOp;
use crate::{Float, Function, Graph, Var};

/// The tangents of `outputs` when the variables `seeds` move along their arrays (one forward
/// sweep); an output the seeds do not reach has a zero tangent. Each seed has its variable's
/// shape (the caller checks).
pub(crate) fn tangents<F: Float>(
    g: &Graph<F>,
    seeds: &[(VarId, ArrayD<F>)],
    outputs: &[VarId],
) -> Result<Vec<ArrayD<F>>> {
    F::tangents(Inside, g, seeds, outputs) // (compiled once for each element type: `Engine`)
}

/// [`tangents`]' body.
pub(crate) fn tangents_here<F: Float>(
    g: &Graph<F>,
    seeds: &[(VarId, ArrayD<F>)],
    outputs: &[VarId],
) -> Result<Vec<ArrayD<F>>> {
    let inner = g.read()?;
    let mut t: SecondaryMap<VarId, Val<'static, F>> =
        SecondaryMap::with_capacity(inner.nodes.capacity());
    for (id, a) in seeds {
        let seed = Val::from_array(a.clone());
        let seed = match t.remove(*id) {
            Some(earlier) => crate::ops::add(earlier, &seed), // one variable seeded twice
            None => seed,
        };
        t.insert(*id, seed);
    }
    let mut end = 0;
    for &y in outputs {
        let node = inner.nodes.get(y).ok_or(Error::StaleVar)?;
        end = end.max(node.creator().map_or(0, |c| c as usize + 1));
    }
    for rec in inner.tape.iter().take(end) {
        let (ins, outs) = (rec.inputs(), rec.outputs());
        let [d0, d1] = rec.partials;
        if !(d0.is_nan() && d1.is_nan()) {
            // an op of numbers, its derivatives recorded: a multiply-add per input
            let (mut ty, mut reached) = (F::zero(), false);
            for (&x, d) in ins.iter().zip([d0, d1]) {
                if let Some(&Val::S(tx)) = t.get(x) {
                    (ty, reached) = (ty + d * tx, true);
                }
            }
            if reached {
                t.insert(outs[0], Val::S(ty));
            }
            continue;
        }
        if !ins.iter().any(|&x| t.contains_key(x)) {
            continue; // nothing seeded reaches this record
        }
        let tys: SmallVec<[Option<Val<'static, F>>; 2]> = {
            let xs: SmallVec<[Val<'_, F>; 2]> = small(ins.iter().map(|&id| inner.val(id)));
            let txs: SmallVec<[Option<Val<'_, F>>; 2]> =
                small(ins.iter().map(|&id| t.get(id).map(borrowed)));
            match &*rec.op {
                RecordOp::Builtin(op) => {
                    let y = inner.val(outs[0]);
                    let ty = op.jvp(&xs, &y, &txs);
                    small([ty.map(|ty| broadcast_like(&ty, &y).into_owned())])
                }
                &RecordOp::Function(k) => {
                    let f = inner.tape.function(k);
                    let ys: Vec<Val<'_, F>> = outs.iter().map(|&id| inner.val(id)).collect();
                    let xvs: Vec<_> = xs.iter().map(Val::view).collect();
                    let yvs: Vec<_> = ys.iter().map(Val::view).collect();
                    // (a function's tangents are arrays, contiguous where they were filled)
                    let txs: Vec<_> = txs.into_iter().map(|t| t.map(Val::materialized)).collect();
                    let tvs: Vec<_> = txs.iter().map(|t| t.as_ref().map(Val::view)).collect();
                    let tys = function_jvp(f, &xvs, &yvs, &tvs)?;
                    tys.into_iter().map(|ty| ty.map(Val::from_array)).collect()
                }
            }
        };
        for (&y, ty) in outs.iter().zip(tys) {
            if let Some(ty) = ty {
                t.insert(y, ty);
            }
        }
    }
    let out = outputs.iter().map(|&y| match t.get(y) {
        Some(ty) => ty.view().to_owned(),
        None => ArrayD::zeros(inner.view_shape(y)),
    });
    Ok(out.collect())
}

/// A tangent of the table, borrowed for a rule.
fn borrowed<'a, F: Float>(v: &'a Val<'static, F>) -> Val<'a, F> {
    match v {
        &Val::S(s) => Val::S(s),
        &Val::R(a) => Val::R(a),
        Val::A(a) => Val::R(a),
        Val::Fill(f) => Val::Fill(f.clone()),
    }
}

/// A function's output tangents: its own forward rule if it has one (checked), else derived
/// from its backward.
fn function_jvp<F: Float>(
    f: &dyn Function<F>,
    xs: &[ArrayViewD<'_, F>],
    ys: &[ArrayViewD<'_, F>],
    txs: &[Option<ArrayViewD<'_, F>>],
) -> Result<Vec<Option<ArrayD<F>>>> {
    let invalid = |reason: String| Error::InvalidArgument {
        op: f.name(),
        reason,
    };
    let Some(tys) = f.jvp(xs, ys, txs) else {
        return derived_jvp(f, xs, ys, txs);
    };
    let tys = tys.map_err(invalid)?;
    if tys.len() != ys.len() {
        let reason = format!("jvp gave {} tangents for {} outputs", tys.len(), ys.len());
        return Err(invalid(reason));
    }
    for (ty, y) in tys.iter().zip(ys) {
        if let Some(ty) = ty.as_ref().filter(|t| t.shape() != y.shape()) {
            let reason = format!(
                "jvp gave a tangent of shape {:?} for an output of shape {:?}",
                ty.shape(),
                y.shape()
            );
            return Err(invalid(reason));
        }
    }
    Ok(tys)
}

/// `J t` from a function's backward alone: with `u` free, `s(u) = <J^T u, t>` is linear in `u`
/// and its gradient is `J t`. Runs on a scratch graph holding copies of the inputs and outputs,
/// so the function's backward works as it does in any reverse pass.
fn derived_jvp<F: Float>(
    f: &dyn Function<F>,
    xs: &[ArrayViewD<'_, F>],
    ys: &[ArrayViewD<'_, F>],
    txs: &[Option<ArrayViewD<'_, F>>],
) -> Result<Vec<Option<ArrayD<F>>>> {
    let g: Graph<F> = Graph::new();
    // an input with a tangent is a variable: a backward may skip a constant's gradient
    let xv: Vec<Var<'_, F>> = (xs.iter().zip(txs))
        .map(|(x, t)| match t {
            Some(_) => g.var(x.to_owned()),
            None => g.constant(x.to_owned()),
        })
        .collect();
    let yv: Vec<Var<'_, F>> = ys.iter().map(|y| g.constant(y.to_owned())).collect();
    let us: Vec<Var<'_, F>> = ys.iter().map(|y| g.var(ArrayD::zeros(y.shape()))).collect();
    let gxs = f.backward(&xv, &yv, &us)?;
    let mut s: Option<Var<'_, F>> = None;
    for (gx, t) in gxs.iter().zip(txs) {
        if let (Some(gx), Some(t)) = (gx, t) {
            let term = gx.try_mul(t.to_owned())?.try_sum()?;
            s = Some(match s {
                Some(acc) => acc.try_add(term)?,
                None => term,
            });
        }
    }
    let Some(s) = s else {
        return Ok(vec![None; ys.len()]);
    };
    try_grad(&[s], &us, false)?
        .iter()
        .map(|ty| Ok(Some(ty.try_data()?)))
        .collect()
}
