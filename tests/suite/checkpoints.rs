//! Checkpoints (`save_npz`, `load_npz`) against what an untrusted or unlucky file can do: crafted
//! headers, corrupt bytes, compressed files, and saves that fail halfway.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use tapegrad::Graph;
use tapegrad::ndarray::{ArrayD, array};
use tapegrad::nn::io::{IoError, load_npz, save_npz};

use crate::common::TempDir;

/// A fresh directory for one test, removed when it drops.
fn dir(name: &str) -> TempDir {
    TempDir::new(&format!("ckpt_{name}"))
}

/// An npz holding `p0 = [1, 2]` (f64), as `save_npz` writes it.
fn good_file(path: &Path) -> Vec<u8> {
    let g: Graph = Graph::new();
    let w = g.param(array![1.0, 2.0]);
    save_npz(path, &[w]).unwrap();
    std::fs::read(path).unwrap()
}

/// `bytes` with the first `from` replaced by `to`, padded with spaces (or trimmed of them) so
/// that the npy header keeps its length.
fn patch(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .expect("pattern in file");
    let mut out = bytes.to_vec();
    let grow = to.len() as isize - from.len() as isize;
    out.splice(at..at + from.len(), to.bytes());
    // the header's padding follows `}`: take from it what the new text added
    let close = at
        + to.len()
        + out[at + to.len()..]
            .iter()
            .position(|&b| b == b'}')
            .unwrap()
        + 1;
    if grow > 0 {
        out.drain(close..close + grow as usize);
    } else {
        out.splice(close..close, std::iter::repeat_n(b' ', (-grow) as usize));
    }
    out
}

#[test]
fn a_header_declaring_a_huge_shape_is_an_error_not_an_abort() {
    let d = dir("huge");
    let path = d.join("crafted.npz");
    let good = good_file(&path);
    // 2^40 elements (8 TiB of f64) declared for the two stored numbers
    let crafted = patch(&good, "(2,)", "(1099511627776,)");
    assert!(
        crafted.len() < 400,
        "a few hundred bytes: {}",
        crafted.len()
    );
    std::fs::write(&path, &crafted).unwrap();

    let g: Graph = Graph::new();
    let w = g.param(array![5.0, 6.0]);
    let e = load_npz(&path, &[w]).unwrap_err();
    assert!(
        matches!(&e, IoError::Shape { found, .. } if found == &[1_099_511_627_776]),
        "{e}"
    );
    assert_eq!(w.data(), array![5.0, 6.0].into_dyn());
    // The same shape declared for a parameter of that size would still be read with the
    // parameter's size only: a 2-element file for a 3-element parameter is a shape error too.
    let w3 = g.param(array![0.0, 0.0, 0.0]);
    std::fs::write(&path, patch(&good, "(2,)", "(3,)")).unwrap();
    let e = load_npz(&path, &[w3]).unwrap_err();
    assert!(matches!(e, IoError::Format { .. }), "{e}"); // too few bytes for 3 numbers
    assert_eq!(w3.data(), array![0.0, 0.0, 0.0].into_dyn());
}

#[test]
fn a_failed_save_leaves_the_previous_checkpoint_byte_identical() {
    let d = dir("save");
    let path = d.join("model.npz");
    let before = good_file(&path);

    let g: Graph = Graph::new();
    let w = g.param(array![3.0, 4.0]);
    let temporary = g.scalar(1.0);
    g.clear(); // `temporary` is now stale; `w` survives as a parameter
    let e = save_npz(&path, &[w, temporary]).unwrap_err();
    assert!(
        matches!(e, IoError::Graph(tapegrad::Error::StaleVar)),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // nothing left behind in the directory
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["model.npz"]);

    // A save that cannot write (into a directory that does not exist) is an error too.
    let e = save_npz(d.join("missing").join("m.npz"), &[w]).unwrap_err();
    assert!(matches!(e, IoError::File { .. }), "{e}");

    // And a good save replaces the file.
    save_npz(&path, &[w]).unwrap();
    let w2 = g.param(array![0.0, 0.0]);
    load_npz(&path, &[w2]).unwrap();
    assert_eq!(w2.data(), array![3.0, 4.0].into_dyn());
}

