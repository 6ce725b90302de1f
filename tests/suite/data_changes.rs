//! Changing a variable's data after an op recorded it (`set_data`, `update_data`): one rule on
//! every path, PyTorch's: a backward pass that reaches such an op is an error
//! (`Error::ModifiedAfterRecording`), never a gradient mixing old and new values, never a panic.
//! Recording the graph again after the change is fine. And a closure given to `update_data`
//! that uses the graph gets a clear error, not a `RefCell` panic.

use tapegrad::ndarray::{arr0, array};
use tapegrad::prelude::*;

fn modified(op: &'static str, position: usize) -> Error {
    Error::ModifiedAfterRecording { op, position }
}

/// `x = 2; y = x * x; x.set_data(3); y.backward()` gave 4 when every value of the graph was a
/// number and 6 when an array lived in it: now both refuse.
#[test]
fn all_number_graph_refuses_a_backward_through_changed_data() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x * x;
    x.set_data(arr0(3.0).into_dyn());
    assert_eq!(y.try_backward().unwrap_err(), modified("mul", 0));
    assert!(x.grad().is_none());
}

#[test]
fn graph_with_arrays_refuses_the_same_way() {
    let g: Graph = Graph::new();
    let _array = g.var(array![1.0, 2.0]);
    let x = g.scalar(2.0);
    let y = x * x;
    x.set_data(arr0(3.0).into_dyn());
    assert_eq!(y.try_backward().unwrap_err(), modified("mul", 0));
    assert_eq!(
        tapegrad::try_grad(&[y], &[x], false).unwrap_err(),
        modified("mul", 0)
    );
    assert_eq!(
        tapegrad::try_grad(&[y], &[x], true).unwrap_err(),
        modified("mul", 0)
    );
    assert!(x.grad().is_none());
}

/// `sin(x) + exp(x)` after `x: 0 -> 1` gave `cos 1 + e^0`.
#[test]
fn no_gradient_mixes_old_and_new_values() {
    let g: Graph = Graph::new();
    let x = g.var(array![0.0]);
    let y = (x.sin() + x.exp()).sum();
    x.update_data(|mut v| v.fill(1.0));
    assert!(matches!(
        y.try_backward(),
        Err(Error::ModifiedAfterRecording { .. })
    ));
    assert!(x.grad().is_none());
}

#[test]
#[should_panic(expected = "was changed by set_data or update_data after mul was recorded")]
fn backward_panics_with_the_same_message() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let y = x * 3.0;
    x.set_data(arr0(3.0).into_dyn());
    y.backward();
}

/// A new shape used to panic inside the sweep (`checked shapes broadcast`, `check_matmul`).
#[test]
fn a_changed_shape_is_an_error_not_a_panic() {
    let g: Graph = Graph::new();
    let a = g.var(array![[1.0, 2.0], [3.0, 4.0]]);
    let w = g.var(array![[1.0], [2.0]]);
    let y = (a.matmul(w) + a.sum_axes(&[1], true)).sum();
    w.set_data(array![1.0, 2.0, 3.0].into_dyn());
    assert!(matches!(
        y.try_backward(),
        Err(Error::ModifiedAfterRecording { op: "matmul", .. })
    ));
    let z = (a * a).sum();
    a.set_data(array![1.0].into_dyn());
    assert_eq!(z.try_backward().unwrap_err(), modified("mul", 4));
}

/// Changing an op's result counts too: exp's rule reads its output.
#[test]
fn a_changed_result_is_refused() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let e = x.exp();
    let y = e * 2.0;
    e.set_data(arr0(5.0).into_dyn());
    assert_eq!(y.try_backward().unwrap_err(), modified("mul", 1));
}

/// A graph recorded after the change is fine (Newton's method, an optimizer without `clear`).
#[test]
fn recording_again_after_a_change_works() {
    let g: Graph = Graph::new();
    let x = g.scalar(2.0);
    let _old = x * x;
    x.set_data(arr0(3.0).into_dyn());
    let y = x * x;
    y.backward();
    assert_eq!(x.grad().unwrap()[[]], 6.0);
}

/// An op recorded before the change but not an ancestor of the output does not matter.
#[test]
fn a_change_outside_the_outputs_ancestry_is_fine() {
    let g: Graph = Graph::new();
    let (x, z) = (g.scalar(2.0), g.scalar(5.0));
    let _other = z.exp();
    let y = x * x;
    z.set_data(arr0(1.0).into_dyn());
    y.backward();
    assert_eq!(x.grad().unwrap()[[]], 4.0);
}

/// `clear` forgets every change with the tape.
#[test]
fn clear_forgets_changes() {
    let g: Graph = Graph::new();
    let w = g.param(array![1.0, 2.0]);
    (w * w).sum().backward();
    w.update_data(|mut v| v -= &array![0.5, 0.5]);
    g.clear();
    (w * w).sum().backward();
    assert_eq!(w.grad().unwrap(), array![2.0 + 1.0, 4.0 + 3.0].into_dyn());
}

/// `w.update_data(|v| ... w.grad() ...)` panicked with RefCell's "already mutably borrowed".
#[test]
fn using_the_graph_inside_update_data_is_a_clear_error() {
    let g: Graph = Graph::new();
    let w = g.var(array![1.0, 2.0]);
    (w * w).sum().backward();
    let mut inside = None;
    w.update_data(|_| inside = Some(w.try_grad()));
    assert_eq!(inside, Some(Err(Error::GraphBusy)));
    let mut op = None;
    w.update_data(|_| op = Some(w.try_exp().map(|_| ())));
    assert_eq!(op, Some(Err(Error::GraphBusy)));
    let mut nested = None;
    w.update_data(|_| nested = Some(w.try_update_data(|_| ())));
    assert_eq!(nested, Some(Err(Error::GraphBusy)));
    let mut backward = None;
    w.update_data(|_| backward = Some(w.try_sum().and_then(|s| s.try_backward())));
    assert!(matches!(backward, Some(Err(Error::GraphBusy))));
}

#[test]
#[should_panic(
    expected = "graph busy: a closure given to update_data or with_data cannot use the graph"
)]
fn the_plain_form_panics_with_that_message() {
    let g: Graph = Graph::new();
    let w = g.var(array![1.0, 2.0]);
    w.update_data(|mut v| v += &w.data());
}

#[test]
fn reading_other_variables_inside_with_data_is_fine_but_ops_are_busy() {
    let g: Graph = Graph::new();
    let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![3.0, 4.0]));
    let sum = a.with_data(|v| v.sum() + b.data().sum());
    assert_eq!(sum, 10.0);
    assert_eq!(
        a.with_data(|_| b.try_exp().map(|_| ())),
        Err(Error::GraphBusy)
    );
}
