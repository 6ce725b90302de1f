//! Graph export (DeZero step 26): Graphviz DOT of everything some outputs depend on, and a helper
//! that renders it with the `dot` program when Graphviz is installed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use slotmap::{Key, SecondaryMap};

use crate::arena::VarId;
use crate::error::Result;
use crate::{Float, Graph, Var};

/// Why [`Graph::plot_dot`] could not produce a picture.
///
/// ```
/// use tapegrad_core::{Error, Graph, dot::DotError};
/// let g: Graph = Graph::new();
/// let y = g.scalar(2.0) * 3.0;
/// g.clear(); // `y` is now stale: no picture of it
/// let e = g.plot_dot(&[y], false, std::env::temp_dir().join("y.png")).unwrap_err();
/// assert!(matches!(e, DotError::Graph(Error::StaleVar)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DotError {
    /// A variable was stale or of another graph.
    #[error(transparent)]
    Graph(#[from] crate::Error),
    /// Writing the `.dot` file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file that could not be written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The `dot` program is not installed (the `.dot` file was written).
    #[error(
        "the Graphviz `dot` program was not found; install Graphviz (e.g. `apt-get install graphviz`) to render {dot_file}"
    )]
    GraphvizMissing {
        /// The DOT file that was written and can be rendered later.
        dot_file: PathBuf,
    },
    /// `dot` ran but failed.
    #[error("dot failed to render {dot_file}: {stderr}")]
    Render {
        /// The DOT file given to `dot`.
        dot_file: PathBuf,
        /// What `dot` printed.
        stderr: String,
    },
}

impl<F: Float> Graph<F> {
    /// Graphviz DOT of exactly the ancestors of `outputs` (the outputs included): variables as
    /// orange ellipses labelled with their name (and shape and dtype when `verbose`), ops as blue
    /// boxes. Nothing recorded before or after that the outputs do not depend on is drawn.
    ///
    /// ```
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// x.set_name("x");
    /// let y = (x * 2.0).exp();
    /// y.set_name("y");
    /// let dot = g.to_dot(&[y], true);
    /// assert!(dot.starts_with("digraph g {"));
    /// assert!(dot.contains("label=\"x: () f64\""));
    /// assert!(dot.contains("label=\"mul(2)\""));
    /// ```
    ///
    /// # Panics
    /// If an output is stale or of another graph (see [`Graph::try_to_dot`]).
    #[track_caller]
    pub fn to_dot(&self, outputs: &[Var<'_, F>], verbose: bool) -> String {
        crate::error::or_panic(self.try_to_dot(outputs, verbose))
    }

    /// Fallible [`Graph::to_dot`].
    ///
    /// ```
    /// use tapegrad_core::{Error, Graph, ndarray::array};
    /// let g: Graph = Graph::new();
    /// let x = g.scalar(3.0);
    /// let y = x * x;
    /// assert!(g.try_to_dot(&[y], false).unwrap().starts_with("digraph"));
    /// g.clear();
    /// assert!(matches!(g.try_to_dot(&[y], false), Err(Error::StaleVar)));
    /// ```
    ///
    /// # Errors
    /// [`Error::StaleVar`](crate::Error::StaleVar) or
    /// [`Error::GraphMismatch`](crate::Error::GraphMismatch) for a bad output.
    pub fn try_to_dot(&self, outputs: &[Var<'_, F>], verbose: bool) -> Result<String> {
        let mut stack = Vec::new();
        for &y in outputs {
            stack.push(self.check(y, "to_dot")?);
        }
        let inner = self.inner.borrow();
        // Iterative walk from the outputs through creators: every ancestor, nothing else.
        let mut seen_vars: SecondaryMap<VarId, ()> = SecondaryMap::new();
        let mut seen_records = std::collections::BTreeSet::new();
        while let Some(id) = stack.pop() {
            if seen_vars.insert(id, ()).is_some() {
                continue;
            }
            if let Some(r) = inner.nodes[id].creator()
                && seen_records.insert(r as usize)
            {
                stack.extend(inner.tape[r as usize].inputs().iter().copied());
            }
        }
        let mut vars: Vec<VarId> = seen_vars.keys().collect();
        vars.sort_unstable_by_key(|v| v.data().as_ffi());

        let mut out = String::from("digraph g {\n");
        for id in vars {
            let mut label = inner.names.get(id).map_or("", |n| &**n).to_owned();
            if verbose {
                if !label.is_empty() {
                    label.push_str(": ");
                }
                let val = inner.val(id);
                let shape: Vec<String> = val.shape().iter().map(usize::to_string).collect();
                let comma = if shape.len() == 1 { "," } else { "" };
                let _ = write!(label, "({}{comma}) {}", shape.join(", "), F::DTYPE);
            }
            let _ = writeln!(
                out,
                "  v{} [label=\"{}\", color=orange, style=filled]",
                id.data().as_ffi(),
                escape(&label)
            );
        }
        for r in seen_records {
            let rec = &inner.tape[r];
            let _ = writeln!(
                out,
                "  f{r} [label=\"{}\", color=lightblue, style=filled, shape=box]",
                inner.tape.label(&rec.op)
            );
            for x in rec.inputs() {
                let _ = writeln!(out, "  v{} -> f{r}", x.data().as_ffi());
            }
            for &y in rec.outputs() {
                if seen_vars.contains_key(y) {
                    let _ = writeln!(out, "  f{r} -> v{}", y.data().as_ffi());
                }
            }
        }
        out.push_str("}\n");
        Ok(out)
    }

    /// Writes the DOT of `outputs` next to `png` (same name, `.dot`) and renders `png` with
    /// Graphviz's `dot`. Returns the path of the PNG.
    ///
    /// ```no_run
    /// let g: tapegrad_core::Graph = tapegrad_core::Graph::new();
    /// let x = g.scalar(1.0);
    /// let y = x.tanh();
    /// match g.plot_dot(&[y], false, "tanh.png") {
    ///     Ok(png) => println!("wrote {}", png.display()),
    ///     Err(e) => eprintln!("{e}"), // e.g. Graphviz is not installed
    /// }
    /// ```
    ///
    /// # Errors
    /// [`DotError::GraphvizMissing`] when `dot` is not installed (the `.dot` file is still
    /// written), [`DotError::Io`] or [`DotError::Render`] when writing or rendering fails.
    pub fn plot_dot(
        &self,
        outputs: &[Var<'_, F>],
        verbose: bool,
        png: impl AsRef<Path>,
    ) -> std::result::Result<PathBuf, DotError> {
        let png = png.as_ref().to_path_buf();
        let dot_file = png.with_extension("dot");
        let text = self.try_to_dot(outputs, verbose)?;
        std::fs::write(&dot_file, text).map_err(|source| DotError::Io {
            path: dot_file.clone(),
            source,
        })?;
        let run = Command::new("dot")
            .arg("-Tpng")
            .arg(&dot_file)
            .arg("-o")
            .arg(&png)
            .output();
        match run {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(DotError::GraphvizMissing { dot_file })
            }
            Err(source) => Err(DotError::Io {
                path: dot_file,
                source,
            }),
            Ok(out) if !out.status.success() => Err(DotError::Render {
                dot_file,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Ok(_) => Ok(png),
        }
    }
}

/// `s` as the inside of a Graphviz quoted string: backslashes and quotes escaped, so that a
/// variable's name cannot end its label; line breaks as Graphviz's `\n`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
