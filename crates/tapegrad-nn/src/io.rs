//! Saving and loading parameters as `.npz` (numpy's zip of arrays). [`save_model`] and
//! [`load_model`] name the arrays as a PyTorch `state_dict` does ([`Layer::named_params`]:
//! `0.w`, `0.b`, ...) and load by name; [`save_npz`] and [`load_npz`] take a list of parameters
//! and name them `p0, p1, ...` in its order. `np.load(path)["0.w"]` reads either in Python.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::ArrayD;
use ndarray_npy::npy::header::Header;
use ndarray_npy::{NpzWriter, ReadNpyExt, ReadableElement, WritableElement};
use tapegrad_core::{Float, Var};

use crate::layers::Layer;
use zip::ZipArchive;

/// Why saving or loading parameters failed.
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::io::{IoError, load_npz};
/// let g: Graph = Graph::new();
/// let w = g.param(Array2::<f64>::zeros((2, 2)));
/// let missing = std::env::temp_dir().join("tapegrad_doc_no_such_file.npz");
/// assert!(matches!(load_npz(&missing, &[w]), Err(IoError::File { .. })));
/// ```
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
    /// A parameter's name is not among the file's arrays ([`load_model`]).
    #[error("{path}: no array for the model's parameter {name}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The parameter's name.
        name: String,
    },
    /// The file holds an array no parameter of the model is named after ([`load_model`]).
    #[error("{path}: array {name} is not a parameter of the model")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The array's name.
        name: String,
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

