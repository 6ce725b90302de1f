//! Every `Error` variant through the `try_*` API, and the same message from the panicking form.

use tapegrad::ndarray::{ArrayD, array};
use tapegrad::prelude::*;

#[test]
fn shape_mismatch_names_op_and_both_shapes() {
    let g: Graph = Graph::new();
    let a = g.var(array![1.0, 2.0]);
    let b = g.var(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]); // [2] does not broadcast to [2, 3]
    for (name, r) in [
        ("add", a.try_add(b)),
        ("sub", a.try_sub(b)),
        ("mul", a.try_mul(b)),
        ("div", a.try_div(b)),
    ] {
        let e = r.unwrap_err();
        assert_eq!(
            e,
            Error::ShapeMismatch {
                op: name,
                lhs: vec![2],
                rhs: vec![2, 3]
            }
        );
        assert_eq!(
            e.to_string(),
            format!("{name}: shape mismatch between [2] and [2, 3]")
        );
    }
}

#[test]
fn shape_mismatch_with_array_constant() {
    let g: Graph = Graph::new();
    let a = g.var(array![1.0, 2.0]);
    let e = a.try_mul(ArrayD::zeros(vec![3])).unwrap_err();
    assert_eq!(e.to_string(), "mul: shape mismatch between [2] and [3]");
    assert_eq!(g.len(), 1, "a rejected constant leaves nothing behind");
}

#[test]
fn shapes_that_do_not_broadcast() {
    let g: Graph = Graph::new();
    let (a, b) = (
        g.var(ArrayD::<f64>::zeros(vec![2, 3])),
        g.var(ArrayD::zeros(vec![3, 2])),
    );
    assert_eq!(
        a.try_mul(b).unwrap_err().to_string(),
        "mul: shape mismatch between [2, 3] and [3, 2]"
    );
}

#[test]
#[should_panic(expected = "add: shape mismatch between [2] and [3]")]
fn shape_mismatch_operator_panics_with_message() {
    let g: Graph = Graph::new();
    let _ = g.var(array![1.0, 2.0]) + g.var(array![1.0, 2.0, 3.0]);
}

#[test]
#[should_panic(expected = "div: shape mismatch between [3] and [2]")]
fn shape_mismatch_with_array_on_the_left_keeps_operand_order() {
    let g: Graph = Graph::new();
    let _ = ArrayD::<f64>::ones(vec![3]) / g.var(array![1.0, 2.0]);
}

#[test]
fn variables_of_two_graphs() {
    let (g1, g2): (Graph, Graph) = (Graph::new(), Graph::new());
    let (a, b) = (g1.scalar(1.0), g2.scalar(2.0));
    assert_eq!(
        a.try_mul(b).unwrap_err(),
        Error::GraphMismatch { op: "mul" }
    );
    assert_eq!(g1.len() + g2.len(), 2);
}

#[test]
#[should_panic(expected = "two different graphs")]
fn variables_of_two_graphs_operator_panics() {
    let (g1, g2): (Graph, Graph) = (Graph::new(), Graph::new());
    let _ = g1.scalar(1.0) + g2.scalar(2.0);
}

#[test]
fn stale_handle_after_clear() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    let y = x.exp();
    g.clear();
    let z = g.scalar(5.0); // may reuse x's slot: x must not see it
    assert_eq!(x.try_exp().unwrap_err(), Error::StaleVar);
    assert_eq!(x.try_add(z).unwrap_err(), Error::StaleVar);
    assert_eq!(x.try_data().unwrap_err(), Error::StaleVar);
    assert_eq!(x.try_grad().unwrap_err(), Error::StaleVar);
    assert_eq!(y.try_backward().unwrap_err(), Error::StaleVar);
    assert_eq!(x.try_item().unwrap_err(), Error::StaleVar);
    assert_eq!(x.try_shape().unwrap_err(), Error::StaleVar);
    assert_eq!(z.item(), 5.0);
    assert!(Error::StaleVar.to_string().contains("stale"));
}

#[test]
#[should_panic(expected = "stale")]
fn stale_handle_operator_panics() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    g.clear();
    let _ = x * 2.0;
}

#[test]
#[should_panic(expected = "stale")]
fn stale_handle_data_panics() {
    let g: Graph = Graph::new();
    let x = g.scalar(1.0);
    g.clear();
    let _ = x.data();
}

#[test]
fn item_of_a_vector() {
    let g: Graph = Graph::new();
    let x = g.var(array![1.0, 2.0]);
    assert_eq!(
        x.try_item().unwrap_err(),
        Error::NotAScalar { shape: vec![2] }
    );
    assert_eq!(
        g.var(array![[7.0]]).try_item(),
        Ok(7.0),
        "one element of any shape"
    );
}

#[test]
#[should_panic(expected = "exactly one element, but its shape is [2]")]
fn item_of_a_vector_panics() {
    let g: Graph = Graph::new();
    let _ = g.var(array![1.0, 2.0]).item();
}

