//! What the training examples share to show their progress and results (`--features plots`):
//! a progress bar, the bundled font, and line plots written as PNG files.

use std::error::Error;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

/// Line colours, in the order series are drawn.
pub const COLORS: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
];

/// A bar of `len` steps of `unit` with the elapsed time and a message (the latest loss).
pub fn progress(len: usize, unit: &str) -> Result<ProgressBar, Box<dyn Error>> {
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}, {{elapsed}} {{msg}}");
    Ok(ProgressBar::new(len as u64).with_style(ProgressStyle::with_template(&template)?))
}

/// Makes the directory `out` and registers DejaVu Sans (compiled in: no system font needed);
/// returns the path of `file` in `out`.
pub fn prepare(out: &str, file: &str) -> Result<PathBuf, Box<dyn Error>> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the bundled DejaVu Sans font did not load")?;
    std::fs::create_dir_all(out)?;
    Ok(Path::new(out).join(file))
}

/// One line of a plot: its legend and its points.
pub struct Series<'a> {
    pub label: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// The series as lines on shared axes, with a legend, written to `path` (640 x 400).
pub fn plot_lines(
    path: &Path,
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[Series<'_>],
) -> Result<(), Box<dyn Error>> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (y0, y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    let pad = (y1 - y0).max(1e-12) * 0.05;
    let root = BitMapBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0 - pad..y1 + pad)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_desc)
        .y_label_formatter(&|y| format!("{:.1}", if y.abs() < 1e-9 { 0.0 } else { *y }))
        .draw()?;
    for (s, color) in series
        .iter()
        .zip([COLORS[2], COLORS[0], COLORS[1]].iter().cycle())
    {
        chart
            .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))?
            .label(s.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
