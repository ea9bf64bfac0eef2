//! Percentiles of latency samples (nearest rank over a sorted copy: exact, and cheap enough for
//! the few hundred thousand samples of a run).

use serde::Serialize;

/// One latency measurement.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// When it was taken, in seconds since the start of the ramp.
    pub at: f64,
    /// The latency, in ms.
    pub ms: f64,
}

/// Percentiles of a set of latencies, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many samples.
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// The percentiles of the samples taken in `[from, to)` seconds; `None` when there are none.
pub fn percentiles<'a>(
    samples: impl IntoIterator<Item = &'a Timed>,
    from: f64,
    to: f64,
) -> Option<Percentiles> {
    let mut values: Vec<f64> = samples
        .into_iter()
        .filter(|s| s.at >= from && s.at < to)
        .map(|s| s.ms)
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = (p * values.len() as f64).ceil() as usize;
        values[index.clamp(1, values.len()) - 1]
    };
    Some(Percentiles {
        count: values.len(),
        p50_ms: rank(0.50),
        p90_ms: rank(0.90),
        p99_ms: rank(0.99),
        max_ms: values[values.len() - 1],
        mean_ms: values.iter().sum::<f64>() / values.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at: f64, ms: f64) -> Timed {
        Timed { at, ms }
    }

    #[test]
    fn nearest_rank_percentiles_over_the_window_only() {
        let mut samples: Vec<Timed> = (1..=100).map(|ms| at(5.0, ms as f64)).collect();
        samples.push(at(1.0, 10_000.0)); // before the window
        samples.push(at(9.0, 10_000.0)); // after it
        let p = percentiles(&samples, 2.0, 8.0).unwrap();
        assert_eq!(p.count, 100);
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(p.mean_ms, 50.5);
    }

    #[test]
    fn one_sample_is_every_percentile_and_none_is_none() {
        let p = percentiles(&[at(0.0, 7.0)], 0.0, 1.0).unwrap();
        assert_eq!((p.p50_ms, p.p99_ms, p.max_ms), (7.0, 7.0, 7.0));
        assert!(percentiles(&[at(0.0, 7.0)], 1.0, 2.0).is_none());
    }
}
