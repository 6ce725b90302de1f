//! The backward sweep specialised to graphs whose every value is a number: the rules already
//! ran when each op was recorded, so a record costs a multiply-add per input.

use slotmap::SlotMap;

use crate::arena::{CONST, Grad, Grads, Inner, Node, VarId};
use crate::error::{Error, Result};
use crate::tape::{Args, Tape, prefetch_below};
use crate::{Float, Graph};

/// [`sweep`](crate::sweep::sweep) for a graph whose every value is a number (no arrays): the same loop, but the rules
/// already ran, when each op was recorded (with `gy = 1`: the op's local derivatives,
/// [`Record::partials`]), so a record costs a multiply-add per input. One borrow of the arena for
/// the whole pass, the pending gradients of op results in a dense table by record, those of
/// leaves added to their `.grad` as they come (as DeZero's `x.grad = x.grad + gx`). Deep scalar
/// chains and scalar losses, the common deep graphs, take this path; a graph whose data changed
/// after it was recorded takes the general one, which checks every record it reaches.
#[cfg_attr(not(debug_assertions), inline(always))] // (into its one caller)
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
    pending.reset(start.map_or(0, |s| s as usize + 1));
    match start {
        Some(s) => pending.add(s as usize, seed),
        None if nodes[y].is_const() => {} // (a constant seed keeps nothing)
        None => add_to_stored(nodes, grads, y, seed),
    }
    let flags = Flags {
        retain,
        free_results,
        detect,
    };
    let mut pass = Pass {
        nodes,
        grads,
        table: pending.table(),
        deferred: &mut deferred,
    };
    // The common pass, compiled on its own: no result to keep or free, no anomaly to look for.
    let swept = match flags {
        Flags {
            retain: false,
            free_results: false,
            detect: false,
        } => pass.run::<true>(tape, flags),
        _ => pass.run::<false>(tape, flags),
    };
    pending.clear(); // empty between passes
    swept?;
    for (x, gx) in deferred {
        add_to_stored(nodes, grads, x, gx);
    }
    Ok(())
}

/// What a pass does besides passing gradients down.
#[derive(Clone, Copy)]
struct Flags {
    /// Keep each op result's gradient (`retain_grad`).
    retain: bool,
    /// Free the gradients of op results an earlier `retain_grad` pass kept.
    free_results: bool,
    /// Stop at the first gradient that is not finite.
    detect: bool,
}

/// The state one pass of the sweep writes.
struct Pass<'a, F: Float> {
    nodes: &'a SlotMap<VarId, Node<F>>,
    grads: &'a mut Grads<F>,
    table: Table<'a, F>,
    /// Leaves' gradients held back until the pass succeeds (with `detect`).
    deferred: &'a mut Vec<(VarId, F)>,
}

impl<F: Float> Pass<'_, F> {
    /// Sweeps the records below the seed's, last first. `PLAIN`: every flag is false, and the
    /// loop is compiled without their tests.
    fn run<const PLAIN: bool>(&mut self, tape: &Tape<F>, flags: Flags) -> Result<()> {
        let retain = !PLAIN && flags.retain;
        let free_results = !PLAIN && flags.free_results;
        let detect = !PLAIN && flags.detect;
        for (base, run) in tape.runs_before(self.table.len()) {
            for (k, rec) in run.iter().enumerate().rev() {
                let i = base + k;
                let Some(gy) = self.table.get(i) else {
                    continue; // not an ancestor of y
                };
                prefetch_below(run, k);
                // (only records of one output, with their arguments inline, reach this sweep)
                let Args::Inline {
                    inputs: xs,
                    creators,
                    output,
                } = &*rec.args
                else {
                    continue;
                };
                if retain {
                    add_to_stored(self.nodes, self.grads, *output, gy);
                } else if free_results {
                    self.grads.remove(*output);
                }
                // The rule was run when the op was recorded: `gx = gy * dy/dx`, for each input.
                for ((&x, &d), &creator) in xs.iter().zip(&rec.partials).zip(creators) {
                    if creator == CONST {
                        continue; // (a constant, or the unused second slot of a one-input op)
                    }
                    let gx = gy * d;
                    if detect && !gx.is_finite() {
                        return Err(Error::Anomaly {
                            op: tape.name(&rec.op),
                            phase: "backward",
                            position: i,
                        });
                    }
                    if creator < CONST {
                        self.table.add(creator as usize, gx);
                    } else if detect {
                        self.deferred.push((x, gx));
                    } else {
                        add_to_stored(self.nodes, self.grads, x, gx); // a leaf or a parameter
                    }
                }
            }
        }
        Ok(())
    }
}

/// The scalar sweep's pending gradients, by record index: the sum so far, which starts at -0
/// (the identity of `+`: the first gradient is kept exactly, its sign of zero included). A record
/// is an ancestor of the seed once a gradient arrived: its sum is no longer -0 (a sum that is not
/// -0 never comes back to it), or a bit was set because what arrived was -0 itself. So the common
/// test is one comparison, and the bits are written only for gradients of -0. Kept in [`Inner`]
/// between passes, empty, so that its memory is reused.
#[derive(Debug, Default)]
pub(crate) struct Pending<F> {
    sums: Vec<F>,
    reached: Vec<u64>,
}

impl<F: Float> Pending<F> {
    /// Room for `len` records, none reached.
    fn reset(&mut self, len: usize) {
        self.clear();
        self.sums.resize(len, -F::zero());
        self.reached.resize(len.div_ceil(64), 0);
    }

