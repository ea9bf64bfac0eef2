//! Charts of the reward curves, drawn as SVG.
//!
//! One line per activity: at each level from 1 to the cap, the best figure (XP or value per
//! hour) of any target of that activity a player of that level can do, with the best gear for
//! the level. The y axis is logarithmic: rewards grow by orders of magnitude from level 1 to 99.

use plotters::prelude::*;

use crate::curve::{best_by_level, Curve, CurvePoint, ACTIVITIES};

/// Which figure a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Best XP per hour.
    XpPerHour,
    /// Best value per hour, in coins.
    ValuePerHour,
}

impl Figure {
    fn of(self, point: &CurvePoint) -> f64 {
        match self {
            Figure::XpPerHour => point.xp_per_hour,
            Figure::ValuePerHour => point.value_per_hour,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Figure::XpPerHour => "XP per hour",
            Figure::ValuePerHour => "value per hour (coins)",
        }
    }
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// No target has a positive figure at any level.
    #[error("there is nothing to chart: no target can be done at any level")]
    Empty,
    /// The SVG backend failed.
    #[error("could not draw the chart: {0}")]
    Draw(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// Each activity's best figure by level, as (activity name, points).
pub fn best_lines(curves: &[Curve], figure: Figure) -> Vec<(&'static str, Vec<(u32, f64)>)> {
    ACTIVITIES
        .iter()
        .map(|activity| {
            let points = best_by_level(curves, *activity, |p| figure.of(p))
                .into_iter()
                // A log axis cannot show zero.
                .filter(|(_, value, _)| *value > 0.0)
                .map(|(level, value, _)| (level, value))
                .collect();
            (activity.as_str(), points)
        })
        .collect()
}

/// Draws the chart of a figure as an SVG document.
pub fn svg(curves: &[Curve], figure: Figure, max_level: u32) -> Result<String, ChartError> {
    let lines = best_lines(curves, figure);
    let values = lines
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1));
    let (low, high) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !low.is_finite() || high <= 0.0 {
        return Err(ChartError::Empty);
    }
    // Whole decades around the data, so the log axis labels read cleanly.
    let bottom = 10f64.powf(low.log10().floor());
    let top = 10f64.powf(high.log10().ceil()).max(bottom * 10.0);
    let colours = [
        RGBColor(46, 125, 50),
        RGBColor(21, 101, 192),
        RGBColor(198, 40, 40),
    ];
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (960, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Best {} by level (closed form, best gear)", figure.name()),
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(1u32..max_level.max(2), (bottom..top).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("level (character and skill)")
            .y_desc(figure.name())
            .y_label_formatter(&|v| compact(*v))
            .draw()?;
        for ((name, points), colour) in lines.iter().zip(colours) {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(text)
}

/// 1200 → "1.2k", 3400000 → "3.4M".
fn compact(v: f64) -> String {
    let (scaled, suffix) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if scaled >= 10.0 || scaled.fract() == 0.0 {
        0
    } else {
        1
    };
    format!("{scaled:.digits$}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_are_compact() {
        assert_eq!(compact(1000.0), "1k");
        assert_eq!(compact(1500.0), "1.5k");
        assert_eq!(compact(25_000_000.0), "25M");
        assert_eq!(compact(10.0), "10");
    }
}
