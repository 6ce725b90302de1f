//! Saving and loading parameters as `.npz` (numpy's zip of arrays): `np.load(path)["p0"]` reads
//! them back in Python. Arrays are named `p0, p1, ...` in the order of the parameter list (a
//! model's [`Layer::params`](crate::layers::Layer::params) order).

use std::fs::File;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use ndarray_npy::{NpzReader, NpzWriter, ReadableElement, WritableElement};
use tapegrad_core::{Float, Var};

/// Why saving or loading parameters failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The file could not be opened or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a readable `.npz`, or an array in it is not.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the npz reader or writer said.
        reason: String,
    },
    /// The file holds another number of arrays than the model has parameters.
    #[error("{path}: holds {found} arrays, the model has {expected} parameters")]
    Count {
        /// The file.
        path: PathBuf,
        /// Parameters of the model.
        expected: usize,
        /// Arrays in the file.
        found: usize,
    },
    /// An array's shape differs from its parameter's.
    #[error("{path}: array {name} has shape {found:?}, the parameter has shape {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The array's name in the file.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The array's shape.
        found: Vec<usize>,
    },
    /// A parameter handle was stale.
    #[error(transparent)]
    Graph(#[from] tapegrad_core::Error),
}

fn file_error(path: &Path, source: std::io::Error) -> IoError {
    IoError::File {
        path: path.to_path_buf(),
        source,
    }
}

fn format_error(path: &Path, e: impl std::fmt::Display) -> IoError {
    IoError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes the values of `params` to `path` as `p0, p1, ...`.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// let g: Graph = Graph::new();
/// let w = g.param(array![[1.0, 2.0]]);
/// let path = std::env::temp_dir().join("tapegrad_doc_save.npz");
/// tapegrad_nn::io::save_npz(&path, &[w]).unwrap();
/// w.set_data(array![[0.0, 0.0]].into_dyn());
/// tapegrad_nn::io::load_npz(&path, &[w]).unwrap();
/// assert_eq!(w.data(), array![[1.0, 2.0]].into_dyn());
/// ```
///
/// # Errors
/// [`IoError::File`] or [`IoError::Format`] when writing fails; [`IoError::Graph`] for a stale
/// parameter.
pub fn save_npz<F>(path: impl AsRef<Path>, params: &[Var<'_, F>]) -> Result<(), IoError>
where
    F: Float + WritableElement,
{
    let path = path.as_ref();
    let file = File::create(path).map_err(|e| file_error(path, e))?;
    let mut npz = NpzWriter::new(file);
    for (k, p) in params.iter().enumerate() {
        npz.add_array(format!("p{k}"), &p.try_data()?)
            .map_err(|e| format_error(path, e))?;
    }
    npz.finish().map_err(|e| format_error(path, e))?;
    Ok(())
}

/// Reads `p0, p1, ...` from `path` into the values of `params`, checking every shape first: on
/// any error no parameter is changed.
///
/// # Errors
/// [`IoError::File`] for a missing file, [`IoError::Format`] for a file that is not an npz of
/// this element type, [`IoError::Count`] and [`IoError::Shape`] when it does not fit the model.
pub fn load_npz<F>(path: impl AsRef<Path>, params: &[Var<'_, F>]) -> Result<(), IoError>
where
    F: Float + ReadableElement,
{
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    let mut npz = NpzReader::new(file).map_err(|e| format_error(path, e))?;
    let found = npz.len();
    if found != params.len() {
        return Err(IoError::Count {
            path: path.to_path_buf(),
            expected: params.len(),
            found,
        });
    }
    let mut arrays = Vec::with_capacity(params.len());
    for (k, p) in params.iter().enumerate() {
        let name = format!("p{k}");
        let a: ArrayD<F> = npz.by_name(&name).map_err(|e| format_error(path, e))?;
        let expected = p.try_shape()?;
        if a.shape() != expected {
            return Err(IoError::Shape {
                path: path.to_path_buf(),
                name,
                expected,
                found: a.shape().to_vec(),
            });
        }
        arrays.push(a);
    }
    for (p, a) in params.iter().zip(arrays) {
        p.set_data(a);
    }
    Ok(())
}
