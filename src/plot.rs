//! Pictures that show why the engine counted what it counted: the
//! recording's envelope, the match score over time, the threshold, and the
//! detected events. SVG or PNG, drawn by plotters with an embedded font (no
//! system font libraries needed).

use std::path::Path;

use plotters::prelude::*;

use crate::dsp::{Event, Trace};

/// Most points drawn per curve; longer traces are reduced to per-bucket maxima.
const MAX_POINTS: usize = 4_000;

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The file name ends in neither `.svg` nor `.png`.
    #[error("plot file must end in .svg or .png: {0}")]
    UnknownFormat(String),
    /// plotters failed (usually: the file cannot be written).
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The plot file.
        path: String,
        /// What plotters said.
        message: String,
    },
}

/// What to draw.
pub struct PlotInput<'a> {
    /// Per-frame energy and score.
    pub trace: &'a Trace,
    /// Detected events.
    pub events: &'a [Event],
    /// A title (the file names, say).
    pub title: &'a str,
}

/// Draws the plot to `path`; the extension picks the format.
pub fn draw(path: &Path, input: &PlotInput) -> Result<(), PlotError> {
    register_embedded_font();
    let name = path.display().to_string();
    let wrap = |e: &dyn std::fmt::Display| PlotError::Draw {
        path: name.clone(),
        message: e.to_string(),
    };
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => {
            let root = SVGBackend::new(path, (1400, 700)).into_drawing_area();
            render(&root, input).map_err(|e| wrap(&e))?;
            root.present().map_err(|e| wrap(&e))
        }
        Some("png") => {
            let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
            render(&root, input).map_err(|e| wrap(&e))?;
            root.present().map_err(|e| wrap(&e))
        }
        _ => Err(PlotError::UnknownFormat(name)),
    }
}

fn register_embedded_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in from the dejavu crate, so this cannot fail
        // for want of a file; if it did, text would be missing, not the plot.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    input: &PlotInput,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(input.title, ("sans-serif", 22))?;
    let (top, bottom) = root.split_vertically(300);
    let step = input.trace.frame_seconds;
    let duration = input.trace.energy_db.len().max(1) as f64 * step;

    let energy = reduce(&input.trace.energy_db, step);
    let floor = energy
        .iter()
        .map(|p| p.1)
        .fold(f32::INFINITY, f32::min)
        .max(-120.0);
    let ceiling = energy
        .iter()
        .map(|p| p.1)
        .fold(f32::NEG_INFINITY, f32::max)
        .max(floor + 1.0);
    let mut chart = ChartBuilder::on(&top)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration, floor..ceiling + 3.0)?;
    chart
        .configure_mesh()
        .y_desc("energy (dB)")
        .label_style(("sans-serif", 14))
        .draw()?;
    chart.draw_series(LineSeries::new(energy.iter().map(|&(t, v)| (t, v)), &BLUE))?;

    let mut chart = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration, 0f32..1.05f32)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("match score")
        .label_style(("sans-serif", 14))
        .draw()?;
    chart
        .draw_series(LineSeries::new(reduce(&input.trace.scores, step), &BLACK))?
        .label("score")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    chart
        .draw_series(LineSeries::new(
            reduce(&input.trace.thresholds, step),
            RED.stroke_width(2),
        ))?
        .label("threshold")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_series(
            input
                .events
                .iter()
                .map(|e| Circle::new((e.start_s, e.score), 5, GREEN.filled())),
        )?
        .label(format!("{} events", input.events.len()))
        .legend(|(x, y)| Circle::new((x + 10, y), 5, GREEN.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// At most [`MAX_POINTS`] (time, value) pairs: the maximum of each bucket,
/// so short peaks stay visible however long the recording.
fn reduce(values: &[f32], step: f64) -> Vec<(f64, f32)> {
    let bucket = values.len().div_ceil(MAX_POINTS).max(1);
    values
        .chunks(bucket)
        .enumerate()
        .map(|(i, chunk)| {
            let max = chunk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            ((i * bucket) as f64 * step, max)
        })
        .collect()
}
