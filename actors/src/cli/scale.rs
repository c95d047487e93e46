//! `chainlab bench scale`: the scaling curve of one scenario. Each cluster size runs in a child
//! process (`chainlab bench virtual --config ... --nodes N`), so that each peak memory figure
//! is that size's alone; the results go to a table on standard output and, with `--out`, to
//! `scale.csv`, `scale.json` and `scale.svg` (wall time per 100 blocks and peak memory against
//! nodes, with reference points such as another simulator's drawn in).

use super::args::{bad, BadInput, ConfigArgs};
use chainlab_actors::bench::BenchResult;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The arguments of `bench scale`.
#[derive(clap::Args)]
pub struct ScaleArgs {
    /// The scenario (a TOML config file), run at each size.
    config: PathBuf,
    /// Cluster sizes, smallest first.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1000usize, 6000, 20000])]
    nodes: Vec<usize>,
    /// Reference points to draw and tabulate, NODES:WALL_S:PEAK_GIB for 100 blocks
    /// (e.g. `1000:1.9:0.30,6000:20.5:0.64`).
    #[arg(long, value_delimiter = ',')]
    reference: Vec<String>,
    /// The reference's name in the table and the plot.
    #[arg(long, default_value = "reference")]
    reference_name: String,
    /// A directory for scale.csv, scale.json and scale.svg (created if absent).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// A reference point: a size, its wall time for 100 blocks and its peak memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
struct Reference {
    nodes: usize,
    wall_s: f64,
    peak_gib: f64,
}

/// One size's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Row {
    nodes: usize,
    wall_s: f64,
    mined: u64,
    /// Wall seconds per 100 mined blocks.
    wall_per_100_blocks_s: f64,
    peak_gib: f64,
    converged: bool,
    violations: usize,
}

fn parse_reference(s: &str) -> Result<Reference, BadInput> {
    let parts: Vec<&str> = s.split(':').collect();
    let [n, w, m] = parts.as_slice() else {
        return Err(bad(format!(
            "--reference {s:?}: expected NODES:WALL_S:PEAK_GIB"
        )));
    };
    let num = |what: &str, v: &str| -> Result<f64, BadInput> {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| {
                bad(format!(
                    "--reference {s:?}: {what} {v:?} is no positive number"
                ))
            })
    };
    Ok(Reference {
        nodes: n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            bad(format!(
                "--reference {s:?}: nodes {n:?} is no positive count"
            ))
        })?,
        wall_s: num("wall time", w)?,
        peak_gib: num("memory", m)?,
    })
}