#[test]
fn len_of_a_zero_d_variable() {
    let g: Graph = Graph::new();
    assert_eq!(g.scalar(1.0).try_len().unwrap_err(), Error::ZeroDimLen);
}

#[test]
#[should_panic(expected = "0-d variable has no length")]
fn len_of_a_zero_d_variable_panics() {
    let g: Graph = Graph::new();
    let _ = g.scalar(1.0).len();
}

#[test]
fn grad_across_two_graphs() {
    let (g1, g2): (Graph, Graph) = (Graph::new(), Graph::new());
    let (x, z) = (g1.scalar(1.0), g2.scalar(2.0));
    let y = x.exp();
    let e = tapegrad::try_grad(&[y], &[z], false).unwrap_err();
    assert_eq!(e, Error::GraphMismatch { op: "grad" });
}

#[test]
fn dot_of_a_stale_variable() {
    let g: Graph = Graph::new();
    let y = g.scalar(1.0).exp();
    g.clear();
    assert_eq!(g.try_to_dot(&[y], false).unwrap_err(), Error::StaleVar);
}

/// The line a panicking op reports is the user's line, not one inside the library: for the
/// operators, a unary method and a method with an argument, on numbers and arrays.
#[test]
fn a_panicking_op_points_at_the_callers_line() {
    use std::sync::{Arc, Mutex};
    type Seen = Arc<Mutex<Vec<(String, u32)>>>;
    let seen: Seen = Arc::default();
    let prev: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    {
        let (seen, prev) = (seen.clone(), prev.clone());
        std::panic::set_hook(Box::new(move |info| {
            // (other tests' panics, on other threads, are reported as before)
            if std::thread::current().name() != Some("location-probe") {
                return prev(info);
            }
            let l = info.location().expect("a location");
            seen.lock().unwrap().push((l.file().to_owned(), l.line()));
        }));
    }
    let lines = std::thread::Builder::new()
        .name("location-probe".into())
        .spawn(|| {
            let mut lines = Vec::new();
            // runs the op, which must panic, and notes the line it is written on
            macro_rules! panics_here {
                ($op:expr) => {{
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let _ = $op;
                    }));
                    assert!(r.is_err(), "line {} did not panic", line!());
                    lines.push(line!());
                }};
            }
            let g: Graph = Graph::new();
            let (x, a) = (g.scalar(1.0), g.var(array![1.0, 2.0]));
            let b = g.var(array![1.0, 2.0, 3.0]);
            g.clear();
            panics_here!(x + x);
            panics_here!(2.0 * x);
            panics_here!(x.exp());
            panics_here!(x.powf(3.0));
            panics_here!(a * b); // stale arrays
            let g: Graph = Graph::new();
            let (a, b) = (g.var(array![1.0, 2.0]), g.var(array![1.0, 2.0, 3.0]));
            panics_here!(a * b); // shapes that do not broadcast
            lines
        })
        .unwrap()
        .join()
        .unwrap();
    std::panic::set_hook(Box::new(move |info| prev(info)));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), lines.len(), "{seen:?}");
    for ((file, line), expected) in seen.iter().zip(&lines) {
        assert!(file.ends_with("errors.rs"), "{file}:{line}");
        assert_eq!(line, expected, "{file}");
    }
}

/// An op built from others names itself in its errors, not an op inside it: the core's composed
/// ops and aliases (tests/suite/shape.rs), and nn's functions, for shapes and for handles of
/// two graphs alike.
#[test]
fn composed_functions_name_themselves() {
    use tapegrad::nn::functional::{try_linear, try_mean_squared_error, try_normalize};
    let g: Graph = Graph::new();
    let other: Graph = Graph::new();
    let (a, b) = (g.var(array![[1.0, 2.0]]), g.var(array![1.0, 2.0, 3.0]));
    let msg = |r: Result<Var<'_>, Error>| r.unwrap_err().to_string();
    assert_eq!(
        msg(try_mean_squared_error(a, b)),
        "mean_squared_error: shape mismatch between [1, 2] and [3]"
    );
    assert_eq!(
        msg(try_mean_squared_error(a, other.var(array![[1.0, 2.0]]))),
        "mean_squared_error: the variables belong to two different graphs"
    );
    assert_eq!(
        msg(try_linear(a, g.var(array![[1.0], [2.0], [3.0]]), None)),
        "linear: shape mismatch between [1, 2] and [3, 1]"
    );
    assert_eq!(
        msg(try_normalize(a, 2.0, 2, 1e-12)),
        "normalize: invalid axes [2] for a 2-d variable"
    );
    assert_eq!(
        msg(a.try_log_softmax(1).and_then(|_| a.try_softmax(4))),
        "softmax: invalid axes [4] for a 2-d variable"
    );
    // a stale handle names no op: the error is passed on as it is
    g.clear();
    assert_eq!(try_mean_squared_error(a, a).unwrap_err(), Error::StaleVar);
}
