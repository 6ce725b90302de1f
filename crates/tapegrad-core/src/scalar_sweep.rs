//! The backward sweep specialised to graphs whose every value is a number: the rules already
//! ran when each op was recorded, so a record costs a multiply-add per input.

use slotmap::{Key, SlotMap};

use crate::arena::{CONST, Grad, Grads, Inner, Node, VarId};
use crate::error::{Error, Result};
use crate::tape::Args;
use crate::{Float, Graph};

/// [`sweep`](crate::sweep::sweep) for a graph whose every value is a number (no arrays): the same loop, but the rules
/// already ran, when each op was recorded (with `gy = 1`: the op's local derivatives,
/// [`Record::partials`]), so a record costs a multiply-add per input. One borrow of the arena for
/// the whole pass, the pending gradients of op results in a dense table by record, those of
/// leaves added to their `.grad` as they come (as DeZero's `x.grad = x.grad + gx`). Deep scalar
/// chains and scalar losses, the common deep graphs, take this path; a graph whose data changed
/// after it was recorded takes the general one, which checks every record it reaches.
pub(crate) fn sweep_scalars<F: Float>(
    graph: &Graph<F>,
    y: VarId,
    seed: F,
    retain: bool,
) -> Result<()> {
    let detect = graph.detect_anomaly();
    let mut inner = graph.inner.borrow_mut();
    let Inner {
        nodes,
        grads,
        tape,
        pending,
        retained,
        ..
    } = &mut *inner;
    // Gradients of op results kept by an earlier `retain_grad` pass are freed as the sweep
    // passes them (without such a pass there are none to look for).
    let free_results = !retain && *retained;
    // With anomaly detection on, leaves' gradients wait for the pass to succeed: a pass stopped
    // by an anomaly leaves every stored gradient as it found it.
    let mut deferred: Vec<(VarId, F)> = Vec::new();
    let start = nodes[y].creator();
    pending.clear();
    pending.resize(start.map_or(0, |s| s as usize + 1), None);
    match start {
        Some(s) => pending[s as usize] = Some(seed),
        None if nodes[y].is_const() => {} // (a constant seed keeps nothing)
        None => add_to_stored(nodes, grads, y, seed),
    }
    for i in (0..pending.len()).rev() {
        let Some(gy) = pending[i].take() else {
            continue; // not an ancestor of y
        };
        let rec = &tape[i];
        // (only records of one output, with their arguments inline, reach this sweep)
        let Args::Inline(xs, output) = &*rec.args else {
            continue;
        };
        if retain {
            add_to_stored(nodes, grads, *output, gy);
        } else if free_results {
            grads.remove(*output);
        }
        if !rec.op.passes_gradient() {
            continue; // (sign and the like: their rules give no gradient)
        }
        // The rule was run when the op was recorded: `gx = gy * dy/dx`, for each input.
        for (&x, &d) in xs.iter().zip(&rec.partials) {
            if x.is_null() {
                break; // a one-input op
            }
            let creator = nodes[x].raw_creator();
            if creator == CONST {
                continue;
            }
            let gx = gy * d;
            if detect && !gx.is_finite() {
                pending.clear(); // empty between passes
                return Err(Error::Anomaly {
                    op: rec.op.name(),
                    phase: "backward",
                    position: i,
                });
            }
            if creator < CONST {
                let acc = &mut pending[creator as usize];
                *acc = Some(acc.map_or(gx, |a| a + gx));
            } else if detect {
                deferred.push((x, gx));
            } else {
                add_to_stored(nodes, grads, x, gx); // a leaf or a parameter
            }
        }
    }
    for (x, gx) in deferred {
        add_to_stored(nodes, grads, x, gx);
    }
    Ok(())
}

/// `v.grad = v.grad + g` for a 0-d variable of an all-scalar graph.
#[inline(always)]
fn add_to_stored<F: Float>(nodes: &SlotMap<VarId, Node<F>>, grads: &mut Grads<F>, id: VarId, g: F) {
    match grads.get_mut(id) {
        Some(Grad::Scalar(s)) => *s += g,
        None => {
            grads.insert(id, Grad::Scalar(g));
        }
        Some(_) => add_to_other(nodes, grads, id, g),
    }
}

/// [`add_to_stored`] for a gradient kept as an array or as a variable.
#[cold]
fn add_to_other<F: Float>(nodes: &SlotMap<VarId, Node<F>>, grads: &mut Grads<F>, id: VarId, g: F) {
    let sum = match grads.get_mut(id) {
        Some(Grad::Array(a)) => {
            **a += g; // in place: `grad()` hands out copies, never this buffer
            return;
        }
        // From an earlier create_graph pass; a constant from now on, as in `ArrayMode::store`.
        Some(&mut Grad::Var(v)) => nodes[v].scalar() + g,
        Some(&mut Grad::Scalar(s)) => s + g,
        None => g,
    };
    grads.insert(id, Grad::Scalar(sum));
}