/// Runs one size in a child process and reads its JSON line.
fn run_size(config: &Path, nodes: usize, set: &[String]) -> anyhow::Result<Row> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "bench",
        "virtual",
        "--nodes",
        &nodes.to_string(),
        "--config",
    ])
    .arg(config);
    for s in set {
        cmd.args(["--set", s]);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!(
            "the run of {nodes} nodes failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("the run of {nodes} nodes printed no result"))?;
    let r: BenchResult = serde_json::from_str(line)?;
    Ok(Row {
        nodes,
        wall_s: r.wall_s,
        mined: r.mined,
        wall_per_100_blocks_s: r.wall_s * 100.0 / r.mined.max(1) as f64,
        peak_gib: r.peak_rss_mib.unwrap_or(f64::NAN) / 1024.0,
        converged: r.converged,
        violations: r.violations,
    })
}

/// Runs `bench scale`.
///
/// # Errors
/// Bad arguments, or a size whose run failed.
pub fn scale(a: ScaleArgs) -> anyhow::Result<()> {
    if a.nodes.is_empty() || a.nodes.contains(&0) {
        return Err(bad("--nodes: give one or more sizes of at least 1").into());
    }
    if !a.config.is_file() {
        return Err(bad(format!("cannot read config {}", a.config.display())).into());
    }
    let refs = (a.reference.iter())
        .map(|s| parse_reference(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = Vec::new();
    for &n in &a.nodes {
        eprintln!("bench scale: {n} nodes ...");
        let row = run_size(&a.config, n, &a.cfg.set)?;
        eprintln!(
            "bench scale: {n} nodes: {:.2} s, {} blocks, {:.2} GiB",
            row.wall_s, row.mined, row.peak_gib
        );
        rows.push(row);
    }
    print!("{}", table(&rows, &refs, &a.reference_name));
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
        let write = |name: &str, text: &str| -> anyhow::Result<()> {
            let p = dir.join(name);
            std::fs::write(&p, text)
                .map_err(|e| bad(format!("cannot write {}: {e}", p.display())))?;
            Ok(())
        };
        write("scale.csv", &csv(&rows))?;
        write(
            "scale.json",
            &serde_json::to_string_pretty(&serde_json::json!({
                "config": a.config.display().to_string(),
                "set": a.cfg.set,
                "rows": rows,
                "reference": { "name": a.reference_name, "points": refs },
            }))?,
        )?;
        write(
            "scale.svg",
            &svg(&rows, &refs, &a.reference_name).map_err(anyhow::Error::msg)?,
        )?;
    }
    Ok(())
}

fn csv(rows: &[Row]) -> String {
    let mut s =
        String::from("nodes,wall_s,mined,wall_per_100_blocks_s,peak_gib,converged,violations\n");
    for r in rows {
        s += &format!(
            "{},{:.3},{},{:.3},{:.3},{},{}\n",
            r.nodes,
            r.wall_s,
            r.mined,
            r.wall_per_100_blocks_s,
            r.peak_gib,
            r.converged,
            r.violations
        );
    }
    s
}

/// The Markdown table: each size, and where a reference point has the same size, its figures
/// and the ratios.
fn table(rows: &[Row], refs: &[Reference], name: &str) -> String {
    let mut s = format!(
        "| nodes | blocks | wall | wall per 100 blocks | peak memory | {name} (100 blocks) | time ratio | memory ratio | converged |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let (theirs, tr, mr) = match refs.iter().find(|p| p.nodes == r.nodes) {
            Some(p) => (
                format!("{:.1} s, {:.2} GiB", p.wall_s, p.peak_gib),
                format!("{:.2}", r.wall_per_100_blocks_s / p.wall_s),
                format!("{:.2}", r.peak_gib / p.peak_gib),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        s += &format!(
            "| {} | {} | {:.2} s | {:.2} s | {:.2} GiB | {theirs} | {tr} | {mr} | {} |\n",
            r.nodes,
            r.mined,
            r.wall_s,
            r.wall_per_100_blocks_s,
            r.peak_gib,
            if r.converged && r.violations == 0 {
                "yes"
            } else {
                "no"
            }
        );
    }
    s
}

const MEASURED: RGBColor = RGBColor(31, 119, 180);
const REFERENCE: RGBColor = RGBColor(255, 127, 14);

/// Two panels: wall seconds per 100 blocks, and peak GiB, against nodes.
fn svg(rows: &[Row], refs: &[Reference], name: &str) -> Result<String, String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1000, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(500);
        let time: Vec<(f64, f64)> = (rows.iter())
            .map(|r| (r.nodes as f64, r.wall_per_100_blocks_s))
            .collect();
        let mem: Vec<(f64, f64)> = rows.iter().map(|r| (r.nodes as f64, r.peak_gib)).collect();
        let rtime: Vec<(f64, f64)> = refs.iter().map(|p| (p.nodes as f64, p.wall_s)).collect();
        let rmem: Vec<(f64, f64)> = refs.iter().map(|p| (p.nodes as f64, p.peak_gib)).collect();
        panel(
            &left,
            "wall time per 100 blocks",
            "wall s",
            &time,
            &rtime,
            name,
        )
        .map_err(|e| e.to_string())?;
        panel(&right, "peak memory", "GiB", &mem, &rmem, name).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    ours: &[(f64, f64)],
    theirs: &[(f64, f64)],
    name: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let all = || ours.iter().chain(theirs).filter(|(_, y)| y.is_finite());
    let x1 = all().map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let y1 = all().map(|p| p.1).fold(1e-3, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_desc("nodes")
        .y_desc(y_desc)
        .label_style(("sans-serif", 13))
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(RGBColor(244, 244, 244))
        .draw()?;
    chart
        .draw_series(LineSeries::new(ours.to_vec(), MEASURED.stroke_width(2)))?
        .label("chainlab")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], MEASURED.stroke_width(2)));
    chart.draw_series(ours.iter().map(|&p| Circle::new(p, 4, MEASURED.filled())))?;
    if !theirs.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                theirs.to_vec(),
                6,
                4,
                REFERENCE.stroke_width(2),
            ))?
            .label(name)
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], REFERENCE.stroke_width(2))
            });
        chart.draw_series(
            theirs
                .iter()
                .map(|&p| Cross::new(p, 5, REFERENCE.stroke_width(2))),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_reference("1000:1.9:0.30").unwrap(),
            Reference {
                nodes: 1000,
                wall_s: 1.9,
                peak_gib: 0.3
            }
        );
        for bad in ["1000:1.9", "x:1:1", "10:-1:1", "10:1:nan", "0:1:1"] {
            let e = parse_reference(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn the_table_compares_sizes_a_reference_has() {
        let row = |nodes, wall_s, mined, peak_gib| Row {
            nodes,
            wall_s,
            mined,
            wall_per_100_blocks_s: wall_s * 100.0 / mined as f64,
            peak_gib,
            converged: true,
            violations: 0,
        };
        let rows = [row(1000, 1.0, 50, 0.2), row(2000, 3.0, 100, 0.5)];
        let refs = [Reference {
            nodes: 1000,
            wall_s: 4.0,
            peak_gib: 0.4,
        }];
        let t = table(&rows, &refs, "SimBlock");
        assert!(
            t.contains(
                "| 1000 | 50 | 1.00 s | 2.00 s | 0.20 GiB | 4.0 s, 0.40 GiB | 0.50 | 0.50 | yes |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| 2000 | 100 | 3.00 s | 3.00 s | 0.50 GiB | - | - | - | yes |"),
            "{t}"
        );
        let svg = svg(&rows, &refs, "SimBlock").unwrap();
        assert!(svg.contains("SimBlock") && svg.contains("peak memory"));
        assert_eq!(csv(&rows).lines().count(), 3);
    }
}
