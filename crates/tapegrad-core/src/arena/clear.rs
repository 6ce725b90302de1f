//! Emptying a graph ([`Graph::clear`](crate::Graph::clear)) in time proportional to what it
//! holds: the arena keeps the slots of the largest graph it ever held, and a walk of every slot
//! would make each small graph after a large one pay for the large one.

use ndarray::ArrayD;

use super::{Data, Grad, Inner, Node, PARAM, VarId};
use crate::Float;

/// How many variables no record made ([`Inner::loose`]) are tracked by key; past it, `clear`
/// walks the arena's slots.
pub(super) const LOOSE_TRACKED: usize = 1 << 12;

impl<F: Float> Inner<F> {
    /// Notes a variable no record made (a leaf, a constant, an unrecorded result).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(super) fn note_loose(&mut self, id: VarId) {
        if let Some(loose) = &mut self.loose {
            if loose.len() < LOOSE_TRACKED {
                loose.push(id);
            } else {
                self.loose = None;
            }
        }
    }

    /// Empties the arena, the tape and the stored gradients, keeping the parameters with their
    /// values, gradients and names (see [`Graph::clear`](crate::Graph::clear)).
    pub(crate) fn clear(&mut self) {
        self.retained = false;
        let params = self.params();
        // A parameter's gradient held as a variable is about to go: keep its value instead.
        for &p in &params {
            if let Some(&Grad::Var(v)) = self.grads.get(p) {
                let value = self.val(v).into_array();
                self.grads.insert(p, Grad::Array(Box::new(value)));
            }
        }
        let _by_key = self.remove_nodes(params.len()); // (reads the tape: before it goes)
        #[cfg(test)]
        {
            self.last_clear_by_key = _by_key;
        }
        self.clear_tape();
        if params.is_empty() {
            match &mut self.loose {
                Some(loose) => loose.clear(), // (keeping its memory for the next graph)
                None => self.loose = Some(Vec::new()),
            }
            self.grads.clear();
            self.free_arrays();
            self.names.clear();
            return;
        }
        let nodes = &self.nodes;
        self.grads.retain(|id| nodes.contains_key(id));
        // Compact the array store down to the parameters' arrays, keeping its storage.
        let kept: Vec<(VarId, ArrayD<F>)> = params
            .iter()
            .filter_map(|&p| match self.nodes[p].data() {
                Data::Array(k) => Some((p, std::mem::take(&mut self.arrays[k as usize]))),
                Data::Scalar(_) => None,
            })
            .collect();
        self.free_arrays();
        for (p, a) in kept {
            let data = self.store(a);
            self.nodes[p].replace(data, PARAM);
        }
        let nodes = &self.nodes;
        self.names.retain(|id, _| nodes.contains_key(id));
        self.loose = Some(params);
    }

    /// The live parameters ([`Graph::param`](crate::Graph::param)).
    fn params(&self) -> Vec<VarId> {
        if !self.has_params {
            return Vec::new(); // (no scan, and no allocation, when none was ever made)
        }
        let is_param = |n: &Node<F>| n.raw_creator() == PARAM;
        match &self.loose {
            Some(loose) => (loose.iter().copied())
                .filter(|&k| self.nodes.get(k).is_some_and(is_param))
                .collect(),
            None => (self.nodes.iter())
                .filter(|(_, n)| is_param(n))
                .map(|(id, _)| id)
                .collect(),
        }
    }

    /// Removes every variable but the `params` parameters: by key (the records' outputs and the
    /// loose variables) when the graph fills few of the arena's slots, else by a walk of them.
    /// Returns whether it went by key.
    fn remove_nodes(&mut self, params: usize) -> bool {
        let Inner {
            nodes, tape, loose, ..
        } = self;
        if let Some(loose) = loose
            && nodes.len() * 4 < nodes.capacity()
        {
            for &y in tape.iter().flat_map(|rec| rec.outputs()) {
                nodes.remove(y);
            }
            for &k in loose.iter() {
                if nodes.get(k).is_some_and(|n| n.raw_creator() != PARAM) {
                    nodes.remove(k);
                }
            }
            if nodes.len() == params {
                return true; // every other variable was found
            }
        }
        nodes.retain(|_, n| n.raw_creator() == PARAM);
        false
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::LOOSE_TRACKED;
    use crate::{BackwardOptions, Error, Graph, Var};

    /// A chain of `n` ops on a leaf, unrecorded constants and a function's two outputs on the way.
    fn build(g: &Graph, n: usize) -> Var<'_, f64> {
        let x = g.scalar(0.5);
        let c = g.constant(array![2.0].into_dyn()).sum(); // unrecorded: a constant's result
        let mut y = x * c;
        for _ in 0..n {
            y = y * 0.5 + x;
        }
        let parts = crate::concat(&[y.reshape(&[1]), x.reshape(&[1])], 0).split(&[1, 1], 0);
        (parts[0] + parts[1]).sum()
    }

    /// After a large graph, a small one is cleared by key: every variable but the parameters
    /// goes, their values, gradients and names stay, old handles are stale.
    #[test]
    fn a_small_graph_after_a_large_one_is_cleared_by_key() {
        let g: Graph = Graph::new();
        let w = g.param(array![1.0, 2.0]);
        w.set_name("w");
        build(&g, 100_000).backward();
        g.clear();
        assert!(
            !g.inner.borrow().last_clear_by_key,
            "a large graph is walked"
        );
        for step in 0..3 {
            let y = build(&g, 10);
            let loss = (w * w).sum() + y;
            loss.backward_with(BackwardOptions {
                retain_grad: step == 1,
                create_graph: step == 2,
            });
            let old = g.scalar(1.0);
            g.clear();
            assert!(g.inner.borrow().last_clear_by_key, "step {step}");
            assert_eq!(g.len(), 1, "only w is left");
            assert_eq!(old.try_exp().unwrap_err(), Error::StaleVar);
            assert_eq!(y.try_exp().unwrap_err(), Error::StaleVar);
            assert_eq!(w.data(), array![1.0, 2.0].into_dyn());
            let k = (step + 1) as f64; // w's gradient 2w from each step adds up
            assert_eq!(w.grad().unwrap(), array![2.0 * k, 4.0 * k].into_dyn());
            assert_eq!(w.name().as_deref(), Some("w"));
        }
    }

    /// Past [`LOOSE_TRACKED`] leaves the arena is walked, with the same result.
    #[test]
    fn many_leaves_are_cleared_by_a_walk() {
        let g: Graph = Graph::new();
        let w = g.param(array![3.0]);
        let _ = build(&g, 100_000);
        g.clear();
        let leaves: Vec<Var<'_, f64>> = (0..=LOOSE_TRACKED).map(|i| g.scalar(i as f64)).collect();
        let y = (w * leaves[7]).sum();
        y.backward();
        g.clear();
        assert!(!g.inner.borrow().last_clear_by_key);
        assert_eq!(g.len(), 1);
        assert_eq!(leaves[0].try_exp().unwrap_err(), Error::StaleVar);
        assert_eq!(w.grad().unwrap(), array![7.0].into_dyn());
        // and tracking starts again from the parameters
        let _ = build(&g, 5);
        g.clear();
        assert!(g.inner.borrow().last_clear_by_key);
        assert_eq!((g.len(), w.data()), (1, array![3.0].into_dyn()));
    }
}
