//! One SVG per metric (800x500, plotters' SVG backend): x the first varied key, a series per
//! combination of the other varied keys, each point's mean with its 95% interval as an error
//! bar, and the theory, where the reports give one, as a dashed line of the series' colour.
//!
//! The x axis is numeric when every value of the first key is a number, else the values are
//! labels at 0, 1, 2, ... in the order given. Series sharing an x are shifted apart a little so
//! their bars do not hide each other; the theory is drawn at the exact x.

use chainlab::sweep::table::SummaryRow;
use chainlab::sweep::Plan;
use plotters::prelude::*;

/// Tableau 10: distinct on white, readable in greyscale order.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The image size.
const SIZE: (u32, u32) = (800, 500);

/// The SVG file of `metric`: its dots (and anything but letters, digits, `-`, `_`) as `_`.
pub fn file_name(metric: &str) -> String {
    let stem: String = metric
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.svg")
}

/// One point of a series.
struct Pt {
    x: f64,
    mean: Option<f64>,
    ci: Option<(f64, f64)>,
    theory: Option<f64>,
}

/// One series: the points sharing the values of the varied keys after the first.
struct Series {
    label: String,
    /// The legend of its theory line.
    theory_label: String,
    points: Vec<Pt>,
}

/// What a plot shows.
struct Data {
    series: Vec<Series>,
    /// The labels of a categorical x axis (`None`: numeric).
    labels: Option<Vec<String>>,
    x_desc: String,
}

impl Data {
    /// The series of `rows` (one metric's summary rows, in grid order).
    fn of(plan: &Plan, rows: &[&SummaryRow]) -> Data {
        let first = plan.vary.first();
        let numeric: Option<Vec<f64>> = first.and_then(|v| {
            v.values
                .iter()
                .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect()
        });
        let labels = match (first, &numeric) {
            (None, _) => Some(vec!["all trials".to_string()]),
            (Some(v), None) => Some(v.values.clone()),
            (Some(_), Some(_)) => None,
        };
        let x_of = |r: &SummaryRow| -> f64 {
            let Some(v) = first else { return 0.0 };
            let i = v
                .values
                .iter()
                .position(|x| Some(x) == r.values.first())
                .unwrap_or(0);
            numeric.as_ref().map_or(i as f64, |xs| xs[i])
        };
        let names = short_names(&plan.keys()[plan.vary.len().min(1)..]);
        let mut series: Vec<(Vec<String>, Series)> = Vec::new();
        for r in rows {
            let rest: Vec<String> = r.values.iter().skip(1).cloned().collect();
            let pt = Pt {
                x: x_of(r),
                mean: r.stats.mean,
                ci: r.stats.ci95,
                theory: r.theory,
            };
            match series.iter_mut().find(|(k, _)| *k == rest) {
                Some((_, s)) => s.points.push(pt),
                None => {
                    let (label, theory_label) = if names.is_empty() {
                        let mean = if plan.trials > 1 {
                            "mean ± 95% CI"
                        } else {
                            "mean"
                        };
                        (mean.to_string(), "theory".to_string())
                    } else {
                        let l = names
                            .iter()
                            .zip(&rest)
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        (l.clone(), format!("theory, {l}"))
                    };
                    let s = Series {
                        label,
                        theory_label,
                        points: vec![pt],
                    };
                    series.push((rest, s));
                }
            }
        }
        let mut series: Vec<Series> = series.into_iter().map(|(_, s)| s).collect();
        for s in &mut series {
            s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
        }
        Data {
            series,
            labels,
            x_desc: first.map_or("(no --vary)".to_string(), |v| v.key.clone()),
        }
    }

