//! Parameters: leaves that survive `clear` with their value, gradient and name, while every
//! other handle goes stale.

use tapegrad::ndarray::{ArrayD, array};
use tapegrad::prelude::*;

#[test]
fn params_survive_clear_and_others_go_stale() {
    let g: Graph = Graph::new();
    let w = g.param(array![[1.0, 2.0], [3.0, 4.0]]);
    let s = g.param(tapegrad::ndarray::arr0(5.0));
    w.set_name("w");
    let x = g.var(array![1.0, 1.0]);
    let y = (x * w).sum() + s;
    y.backward();
    g.clear();
    assert_eq!(w.data(), array![[1.0, 2.0], [3.0, 4.0]].into_dyn());
    assert_eq!(w.grad().unwrap(), array![[1.0, 1.0], [1.0, 1.0]].into_dyn());
    assert_eq!(s.item(), 5.0);
    assert_eq!(w.name().as_deref(), Some("w"));
    assert!(w.is_param() && w.is_leaf());
    assert_eq!(x.try_data().unwrap_err(), Error::StaleVar);
    assert_eq!(y.try_item().unwrap_err(), Error::StaleVar);
    assert_eq!((g.len(), g.tape_len()), (2, 0));
}

#[test]
fn a_param_gradient_from_create_graph_is_kept_as_a_value() {
    let g: Graph = Graph::new();
    let w = g.param(array![2.0, 3.0]);
    w.powf(3.0).sum().backward_with(BackwardOptions {
        create_graph: true,
        ..Default::default()
    });
    g.clear(); // the gradient variable is gone; its value stays
    assert_eq!(w.grad().unwrap(), array![12.0, 27.0].into_dyn());
    assert_eq!(g.len(), 1);
}

#[test]
fn arrays_created_after_a_clear_do_not_alias_params() {
    let g: Graph = Graph::new();
    let tmp = g.var(array![9.0, 9.0]); // array store slot 0
    let w = g.param(array![1.0, 2.0]); // slot 1, compacted to 0 by the clear
    let _ = tmp;
    g.clear();
    let z = g.var(array![7.0, 7.0]);
    assert_eq!(w.data(), array![1.0, 2.0].into_dyn());
    assert_eq!(z.data(), array![7.0, 7.0].into_dyn());
    w.set_data(array![5.0, 6.0].into_dyn());
    assert_eq!(z.data(), array![7.0, 7.0].into_dyn());
    assert_eq!((w * z).data(), array![35.0, 42.0].into_dyn());
}

#[test]
fn gradient_descent_on_params() {
    let g: Graph = Graph::new();
    let w = g.param(ArrayD::from_elem(vec![3], 4.0));
    for _ in 0..50 {
        g.clear();
        (w - 1.0).square().sum().backward();
        w.set_data(w.data() - w.grad().unwrap() * 0.1);
        w.cleargrad();
    }
    for &v in w.data().iter() {
        assert!((v - 1.0).abs() < 1e-4);
    }
}