    /// Empties it, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.sums.clear();
        self.reached.clear();
    }

    /// Adds `g` to record `i`'s gradient.
    fn add(&mut self, i: usize, g: F) {
        self.table().add(i, g);
    }

    /// Its two arrays as slices, for the sweep's loop: their addresses and lengths then stay in
    /// registers, where the loop would reload them from the arena after every store.
    fn table(&mut self) -> Table<'_, F> {
        Table {
            sums: &mut self.sums,
            reached: &mut self.reached,
        }
    }

    /// Heap bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.sums.capacity() * size_of::<F>() + self.reached.capacity() * size_of::<u64>()
    }
}

/// [`Pending`] borrowed as slices.
struct Table<'a, F> {
    sums: &'a mut [F],
    reached: &'a mut [u64],
}

impl<F: Float> Table<'_, F> {
    fn len(&self) -> usize {
        self.sums.len()
    }

    /// The gradient of record `i`'s result, if one arrived.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn get(&self, i: usize) -> Option<F> {
        let sum = self.sums[i];
        (!is_neg_zero(sum) || self.reached[i / 64] >> (i % 64) & 1 == 1).then_some(sum)
    }

    /// Adds `g` to record `i`'s gradient.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn add(&mut self, i: usize, g: F) {
        self.sums[i] += g;
        if is_neg_zero(g) {
            self.reached[i / 64] |= 1 << (i % 64);
        }
    }
}

/// Whether `x` is -0 (a sum of numbers is -0 only when they all are, in the default rounding).
/// For `f64` and `f32`, one comparison of the bits (the type test is resolved when compiling).
#[cfg_attr(not(debug_assertions), inline(always))]
fn is_neg_zero<F: Float>(x: F) -> bool {
    let any: &dyn std::any::Any = &x;
    if let Some(x) = any.downcast_ref::<f64>() {
        x.to_bits() == (-0f64).to_bits()
    } else if let Some(x) = any.downcast_ref::<f32>() {
        x.to_bits() == (-0f32).to_bits()
    } else {
        x == F::zero() && x.is_sign_negative()
    }
}

/// `v.grad = v.grad + g` for a 0-d variable of an all-scalar graph.
#[cfg_attr(not(debug_assertions), inline(always))]
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

#[cfg(test)]
mod tests {
    use crate::Graph;

    /// Records off the path to the seed are skipped, across words of the reached bitset, and
    /// their leaves get no gradient; a pending gradient of -0 keeps its sign, as in PyTorch.
    #[test]
    fn only_ancestors_of_the_seed_are_swept() {
        let g: Graph = Graph::new();
        let (x, unrelated) = (g.scalar(1.5), g.scalar(2.0));
        let mut y = x;
        for k in 0..40 {
            let _ = unrelated * f64::from(k); // not an ancestor of y
            y = y * 0.5 + x;
        }
        y.backward();
        assert!(unrelated.grad().is_none());
        // dy/dx of y_{k+1} = y_k / 2 + x, y_0 = x: 2 - 2^-40 (120 records: two words of bits)
        assert_eq!(x.grad().unwrap()[[]], 2.0 - 0.5f64.powi(40));

        let x = g.scalar(1.0);
        ((x * 2.0) * -0.0).backward();
        let gx = x.grad().unwrap()[[]];
        assert!(gx == 0.0 && gx.is_sign_negative(), "{gx}");
    }

    /// A record reached only by gradients of -0 is still an ancestor: its rule runs (-0 times
    /// the infinite slope of `sqrt` at 0 is NaN, as in PyTorch) and a leaf under it gets -0;
    /// a record no gradient reached keeps its pending -0 and is skipped, in `f64` and `f32`.
    #[test]
    fn a_gradient_of_minus_zero_reaches_its_ancestors() {
        let g: Graph = Graph::new();
        let (x, w, unrelated) = (g.scalar(0.0), g.scalar(3.0), g.scalar(0.0));
        let _ = unrelated.sqrt() * 2.0; // not an ancestor: its slope of inf is never used
        (x.sqrt() * -0.0 + w * -0.0).backward();
        assert!(x.grad().unwrap()[[]].is_nan());
        let gw = w.grad().unwrap()[[]];
        assert!(gw == 0.0 && gw.is_sign_negative(), "{gw}");
        assert!(unrelated.grad().is_none());

        // +0 then -0 into one record, and -0 then a number into another
        let (a, b) = (g.scalar(2.0), g.scalar(5.0));
        let s = a * 1.0;
        let t = b * 1.0;
        (s * 0.0 + s * -0.0 + t * -0.0 + t * 4.0).backward();
        assert_eq!(a.grad().unwrap()[[]].to_bits(), 0f64.to_bits());
        assert_eq!(b.grad().unwrap()[[]], 4.0);

        let g: Graph<f32> = Graph::new();
        let (x, unrelated) = (g.scalar(0.0), g.scalar(0.0));
        let _ = unrelated.sqrt();
        (x * 2.0 * -0.0).backward();
        let gx = x.grad().unwrap()[[]];
        assert!(gx == 0.0 && gx.is_sign_negative(), "{gx}");
        assert!(unrelated.grad().is_none());
    }

    /// An op that passes no gradient (`sign`) gives its inputs none, on numbers as on arrays.
    #[test]
    fn sign_passes_no_gradient() {
        let g: Graph = Graph::new();
        let x = g.scalar(-2.0);
        (x.sign() * 3.0 + x).backward();
        assert_eq!(x.grad().unwrap()[[]], 1.0);
        let w = g.scalar(1.0);
        w.sign().backward();
        assert!(w.grad().is_none());
        let a = g.var(ndarray::array![1.0, -1.0]);
        a.sign().sum().backward();
        assert!(a.grad().is_none());
    }
}
