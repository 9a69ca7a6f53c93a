//! `lpn experiment`: runs the paper's experiments on the reference and prints, writes
//! and plots their results.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use lpn_golden::experiments::{self, ExperimentReport, Options};
use plotters::prelude::*;

/// Runs `name` (or every experiment for `all`) and reports as asked.
pub fn run(
    name: &str,
    options: Options,
    json: Option<&Path>,
    plot: Option<&Path>,
) -> Result<String, String> {
    let names: Vec<&str> = if name == "all" {
        experiments::NAMES.to_vec()
    } else {
        vec![name]
    };
    let total: u64 = names
        .iter()
        .map(|n| experiments::work_units(n, options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?
        .iter()
        .sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, ~{eta} left",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let mut reports = Vec::new();
    for n in names {
        bar.set_prefix(n.to_string());
        let report = experiments::run(n, options, &mut || bar.inc(1)).map_err(|e| e.to_string())?;
        reports.push(report);
    }
    bar.finish_and_clear();
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
        crate::files::write(path, text + "\n")?;
    }
    if let Some(dir) = plot {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for r in &reports {
            plot_report(r, &dir.join(format!("{}.svg", r.name)))?;
        }
    }
    Ok(reports.iter().map(table).collect::<Vec<_>>().join("\n"))
}

/// The report as a text table: metric rows per arm (mean ± std over seeds), then claims.
pub fn table(r: &ExperimentReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "== {} ({} seed{}{}{}): {}",
        r.name,
        r.seeds,
        if r.seeds == 1 { "" } else { "s" },
        if r.quick { ", quick" } else { "" },
        if r.ablated {
            ", mechanism switched off"
        } else {
            ""
        },
        r.question
    );
    let _ = writeln!(
        s,
        "{:<22} {:<22} {:>12} {:>10}",
        "arm", "metric", "mean", "std"
    );
    for m in &r.measurements {
        let _ = writeln!(
            s,
            "{:<22} {:<22} {:>12.5} {:>10.5}",
            m.arm,
            m.metric,
            m.mean(),
            m.std()
        );
    }
    for c in &r.claims {
        let _ = writeln!(
            s,
            "[{}] {} ({})",
            if c.holds { "holds" } else { "DOES NOT HOLD" },
            c.statement,
            c.detail
        );
    }
    s
}

/// Draws the report's curves as SVG and writes them to `path` (whole, or not at all).
fn plot_report(r: &ExperimentReport, path: &Path) -> Result<(), String> {
    let mut svg = String::new();
    draw(r, &mut svg).map_err(|e| format!("cannot plot {}: {e}", path.display()))?;
    crate::files::write(path, svg)
}

fn draw(r: &ExperimentReport, svg: &mut String) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let points = r.curves.iter().flat_map(|c| c.points.iter());
    let (x_max, y_max) = points.fold((1.0f64, 0.0f64), |(x, y), &(px, py)| (x.max(px), y.max(py)));
    let (x_label, y_label) = r
        .curves
        .first()
        .map_or(("x".to_string(), "y".to_string()), |c| {
            (c.x_label.clone(), c.y_label.clone())
        });
    let root = SVGBackend::with_string(svg, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{}: {}", r.name, r.question), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..(y_max * 1.05).max(1e-12))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| err(&e))?;
    let palette = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    for (i, c) in r.curves.iter().enumerate() {
        let color = palette[i % palette.len()];
        chart
            .draw_series(LineSeries::new(
                c.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(c.arm.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}