    /// The x range.
    fn x_range(&self) -> (f64, f64) {
        if let Some(l) = &self.labels {
            return (-0.5, l.len() as f64 - 0.5);
        }
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x));
        padded(xs, 0.06, 0.06)
    }

    /// The y range, with room at the top for the legend.
    fn y_range(&self) -> (f64, f64) {
        let ys = self.series.iter().flat_map(|s| {
            s.points.iter().flat_map(|p| {
                let (lo, hi) = p.ci.unzip();
                [p.mean, lo, hi, p.theory].into_iter().flatten()
            })
        });
        padded(ys, 0.06, 0.25)
    }

    /// How far series `s` is shifted along x.
    fn offset(&self, s: usize, x_span: f64) -> f64 {
        let n = self.series.len() as f64;
        let step = if self.labels.is_some() {
            (0.6 / n).min(0.1)
        } else {
            x_span * 0.012
        };
        (s as f64 - (n - 1.0) / 2.0) * step
    }

    /// The legend's corner: upper left when the means rise from the first x to the last
    /// (the top left is then empty), else upper right.
    fn legend_corner(&self) -> SeriesLabelPosition {
        let rise: f64 = self
            .series
            .iter()
            .filter_map(|s| {
                let means: Vec<f64> = s.points.iter().filter_map(|p| p.mean).collect();
                Some(means.last()? - means.first()?)
            })
            .sum();
        if rise > 0.0 {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::UpperRight
        }
    }
}

/// The range of `vs` padded by `below` and `above` of its span (a span of zero: by a tenth of
/// the value, at least 0.5); (0, 1) when there is no value.
fn padded(vs: impl Iterator<Item = f64>, below: f64, above: f64) -> (f64, f64) {
    let (lo, hi) = vs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span == 0.0 {
        let pad = (lo.abs() * 0.1).max(0.5);
        return (lo - pad, hi + pad);
    }
    (lo - span * below, hi + span * above)
}

/// The names of `keys` in a legend: the last segment, or the whole key where two keys end
/// alike.
fn short_names(keys: &[&str]) -> Vec<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    keys.iter()
        .map(|k| {
            let l = last(k);
            if keys.iter().filter(|o| last(o) == l).count() > 1 {
                k.to_string()
            } else {
                l
            }
        })
        .collect()
}

/// The plot of `metric` over `rows` (its summary rows, in grid order), as SVG text.
///
/// # Errors
/// Plotters' error, as text.
pub fn svg(plan: &Plan, metric: &str, rows: &[&SummaryRow]) -> Result<String, String> {
    let data = Data::of(plan, rows);
    let mut buf = String::new();
    draw(&data, plan, metric, &mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Draws `d` into `buf`.
fn draw(
    d: &Data,
    plan: &Plan,
    metric: &str,
    buf: &mut String,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let root = SVGBackend::with_string(buf, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (x0, x1) = d.x_range();
    let (y0, y1) = d.y_range();
    let caption = format!(
        "{metric}: mean and 95% CI, {} trial{} per point",
        plan.trials,
        if plan.trials == 1 { "" } else { "s" }
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let label_of = |x: &f64| -> String {
        let labels = d.labels.as_deref().unwrap_or_default();
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(d.x_desc.as_str())
        .y_desc(metric)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(RGBColor(244, 244, 244));
    if let Some(labels) = &d.labels {
        mesh.x_labels(labels.len()).x_label_formatter(&label_of);
    }
    mesh.draw()?;
    let span = x1 - x0;
    for (s, series) in d.series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let dx = d.offset(s, span);
        chart.draw_series(series.points.iter().filter_map(|p| {
            let (lo, hi) = p.ci?;
            Some(ErrorBar::new_vertical(
                p.x + dx,
                lo,
                p.mean?,
                hi,
                color.stroke_width(2),
                10,
            ))
        }))?;
        chart
            .draw_series(
                series
                    .points
                    .iter()
                    .filter_map(|p| Some(Circle::new((p.x + dx, p.mean?), 4, color.filled()))),
            )?
            .label(series.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        let theory: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter_map(|p| Some((p.x, p.theory?)))
            .collect();
        if !theory.is_empty() {
            chart.draw_series(DashedLineSeries::new(
                theory.clone(),
                6,
                4,
                color.stroke_width(2),
            ))?;
            chart
                .draw_series(
                    theory
                        .iter()
                        .map(|&(x, y)| Cross::new((x, y), 4, color.stroke_width(1))),
                )?
                .label(series.theory_label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(d.legend_corner())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
