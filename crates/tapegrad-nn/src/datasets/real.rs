//! Real data: the 8x8 handwritten digits shipped with the crate, and MNIST's IDX files read
//! from disk.

use std::io::Read;
use std::path::Path;

use ndarray::{Array2, ArrayD, IxDyn};

use crate::io::IoError;

/// The 8x8 handwritten digits (UCI, as scikit-learn ships them; data/README.md gives the source
/// and the CC BY 4.0 licence): 1,797 images as rows of 64 pixel values scaled to `[0, 1]`, and
/// their labels `0..=9`.
///
/// ```
/// let (x, t) = tapegrad_nn::datasets::digits();
/// assert_eq!((x.shape(), t.len()), (&[1797, 64][..], 1797));
/// assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
/// assert_eq!(t[..3], [0, 1, 2]);
/// ```
pub fn digits() -> (Array2<f64>, Vec<usize>) {
    const GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(GZ)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| unreachable!("the shipped digits.csv.gz is valid: {e}"));
    let rows: Vec<Vec<f64>> = (text.lines())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse().unwrap_or(0.0))
                .collect()
        })
        .collect();
    let x = Array2::from_shape_fn((rows.len(), 64), |(r, c)| rows[r][c] / 16.0);
    let t = rows.iter().map(|r| r[64] as usize).collect();
    (x, t)
}

/// Reads an IDX file (MNIST's format: `train-images-idx3-ubyte` and its kin) of unsigned bytes:
/// an array of the shape its header gives. The header's sizes are checked against the file's
/// length before anything is allocated.
///
/// ```
/// let path = std::env::temp_dir().join("tapegrad_doc.idx");
/// // magic 0x00000803 (u8, 3 axes), sizes 2 x 1 x 2, then 4 pixels
/// std::fs::write(&path, [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4]).unwrap();
/// let a = tapegrad_nn::datasets::load_idx(&path).unwrap();
/// assert_eq!(a.shape(), &[2, 1, 2]);
/// assert_eq!(a[[1, 0, 1]], 4);
/// std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// [`IoError::File`] when the file cannot be read; [`IoError::Format`] for a header that is not
/// an IDX one of bytes, or sizes that do not match the file's length.
pub fn load_idx(path: impl AsRef<Path>) -> Result<ArrayD<u8>, IoError> {
    let path = path.as_ref();
    let bad = |reason: String| IoError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| IoError::File {
        path: path.to_path_buf(),
        source,
    })?;
    let [0, 0, kind, ndim, ..] = bytes[..] else {
        return Err(bad("not an IDX file: no 4-byte magic number".into()));
    };
    if kind != 0x08 {
        return Err(bad(format!(
            "IDX element type {kind:#04x}: only unsigned bytes (0x08) are read"
        )));
    }
    let header = 4 + 4 * ndim as usize;
    if bytes.len() < header {
        return Err(bad("the header is cut short".into()));
    }
    let shape: Vec<usize> = (0..ndim as usize)
        .map(|k| {
            u32::from_be_bytes([
                bytes[4 + 4 * k],
                bytes[5 + 4 * k],
                bytes[6 + 4 * k],
                bytes[7 + 4 * k],
            ]) as usize
        })
        .collect();
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if count != Some(bytes.len() - header) {
        let reason = format!(
            "sizes {shape:?} do not match the {} bytes of data",
            bytes.len() - header
        );
        return Err(bad(reason));
    }
    ArrayD::from_shape_vec(IxDyn(&shape), bytes[header..].to_vec()).map_err(|e| bad(e.to_string()))
}