/// Writes the values of `params` to `path` as `p0, p1, ...`, atomically: every parameter is read
/// first, the file is written next to `path` under a temporary name, synced, and renamed over it.
/// A save that fails leaves whatever was at `path` as it was.
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
/// std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// [`IoError::File`] or [`IoError::Format`] when writing fails; [`IoError::Graph`] for a stale
/// parameter (then no file is touched).
pub fn save_npz<F>(path: impl AsRef<Path>, params: &[Var<'_, F>]) -> Result<(), IoError>
where
    F: Float + WritableElement,
{
    let path = path.as_ref();
    let named: Vec<(String, Var<'_, F>)> = (params.iter().enumerate())
        .map(|(k, &p)| (format!("p{k}"), p))
        .collect();
    save_named(path, &named)
}

/// [`save_npz`] of named parameters.
fn save_named<F>(path: &Path, params: &[(String, Var<'_, F>)]) -> Result<(), IoError>
where
    F: Float + WritableElement,
{
    let arrays = params
        .iter()
        .map(|(n, p)| Ok((n.as_str(), p.try_data()?)))
        .collect::<Result<Vec<_>, IoError>>()?;
    let temp = temporary_name(path);
    let written = write_arrays(&temp, &arrays).and_then(|()| {
        std::fs::rename(&temp, path).map_err(|e| file_error(path, e))?;
        sync_directory(path);
        Ok(())
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp); // (it may not exist; the first error is the one to report)
    }
    written
}

/// A name in `path`'s directory that no other save uses at the same time.
fn temporary_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let file = path
        .file_name()
        .map_or_else(|| "params.npz".into(), |f| f.to_string_lossy().into_owned());
    path.with_file_name(format!(".{file}.{}.{n}.tmp", std::process::id()))
}

/// Writes `arrays` as an npz to `temp` and syncs it to disk.
fn write_arrays<F: Float + WritableElement>(
    temp: &Path,
    arrays: &[(&str, ArrayD<F>)],
) -> Result<(), IoError> {
    let file = File::create(temp).map_err(|e| file_error(temp, e))?;
    let mut npz = NpzWriter::new(file);
    for (name, a) in arrays {
        npz.add_array(*name, a).map_err(|e| format_error(temp, e))?;
    }
    let file = npz.finish().map_err(|e| format_error(temp, e))?;
    file.sync_all().map_err(|e| file_error(temp, e))
}

/// Makes a rename in `path`'s directory durable where the platform allows it (best effort: a
/// directory cannot be opened for syncing everywhere).
fn sync_directory(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Reads `p0, p1, ...` from `path` into the values of `params`, checking every shape first: on
/// any error no parameter is changed. A lazy [`Linear`](crate::layers::Linear) weight not made
/// yet (shape `[0, out]`) takes the stored `[in, out]`, so a checkpoint loads into a model just
/// built. Each array's header is read and its shape compared with its
/// parameter's before any data is: a file from an untrusted source cannot make the reader
/// allocate more than the parameters hold. Plain (`np.savez`) and compressed
/// (`np.savez_compressed`) files are read alike.
///
/// ```
/// use tapegrad_core::{ndarray::array, Graph};
/// use tapegrad_nn::io::{load_npz, save_npz, IoError};
/// let g: Graph = Graph::new();
/// let path = std::env::temp_dir().join("tapegrad_doc_load.npz");
/// save_npz(&path, &[g.param(array![1.0, 2.0])]).unwrap();
/// let w = g.param(array![0.0, 0.0]);
/// load_npz(&path, &[w]).unwrap();
/// assert_eq!(w.data(), array![1.0, 2.0].into_dyn());
/// let wrong = g.param(array![0.0]); // another shape: an error, and nothing changes
/// assert!(matches!(load_npz(&path, &[wrong]), Err(IoError::Shape { .. })));
/// assert_eq!(wrong.data(), array![0.0].into_dyn());
/// std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// [`IoError::File`] for a missing file, [`IoError::Format`] for a file that is not an npz of
/// this element type, [`IoError::Count`] and [`IoError::Shape`] when it does not fit the model.
pub fn load_npz<F>(path: impl AsRef<Path>, params: &[Var<'_, F>]) -> Result<(), IoError>
where
    F: Float + ReadableElement,
{
    let path = path.as_ref();
    let mut zip = open_npz(path)?;
    let found = zip.len();
    if found != params.len() {
        return Err(IoError::Count {
            path: path.to_path_buf(),
            expected: params.len(),
            found,
        });
    }
    let named: Vec<(String, Var<'_, F>)> = (params.iter().enumerate())
        .map(|(k, &p)| (format!("p{k}"), p))
        .collect();
    load_named(path, &mut zip, &named)
}

type Npz = ZipArchive<BufReader<File>>;

fn open_npz(path: &Path) -> Result<Npz, IoError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| format_error(path, e))
}

/// The entry of array `name`: numpy names them `name.npy`; the bare name is accepted too, as
/// ndarray-npy does.
fn entry(zip: &Npz, name: &str) -> Option<String> {
    let npy = format!("{name}.npy");
    if zip.index_for_name(&npy).is_some() {
        Some(npy)
    } else {
        zip.index_for_name(name).map(|_| name.to_owned())
    }
}

/// Reads the arrays named after `params` into them, every shape checked before any data is read
/// and before any parameter changes.
fn load_named<F>(path: &Path, zip: &mut Npz, params: &[(String, Var<'_, F>)]) -> Result<(), IoError>
where
    F: Float + ReadableElement,
{
    let mut arrays = Vec::with_capacity(params.len());
    for (name, p) in params {
        let name = name.clone();
        let expected = p.try_shape()?;
        let Some(entry) = entry(zip, &name) else {
            return Err(IoError::Missing {
                path: path.to_path_buf(),
                name,
            });
        };
        let mut reader = zip.by_name(&entry).map_err(|e| format_error(path, e))?;
        let header = Header::from_reader(&mut reader).map_err(|e| format_error(path, e))?;
        drop(reader);
        // A lazy layer's weight not made yet (`[0, out]`) takes the stored `[in, out]`.
        // (a lazy size is a 0 in the parameter's shape: `[0, out]`, `[out, 0, kh, kw]`)
        let unmade = expected.contains(&0)
            && header.shape.len() == expected.len()
            && (expected.iter().zip(&header.shape)).all(|(&e, &h)| e == 0 || e == h);
        if header.shape != expected && !unmade {
            return Err(IoError::Shape {
                path: path.to_path_buf(),
                name,
                expected,
                found: header.shape,
            });
        }
        // The shape is the parameter's: reading the data allocates what the parameter holds.
        let reader = zip.by_name(&entry).map_err(|e| format_error(path, e))?;
        let a = ArrayD::<F>::read_npy(reader).map_err(|e| format_error(path, e))?;
        arrays.push(a);
    }
    for ((_, p), a) in params.iter().zip(arrays) {
        p.set_data(a);
    }
    Ok(())
}

/// Writes a model's parameters to `path` under their [`Layer::named_params`] names (`0.w`,
/// `0.b`, ...; `np.load(path)["0.w"]` in Python), atomically as [`save_npz`].
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::io::{load_model, save_model};
/// use tapegrad_nn::layers::{Layer, Mlp};
/// let g: Graph = Graph::new();
/// let model = Mlp::new(&g, &[4, 1], |h| h.tanh(), 0);
/// model.forward(g.var(Array2::<f64>::ones((2, 3)))); // makes the lazy weights
/// let path = std::env::temp_dir().join("tapegrad_doc_model.npz");
/// save_model(&path, &model).unwrap();
/// let fresh = Mlp::new(&g, &[4, 1], |h| h.tanh(), 9); // other weights, not made yet
/// load_model(&path, &fresh).unwrap();
/// assert_eq!(fresh.params()[0].data(), model.params()[0].data());
/// std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// As [`save_npz`].
pub fn save_model<'g, F, L>(path: impl AsRef<Path>, model: &L) -> Result<(), IoError>
where
    F: Float + WritableElement,
    L: Layer<'g, F> + ?Sized,
{
    save_named(path.as_ref(), &model.named_params())
}

/// Reads a model's parameters from `path` by their [`Layer::named_params`] names, checking every
/// name and shape first: on any error no parameter is changed. Lazy weights not made yet take
/// the stored shape, as in [`load_npz`].
///
/// ```
/// use tapegrad_core::{ndarray::Array2, Graph};
/// use tapegrad_nn::io::{IoError, load_model, save_model};
/// use tapegrad_nn::layers::{Layer, Linear, Mlp};
/// let g: Graph = Graph::new();
/// let model = Mlp::new(&g, &[3, 1], |h| h.relu(), 0);
/// model.forward(g.var(Array2::<f64>::ones((1, 2))));
/// let path = std::env::temp_dir().join("tapegrad_doc_load_model.npz");
/// save_model(&path, &model).unwrap();
/// let same = Mlp::new(&g, &[3, 1], |h| h.relu(), 1);
/// load_model(&path, &same).unwrap();
/// assert_eq!(same.params()[1].data(), model.params()[1].data());
/// // one `Linear`'s parameters are named `w` and `b`, which the file does not hold
/// let other = Linear::new(&g, 1, 0);
/// assert!(load_model(&path, &other).is_err());
/// std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// [`IoError::Missing`] naming a parameter the file has no array for, [`IoError::Unexpected`]
/// naming an array of the file no parameter takes, [`IoError::Shape`], and as [`load_npz`].
pub fn load_model<'g, F, L>(path: impl AsRef<Path>, model: &L) -> Result<(), IoError>
where
    F: Float + ReadableElement,
    L: Layer<'g, F> + ?Sized,
{
    let path = path.as_ref();
    let mut zip = open_npz(path)?;
    let params = model.named_params();
    for stored in zip.file_names() {
        let name = stored.strip_suffix(".npy").unwrap_or(stored);
        if !params.iter().any(|(n, _)| n == name) {
            let name = name.to_owned();
            return Err(IoError::Unexpected {
                path: path.to_path_buf(),
                name,
            });
        }
    }
    load_named(path, &mut zip, &params)
}