/// Writes `arrays` as `p0.npy, ...` into a zip, compressed with deflate as
/// `np.savez_compressed` does.
fn write_compressed(path: &Path, arrays: &[ArrayD<f64>]) {
    use ndarray_npy::WriteNpyExt;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (k, a) in arrays.iter().enumerate() {
        zip.start_file(format!("p{k}.npy"), options).unwrap();
        let mut bytes = Vec::new();
        a.write_npy(&mut bytes).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn compressed_checkpoints_load_like_plain_ones() {
    let d = dir("compressed");
    let path = d.join("c.npz");
    let a = array![[1.5, -2.0, 3.25], [0.0, 1e-300, -7.0]].into_dyn();
    let b = ArrayD::from_elem(vec![1000], 0.125); // compresses well
    write_compressed(&path, &[a.clone(), b.clone()]);
    let g: Graph = Graph::new();
    let (wa, wb) = (
        g.param(ArrayD::zeros(vec![2, 3])),
        g.param(ArrayD::zeros(vec![1000])),
    );
    load_npz(&path, &[wa, wb]).unwrap();
    assert_eq!(wa.data(), a);
    assert_eq!(wb.data(), b);
    assert!(std::fs::metadata(&path).unwrap().len() < 1000); // it was compressed
}

/// Loads `bytes` as a checkpoint for `[w]`: never a panic, and on any error `w` unchanged.
fn load_never_panics(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).unwrap();
    let g: Graph = Graph::new();
    let w = g.param(array![5.0, 6.0]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_npz(path, &[w])));
    let Ok(result) = result else {
        return Err(TestCaseError::fail("load_npz panicked"));
    };
    if result.is_err() {
        prop_assert_eq!(w.data(), array![5.0, 6.0].into_dyn());
    } else {
        prop_assert_eq!(w.shape(), vec![2]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random bytes, random damage to a good file, and random headers: `load_npz` returns, and
    /// changes nothing when it fails.
    #[test]
    fn load_npz_survives_random_files(
        noise in proptest::collection::vec(any::<u8>(), 0..400),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        dims in proptest::collection::vec(0usize..usize::MAX, 0..4),
        descr in prop::sample::select(vec!["<f8", "<f4", ">f8", "<i8", "|b1", "<c16", "zz", "<f8'"]),
    ) {
        let d = dir("fuzz");
        let path = d.join("f.npz");
        let good = good_file(&path);
        load_never_panics(&path, &noise)?;
        let mut damaged = good.clone();
        for (at, byte) in &flips {
            let i = at.index(damaged.len());
            damaged[i] ^= byte | 1;
        }
        load_never_panics(&path, &damaged)?;
        load_never_panics(&path, &good[..cut.index(good.len())])?;
        let shape = format!("({})", dims.iter().map(|n| format!("{n},")).collect::<String>());
        let header = patch(&patch(&good, "(2,)", &shape), "<f8", descr);
        load_never_panics(&path, &header)?;
    }
}

#[test]
fn models_save_and_load_by_name() {
    use tapegrad::nn::io::{IoError, load_model, save_model};
    use tapegrad::nn::layers::{Layer, Linear, Mlp};
    let dir = dir("named");
    let path = dir.join("model.npz");
    let g: Graph = Graph::new();
    let model = Mlp::new(&g, &[4, 2], |h| h.tanh(), 0);
    model.forward(g.var(tapegrad::ndarray::Array2::<f64>::ones((3, 5))));
    save_model(&path, &model).unwrap();
    // the names a state dict would have
    let file = std::fs::File::open(&path).unwrap();
    let mut names: Vec<String> = zip::ZipArchive::new(file)
        .unwrap()
        .file_names()
        .map(str::to_owned)
        .collect();
    names.sort();
    assert_eq!(names, ["0.b.npy", "0.w.npy", "1.b.npy", "1.w.npy"]);
    // a fresh model, weights not made yet, loads whole
    let fresh = Mlp::new(&g, &[4, 2], |h| h.tanh(), 7);
    load_model(&path, &fresh).unwrap();
    for (a, b) in fresh.params().iter().zip(model.params()) {
        assert_eq!(a.data(), b.data());
    }
    // a model with another layer: the missing parameter is named
    let bigger = Mlp::new(&g, &[4, 2, 1], |h| h.tanh(), 0);
    let e = load_model(&path, &bigger).unwrap_err();
    assert!(
        matches!(&e, IoError::Missing { name, .. } if name == "2.w"),
        "{e}"
    );
    // a model with fewer layers: the unexpected array is named, and nothing changed
    let smaller = Mlp::new(&g, &[4], |h| h.tanh(), 3);
    let before: Vec<_> = smaller.params().iter().map(|p| p.data()).collect();
    let e = load_model(&path, &smaller).unwrap_err();
    assert!(
        matches!(&e, IoError::Unexpected { name, .. } if name.starts_with("1.")),
        "{e}"
    );
    assert!(e.to_string().contains("is not a parameter of the model"));
    let after: Vec<_> = smaller.params().iter().map(|p| p.data()).collect();
    assert_eq!(before, after);
    // one layer's names
    let lin = Linear::<f64>::new(&g, 3, 0);
    let names: Vec<String> = lin.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["w", "b"]);
}
