//! The shipped digits, the sine curve, the sequential loader and the IDX reader (on files the
//! test writes, good and bad).

use tapegrad::nn::datasets::{DataLoader, SeqDataLoader, digits, load_idx, sin_curve};
use tapegrad::nn::io::IoError;

#[test]
fn digits_are_the_uci_set() {
    let (x, t) = digits();
    assert_eq!(x.shape(), &[1797, 64]);
    let mut counts = [0; 10];
    t.iter().for_each(|&c| counts[c] += 1);
    assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    // the first image is a 0: its centre column is dark, its sides bright
    assert_eq!(x[[0, 2]], 5.0 / 16.0);
    assert_eq!(x[[0, 27]], 0.0);
}

#[test]
fn sin_curve_batches_in_sequence() {
    let (x, t) = sin_curve(true, 1);
    assert!((x[[0, 0]]).abs() <= 0.05);
    assert!(t.iter().all(|v| v.abs() <= 1.05));
    let data = (x, t);
    let loader = SeqDataLoader::new(&data, 3);
    let batches: Vec<_> = loader.epoch::<f64, f64>().collect();
    assert_eq!(batches.len(), 333);
    // row i of batch k is element i * 333 + k
    assert_eq!(batches[5].0[[2, 0]], data.0[[2 * 333 + 5, 0]]);
    assert_eq!(batches[5].1[2], data.1[2 * 333 + 5]);
    // and the shuffling loader takes f64 labels too
    let n: usize = DataLoader::new(&data, 100, true, 0)
        .epoch()
        .map(|(_, t)| t.len())
        .sum();
    assert_eq!(n, 999);
}

#[test]
fn idx_files_are_read_and_checked() {
    let dir = crate::common::TempDir::new("idx");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // labels: 1 axis of 3
    let labels = write("labels.idx", &[0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]);
    assert_eq!(
        load_idx(&labels).unwrap().into_raw_vec_and_offset().0,
        vec![7, 2, 1]
    );
    // images: 2 of 2 x 2
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
    images.extend(0..8u8);
    let a = load_idx(write("images.idx", &images)).unwrap();
    assert_eq!((a.shape(), a[[1, 1, 0]]), (&[2, 2, 2][..], 6));
    // a header claiming 4 GiB: refused before any allocation
    let huge = write("huge.idx", &[0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2]);
    assert!(matches!(load_idx(&huge), Err(IoError::Format { .. })));
    assert!(matches!(
        load_idx(write("float.idx", &[0, 0, 0x0d, 1, 0, 0, 0, 0])),
        Err(IoError::Format { .. })
    ));
    assert!(matches!(
        load_idx(write("short.idx", &[0, 0, 8])),
        Err(IoError::Format { .. })
    ));
    assert!(matches!(
        load_idx(write("cut.idx", &[0, 0, 8, 2, 0, 0])),
        Err(IoError::Format { .. })
    ));
    assert!(matches!(
        load_idx(dir.join("missing.idx")),
        Err(IoError::File { .. })
    ));
}
