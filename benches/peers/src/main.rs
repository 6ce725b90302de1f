//! The workloads of `examples/support/workloads.rs` on tapegrad, candle and burn-autodiff (both
//! on the CPU, f64), and on PyTorch when `python3` can import torch (`torch_workloads.py`,
//! `PYTHON` names another interpreter): the median time of each, and its ratio to tapegrad's.
//!
//! ```sh
//! cargo run --release --manifest-path benches/peers/Cargo.toml
//! ```

use std::process::Command;
use std::time::Instant;

mod burn_side;
mod candle_side;
mod tapegrad_side;

/// A workload: its name, its size and the repetitions timed.
const WORKLOADS: [(&str, usize, usize); 4] = [
    ("chain", 100_000, 5),
    ("goldstein", 1_000, 5),
    ("wide", 2_000, 11),
    ("elem", 1_000_000, 5),
];

/// The median seconds of `reps` runs of `f` after one warm-up, and its checksum.
fn time(reps: usize, f: impl Fn() -> Option<f64>) -> Option<(f64, f64)> {
    let checksum = f()?;
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Some((times[reps / 2], checksum))
}

/// Runs one library's workload in a process of its own, so that a library whose backward pass
/// overflows the stack on a deep graph fails alone: `(median seconds, checksum)`, or why not.
fn measure(lib: &str, name: &str, n: usize, reps: usize) -> Result<(f64, f64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--one", lib, name, &n.to_string(), &reps.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    match (out.status.success(), it.next(), it.next()) {
        (true, Some(Ok(t)), Some(Ok(c))) => Ok((t, c)),
        _ => {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!(
                "failed: {}",
                last.chars().take(60).collect::<String>()
            ))
        }
    }
}

/// PyTorch's median seconds per workload, from `torch_workloads.py`, if it runs.
fn torch_times() -> Vec<Option<f64>> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/torch_workloads.py");
    let out = Command::new(python).arg(script).output();
    let text = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => String::new(),
    };
    WORKLOADS
        .iter()
        .map(|(name, _, _)| {
            text.lines().find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some(name)).then(|| it.nth(1)?.parse().ok())?
            })
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, lib, name, n, reps] = &args[..]
        && flag == "--one"
    {
        let (n, reps): (usize, usize) = (n.parse().unwrap(), reps.parse().unwrap());
        let (name, lib) = (name.clone(), lib.clone());
        let r = match lib.as_str() {
            "tapegrad" => time(reps, || Some(tapegrad_side::run(&name, n))),
            "candle" => time(reps, || candle_side::run(&name, n)),
            _ => time(reps, || burn_side::run(&name, n)),
        };
        if let Some((t, c)) = r {
            println!("{t:e} {c}");
        }
        return;
    }
    let torch = torch_times();
    println!("| workload | tapegrad | candle | burn (ndarray, autodiff) | PyTorch |");
    println!("|---|---|---|---|---|");
    for (k, &(name, n, reps)) in WORKLOADS.iter().enumerate() {
        let ours = measure("tapegrad", name, n, reps);
        let base = ours.as_ref().ok().map(|&(t, _)| t);
        let cell = |r: Result<(f64, f64), String>| match (r, base) {
            (Ok((t, c)), Some(b)) => format!("{:.3} ms ({:.1}x; {c:.6})", t * 1e3, t / b),
            (Ok((t, c)), None) => format!("{:.3} ms ({c:.6})", t * 1e3),
            (Err(e), _) => e,
        };
        let torch_cell = match (torch[k], base) {
            (Some(t), Some(b)) => format!("{:.3} ms ({:.1}x)", t * 1e3, t / b),
            _ => "not run".to_string(),
        };
        let (candle, burn) = (
            measure("candle", name, n, reps),
            measure("burn", name, n, reps),
        );
        println!(
            "| {name} {n} | {} | {} | {} | {torch_cell} |",
            cell(ours),
            cell(candle),
            cell(burn)
        );
    }
}
