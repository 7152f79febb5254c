//! Median and p99 over samples (nearest-rank: every reported value is one that was measured).

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub runs: usize,
    pub median: f64,
    pub p99: f64,
}

impl Summary {
    /// `None` for no samples, so an empty figure is printed as missing rather than as zero.
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            runs: sorted.len(),
            median: nearest_rank(&sorted, 0.50),
            p99: nearest_rank(&sorted, 0.99),
        })
    }
}

fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = Summary::of(&samples).unwrap();
        assert_eq!((s.runs, s.median, s.p99), (100, 50.0, 99.0));
    }

    #[test]
    fn small_sets_report_measured_values() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.p99), (2.0, 3.0));
        assert_eq!(Summary::of(&[]), None);
    }
}
